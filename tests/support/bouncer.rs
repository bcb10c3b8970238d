//! PgBouncer in transaction mode in front of a [`Postgres`].

use super::*;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

/// A PgBouncer in `pool_mode = transaction` in front of a [`Postgres`].
pub struct Bouncer {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Bouncer {
    /// Starts PgBouncer for `users` (all with [`PASSWORD`]), forwarding every database.
    pub fn start(pg: &Postgres, users: &[&str]) -> Bouncer {
        Bouncer::start_on(pg, users, free_port())
    }

    /// Same, on a given port (to restart it where clients expect it).
    pub fn start_on(pg: &Postgres, users: &[&str], port: u16) -> Bouncer {
        Bouncer::start_with(pg, users, port, "scram-sha-256")
    }

    /// Same, authenticating clients with `auth_type` (`scram-sha-256`, `md5`, `plain`, ...).
    pub fn start_with(pg: &Postgres, users: &[&str], port: u16, auth_type: &str) -> Bouncer {
        let dir = temp_dir("bouncer");
        let userlist: String = users
            .iter()
            .map(|u| format!("\"{u}\" \"{PASSWORD}\"\n"))
            .collect();
        std::fs::write(dir.join("userlist.txt"), userlist).expect("userlist");
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host=127.0.0.1 port={}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = {auth_type}\nauth_file = {}\npool_mode = transaction\n\
                 max_client_conn = 2000\ndefault_pool_size = 5\n\
                 logfile = {}\n",
                pg.port,
                dir.join("userlist.txt").display(),
                dir.join("pgbouncer.log").display()
            ),
        )
        .expect("pgbouncer.ini");
        chown_to_server_user(&dir);
        let program = which("pgbouncer");
        let child = as_server_user(&program)
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer (apt-get install pgbouncer)");
        wait_listening(port, Duration::from_secs(15), "pgbouncer");
        Bouncer {
            dir,
            port,
            child: Some(child),
        }
    }

    /// `postgres://user:PASSWORD@127.0.0.1:bouncer_port/db`.
    pub fn url(&self, user: &str, db: &str, extra: &str) -> String {
        let sep = if extra.is_empty() { "" } else { "?" };
        format!(
            "postgres://{user}:{PASSWORD}@127.0.0.1:{}/{db}{sep}{extra}",
            self.port
        )
    }

    /// Stops PgBouncer.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn which(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

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
        Bouncer::start_configured(pg, users, port, 5, "scram-sha-256", "")
    }

    /// Same, authenticating clients with `auth_type` (`scram-sha-256`, `md5`, `plain`, ...).
    pub fn start_with_auth(pg: &Postgres, users: &[&str], port: u16, auth_type: &str) -> Bouncer {
        Bouncer::start_configured(pg, users, port, 5, auth_type, "")
    }

    /// Starts PgBouncer with extra `[pgbouncer]` lines (e.g. `ignore_startup_parameters =
    /// options`, which drops a client's `options` startup parameter as some poolers do).
    pub fn start_with(pg: &Postgres, users: &[&str], extra: &str) -> Bouncer {
        Bouncer::start_configured(pg, users, free_port(), 5, "scram-sha-256", extra)
    }

    /// Starts PgBouncer with `pool_size` server connections per database and user: with 1, every
    /// client of a user gets the same server connection, and so whatever session state an
    /// earlier client left on it (a temporary table, a session-level `SET`).
    pub fn start_with_pool_size(pg: &Postgres, users: &[&str], pool_size: u32) -> Bouncer {
        Bouncer::start_configured(pg, users, free_port(), pool_size, "scram-sha-256", "")
    }

    fn start_configured(
        pg: &Postgres,
        users: &[&str],
        port: u16,
        pool_size: u32,
        auth_type: &str,
        extra: &str,
    ) -> Bouncer {
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
                 max_client_conn = 2000\ndefault_pool_size = {pool_size}\n\
                 logfile = {}\n{extra}\n",
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

    /// PgBouncer's process id (setpriv execs it), to freeze it with SIGSTOP.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether PgBouncer still runs (it may crash).
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
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

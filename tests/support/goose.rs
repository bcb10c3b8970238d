//! The real goose CLI, driving a [`Postgres`] the way the deployment's migrate Job does: the
//! tests write goose's rows with goose itself wherever goose can write them.
//!
//! The binaries are the pinned builds of `scripts/peers/goose.sh` (static, PostgreSQL only,
//! cached outside the clone). `SCHEMA_GATE_GOOSE_CACHE` names the directory that script filled
//! (`scripts/test.sh` sets it); without it the script is called, which builds what is missing.
//! goose connects to the server directly over its Unix socket as the superuser (the deployment's
//! Job connects directly too: through PgBouncer 1.18 in transaction mode pgx breaks on prepared
//! statements, goose issue #613).

use super::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Every pinned goose, oldest first: the deployment's pin, the one the gate was first compared
/// with, the newest the Go module proxy serves.
pub const GOOSE_VERSIONS: [&str; 3] = ["v3.22.1", "v3.27.3", "v3.30.0"];

/// The goose the deployment pins: the one the support code writes rows with.
pub const DEPLOYED_GOOSE: &str = "v3.22.1";

/// The cached binary of goose `version` (one of [`GOOSE_VERSIONS`]): in
/// `SCHEMA_GATE_GOOSE_CACHE` when `scripts/test.sh` filled it, else from `scripts/peers/goose.sh`.
pub fn goose_bin(version: &str) -> PathBuf {
    std::env::var_os("SCHEMA_GATE_GOOSE_CACHE")
        .map(|dir| PathBuf::from(dir).join(version).join("goose"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| {
            peer_paths("goose.sh", &[version])
                .into_iter()
                .next()
                .expect("a goose binary")
        })
}

/// One goose run: its exit code and what it logged, each line without goose's
/// `YYYY/MM/DD HH:MM:SS ` prefix (goose logs everything to stderr through Go's `log`).
#[derive(Debug, Clone)]
pub struct GooseRun {
    pub code: Option<i32>,
    pub lines: Vec<String>,
}

impl GooseRun {
    /// The number `goose version` printed (`goose: version 3`), if it did.
    pub fn version(&self) -> Option<i64> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix("goose: version "))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Everything it logged, for failure messages.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// Strips Go's standard log prefix (`2026/04/27 03:43:55 `) from a line.
pub fn strip_log_date(line: &str) -> &str {
    let b = line.as_bytes();
    let is_prefix = b.len() >= 20
        && b[4] == b'/'
        && b[7] == b'/'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b' '
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    if is_prefix { &line[20..] } else { line }
}

/// A goose CLI of one version pointed at one database and version table.
#[derive(Debug, Clone)]
pub struct Goose {
    pub bin: PathBuf,
    pub version: String,
    dsn: String,
    table: Option<String>,
}

impl Goose {
    /// goose `version` on database `db` of `pg`, as the superuser over the Unix socket.
    pub fn new(version: &str, pg: &Postgres, db: &str) -> Goose {
        Goose {
            bin: goose_bin(version),
            version: version.to_string(),
            dsn: format!(
                "host={} port={} user=postgres dbname={db} sslmode=disable",
                pg.dir.display(),
                pg.port
            ),
            table: None,
        }
    }

    /// The deployment's goose ([`DEPLOYED_GOOSE`]) on `db`.
    pub fn deployed(pg: &Postgres, db: &str) -> Goose {
        Goose::new(DEPLOYED_GOOSE, pg, db)
    }

    /// Uses version table `table` (goose's `-table`, pasted into its SQL as given; v3.22.1 has
    /// no `GOOSE_TABLE`).
    pub fn table(mut self, table: &str) -> Goose {
        if table != "goose_db_version" {
            self.table = Some(table.to_string());
        }
        self
    }

    /// Runs `goose [flags] -dir DIR postgres DSN COMMAND...` with a clean environment, in DIR
    /// (goose v3.24+ reads a `.env` from its working directory; there is none there).
    pub fn run(&self, dir: &Path, flags: &[&str], command: &[&str]) -> GooseRun {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("TZ", "UTC")
            .current_dir(dir)
            .arg("-dir")
            .arg(dir);
        if let Some(table) = &self.table {
            cmd.args(["-table", table]);
        }
        cmd.args(flags).arg("postgres").arg(&self.dsn).args(command);
        let r = run(cmd, Duration::from_secs(60));
        GooseRun {
            code: r.code,
            lines: r
                .stderr
                .lines()
                .chain(r.stdout.lines())
                .map(|l| strip_log_date(l).to_string())
                .collect(),
        }
    }

    /// Like [`Goose::run`], panicking unless goose exits 0.
    pub fn ok(&self, dir: &Path, flags: &[&str], command: &[&str]) -> GooseRun {
        let r = self.run(dir, flags, command);
        assert_eq!(
            r.code,
            Some(0),
            "goose {} {flags:?} {command:?} in {}: {}",
            self.version,
            dir.display(),
            r.text()
        );
        r
    }

    /// `goose up-to VERSION` with the deployed goose on `app`'s `goose_db_version`.
    pub fn up_to(pg: &Postgres, dir: &Path, version: i64) -> GooseRun {
        Goose::deployed(pg, "app").ok(dir, &[], &["up-to", &version.to_string()])
    }

    /// `goose up` with the deployed goose on `app`'s `goose_db_version`.
    pub fn up(pg: &Postgres, dir: &Path) -> GooseRun {
        Goose::deployed(pg, "app").ok(dir, &[], &["up"])
    }

    /// `goose down` with the deployed goose on `app`'s `goose_db_version`.
    pub fn down(pg: &Postgres, dir: &Path) -> GooseRun {
        Goose::deployed(pg, "app").ok(dir, &[], &["down"])
    }

    /// `goose down-to VERSION` with the deployed goose on `app`'s `goose_db_version`.
    pub fn down_to(pg: &Postgres, dir: &Path, version: i64) -> GooseRun {
        Goose::deployed(pg, "app").ok(dir, &[], &["down-to", &version.to_string()])
    }
}

/// goose's file for `version`: `NNNNN_m<version>.sql`, an Up and a Down that change nothing.
pub fn migration_name(version: i64) -> String {
    format!("{version:05}_m{version}.sql")
}

/// Writes one migration file (Up and Down are `SELECT 1`) into `dir`; returns its path.
pub fn write_migration(dir: &Path, version: i64) -> PathBuf {
    let path = dir.join(migration_name(version));
    std::fs::write(
        &path,
        "-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n",
    )
    .expect("write migration");
    path
}

/// A fresh directory holding a migration file for each of `versions`.
pub fn migrations_dir(versions: &[i64]) -> PathBuf {
    let dir = temp_dir("migrations");
    for v in versions {
        write_migration(&dir, *v);
    }
    dir
}

impl Postgres {
    /// The versions that have any row in `table` of `db` (none when it does not exist).
    pub fn versions_with_rows(&self, db: &str, table: &str) -> BTreeSet<i64> {
        let out = self.psql(db, &format!("SELECT DISTINCT version_id FROM {table}"));
        if !out.status.success() {
            return BTreeSet::new();
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Has the deployed goose apply `new` (versions without any row, ascending) to `table`, and
    /// nothing else: it migrates a directory holding a file for every version that already has
    /// a row (goose's `up` counts any row as applied) plus `new`, with `-allow-missing`, so it
    /// records exactly `new`, in order, each in its own transaction, creating the table (with
    /// goose's `(0, true)` row) if it is missing.
    pub fn goose_apply(&self, db: &str, table: &str, new: &[i64]) {
        let mut versions: BTreeSet<i64> = self.versions_with_rows(db, table);
        versions.remove(&0);
        versions.extend(new);
        let dir = temp_dir("goose-apply");
        for v in &versions {
            write_migration(&dir, *v);
        }
        let goose = Goose::deployed(self, db).table(table);
        if new.is_empty() {
            goose.ok(&dir, &[], &["version"]); // creates the table with its (0, true) row
        } else {
            goose.ok(&dir, &["-allow-missing"], &["up"]);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Rolls back the current version of `table` with the deployed goose (`goose down` over files
    /// for every version that has a row): it deletes that version's rows, as goose since v3.5.0
    /// does.
    pub fn goose_down(&self, db: &str, table: &str) {
        let dir = temp_dir("goose-down");
        for v in self
            .versions_with_rows(db, table)
            .iter()
            .filter(|v| **v != 0)
        {
            write_migration(&dir, *v);
        }
        Goose::deployed(self, db)
            .table(table)
            .ok(&dir, &[], &["down"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}

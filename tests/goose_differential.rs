//! The gate against the real goose CLI: a corpus of scenarios and seeded random sequences, run
//! by every pinned goose (v3.22.1, v3.27.3, v3.30.0), with the gate read both directly and
//! through PgBouncer in transaction mode.
//!
//! Each scenario is a sequence of steps on a fresh database: migration files written or
//! deleted, goose commands (`up`, `up-by-one`, `up-to`, `down`, `down-to`, `redo`, `reset`,
//! `fix`, `-allow-missing`), and rows written by hand (legacy `(N, false)` rollbacks, duplicates,
//! an emptied or dropped table). goose connects directly, as the deployment's Job does. After
//! every step the gate's readings are taken first (`check --json` with the migrations directory,
//! the same under `--policy exact`, `--expect-version` with the newest file, at-least and exact,
//! and `status`), then goose's (`goose version`, `goose status` over the directory, and `goose
//! status` over a directory with a file for every version the table holds: goose's own word on
//! what is applied), since `goose version` and `status` create a missing table. docs/goose.md,
//! "Checked against the real goose", says what "agree" means for each reading; [`compare`] is
//! that text as code, and each rule there names the scenario below that proves it.
//!
//! Environment: `SCHEMA_GATE_GOOSE_VERSIONS` (space-separated subset of the pinned versions),
//! `GOOSE_DIFF_SEED` (the random sequences' seed; printed on failure), `GOOSE_DIFF_STEPS` (random
//! steps per goose version, default 40; `scripts/test.sh --full` runs 1500), `GOOSE_DIFF_TRACE`
//! (print every step and what goose said). A summary (scenarios,
//! steps compared per goose version and PostgreSQL server) is appended to
//! `target/tmp/goose-differential.txt`.

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{
    Bouncer, GOOSE_VERSIONS, Goose, GooseRun, Postgres, gate, run, server_version, temp_dir,
    write_migration,
};

const LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

/// One scenario: a name (docs/goose.md cites it), the version table as given to goose's
/// `-table` and the gate's `GOOSE_TABLE`, and its steps, `;`-separated (see [`Step::parse`]).
struct Scenario {
    name: &'static str,
    table: &'static str,
    steps: &'static str,
}

const fn s(name: &'static str, table: &'static str, steps: &'static str) -> Scenario {
    Scenario { name, table, steps }
}

const T: &str = "goose_db_version";

/// The fixed corpus (unquoted table names: every gate accepts them).
const CORPUS: &[Scenario] = &[
    s("no-table", T, "files 1 2; up"),
    s("up", T, "files 1 2 3; up; up"),
    s(
        "up-by-one",
        T,
        "files 1 2 3; up-by-one; up-by-one; up-by-one; up-by-one",
    ),
    s(
        "up-to",
        T,
        "files 1 2 3 4; up-to 2; up-to 4; files 5; up-to 5",
    ),
    s("down", T, "files 1 2 3; up; down; down; down; down"),
    s(
        "down-to",
        T,
        "files 1 2 3 4; up; down-to 2; down-to 0; up-to 3",
    ),
    s("redo", T, "files 1 2; up; redo; down; redo"),
    s("reset", T, "files 1 2 3; up; reset; up-to 1"),
    s("new-file-after-up", T, "files 1 2; up; files 3; up"),
    s(
        "out-of-order-missing",
        T,
        "files 1 3; up; files 2; up; -allow-missing up",
    ),
    s(
        "out-of-order-up-by-one",
        T,
        "files 1 4; up; files 2 3; -allow-missing up-by-one; -allow-missing up-by-one; down",
    ),
    s(
        "out-of-order-up-to",
        T,
        "files 1 5; up; files 2 3 4; -allow-missing up-to 3; -allow-missing up",
    ),
    s(
        "out-of-order-then-down",
        T,
        "files 2 3; up; files 1; -allow-missing up; down; down",
    ),
    s(
        "deleted-applied-file",
        T,
        "files 1 2 3; up; rm 2; down; rm 3; files 2 3",
    ),
    s(
        "deleted-newest-file",
        T,
        "files 1 2 3; up; rm 3; up; files 4; up",
    ),
    s("db-ahead", T, "files 1 2 3 4; up; rm 4; rm 3"),
    s(
        "fix",
        T,
        "files 1 2 20240101120000 20240102120000; up-to 2; fix; up",
    ),
    s(
        "fix-after-up",
        T,
        "files 1 20240101120000 20240102120000; up; fix; -allow-missing up; down",
    ),
    s(
        "timestamps-and-sequential",
        T,
        "files 1 2 20240101120000; up; files 3; up; -allow-missing up",
    ),
    s(
        "failing-migration",
        T,
        "files 1 2; fail 3; up; rm 3; files 3 4; up",
    ),
    s(
        "legacy-rollback-row",
        T,
        "files 1 2; up; legacy 2; up; dup 2",
    ),
    s(
        "legacy-rollback-then-down",
        T,
        "files 1 2 3; up; legacy 3; down; up",
    ),
    s(
        "legacy-rollback-below",
        T,
        "files 1 2 3; up; legacy 1; -allow-missing up; down-to 0",
    ),
    s(
        "legacy-rollback-unknown",
        T,
        "files 1 2; up; row 7 true; legacy 7; row 5 true",
    ),
    s("duplicate-rows", T, "files 1 2; up; dup 1; down; down"),
    s(
        "hand-applied-unknown",
        T,
        "files 1 2; up-to 1; row 9 true; row 2 true; up",
    ),
    s(
        "hand-row-zero-deleted",
        T,
        "files 1 2; up; sql DELETE FROM {t} WHERE version_id = 0; down; up",
    ),
    s(
        "empty-table",
        T,
        "files 1 2; up; truncate; up; sql INSERT INTO {t} (version_id, is_applied) VALUES (0, true); up",
    ),
    s("dropped-table", T, "files 1 2; up; drop; files 3; up"),
    s(
        "pre-v3.22-table",
        T,
        "oldshape; files 1 2; up; down; legacy 1; up",
    ),
    s("tstamp-vs-id", T, "files 1 2; up; backdated 2 false"),
    s(
        "mixed-case-table",
        "Goose_Versions",
        "files 1 2 3; up-to 2; legacy 2; up; down",
    ),
    s(
        "schema-qualified-table",
        "ops.goose_versions",
        "files 1 2; up; down; legacy 1; -allow-missing up",
    ),
    s(
        "mixed-case-schema-qualified",
        "OPS.Goose_Versions",
        "files 1 2; up; rm 2; down",
    ),
];

/// Quoted, case-preserving table names, as goose pastes them into its SQL: run once the gate
/// accepts quoted `GOOSE_TABLE` parts (today's gate refuses them at start-up, exit 2).
const QUOTED: &[Scenario] = &[
    s(
        "quoted-table",
        "\"Goose_Versions\"",
        "files 1 2 3; up-to 2; legacy 2; up; down",
    ),
    s(
        "quoted-schema-qualified",
        "ops.\"Goose_Versions\"",
        "files 1 2; up; down; legacy 1; -allow-missing up",
    ),
    s(
        "quoted-lower-case",
        "\"goose_db_version\"",
        "files 1 2; up; down",
    ),
    s(
        "quoted-beside-folded",
        "\"GOOSE_DB_VERSION\"",
        "sql CREATE TABLE goose_db_version (id int); files 1 2; up; down",
    ),
];

// ---------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    /// Write migration files (Up and Down change nothing).
    Files(Vec<i64>),
    /// Write a migration whose Up fails.
    Failing(i64),
    /// Delete a migration file.
    Remove(i64),
    /// A goose command: flags (`-allow-missing`) and the command with its arguments.
    Goose(Vec<String>),
    /// A row written by hand: `(version, is_applied)`, its `tstamp` now (its own transaction).
    Row(i64, bool),
    /// A row written by hand with a `tstamp` older than every other: goose `status` (by tstamp)
    /// and `goose version` (by id) then read the table differently.
    Backdated(i64, bool),
    /// The table goose before v3.22 created (`id serial`, nullable `tstamp`) with its `(0, true)`.
    OldShape,
    /// Every row deleted.
    Truncate,
    /// The table dropped.
    Drop,
    /// Any SQL, `{t}` standing for the table.
    Sql(String),
}

impl Step {
    /// `files 1 2`, `fail 3`, `rm 2`, `legacy 2` (= `row 2 false`), `dup 2` (= `row 2 true`),
    /// `row 7 true`, `backdated 2 false`, `oldshape`, `truncate`, `drop`, `sql ...`; anything
    /// else is a goose command line (`-allow-missing up-to 3`).
    fn parse(text: &str) -> Step {
        let words: Vec<&str> = text.split_whitespace().collect();
        let nums = |from: usize| -> Vec<i64> {
            words[from..]
                .iter()
                .map(|w| w.parse().expect("a version"))
                .collect()
        };
        let flag = |i: usize| words.get(i) == Some(&"true");
        match words[0] {
            "files" => Step::Files(nums(1)),
            "fail" => Step::Failing(nums(1)[0]),
            "rm" => Step::Remove(nums(1)[0]),
            "legacy" => Step::Row(nums(1)[0], false),
            "dup" => Step::Row(nums(1)[0], true),
            "row" => Step::Row(words[1].parse().expect("version"), flag(2)),
            "backdated" => Step::Backdated(words[1].parse().expect("version"), flag(2)),
            "oldshape" => Step::OldShape,
            "truncate" => Step::Truncate,
            "drop" => Step::Drop,
            "sql" => Step::Sql(text.trim_start()["sql".len()..].trim().to_string()),
            _ => Step::Goose(words.iter().map(|w| w.to_string()).collect()),
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Files(v) => write!(f, "files {v:?}"),
            Step::Failing(v) => write!(f, "fail {v}"),
            Step::Remove(v) => write!(f, "rm {v}"),
            Step::Goose(words) => write!(f, "goose {}", words.join(" ")),
            Step::Row(v, a) => write!(f, "row ({v}, {a}) by hand"),
            Step::Backdated(v, a) => write!(f, "backdated row ({v}, {a}) by hand"),
            Step::OldShape => write!(f, "pre-v3.22 table by hand"),
            Step::Truncate => write!(f, "truncate"),
            Step::Drop => write!(f, "drop table"),
            Step::Sql(sql) => write!(f, "sql {sql}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One database, one goose, one table: running steps and comparing readings
// ---------------------------------------------------------------------------------------------

/// A scenario's world: its database on the cluster, PgBouncer in front, its migrations
/// directory, the goose under test.
struct World<'a> {
    pg: &'a Postgres,
    bouncer: &'a Bouncer,
    db: String,
    table: String,
    dir: PathBuf,
    goose: Goose,
    /// Versions whose rows a backdated step made goose `status` read differently from `goose
    /// version` (and the gate).
    by_tstamp_differs: BTreeSet<i64>,
    /// What happened so far, for failure messages.
    history: Vec<String>,
}

impl<'a> World<'a> {
    fn new(
        pg: &'a Postgres,
        bouncer: &'a Bouncer,
        goose_version: &str,
        db: &str,
        table: &str,
    ) -> World<'a> {
        pg.sql("postgres", &format!("CREATE DATABASE {db}"));
        pg.sql(
            db,
            "CREATE SCHEMA ops; GRANT USAGE ON SCHEMA ops TO gate; \
             ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO gate; \
             ALTER DEFAULT PRIVILEGES IN SCHEMA ops GRANT SELECT ON TABLES TO gate",
        );
        let dir = temp_dir("diff-migrations");
        World {
            pg,
            bouncer,
            db: db.to_string(),
            table: table.to_string(),
            goose: Goose::new(goose_version, pg, db).table(table),
            dir,
            by_tstamp_differs: BTreeSet::new(),
            history: Vec::new(),
        }
    }

    /// Drops the database (and PgBouncer's server connections to it: each scenario's pool
    /// would otherwise keep up to five, and the cluster allows a hundred) and the directory.
    fn finish(self) {
        self.pg.sql(
            "postgres",
            &format!("DROP DATABASE {} WITH (FORCE)", self.db),
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn files(&self) -> BTreeSet<i64> {
        file_versions(&self.dir)
    }

    fn hand(&self, sql: &str) {
        self.pg.sql(&self.db, &sql.replace("{t}", &self.table));
    }

    /// Runs one step; returns what it did, for the history.
    fn step(&mut self, step: &Step) -> String {
        match step {
            Step::Files(versions) => {
                for v in versions {
                    write_migration(&self.dir, *v);
                }
            }
            Step::Failing(v) => {
                std::fs::write(
                    self.dir.join(format!("{v:05}_fails.sql")),
                    "-- +goose Up\nSELECT no_such_column FROM no_such_table;\n-- +goose Down\nSELECT 1;\n",
                )
                .expect("write");
            }
            Step::Remove(v) => {
                for entry in std::fs::read_dir(&self.dir).expect("read dir").flatten() {
                    if file_version(&entry.file_name().to_string_lossy()) == Some(*v) {
                        std::fs::remove_file(entry.path()).expect("rm");
                    }
                }
            }
            Step::Goose(words) => {
                let (flags, command): (Vec<&str>, Vec<&str>) =
                    words.iter().map(String::as_str).partition(|w| w.starts_with('-'));
                let r = self.goose.run(&self.dir, &flags, &command);
                return format!("{step} -> exit {:?}: {}", r.code, r.text().replace('\n', " | "));
            }
            Step::Row(v, applied) => self.hand(&format!(
                "INSERT INTO {{t}} (version_id, is_applied) VALUES ({v}, {applied})"
            )),
            Step::Backdated(v, applied) => {
                self.hand(&format!(
                    "INSERT INTO {{t}} (version_id, is_applied, tstamp) VALUES ({v}, {applied}, '2000-01-01 00:00:00')"
                ));
                self.by_tstamp_differs.insert(*v);
            }
            Step::OldShape => self.hand(
                "CREATE TABLE {t} (id serial NOT NULL, version_id bigint NOT NULL, \
                 is_applied boolean NOT NULL, tstamp timestamp NULL default now(), PRIMARY KEY(id)); \
                 INSERT INTO {t} (version_id, is_applied) VALUES (0, true)",
            ),
            Step::Truncate => self.hand("TRUNCATE {t}"),
            Step::Drop => self.hand("DROP TABLE {t}"),
            Step::Sql(sql) => self.hand(sql),
        }
        step.to_string()
    }

    /// Runs `step`, then compares every reading; panics with the whole story on a disagreement.
    /// Returns whether it compared: with no migration file yet (a table made by hand first)
    /// there is nothing to compare (goose refuses an empty directory, the gate needs an
    /// expectation).
    fn step_and_compare(&mut self, step: &Step, context: &str) -> bool {
        let did = self.step(step);
        if std::env::var_os("GOOSE_DIFF_TRACE").is_some() {
            eprintln!("{context} [{}]: {did}", self.table);
        }
        self.history.push(did);
        if self.files().is_empty() {
            return false;
        }
        if let Err(why) = self.compare() {
            panic!(
                "{context}: the gate and goose {} disagree after step {} ({step}) on table {}:\n{why}\n\
                 steps so far:\n  {}\nmigrations: {:?}",
                self.goose.version,
                self.history.len(),
                self.table,
                self.history.join("\n  "),
                self.files()
            );
        }
        true
    }

    fn gate_json(
        &self,
        url: &str,
        vars: &[(&str, String)],
    ) -> Result<(Option<i32>, Value), String> {
        let r = run(
            gate(&["check", "--json"])
                .env("DATABASE_URL", url)
                .env("GOOSE_TABLE", &self.table)
                .envs(vars.iter().map(|(k, v)| (*k, v.as_str()))),
            LIMIT,
        );
        let json: Value = serde_json::from_str(r.stdout.trim())
            .map_err(|e| format!("check {vars:?}: not JSON ({e}): {r:?}"))?;
        Ok((r.code, json))
    }

    /// Every reading of the gate, through one route (a DSN).
    fn gate_readings(&self, url: &str) -> Result<GateReadings, String> {
        let dir = ("GATE_MIGRATIONS_DIR", self.dir.display().to_string());
        let exact = ("GATE_POLICY", "exact".to_string());
        let newest = self.files().last().copied().unwrap_or(0);
        let expect = ("GATE_EXPECT_VERSION", newest.to_string());
        // The five readings at once: each is its own process and its own read of the table,
        // which no one writes meanwhile.
        std::thread::scope(|scope| {
            let status = scope.spawn(|| {
                run(
                    gate(&["status"])
                        .env("DATABASE_URL", url)
                        .env("GOOSE_TABLE", &self.table)
                        .env(dir.0, &dir.1),
                    LIMIT,
                )
            });
            let by_dir = scope.spawn(|| self.gate_json(url, std::slice::from_ref(&dir)));
            let by_dir_exact = scope.spawn(|| self.gate_json(url, &[dir.clone(), exact.clone()]));
            let by_expect = scope.spawn(|| self.gate_json(url, std::slice::from_ref(&expect)));
            let by_expect_exact =
                scope.spawn(|| self.gate_json(url, &[expect.clone(), exact.clone()]));
            let status = status.join().expect("status reading");
            Ok(GateReadings {
                dir: by_dir.join().expect("reading")?,
                dir_exact: by_dir_exact.join().expect("reading")?,
                expect: by_expect.join().expect("reading")?,
                expect_exact: by_expect_exact.join().expect("reading")?,
                expected: newest,
                status_code: status.code,
                status: status.stdout,
            })
        })
    }

    /// The gate's readings (direct and through PgBouncer), then goose's, then the rules.
    fn compare(&self) -> Result<(), String> {
        let (direct, pooled) = std::thread::scope(|scope| {
            let pooled =
                scope.spawn(|| self.gate_readings(&self.bouncer.url("gate", &self.db, "")));
            let direct = self.gate_readings(&self.pg.url("gate", &self.db, ""));
            (direct, pooled.join().expect("pooled readings"))
        });
        let (direct, pooled) = (direct?, pooled?);
        if direct != pooled {
            return Err(format!(
                "direct and through PgBouncer differ:\ndirect: {direct:?}\npooled: {pooled:?}"
            ));
        }
        // What the table holds: whether it exists, which versions have rows (the candidates goose
        // is asked about; goose alone says which are applied).
        let exists = self.pg.sql(
            &self.db,
            &format!(
                "SELECT to_regclass('{}') IS NOT NULL",
                self.table.replace('\'', "''")
            ),
        );
        let exists = exists == "t";
        let with_rows = if exists {
            self.pg.versions_with_rows(&self.db, &self.table)
        } else {
            BTreeSet::new()
        };
        let files = self.files();
        // `version` first: it creates a missing table; then both `status` readings at once.
        let version = self.goose.run(&self.dir, &[], &["version"]);
        let every = temp_dir("diff-every-version");
        for v in with_rows.iter().chain(&files).filter(|v| **v != 0) {
            std::fs::write(every.join(format!("{v}_every.sql")), "").expect("write");
        }
        let (status, status_every) = std::thread::scope(|scope| {
            let every = scope.spawn(|| self.goose.run(&every, &[], &["status"]));
            let status = self.goose.run(&self.dir, &[], &["status"]);
            (status, every.join().expect("goose status"))
        });
        let _ = std::fs::remove_dir_all(&every);
        let goose = GooseReadings {
            existed: exists,
            with_rows,
            version,
            status,
            status_every,
        };
        compare(&direct, &goose, &files, &self.by_tstamp_differs)
    }
}

/// The gate's readings after one step.
#[derive(Debug, PartialEq, Clone)]
struct GateReadings {
    /// `check --json` with the migrations directory (at-least), and under `exact`.
    dir: (Option<i32>, Value),
    dir_exact: (Option<i32>, Value),
    /// `check --json --expect-version E` (E = the newest file), at-least and exact.
    expect: (Option<i32>, Value),
    expect_exact: (Option<i32>, Value),
    expected: i64,
    /// `status` with the migrations directory: exit code, text.
    status_code: Option<i32>,
    status: String,
}

/// goose's readings after one step.
struct GooseReadings {
    /// The table existed before goose was asked (goose's `version` and `status` create it).
    existed: bool,
    /// Versions with any row (asked about in `status_every`).
    with_rows: BTreeSet<i64>,
    version: GooseRun,
    status: GooseRun,
    /// `goose status` over a file for every version with a row and every migration.
    status_every: GooseRun,
}

/// One `goose status` line after the header: the file and whether it says Applied.
fn status_entries(run: &GooseRun) -> Vec<(String, bool)> {
    status_lines(run)
        .iter()
        .skip(2)
        .filter_map(|l| {
            let (when, file) = l.split_once(" -- ")?;
            Some((file.trim().to_string(), when.trim() != "Pending"))
        })
        .collect()
}

/// goose's status table: the header, its rule, one line per file (log prefixes stripped).
fn status_lines(run: &GooseRun) -> Vec<String> {
    let start = run
        .lines
        .iter()
        .position(|l| l.trim() == "Applied At                  Migration");
    match start {
        Some(at) => run.lines[at..]
            .iter()
            .take_while(|l| l.starts_with("    "))
            .cloned()
            .collect(),
        None => Vec::new(),
    }
}

fn versions(v: &Value) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

fn state(reading: &(Option<i32>, Value)) -> &str {
    reading.1["state"].as_str().unwrap_or("?")
}

fn exit_of(state: &str) -> Option<i32> {
    Some(match state {
        "ready" => 0,
        "behind" | "no_table" => 1,
        "ahead" => 4,
        _ => 3,
    })
}

/// The rules of docs/goose.md, "Checked against the real goose": what the gate's readings must be,
/// given goose's.
fn compare(
    gate: &GateReadings,
    goose: &GooseReadings,
    files: &BTreeSet<i64>,
    by_tstamp_differs: &BTreeSet<i64>,
) -> Result<(), String> {
    let mut errors = String::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            let _ = writeln!(errors, "- {what}");
        }
    };
    let readings = [
        ("check (directory)", &gate.dir),
        ("check (directory, exact)", &gate.dir_exact),
        ("check --expect-version", &gate.expect),
        ("check --expect-version (exact)", &gate.expect_exact),
    ];
    for (name, r) in readings {
        expect(
            r.0 == exit_of(state(r)) && r.1["error"].is_null(),
            format!(
                "{name}: exit {:?} for state {}, error {}",
                r.0,
                state(r),
                r.1["error"]
            ),
        );
    }

    // Rule "no table": the gate says no_table exactly when the table did not exist; goose then
    // creates it and says version 0.
    if !goose.existed {
        for (name, r) in readings {
            expect(
                state(r) == "no_table",
                format!("{name}: table missing, gate says {}", state(r)),
            );
        }
        expect(
            goose.version.version() == Some(0),
            format!("goose version on a missing table: {}", goose.version.text()),
        );
        expect(
            gate.status_code == Some(1),
            format!("status exit {:?} on a missing table", gate.status_code),
        );
        return if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        };
    }

    // Rule "version": the gate's version is goose version's number; none when goose finds none.
    let goose_version = goose.version.version();
    let no_version =
        goose.version.code != Some(0) && goose.version.text().contains("no next version found");
    expect(
        goose_version.is_some() || no_version,
        format!("goose version failed: {}", goose.version.text()),
    );
    for (name, r) in readings {
        expect(
            r.1["version"].as_i64() == goose_version,
            format!(
                "{name}: version {} but goose version says {goose_version:?}",
                r.1["version"]
            ),
        );
    }

    // goose's applied set: the files Applied in its status over every version with a row (a
    // backdated row flips a version between goose's tstamp order and the id order).
    let mut applied: BTreeSet<i64> = status_entries(&goose.status_every)
        .into_iter()
        .filter(|(_, a)| *a)
        .filter_map(|(f, _)| file_version(&f))
        .collect();
    for v in by_tstamp_differs {
        if !applied.remove(v) {
            applied.insert(*v);
        }
    }
    if no_version {
        expect(
            goose.status.code != Some(0) && goose.status_every.code != Some(0),
            format!(
                "goose version found none but goose status ran: {}",
                goose.status.text()
            ),
        );
    } else {
        expect(
            goose.status.code == Some(0) && goose.status_every.code == Some(0),
            format!(
                "goose status failed: {} / {}",
                goose.status.text(),
                goose.status_every.text()
            ),
        );
    }
    // Rule "max_version": the highest version goose calls applied (0 when goose's version is 0
    // and nothing else is applied; none when goose finds no version).
    let max = applied
        .last()
        .copied()
        .or(goose_version.filter(|v| *v == 0));
    for (name, r) in readings {
        expect(
            r.1["max_version"].as_i64() == max,
            format!(
                "{name}: max_version {} but goose applies {applied:?} (version {goose_version:?})",
                r.1["max_version"]
            ),
        );
    }

    // Rule "pending": the files goose status calls Pending (all of them when goose finds no
    // version), ascending.
    let goose_entries = status_entries(&goose.status);
    let mut pending: Vec<i64> = if no_version {
        files.iter().copied().collect()
    } else {
        goose_entries
            .iter()
            .filter(|(_, a)| !*a)
            .filter_map(|(f, _)| file_version(f))
            .collect()
    };
    for v in by_tstamp_differs.iter().filter(|v| files.contains(v)) {
        match pending.iter().position(|p| p == v) {
            Some(at) => {
                pending.remove(at);
            }
            None => pending.push(*v),
        }
    }
    pending.sort_unstable();
    let unknown: Vec<i64> = applied
        .iter()
        .copied()
        .filter(|v| !files.contains(v))
        .collect();
    let newest = gate.expected;
    // Rule "stuck": a pending version that has a row is one `goose up` will never apply.
    let stuck: Vec<i64> = pending
        .iter()
        .copied()
        .filter(|v| goose.with_rows.contains(v))
        .collect();
    let dir_state = if pending.is_empty() {
        "ready"
    } else {
        "behind"
    };
    let dir_exact_state = match (pending.is_empty(), unknown.is_empty()) {
        (false, _) => "behind",
        (true, false) => "ahead",
        (true, true) => "ready",
    };
    for (name, r, want) in [
        ("check (directory)", &gate.dir, dir_state),
        ("check (directory, exact)", &gate.dir_exact, dir_exact_state),
    ] {
        expect(
            versions(&r.1["pending"]) == pending,
            format!(
                "{name}: pending {} but goose status pends {pending:?}",
                r.1["pending"]
            ),
        );
        expect(
            state(r) == want,
            format!(
                "{name}: state {} but goose's readings make it {want}",
                state(r)
            ),
        );
        expect(
            versions(&r.1["ahead"]) == unknown,
            format!(
                "{name}: ahead {} but goose applies {unknown:?} without a file",
                r.1["ahead"]
            ),
        );
        expect(
            r.1["hint"].is_null() == stuck.is_empty()
                && stuck
                    .iter()
                    .all(|v| r.1["hint"].as_str().unwrap_or("").contains(&v.to_string())),
            format!(
                "{name}: hint {} but versions goose up will never apply: {stuck:?}",
                r.1["hint"]
            ),
        );
    }
    // Rules "expected version": at-least is max >= E, exact max == E; ahead lists what is above.
    let above: Vec<i64> = applied.iter().copied().filter(|v| *v > newest).collect();
    let reached = max.is_some_and(|m| m >= newest);
    let expect_state = if reached { "ready" } else { "behind" };
    let expect_exact_state = match (reached, above.is_empty()) {
        (false, _) => "behind",
        (true, false) => "ahead",
        (true, true) => "ready",
    };
    let stuck_below: Vec<i64> = goose
        .with_rows
        .iter()
        .copied()
        .filter(|v| *v != 0 && !applied.contains(v) && *v <= newest && max.is_none_or(|m| *v > m))
        .collect();
    for (name, r, want) in [
        ("check --expect-version", &gate.expect, expect_state),
        (
            "check --expect-version (exact)",
            &gate.expect_exact,
            expect_exact_state,
        ),
    ] {
        expect(
            state(r) == want,
            format!(
                "{name} {newest}: state {} but goose's max {max:?} makes it {want}",
                state(r)
            ),
        );
        expect(
            versions(&r.1["ahead"]) == above,
            format!(
                "{name} {newest}: ahead {} but goose applies {above:?} above it",
                r.1["ahead"]
            ),
        );
        expect(
            r.1["hint"].is_null() == (want != "behind" || stuck_below.is_empty()),
            format!(
                "{name} {newest}: hint {} but rolled-back versions below it: {stuck_below:?}",
                r.1["hint"]
            ),
        );
    }

    // Rule "status": the gate's listing is the versions applied without a file (which goose
    // never shows; they stream first), then goose status's table line for line (after goose's
    // date prefix), then the verdict; its exit code is check's.
    expect(
        gate.status_code == gate.dir.0,
        format!(
            "status exit {:?}, check exit {:?}",
            gate.status_code, gate.dir.0
        ),
    );
    let gate_lines: Vec<&str> = gate.status.lines().collect();
    // goose's own block starts at its header, after the versions without a file.
    let block = gate_lines
        .iter()
        .position(|l| l.trim() == "Applied At                  Migration")
        .map_or(&gate_lines[..], |at| &gate_lines[at..]);
    let n = files.len() + 2;
    if no_version {
        let all_pending = block.len() > n
            && block[2..n]
                .iter()
                .all(|l| l.trim_start().starts_with("Pending "));
        expect(
            all_pending,
            format!(
                "status with no version: every file pending, got:\n{}",
                gate.status
            ),
        );
    } else if by_tstamp_differs.is_empty() {
        let goose_lines = status_lines(&goose.status);
        let same = block.len() >= n
            && goose_lines.len() == n
            && block[..n]
                .iter()
                .zip(&goose_lines)
                .all(|(g, o)| *g == o.as_str());
        expect(
            same,
            format!(
                "status lines differ:\ngate:\n{}\ngoose:\n{}",
                gate.status,
                goose_lines.join("\n")
            ),
        );
    }
    let without_file = gate_lines
        .iter()
        .skip_while(|l| !l.contains("without a file in the migrations directory"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .filter_map(|l| {
            l.rsplit_once("-- version ")
                .and_then(|(_, v)| v.trim().parse().ok())
        })
        .collect::<Vec<i64>>();
    expect(
        without_file == unknown,
        format!(
            "status: applied without a file {without_file:?}, goose applies {unknown:?} without a file"
        ),
    );
    let verdict_line = gate_lines.last().copied().unwrap_or("");
    expect(
        verdict_line.starts_with(if dir_state == "ready" {
            "ready:"
        } else {
            "not ready:"
        }),
        format!("status verdict line {verdict_line:?}, state {dir_state}"),
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The version of a migration file name, as goose reads it (the text before the first `_`).
fn file_version(name: &str) -> Option<i64> {
    if !name.ends_with(".sql") {
        return None;
    }
    name.split_once('_')?.0.parse().ok().filter(|v| *v > 0)
}

fn file_versions(dir: &Path) -> BTreeSet<i64> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .filter_map(|e| file_version(&e.file_name().to_string_lossy()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Seeded random sequences
// ---------------------------------------------------------------------------------------------

/// splitmix64: small, seedable, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A random next step for the world's present state (its files and table).
fn random_step(rng: &mut Rng, files: &BTreeSet<i64>, with_rows: &BTreeSet<i64>) -> Step {
    let newest = files.last().copied().unwrap_or(0);
    let any = |rng: &mut Rng, set: &BTreeSet<i64>| -> Option<i64> {
        let v: Vec<i64> = set.iter().copied().filter(|v| *v != 0).collect();
        (!v.is_empty()).then(|| rng.pick(&v))
    };
    let target = |rng: &mut Rng| rng.below(newest as u64 + 2) as i64;
    let goose = |words: &str| Step::Goose(words.split_whitespace().map(String::from).collect());
    match rng.below(100) {
        0..=15 => Step::Files(vec![newest.min(999) + 1]),
        16..=21 => {
            // Below the newest, among the small versions: after a timestamp file (22..=23) the
            // newest is ~2e13, and collecting every free version below it took the test's
            // memory to 10 GB and more (seen: killed at 10.9 GB, still growing).
            let free: Vec<i64> = (1..newest.min(1000))
                .filter(|v| !files.contains(v))
                .collect();
            if free.is_empty() {
                Step::Files(vec![newest + 1])
            } else {
                Step::Files(vec![rng.pick(&free)])
            }
        }
        22..=23 => Step::Files(vec![20240101000000 + rng.below(1000) as i64]),
        24..=29 if files.len() > 1 => Step::Remove(any(rng, files).unwrap_or(newest)),
        30..=40 => goose("up"),
        41..=47 => goose("up-by-one"),
        48..=52 => goose(&format!("up-to {}", target(rng))),
        53..=58 => goose("-allow-missing up"),
        59..=61 => goose("-allow-missing up-by-one"),
        62..=63 => goose(&format!("-allow-missing up-to {}", target(rng))),
        64..=71 => goose("down"),
        72..=75 => goose(&format!("down-to {}", target(rng))),
        76..=79 => goose("redo"),
        80..=81 => goose("reset"),
        82 => goose("fix"),
        83..=87 => match any(rng, with_rows) {
            Some(v) => Step::Row(v, false),
            None => goose("up"),
        },
        88..=89 => match any(rng, with_rows) {
            Some(v) => Step::Row(v, true),
            None => goose("up"),
        },
        90..=91 => Step::Row(newest + 1 + rng.below(3) as i64, true),
        92 => Step::Truncate,
        93 => Step::Sql("INSERT INTO {t} (version_id, is_applied) VALUES (0, true)".into()),
        94 => Step::Drop,
        _ => goose("up"),
    }
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

/// The pinned goose versions this run compares with (`SCHEMA_GATE_GOOSE_VERSIONS` narrows them).
fn selected(version: &str) -> bool {
    match std::env::var("SCHEMA_GATE_GOOSE_VERSIONS") {
        Ok(list) if !list.trim().is_empty() => list.split_whitespace().any(|v| v == version),
        _ => true,
    }
}

/// Appends a line to the run's summary (scripts/test.sh prints it).
fn summary(line: &str) {
    use std::io::Write;
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("goose-differential.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
    eprintln!("{line}");
}

fn db_name(tag: &str, n: usize) -> String {
    format!("{}_{n}", tag.replace(['-', '.'], "_"))
}

/// A cluster and a PgBouncer in front of it, the role `gate` authenticating with md5 to both.
/// The differential is about the readings, not authentication (every other suite runs SCRAM):
/// SCRAM's 4096 PBKDF2 rounds in the unoptimised test build cost about 70 ms of CPU per
/// connection, and every step makes ten.
fn servers() -> (Postgres, Bouncer) {
    let pg = Postgres::start();
    pg.create_md5_role("gate");
    pg.set_hba("host all all 127.0.0.1/32 md5");
    let bouncer = Bouncer::start_with_auth(&pg, &["gate"], support::free_port(), "md5");
    (pg, bouncer)
}

/// Runs `scenarios` with goose `version`; returns the number of steps compared.
fn run_corpus(version: &str, scenarios: &[Scenario]) -> usize {
    let (pg, bouncer) = servers();
    let mut steps = 0;
    for (n, scenario) in scenarios.iter().enumerate() {
        let mut world = World::new(&pg, &bouncer, version, &db_name("s", n), scenario.table);
        let context = format!(
            "scenario {} (goose {version}, {})",
            scenario.name,
            server_version()
        );
        for text in scenario.steps.split(';') {
            steps += usize::from(world.step_and_compare(&Step::parse(text), &context));
        }
        world.finish();
    }
    steps
}

fn corpus(version: &str) {
    if !selected(version) {
        eprintln!("goose {version}: not in SCHEMA_GATE_GOOSE_VERSIONS, skipped");
        return;
    }
    let steps = run_corpus(version, CORPUS);
    summary(&format!(
        "corpus: goose {version}, {}: {} scenarios, {steps} steps compared, each direct and through PgBouncer",
        server_version(),
        CORPUS.len()
    ));
}

fn random(version: &str) {
    if !selected(version) {
        eprintln!("goose {version}: not in SCHEMA_GATE_GOOSE_VERSIONS, skipped");
        return;
    }
    let seed: u64 = std::env::var("GOOSE_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let total: usize = std::env::var("GOOSE_DIFF_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    if total == 0 {
        eprintln!("random: GOOSE_DIFF_STEPS=0, skipped");
        return;
    }
    let mut rng = Rng(seed);
    let (pg, bouncer) = servers();
    let tables = [
        "goose_db_version",
        "Goose_Versions",
        "ops.goose_versions",
        "OPS.Goose_Versions",
    ];
    let (mut steps, mut sequences) = (0, 0);
    while steps < total {
        let table = rng.pick(&tables);
        let mut world = World::new(&pg, &bouncer, version, &db_name("r", sequences), table);
        let context = format!(
            "random sequence {sequences} (GOOSE_DIFF_SEED={seed}, goose {version}, {}): reproduce with \
             GOOSE_DIFF_SEED={seed} GOOSE_DIFF_STEPS={total} SCHEMA_GATE_GOOSE_VERSIONS={version} \
             cargo test --test goose_differential random",
            server_version()
        );
        steps += usize::from(world.step_and_compare(&Step::Files(vec![1]), &context));
        let length = 10 + rng.below(30) as usize;
        for _ in 0..length.min(total.saturating_sub(steps)) {
            let with_rows = world.pg.versions_with_rows(&world.db, &world.table);
            let step = random_step(&mut rng, &world.files(), &with_rows);
            steps += usize::from(world.step_and_compare(&step, &context));
        }
        sequences += 1;
        world.finish();
    }
    summary(&format!(
        "random: goose {version}, {}: seed {seed}, {sequences} sequences, {steps} steps compared, each direct and through PgBouncer",
        server_version()
    ));
}

#[test]
fn corpus_goose_v3_22_1() {
    corpus(GOOSE_VERSIONS[0]);
}

#[test]
fn corpus_goose_v3_27_3() {
    corpus(GOOSE_VERSIONS[1]);
}

#[test]
fn corpus_goose_v3_30_0() {
    corpus(GOOSE_VERSIONS[2]);
}

#[test]
fn random_goose_v3_22_1() {
    random(GOOSE_VERSIONS[0]);
}

#[test]
fn random_goose_v3_27_3() {
    random(GOOSE_VERSIONS[1]);
}

#[test]
fn random_goose_v3_30_0() {
    random(GOOSE_VERSIONS[2]);
}

/// Quoted, case-preserving table names (`"Goose_Versions"`, `ops."Goose_Versions"`): goose
/// accepts them, and so does the gate (`GOOSE_TABLE` takes quoted parts as goose pastes them).
#[test]
fn quoted_tables_every_goose() {
    for version in GOOSE_VERSIONS.iter().filter(|v| selected(v)) {
        let steps = run_corpus(version, QUOTED);
        summary(&format!(
            "quoted tables: goose {version}, {}: {} scenarios, {steps} steps compared",
            server_version(),
            QUOTED.len()
        ));
    }
}

/// The comparison itself catches a gate that disagrees with goose: readings made up for files
/// {1, 2} with goose at version 1 and 2 pending, then each spoiled in one way.
#[test]
fn the_comparison_catches_disagreements() {
    let run = |code: i32, lines: &[&str]| GooseRun {
        code: Some(code),
        lines: lines.iter().map(|l| l.to_string()).collect(),
    };
    let header = [
        "    Applied At                  Migration",
        "    =======================================",
    ];
    let goose = GooseReadings {
        existed: true,
        with_rows: BTreeSet::from([0, 1]),
        version: run(0, &["goose: version 1"]),
        status: run(
            0,
            &[
                header[0],
                header[1],
                "    Tue Dec  1 10:00:00 2026 -- 00001_m1.sql",
                "    Pending                  -- 00002_m2.sql",
            ],
        ),
        status_every: run(
            0,
            &[
                header[0],
                header[1],
                "    Tue Dec  1 10:00:00 2026 -- 1_every.sql",
                "    Pending                  -- 2_every.sql",
            ],
        ),
    };
    let check = |state: &str, pending: &[i64]| {
        let code = exit_of(state);
        let json = serde_json::json!({"state": state, "version": 1, "max_version": 1,
            "pending": pending, "ahead": [], "hint": null, "error": null});
        (code, json)
    };
    let good = GateReadings {
        dir: check("behind", &[2]),
        dir_exact: check("behind", &[2]),
        expect: check("behind", &[]),
        expect_exact: check("behind", &[]),
        expected: 2,
        status_code: Some(1),
        status: format!(
            "{}\n{}\n    Tue Dec  1 10:00:00 2026 -- 00001_m1.sql\n    Pending                  -- 00002_m2.sql\n\n\
             not ready: goose_db_version at version 1, expected 2 (at-least); pending: 2\n",
            header[0], header[1]
        ),
    };
    let files = BTreeSet::from([1, 2]);
    let none = BTreeSet::new();
    assert_eq!(compare(&good, &goose, &files, &none), Ok(()));
    let spoiled = [
        (
            "pending",
            GateReadings {
                dir: check("ready", &[]),
                ..good.clone()
            },
        ),
        ("version", {
            let mut r = good.clone();
            r.expect.1["version"] = 2.into();
            r
        }),
        ("max_version", {
            let mut r = good.clone();
            r.dir_exact.1["max_version"] = 2.into();
            r
        }),
        (
            "state",
            GateReadings {
                expect_exact: check("ready", &[]),
                ..good.clone()
            },
        ),
        (
            "status lines differ",
            GateReadings {
                status: good.status.replace("Pending ", "Applied "),
                ..good.clone()
            },
        ),
        ("hint", {
            let mut r = good.clone();
            r.dir.1["hint"] = "version(s) 2 have a newest row".into();
            r
        }),
    ];
    for (what, gate) in spoiled {
        let err = compare(&gate, &goose, &files, &none).expect_err(what);
        assert!(err.contains(what), "{what}: {err}");
    }
}

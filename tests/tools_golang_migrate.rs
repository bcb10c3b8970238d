//! golang-migrate's real CLI (v4.20.1, `scripts/peers/golang-migrate.sh`) against the gate:
//! after every step of a fixed corpus and of seeded random steps (applies, rollbacks, a
//! migration failing half-way up and down, forced versions, out-of-order files, deleted files),
//! `migrate version` and the gate (direct and through PgBouncer, as a role with only `SELECT`)
//! must tell the same story, or the difference `docs/tools/golang-migrate.md` documents.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use support::tools::{self, Check, Rng, ToolDb, check_both, cli, peer};

/// How a migration file behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Good,
    /// `up` fails half-way (after a statement that would have worked).
    BrokenUp,
    /// `down` fails half-way.
    BrokenDown,
}

/// What `migrate version` said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Said {
    At(i64, bool),
    NoMigration,
}

struct World {
    db: ToolDb,
    dir: PathBuf,
    files: BTreeMap<i64, Body>,
    migrate: PathBuf,
    seed: u64,
    history: Vec<String>,
    compared: usize,
    /// How often each state (at-least, exact) was seen: the report's tally.
    seen: BTreeMap<String, usize>,
}

impl World {
    fn new(seed: u64) -> World {
        let world = World {
            db: ToolDb::start(),
            dir: support::temp_dir("gm-files"),
            files: BTreeMap::new(),
            migrate: peer("golang-migrate"),
            seed,
            history: Vec::new(),
            compared: 0,
            seen: BTreeMap::new(),
        };
        std::fs::create_dir_all(world.dir.join("m")).expect("mkdir");
        world
    }

    fn dir(&self) -> PathBuf {
        self.dir.join("m")
    }

    fn write(&mut self, version: i64, body: Body) {
        let up = match body {
            Body::BrokenUp => {
                format!("CREATE TABLE IF NOT EXISTS t{version} (id int);\nSELECT 1/0;\n")
            }
            _ => format!("CREATE TABLE IF NOT EXISTS t{version} (id int);\n"),
        };
        let down = match body {
            Body::BrokenDown => format!("DROP TABLE IF EXISTS t{version};\nSELECT 1/0;\n"),
            _ => format!("DROP TABLE IF EXISTS t{version};\n"),
        };
        std::fs::write(self.dir().join(format!("{version}_t{version}.up.sql")), up).expect("write");
        std::fs::write(
            self.dir().join(format!("{version}_t{version}.down.sql")),
            down,
        )
        .expect("write");
        self.files.insert(version, body);
    }

    fn remove(&mut self, version: i64) {
        for direction in ["up", "down"] {
            let _ = std::fs::remove_file(
                self.dir()
                    .join(format!("{version}_t{version}.{direction}.sql")),
            );
        }
        self.files.remove(&version);
    }

    /// Runs `migrate ARGS` against `app`.
    fn migrate(&mut self, args: &[&str]) -> (i32, String) {
        let source = format!("file://{}", self.dir().display());
        let url = self.db.migrator_url("app");
        let mut all = vec!["-source", &source, "-database", &url];
        all.extend_from_slice(args);
        let (code, out) = cli(&self.migrate, &all, None, &[]);
        self.history.push(format!(
            "migrate {} -> {code}: {}",
            args.join(" "),
            out.trim().replace('\n', " | ")
        ));
        (code, out)
    }

    fn context(&self) -> String {
        format!(
            "seed {} (TOOLS_DIFF_SEED={} replays it), step {}; files {:?}; steps so far:\n  {}",
            self.seed,
            self.seed,
            self.compared,
            self.files,
            self.history.join("\n  ")
        )
    }

    fn table_exists(&self) -> bool {
        self.db.pg.sql(
            "app",
            "SELECT to_regclass('public.schema_migrations') IS NOT NULL",
        ) == "t"
    }

    fn row(&self) -> Option<(i64, bool)> {
        let text = self.db.pg.sql(
            "app",
            "SELECT version || '|' || dirty FROM schema_migrations",
        );
        let (v, d) = text.split_once('|')?;
        Some((v.parse().ok()?, d == "true"))
    }

    fn gate(&self) -> (Check, Check) {
        let dir = self.dir();
        let dir = dir.to_str().expect("utf-8");
        check_both(
            &self.db,
            "app",
            "golang-migrate",
            &[("GATE_MIGRATIONS_DIR", dir)],
            &self.context(),
        )
    }

    /// The gate first (`migrate version` creates a missing table), then the oracle, then the
    /// comparison.
    fn compare(&mut self) {
        self.compared += 1;
        let existed = self.table_exists();
        let (at_least, exact) = self.gate();
        *self
            .seen
            .entry(format!("{}/{}", at_least.state(), exact.state()))
            .or_default() += 1;
        let (code, out) = self.migrate(&["version"]);
        let said = match out.trim() {
            "error: no migration" => Said::NoMigration,
            text => {
                let (number, dirty) = match text.strip_suffix(" (dirty)") {
                    Some(n) => (n, true),
                    None => (text, false),
                };
                let n = number.parse().unwrap_or_else(|_| {
                    panic!("migrate version said {text:?}: {}", self.context())
                });
                assert_eq!(code, 0, "{}", self.context());
                Said::At(n, dirty)
            }
        };
        let ctx = self.context();
        if !existed {
            assert_eq!(at_least.state(), "no_table", "{ctx}: {at_least:?}");
            assert_eq!(said, Said::NoMigration, "{ctx}");
            return;
        }
        match said {
            Said::At(v, true) => {
                // Dirty: migrate up and down refuse; the gate: failed, naming the version.
                for c in [&at_least, &exact] {
                    assert_eq!(c.state(), "failed", "{ctx}: {c:?}");
                    assert_eq!(c.code, Some(1), "{ctx}");
                    assert_eq!(c.ids("failed"), [v.to_string()], "{ctx}");
                    assert_eq!(c.version(), v.to_string(), "{ctx}");
                }
            }
            Said::At(v, false) => self.clean_at(v, &at_least, &exact, &ctx),
            Said::NoMigration => self.no_migration(&at_least, &exact, &ctx),
        }
        if let Said::At(v, dirty) = said {
            self.listing_agrees(v, dirty, &ctx);
        }
    }

    /// `schema-gate status` lists every file by `migrate version`'s reading: applied up to V
    /// (V itself failed when dirty), pending above.
    fn listing_agrees(&self, v: i64, dirty: bool, ctx: &str) {
        let dir = self.dir();
        let url = self.db.pg.url("gate", "app", "");
        let dir = dir.to_str().expect("utf-8");
        let (_, doc) = tools::status("golang-migrate", &url, &[("GATE_MIGRATIONS_DIR", dir)]);
        let want: Vec<(String, String)> = self
            .files
            .keys()
            .map(|f| {
                let state = match f.cmp(&v) {
                    std::cmp::Ordering::Less => "applied",
                    std::cmp::Ordering::Equal if dirty => "failed",
                    std::cmp::Ordering::Equal => "applied",
                    std::cmp::Ordering::Greater => "pending",
                };
                (format!("{f}_t{f}.up.sql"), state.to_string())
            })
            .collect();
        assert_eq!(tools::listed(&doc, "migrations"), want, "{ctx}: {doc}");
    }

    /// `migrate version` printed V (clean): every version up to V applied, the files above it
    /// pending, V itself ahead when the build has no file for it.
    fn clean_at(&self, v: i64, at_least: &Check, exact: &Check, ctx: &str) {
        let pending: Vec<String> = self
            .files
            .keys()
            .filter(|f| **f > v)
            .map(i64::to_string)
            .collect();
        let unknown = !self.files.contains_key(&v) && v > 0;
        for c in [at_least, exact] {
            assert_eq!(c.version(), v.to_string(), "{ctx}: {c:?}");
            assert_eq!(c.ids("pending"), pending, "{ctx}: {c:?}");
            assert!(c.ids("failed").is_empty(), "{ctx}: {c:?}");
            let ahead: Vec<String> = if unknown { vec![v.to_string()] } else { vec![] };
            assert_eq!(c.ids("ahead"), ahead, "{ctx}: {c:?}");
        }
        let behind = !pending.is_empty();
        assert_eq!(
            at_least.state(),
            if behind { "behind" } else { "ready" },
            "{ctx}: {at_least:?}"
        );
        let exact_state = match (behind, unknown) {
            (true, _) => "behind",
            (false, true) => "ahead",
            (false, false) => "ready",
        };
        assert_eq!(exact.state(), exact_state, "{ctx}: {exact:?}");
        if unknown && behind {
            // migrate up would fail ("no migration found for version V"): the hint says so.
            let hint = at_least.json["hint"].as_str().unwrap_or_default();
            assert!(hint.contains("no migration found"), "{ctx}: {hint}");
        }
    }

    /// `migrate version` printed "no migration": an empty table (behind), or, the documented
    /// contradiction, a dirty -1 row (a failed down of the first migration), which `migrate
    /// up` refuses: the gate takes `up`'s side.
    fn no_migration(&mut self, at_least: &Check, exact: &Check, ctx: &str) {
        match self.row() {
            None => {
                let all: Vec<String> = self.files.keys().map(i64::to_string).collect();
                for c in [at_least, exact] {
                    assert_eq!(c.state(), "behind", "{ctx}: {c:?}");
                    assert_eq!(c.ids("pending"), all, "{ctx}: {c:?}");
                    assert_eq!(c.version(), "", "{ctx}");
                }
            }
            Some((-1, true)) => {
                for c in [at_least, exact] {
                    assert_eq!(c.state(), "failed", "{ctx}: {c:?}");
                    assert_eq!(c.ids("failed"), ["-1"], "{ctx}: {c:?}");
                }
                let (code, out) = self.migrate(&["up"]);
                assert!(
                    code != 0 && out.contains("Dirty database version -1"),
                    "{ctx}: migrate up should refuse: {out}"
                );
            }
            other => panic!("{ctx}: migrate version says no migration, the row is {other:?}"),
        }
    }

    /// The version the table is at, by the row (for choosing steps).
    fn current(&self) -> i64 {
        self.row().map_or(-1, |(v, _)| v)
    }
}

/// One step of the world (each followed by a comparison).
fn step(world: &mut World, rng: &mut Rng) {
    let current = world.current();
    let versions: Vec<i64> = world.files.keys().copied().collect();
    let newest = versions.last().copied().unwrap_or(0);
    match rng.below(12) {
        0 | 1 => drop(world.migrate(&["up"])),
        2 => drop(world.migrate(&["up", "1"])),
        3 | 4 => drop(world.migrate(&["down", "1"])),
        5 => {
            let v = rng.pick(&versions).to_string();
            drop(world.migrate(&["goto", &v]));
        }
        6 => {
            let choices = [newest + 3, *rng.pick(&versions), -1];
            let v = *rng.pick(&choices);
            let v = v.to_string();
            drop(world.migrate(&["force", "--", &v]));
        }
        7 => {
            if let Some(&next) = versions.iter().find(|v| **v > current) {
                world.write(next, Body::BrokenUp);
                world.history.push(format!("break up of {next}"));
            }
        }
        8 => {
            if world.files.contains_key(&current) {
                world.write(current, Body::BrokenDown);
                world.history.push(format!("break down of {current}"));
            }
        }
        9 => {
            for v in versions {
                world.write(v, Body::Good);
            }
            world.history.push("fix every file".into());
        }
        10 => {
            // A file below the current version (out of order), or a new newest one.
            let free = (1..current.max(1)).find(|v| !world.files.contains_key(v));
            let v = match (rng.below(2), free) {
                (0, Some(v)) => v,
                _ => newest + 1,
            };
            world.write(v, Body::Good);
            world.history.push(format!("add file {v}"));
        }
        _ => {
            if versions.len() > 1 {
                let v = *rng.pick(&versions);
                world.remove(v);
                world.history.push(format!("delete file {v}"));
            }
        }
    }
}

/// The characterisation's scenarios, in order (docs/tools/golang-migrate.md's table).
fn corpus(world: &mut World) {
    for v in 1..=3 {
        world.write(v, Body::Good);
    }
    world.write(3, Body::BrokenUp);
    world.compare(); // no table
    world.compare(); // migrate version made it: empty
    world.migrate(&["up", "2"]);
    world.compare();
    world.migrate(&["up"]); // 3 fails half-way: dirty 3
    world.compare();
    world.migrate(&["up"]); // refused while dirty
    world.compare();
    world.migrate(&["force", "2"]);
    world.write(3, Body::Good);
    world.migrate(&["up"]);
    world.compare();
    world.write(3, Body::BrokenDown);
    world.migrate(&["down", "1"]); // the down of 3 fails: dirty at 2
    world.compare();
    world.migrate(&["force", "3"]);
    world.write(3, Body::Good);
    world.write(5, Body::Good);
    world.migrate(&["up"]);
    world.compare();
    world.write(4, Body::Good); // out of order: never applied
    world.migrate(&["up"]);
    world.compare();
    world.remove(4);
    world.migrate(&["force", "9"]); // a version without a file
    world.compare();
    world.migrate(&["force", "4"]); // below the newest, without a file
    world.compare();
    world.migrate(&["force", "--", "-1"]);
    world.compare();
    world.write(1, Body::BrokenDown);
    world.migrate(&["up", "1"]);
    world.migrate(&["down", "1"]); // the first migration's down fails: dirty -1
    world.compare();
    world.migrate(&["force", "--", "-1"]);
    world.write(1, Body::Good);
    world.migrate(&["drop", "-f"]);
    world.compare();
}

#[test]
fn migrate_version_and_the_gate_agree_at_every_step() {
    let seed = tools::seed();
    let mut world = World::new(seed);
    corpus(&mut world);
    let mut rng = Rng::new(seed);
    for _ in 0..tools::steps() {
        step(&mut world, &mut rng);
        world.compare();
    }
    eprintln!(
        "golang-migrate differential: {} comparisons (seed {seed}), each direct and through \
         PgBouncer, at-least and exact; states (at-least/exact) seen: {:?}",
        world.compared, world.seen
    );
}

#[test]
fn the_gate_reads_with_select_alone_where_migrate_needs_more() {
    let mut world = World::new(0);
    world.write(1, Body::Good);
    world.migrate(&["up"]);
    tools::select_only(&world.db.pg, "app", "reader", "schema_migrations");
    let dir = world.dir();
    let url = world.db.pg.url("reader", "app", "");
    let c = tools::check(
        "golang-migrate",
        &url,
        &[("GATE_MIGRATIONS_DIR", dir.to_str().expect("utf-8"))],
    );
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    // migrate version as the same role: it takes a session advisory lock and checks (or creates)
    // its table before it reads.
    let source = format!("file://{}", dir.display());
    let reader = world.db.pg.url("reader", "app", "sslmode=disable");
    let (code, out) = cli(
        &world.migrate,
        &["-source", &source, "-database", &reader, "version"],
        None,
        &[],
    );
    eprintln!("migrate version as a SELECT-only role: exit {code}: {out}");
    assert_eq!(
        (code, out.trim()),
        (0, "1"),
        "it reads with SELECT too, once the table exists"
    );
    // On a database without the table, migrate version creates it; the gate never writes.
    world.db.fresh("empty");
    world
        .db
        .pg
        .sql("empty", "GRANT CONNECT ON DATABASE empty TO reader");
    let empty = world.db.pg.url("reader", "empty", "sslmode=disable");
    let (code, out) = cli(
        &world.migrate,
        &["-source", &source, "-database", &empty, "version"],
        None,
        &[],
    );
    assert!(
        code != 0 && out.contains("permission denied"),
        "migrate version needs CREATE where its table is missing: {code} {out}"
    );
    let c = tools::check(
        "golang-migrate",
        &world.db.pg.url("reader", "empty", ""),
        &[("GATE_MIGRATIONS_DIR", dir.to_str().expect("utf-8"))],
    );
    assert_eq!(c.state(), "no_table", "{c:?}");
}

#[test]
fn the_old_binary_reads_goose_and_misses_golang_migrate() {
    // GATE_TOOL=golang-migrate: the old binary knows only goose's table, finds none, and is
    // not ready (exit 1); the new one reads golang-migrate's row.
    let mut world = World::new(0);
    world.write(1, Body::Good);
    world.write(2, Body::Good);
    world.migrate(&["up"]);
    let dir = world.dir();
    let c = tools::check(
        "golang-migrate",
        &world.db.pg.url("gate", "app", ""),
        &[("GATE_MIGRATIONS_DIR", dir.to_str().expect("utf-8"))],
    );
    assert_eq!(c.code, Some(0), "{c:?}");
    assert_eq!(c.json["tool"], "golang-migrate", "{c:?}");
    assert_eq!(c.json["version"], 2, "numbers for golang-migrate: {c:?}");
}

#[test]
fn wait_keeps_waiting_on_a_dirty_row_warns_then_errors() {
    // A dirty row is written before the migration runs: failed, or still running. wait keeps
    // waiting, at warn, and at error once it has lasted 60 intervals (6 s at 100 ms).
    let mut world = World::new(0);
    world.write(1, Body::Good);
    world.write(2, Body::BrokenUp);
    world.migrate(&["up"]);
    assert_eq!(world.row(), Some((2, true)));
    let dir = world.dir();
    let mut cmd = support::gate(&["wait"]);
    cmd.env("DATABASE_URL", world.db.pg.url("gate", "app", ""))
        .env("GATE_TOOL", "golang-migrate")
        .env("GATE_MIGRATIONS_DIR", &dir)
        .env("GATE_INTERVAL", "100ms");
    let mut waiting = support::Logged::spawn(cmd);
    waiting.keeps_running_after("failed: 2 (recorded as started and not finished");
    let log = waiting.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("failed: 2")),
        "{log}"
    );
    waiting.keeps_running_after("still failed after 60 intervals");
    let log = waiting.log();
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("still failed after 60 intervals")),
        "{log}"
    );
    // Fixed by hand as golang-migrate asks: force the last good version, fix, migrate up.
    world.migrate(&["force", "1"]);
    world.write(2, Body::Good);
    world.migrate(&["up"]);
    let r = waiting.finish(std::time::Duration::from_secs(30));
    assert_eq!(r.code, Some(0), "{r:?}");
}

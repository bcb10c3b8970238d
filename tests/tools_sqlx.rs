//! sqlx-cli's real CLI (0.9.0, `scripts/peers/sqlx.sh`: `cargo install sqlx-cli`) against the
//! gate: after every step of the characterisation's scenarios (run, a migration failing
//! half-way with and without `-- no-transaction`, revert of a reversible migration, a file
//! below the applied ones, an edited file, a row without a file, `success = false` written by
//! hand (labelled: sqlx never writes it on PostgreSQL), names sqlx skips, two files of one
//! version, a negative version) and of seeded random steps, `sqlx migrate info` and `sqlx migrate
//! run --dry-run`'s refusal and the gate (direct and through PgBouncer, as a role with only
//! `SELECT`) must agree: `info`'s `pending` lines are the gate's pending list, its `(different
//! checksum)` lines the gate's `checksum_mismatch`, `run`'s "partially applied" refusal the
//! gate's `failed`, and the rows `info` hides the gate's `ahead` (`docs/tools/sqlx.md`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use support::tools::{self, Check, Rng, ToolDb, check_both, cli, peer, sorted};

struct World {
    db: ToolDb,
    dir: PathBuf,
    sqlx: PathBuf,
    seed: u64,
    history: Vec<String>,
    compared: usize,
    seen: BTreeMap<String, usize>,
}

/// What sqlx said.
struct Oracle {
    pending: Vec<String>,
    installed: Vec<String>,
    mismatch: Vec<String>,
    refusal: String,
    text: String,
}

impl World {
    fn new(seed: u64) -> World {
        let dir = support::temp_dir("sqlx-migrations");
        World {
            db: ToolDb::start(),
            dir,
            sqlx: peer("sqlx"),
            seed,
            history: Vec::new(),
            compared: 0,
            seen: BTreeMap::new(),
        }
    }

    fn write(&mut self, name: &str, body: &str) {
        std::fs::write(self.dir.join(name), body).expect("write");
        self.history.push(format!("write {name}: {body:?}"));
    }

    fn remove(&mut self, name: &str) {
        let _ = std::fs::remove_file(self.dir.join(name));
        self.history.push(format!("rm {name}"));
    }

    fn sqlx_as(&self, url: &str, args: &[&str]) -> (i32, String) {
        let source = self.dir.display().to_string();
        let mut all = vec!["migrate"];
        all.extend_from_slice(args);
        all.extend(["--source", &source, "--database-url", url]);
        cli(&self.sqlx, &all, None, &[("NO_COLOR", "1")])
    }

    fn sqlx(&mut self, args: &[&str]) -> (i32, String) {
        let url = self.db.migrator_url("app");
        let (code, out) = self.sqlx_as(&url, args);
        self.history.push(format!(
            "sqlx migrate {} -> {code}: {}",
            args.join(" "),
            out.trim().replace('\n', " | ")
        ));
        (code, out)
    }

    fn sql(&mut self, sql: &str) {
        self.history.push(format!("sql: {sql}"));
        self.db.pg.sql("app", sql);
    }

    fn context(&self) -> String {
        let files: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        format!(
            "seed {} (TOOLS_DIFF_SEED={} replays it), step {}; files {files:?}; steps so far:\n  {}",
            self.seed,
            self.seed,
            self.compared,
            self.history.join("\n  ")
        )
    }

    fn rows(&self) -> Option<BTreeSet<String>> {
        let exists = self.db.pg.sql(
            "app",
            "SELECT to_regclass('public._sqlx_migrations') IS NOT NULL",
        );
        (exists == "t").then(|| {
            self.db
                .pg
                .sql("app", "SELECT version FROM _sqlx_migrations")
                .lines()
                .map(str::to_string)
                .collect()
        })
    }

    fn oracle(&mut self) -> Oracle {
        let url = self.db.migrator_url("app");
        let (code, text) = self.sqlx_as(&url, &["info"]);
        let versions = |kind: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| {
                    let (v, rest) = l.split_once('/')?;
                    (rest.starts_with(kind) && v.parse::<i64>().is_ok()).then(|| v.to_string())
                })
                .collect()
        };
        let pending = versions("pending ");
        let installed = versions("installed ");
        let mismatch = versions("installed (different checksum)");
        let (_, dry) = self.sqlx_as(&url, &["run", "--dry-run"]);
        let refusal = dry
            .lines()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or("")
            .to_string();
        Oracle {
            pending,
            installed,
            mismatch,
            refusal,
            text: format!("info -> {code}:\n{text}run --dry-run:\n{dry}"),
        }
    }

    fn gate(&self) -> (Check, Check) {
        let dir = self.dir.display().to_string();
        check_both(
            &self.db,
            "app",
            "sqlx",
            &[("GATE_MIGRATIONS_DIR", &dir)],
            &self.context(),
        )
    }

    /// The gate first (`info` creates the table), then `info` and `run --dry-run`, compared.
    fn compare(&mut self) {
        self.compared += 1;
        let before = self.rows();
        let (at_least, exact) = self.gate();
        *self
            .seen
            .entry(format!("{}/{}", at_least.state(), exact.state()))
            .or_default() += 1;
        let o = self.oracle();
        let ctx = format!("{}\n{}", self.context(), o.text);
        assert_eq!(
            sorted(at_least.ids("pending")),
            sorted(o.pending.clone()),
            "{ctx}: the gate's pending list is info's pending lines\n{at_least:?}"
        );
        let Some(rows) = before else {
            assert_eq!(at_least.state(), "no_table", "{ctx}\n{at_least:?}");
            assert!(
                self.rows().is_some(),
                "{ctx}: info creates _sqlx_migrations"
            );
            return;
        };
        assert_eq!(
            sorted(at_least.ids("checksum_mismatch")),
            sorted(o.mismatch.clone()),
            "{ctx}: (different checksum) lines\n{at_least:?}"
        );
        let failed = at_least.ids("failed");
        assert_eq!(
            !failed.is_empty(),
            o.refusal.contains("partially applied"),
            "{ctx}: run's refusal and the gate's failed\n{at_least:?}"
        );
        if o.refusal.contains("partially applied") {
            assert!(
                o.refusal.contains(&format!("migration {} ", failed[0])),
                "{ctx}"
            );
            assert_eq!(at_least.state(), "failed", "{ctx}");
        }
        // Rows info does not show: the gate's ahead; run refuses them.
        let shown: BTreeSet<String> = o
            .installed
            .iter()
            .chain(&o.mismatch)
            .chain(&o.pending)
            .cloned()
            .collect();
        let hidden: Vec<String> = rows.difference(&shown).cloned().collect();
        assert_eq!(
            sorted(at_least.ids("ahead")),
            sorted(hidden.clone()),
            "{ctx}"
        );
        if o.refusal.contains("missing in the resolved migrations") {
            assert!(!hidden.is_empty(), "{ctx}");
        }
        if o.refusal.contains("has been modified") {
            assert!(!o.mismatch.is_empty(), "{ctx}");
        }
        // Ready under at-least: nothing pending, nothing failed. Under exact: and nothing run
        // would refuse (ahead, a modified file).
        assert_eq!(
            at_least.state() == "ready",
            o.pending.is_empty() && failed.is_empty(),
            "{ctx}\n{at_least:?}"
        );
        assert_eq!(
            exact.state() == "ready",
            o.pending.is_empty() && o.refusal.is_empty(),
            "{ctx}: ready under exact = run has nothing to do and nothing to refuse\n{exact:?}"
        );
        self.listing_agrees(&o, &ctx);
    }

    /// `schema-gate status` lists the versions `info` lists (one line per version; `info` prints
    /// one per file), installed as applied, failed rows as failed.
    fn listing_agrees(&self, o: &Oracle, ctx: &str) {
        let url = self.db.pg.url("gate", "app", "");
        let dir = self.dir.display().to_string();
        let (_, doc) = tools::status("sqlx", &url, &[("GATE_MIGRATIONS_DIR", &dir)]);
        let failed: BTreeSet<String> = self
            .db
            .pg
            .sql(
                "app",
                "SELECT version FROM _sqlx_migrations WHERE NOT success",
            )
            .lines()
            .map(str::to_string)
            .collect();
        let mut theirs: Vec<(String, String)> = o
            .installed
            .iter()
            .chain(&o.mismatch)
            .map(|v| {
                let state = if failed.contains(v) {
                    "failed"
                } else {
                    "applied"
                };
                (v.clone(), state.to_string())
            })
            .chain(o.pending.iter().map(|v| (v.clone(), "pending".to_string())))
            .collect();
        theirs.sort();
        theirs.dedup();
        let mut ours = tools::listed(&doc, "migrations");
        ours.sort();
        assert_eq!(ours, theirs, "{ctx}: {doc}");
    }
}

fn corpus(w: &mut World) {
    w.write("1_create_a.sql", "CREATE TABLE a (id int);\n");
    w.write("2_create_b.up.sql", "CREATE TABLE b (id int);\n");
    w.write("2_create_b.down.sql", "DROP TABLE b;\n");
    w.compare(); // no table: info creates it
    w.sqlx(&["run"]);
    w.compare();
    w.write("3_create_c.sql", "CREATE TABLE c (id int);\nSELECT 1/0;\n");
    assert_ne!(w.sqlx(&["run"]).0, 0);
    w.compare(); // failed in its transaction: no row
    w.write(
        "3_create_c.sql",
        "-- no-transaction\nCREATE TABLE c (id int);\nSELECT 1/0;\n",
    );
    assert_ne!(w.sqlx(&["run"]).0, 0);
    w.compare(); // no-transaction: still one implicit transaction, no row
    w.write("3_create_c.sql", "CREATE TABLE c (id int);\n");
    w.sqlx(&["run"]);
    w.compare();
    w.sqlx(&["revert"]); // 2 is the newest reversible one
    w.compare();
    w.sqlx(&["run"]);
    w.write("0_early.sql", "SELECT 1;\n");
    w.compare(); // below the applied ones: pending
    w.sqlx(&["run"]);
    w.compare();
    w.write("1_create_a.sql", "CREATE TABLE a (id int); -- edited\n");
    w.compare(); // different checksum: info 0, run refuses
    w.write("1_create_a.sql", "CREATE TABLE a (id int);\n");
    w.sql(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99, 'gone', true, '\\x00', 0)",
    );
    w.compare(); // a row without a file: info hides it, run refuses
    w.sqlx(&["run", "--ignore-missing"]);
    w.compare();
    w.sql("DELETE FROM _sqlx_migrations WHERE version = 99");
    // BY HAND, labelled: sqlx 0.9 on PostgreSQL never writes success = false.
    w.sql("UPDATE _sqlx_migrations SET success = false WHERE version = 3");
    w.compare(); // info: installed; run: partially applied; the gate: failed
    w.sql("UPDATE _sqlx_migrations SET success = true WHERE version = 3");
    // Names sqlx skips, and a padded one it reads.
    w.write("README.md", "notes\n");
    w.write("4.sql", "SELECT 1;\n");
    w.write("5_x.SQL", "SELECT 1;\n");
    std::fs::create_dir_all(w.dir.join("6_dir.sql")).expect("mkdir");
    w.write("007_padded.sql", "SELECT 7;\n");
    w.compare();
    w.sqlx(&["run"]);
    w.compare();
    w.write("7_again.sql", "SELECT 7;\n"); // a second file of version 7, same text
    w.compare();
    w.remove("7_again.sql");
    w.write("-9_negative.sql", "SELECT 9;\n");
    w.compare();
    w.sqlx(&["run"]);
    w.compare();
}

fn step(w: &mut World, rng: &mut Rng) {
    let names: Vec<String> = std::fs::read_dir(&w.dir)
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sql") && n.contains('_') && !n.contains(".down."))
        .collect();
    match rng.below(9) {
        0..=2 => drop(w.sqlx(&["run"])),
        3 => drop(w.sqlx(&["run", "--ignore-missing"])),
        4 => drop(w.sqlx(&["revert"])),
        5 => {
            let v = rng.below(60) + 10;
            let broken = rng.below(3) == 0;
            let body = if broken {
                format!("CREATE TABLE IF NOT EXISTS t{v} (id int);\nSELECT 1/0;\n")
            } else {
                format!("CREATE TABLE IF NOT EXISTS t{v} (id int);\n")
            };
            if rng.below(2) == 0 {
                w.write(&format!("{v}_m.up.sql"), &body);
                w.write(
                    &format!("{v}_m.down.sql"),
                    &format!("DROP TABLE IF EXISTS t{v};\n"),
                );
            } else {
                w.write(&format!("{v}_m.sql"), &body);
            }
        }
        6 => {
            // Fix or edit a file (an edit of an applied one is a checksum mismatch).
            if let Some(name) = names.get(rng.below(names.len().max(1))) {
                let path = w.dir.join(name);
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let fixed = text.replace("SELECT 1/0;\n", "");
                let body = if fixed != text {
                    fixed
                } else {
                    format!("{text}-- edited\n")
                };
                w.write(name, &body);
            }
        }
        7 => {
            // Undo an edit: drop every "-- edited" line.
            for name in &names {
                let path = w.dir.join(name);
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if text.contains("-- edited\n") {
                    w.write(name, &text.replace("-- edited\n", ""));
                }
            }
        }
        _ => {
            if names.len() > 2 {
                let name = rng.pick(&names).clone();
                w.remove(&name);
                w.remove(&name.replace(".up.sql", ".down.sql"));
            }
        }
    }
}

#[test]
fn sqlx_migrate_info_and_the_gate_agree_at_every_step() {
    let seed = tools::seed();
    let mut w = World::new(seed);
    corpus(&mut w);
    let mut rng = Rng::new(seed);
    for _ in 0..tools::steps() {
        step(&mut w, &mut rng);
        w.compare();
    }
    eprintln!(
        "sqlx differential: {} comparisons (seed {seed}), each direct and through PgBouncer, \
         at-least and exact; states (at-least/exact) seen: {:?}",
        w.compared, w.seen
    );
}

#[test]
fn the_gate_reads_with_select_alone_where_sqlx_info_runs_ddl() {
    let mut w = World::new(0);
    w.write("1_create_a.sql", "CREATE TABLE a (id int);\n");
    w.sqlx(&["run"]);
    tools::select_only(&w.db.pg, "app", "reader", "_sqlx_migrations");
    let dir = w.dir.display().to_string();
    let c = tools::check(
        "sqlx",
        &w.db.pg.url("reader", "app", ""),
        &[("GATE_MIGRATIONS_DIR", &dir)],
    );
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    // sqlx#4105: info runs CREATE TABLE IF NOT EXISTS; on a fresh database a role without CREATE
    // fails where the gate says no_table.
    w.db.fresh("empty");
    w.db.pg
        .sql("empty", "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    let c = tools::check(
        "sqlx",
        &w.db.pg.url("gate", "empty", ""),
        &[("GATE_MIGRATIONS_DIR", &dir)],
    );
    assert_eq!(c.state(), "no_table", "{c:?}");
    let gate = w.db.pg.url("gate", "empty", "sslmode=disable");
    let (code, out) = w.sqlx_as(&gate, &["info"]);
    assert_ne!(code, 0, "info as a role without CREATE: {out}");
    assert!(out.contains("permission denied"), "{out}");
}

#[test]
fn names_sqlx_refuses_are_configuration_errors() {
    let mut w = World::new(0);
    w.write("1_create_a.sql", "CREATE TABLE a (id int);\n");
    w.write("x8_bad.sql", "SELECT 1;\n");
    let (code, out) = w.sqlx(&["info"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("x8_bad.sql"), "{out}");
    let dir = w.dir.display().to_string();
    let r = support::run(
        support::gate(&["check"])
            .env("DATABASE_URL", w.db.pg.url("gate", "app", ""))
            .env("GATE_TOOL", "sqlx")
            .env("GATE_MIGRATIONS_DIR", &dir),
        std::time::Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains("GATE_MIGRATIONS_DIR") && r.stderr.contains("x8_bad.sql"),
        "{r:?}"
    );
}

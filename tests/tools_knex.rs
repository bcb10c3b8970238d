//! knex's real CLI (3.3.0 with pg 8.23.1, `scripts/peers/knex.sh`) against the gate: after every
//! step of the characterisation's scenarios (latest, rollback by batch, up and down, migrations
//! failing half-way in knex's transaction and with `config = { transaction: false }`, a file
//! sorting before the applied ones, rows without a file ("corrupt"), names with extensions
//! knex loads and skips, two directories, the lock held while a migration runs and left by a
//! killed migrator) and of seeded random steps, `knex migrate:status` and the gate (direct and
//! through PgBouncer, as a role with only `SELECT`) must agree: its pending list is the gate's,
//! "nothing pending and no held lock" is the gate's readiness under `at-least`, and the rows it
//! calls missing files are the gate's `ahead` (`docs/tools/knex.md`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;
use support::tools::{self, Check, Rng, ToolDb, check_both, cli, peer, sorted};

struct World {
    db: ToolDb,
    root: PathBuf,
    /// File name → directory index (0: migrations, 1: more).
    files: BTreeMap<String, usize>,
    knex: PathBuf,
    seed: u64,
    history: Vec<String>,
    compared: usize,
    seen: BTreeMap<String, usize>,
}

const KNEXFILE: &str = "const dirs = (process.env.KNEX_DIRS || './migrations').split(',');\n\
    module.exports = { client: 'pg', connection: process.env.DATABASE_URL, \
    migrations: { directory: dirs } };\n";

/// What `knex migrate:status` said.
struct Status {
    code: i32,
    completed: Vec<String>,
    pending: Vec<String>,
    missing: Vec<String>,
    text: String,
}

impl World {
    fn new(seed: u64) -> World {
        let root = support::temp_dir("knex-project");
        for d in ["migrations", "more"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        let knex = peer("knex");
        // knex's CLI runs the project's own knex: the project's node_modules is the installed one.
        let modules = knex
            .parent()
            .and_then(|p| p.parent())
            .expect("node_modules/.bin/knex")
            .to_path_buf();
        std::os::unix::fs::symlink(modules, root.join("node_modules")).expect("symlink");
        std::fs::write(root.join("knexfile.js"), KNEXFILE).expect("write");
        World {
            db: ToolDb::start(),
            root,
            files: BTreeMap::new(),
            knex,
            seed,
            history: Vec::new(),
            compared: 0,
            seen: BTreeMap::new(),
        }
    }

    fn dir(&self, index: usize) -> PathBuf {
        self.root.join(["migrations", "more"][index])
    }

    fn dirs(&self) -> Vec<usize> {
        let mut dirs = vec![0];
        if self.files.values().any(|d| *d == 1) {
            dirs.push(1);
        }
        dirs
    }

    /// A migration running `up` (statements, each one `knex.raw`), optionally outside knex's
    /// transaction.
    fn write(&mut self, name: &str, dir: usize, up: &[&str], no_transaction: bool) {
        let mut body = String::new();
        if no_transaction {
            body.push_str("exports.config = { transaction: false };\n");
        }
        body.push_str("exports.up = async (knex) => {\n");
        for stmt in up {
            body.push_str(&format!("  await knex.raw('{stmt}');\n"));
        }
        // The down drops what the up created.
        body.push_str("};\nexports.down = async (knex) => {\n");
        for stmt in up {
            let created = stmt
                .strip_prefix("CREATE TABLE IF NOT EXISTS ")
                .or_else(|| stmt.strip_prefix("CREATE TABLE "));
            if let Some(table) = created.and_then(|t| t.split_whitespace().next()) {
                body.push_str(&format!(
                    "  await knex.raw('DROP TABLE IF EXISTS {table}');\n"
                ));
            }
        }
        body.push_str("};\n");
        std::fs::write(self.dir(dir).join(name), body).expect("write");
        self.files.insert(name.to_string(), dir);
    }

    /// A file that is not a migration for knex, or one the gate must count though the test's
    /// map does not hold it (its name and contents as given).
    fn raw(&self, name: &str, contents: &str) {
        std::fs::write(self.dir(0).join(name), contents).expect("write");
    }

    fn remove(&mut self, name: &str) {
        if let Some(dir) = self.files.remove(name) {
            let _ = std::fs::remove_file(self.dir(dir).join(name));
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.knex);
        let knexfile = self.root.join("knexfile.js");
        cmd.arg("--knexfile")
            .arg(knexfile)
            .args(args)
            .current_dir(&self.root)
            .env("DATABASE_URL", self.db.migrator_url("app"))
            .env("KNEX_DIRS", self.knex_dirs());
        cmd
    }

    fn knex_dirs(&self) -> String {
        self.dirs()
            .iter()
            .map(|d| format!("./{}", ["migrations", "more"][*d]))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn knex(&mut self, args: &[&str]) -> (i32, String) {
        let out = self.command(args).output().expect("knex");
        let code = out.status.code().unwrap_or(-1);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if args != ["migrate:status"] {
            self.history.push(format!(
                "knex {} -> {code}: {}",
                args.join(" "),
                text.lines()
                    .filter(|l| !l.trim_start().starts_with("at "))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        (code, text)
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

    fn rows(&self) -> Option<BTreeSet<String>> {
        let exists = self.db.pg.sql(
            "app",
            "SELECT to_regclass('public.knex_migrations') IS NOT NULL",
        );
        (exists == "t").then(|| {
            self.db
                .pg
                .sql("app", "SELECT name FROM knex_migrations")
                .lines()
                .map(str::to_string)
                .collect()
        })
    }

    /// knex's own rule (`_lockMigrations`: `UPDATE … SET is_locked = 1 WHERE is_locked = 0`
    /// must touch exactly one row): held unless exactly one lock row is free.
    fn locked(&self) -> bool {
        let exists = self.db.pg.sql(
            "app",
            "SELECT to_regclass('public.knex_migrations_lock') IS NOT NULL",
        );
        exists == "t"
            && self.db.pg.sql(
                "app",
                "SELECT count(*) > 0 AND count(*) FILTER (WHERE is_locked = 0) <> 1 \
                 FROM knex_migrations_lock",
            ) == "t"
    }

    fn status(&mut self) -> Status {
        let (code, text) = self.knex(&["migrate:status"]);
        let mut completed = Vec::new();
        let mut pending = Vec::new();
        let mut part = 0;
        for line in text.lines() {
            if line.contains("Completed Migration file") {
                part = 1;
            } else if line.contains("Pending Migration file") {
                part = 2;
            } else if line.starts_with("No ") || line.starts_with("Using environment") {
                part = 0;
            } else if !line.trim().is_empty() && part == 1 {
                completed.push(line.trim().to_string());
            } else if !line.trim().is_empty() && part == 2 {
                pending.push(line.trim().to_string());
            }
        }
        let missing = text
            .lines()
            .find_map(|l| l.split("the following files are missing: ").nth(1))
            .map(|l| l.split(", ").map(|s| s.trim().to_string()).collect())
            .unwrap_or_default();
        Status {
            code,
            completed,
            pending,
            missing,
            text,
        }
    }

    fn spec(&self) -> String {
        self.dirs()
            .iter()
            .map(|d| self.dir(*d).display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    fn gate(&self) -> (Check, Check) {
        let spec = self.spec();
        check_both(
            &self.db,
            "app",
            "knex",
            &[("GATE_MIGRATIONS_DIR", &spec)],
            &self.context(),
        )
    }

    /// The gate first (knex's own status command creates the tables and the lock row), then
    /// `knex migrate:status`, compared.
    fn compare(&mut self) {
        self.compared += 1;
        let before = self.rows();
        let locked = self.locked();
        let (at_least, exact) = self.gate();
        *self
            .seen
            .entry(format!("{}/{}", at_least.state(), exact.state()))
            .or_default() += 1;
        let status = self.status();
        let ctx = format!("{}\n{}", self.context(), status.text);
        assert!(
            at_least.ids("failed").is_empty(),
            "knex has no failed state: {ctx}"
        );
        let Some(rows) = before else {
            assert_eq!(at_least.state(), "no_table", "{ctx}\n{at_least:?}");
            assert_eq!(
                sorted(at_least.ids("pending")),
                sorted(status.pending.clone()),
                "{ctx}"
            );
            assert!(
                self.rows().is_some(),
                "{ctx}: migrate:status creates its tables"
            );
            return;
        };
        let hint = at_least.json["hint"].as_str().unwrap_or("").to_string();
        assert_eq!(
            hint.contains("migration in progress"),
            locked,
            "{ctx}: a held lock is 'migration in progress'\n{at_least:?}"
        );
        if !status.missing.is_empty() {
            // "corrupt": knex refuses everything; the gate calls those rows ahead.
            assert_eq!(status.code, 1, "{ctx}");
            assert_eq!(
                sorted(at_least.ids("ahead")),
                sorted(status.missing.clone()),
                "{ctx}\n{at_least:?}"
            );
            assert!(hint.contains("corrupt"), "{ctx}\n{at_least:?}");
            let pending: Vec<String> = self
                .files
                .keys()
                .filter(|f| !rows.contains(*f))
                .cloned()
                .collect();
            assert_eq!(sorted(at_least.ids("pending")), sorted(pending), "{ctx}");
            let ready = at_least.ids("pending").is_empty() && !locked;
            assert_eq!(at_least.state() == "ready", ready, "{ctx}\n{at_least:?}");
            if ready {
                assert_eq!((exact.code, exact.state()), (Some(4), "ahead"), "{ctx}");
            }
            return;
        }
        assert_eq!(status.code, 0, "{ctx}");
        assert_eq!(
            sorted(at_least.ids("pending")),
            sorted(status.pending.clone()),
            "{ctx}: the gate's pending list is migrate:status'\n{at_least:?}"
        );
        assert_eq!(
            status.pending.is_empty() && !locked,
            at_least.state() == "ready",
            "{ctx}: nothing pending and no held lock, vs the gate under at-least\n{at_least:?}"
        );
        assert!(at_least.ids("ahead").is_empty(), "{ctx}\n{at_least:?}");
        assert_eq!(exact.state(), at_least.state(), "{ctx}\n{exact:?}");
        self.listing_agrees(&status, &ctx);
    }

    /// `schema-gate status` lists every file as `migrate:status` does: completed applied,
    /// pending pending (by name).
    fn listing_agrees(&self, status: &Status, ctx: &str) {
        let url = self.db.pg.url("gate", "app", "");
        let spec = self.spec();
        let (_, doc) = tools::status("knex", &url, &[("GATE_MIGRATIONS_DIR", &spec)]);
        let mut theirs: Vec<(String, String)> = status
            .completed
            .iter()
            .map(|n| (n.clone(), "applied".to_string()))
            .chain(status.pending.iter().map(|n| (n.clone(), "pending".into())))
            .collect();
        theirs.sort();
        let mut ours = tools::listed(&doc, "migrations");
        ours.sort();
        assert_eq!(ours, theirs, "{ctx}: {doc}");
    }

    /// `knex migrate:latest` in the background (a slow migration), once `ready` is observed.
    fn latest_in_background(&mut self, ready: &str) -> Child {
        self.history
            .push("knex migrate:latest & (background)".into());
        tools::in_background(
            self.command(&["migrate:latest"]),
            &self.db.pg,
            ready,
            Duration::from_secs(120),
            &self.root.join("background.log"),
            &self.context(),
        )
    }
}

fn step(w: &mut World, rng: &mut Rng) {
    let names: Vec<String> = w.files.keys().cloned().collect();
    match rng.below(10) {
        0..=2 => drop(w.knex(&["migrate:latest"])),
        3 => drop(w.knex(&["migrate:rollback"])),
        4 => drop(w.knex(&["migrate:up"])),
        5 => drop(w.knex(&["migrate:down"])),
        6 | 7 => {
            // A new file: a timestamp (sometimes before the applied ones), .js or .cjs,
            // sometimes in the second directory, sometimes failing half-way, sometimes outside
            // knex's transaction.
            let ext = *rng.pick(&["js", "cjs"]);
            let name = format!(
                "2024010{}0000{:02}_m.{ext}",
                rng.below(9) + 1,
                rng.below(60)
            );
            let dir = usize::from(rng.below(4) == 0);
            let table = format!("t_{}", name.replace('.', "_"));
            let create = format!("CREATE TABLE IF NOT EXISTS {table} (id int)");
            let broken = rng.below(3) == 0;
            let up: Vec<&str> = if broken {
                vec![&create, "SELECT 1/0"]
            } else {
                vec![&create]
            };
            if !w.files.contains_key(&name) {
                let no_tx = rng.below(2) == 0;
                w.write(&name, dir, &up, no_tx);
                w.history.push(format!(
                    "add {name} in dir {dir} (broken {broken}, no tx {no_tx})"
                ));
            }
        }
        8 => {
            // Fix every file (the broken ones succeed next time).
            for (name, dir) in w.files.clone() {
                let table = format!("t_{}", name.replace('.', "_"));
                let create = format!("CREATE TABLE IF NOT EXISTS {table} (id int)");
                w.write(&name, dir, &[&create], false);
            }
            // An operator's repair of a "corrupt" directory: rows without a file deleted.
            let names: Vec<String> = w.files.keys().map(|n| format!("'{n}'")).collect();
            if w.rows().is_some() && !names.is_empty() {
                w.db.pg.sql(
                    "app",
                    &format!(
                        "DELETE FROM knex_migrations WHERE name NOT IN ({})",
                        names.join(", ")
                    ),
                );
            }
            w.history
                .push("fix every file, delete the rows without a file".into());
        }
        _ => {
            if names.len() > 1 {
                // Delete a file: pending ones disappear, applied ones make knex refuse
                // ("corrupt") until its row goes (half the time at once, as a rollback before
                // the deletion would have; else at the next fix-all step).
                let name = rng.pick(&names).clone();
                w.remove(&name);
                w.history.push(format!("delete {name}"));
                if rng.below(2) == 0 {
                    w.db.pg.sql(
                        "app",
                        &format!("DELETE FROM knex_migrations WHERE name = '{name}'"),
                    );
                    w.history.push(format!("delete its row {name}"));
                }
            }
        }
    }
}

/// The characterisation's scenarios (docs/tools/knex.md, scripts/tools/characterise-knex.sh).
fn corpus(w: &mut World) {
    w.write(
        "20240101000001_a.js",
        0,
        &["CREATE TABLE a (id int)"],
        false,
    );
    w.write(
        "20240101000002_b.js",
        0,
        &["CREATE TABLE b (id int)"],
        false,
    );
    w.compare(); // no table; migrate:status creates both tables
    w.knex(&["migrate:latest"]);
    w.compare();
    w.write(
        "20240101000003_c.js",
        0,
        &["CREATE TABLE c (id int)", "SELECT 1/0"],
        false,
    );
    assert_ne!(w.knex(&["migrate:latest"]).0, 0);
    w.compare(); // failed in knex's transaction: nothing left
    w.write(
        "20240101000003_c.js",
        0,
        &["CREATE TABLE c (id int)", "SELECT 1/0"],
        true,
    );
    assert_ne!(w.knex(&["migrate:latest"]).0, 0);
    w.compare(); // transaction: false: table c stays, still no row
    w.db.pg.sql("app", "DROP TABLE c");
    w.write(
        "20240101000003_c.js",
        0,
        &["CREATE TABLE c (id int)"],
        false,
    );
    w.knex(&["migrate:latest"]);
    w.compare();
    w.knex(&["migrate:rollback"]);
    w.compare();
    w.knex(&["migrate:up"]);
    w.compare();
    w.write("20231231000000_early.js", 0, &["SELECT 1"], false);
    w.compare(); // out of order: pending
    w.knex(&["migrate:latest"]);
    w.compare();
    w.db.pg.sql(
        "app",
        "INSERT INTO knex_migrations (name, batch, migration_time) \
         VALUES ('20991231000000_gone.js', 9, now())",
    );
    w.history.push("insert a row without a file".into());
    w.compare(); // corrupt: knex refuses, the gate says ahead
    w.db.pg.sql(
        "app",
        "DELETE FROM knex_migrations WHERE name = '20991231000000_gone.js'",
    );
    // Names: .ts, .cjs and .hidden.js are migrations; .mjs and README.md are not.
    let body = "exports.up = (knex) => knex.raw('SELECT 1');\n\
                exports.down = (knex) => knex.raw('SELECT 1');\n";
    w.raw("20240101000004_d.ts", body);
    w.files.insert("20240101000004_d.ts".into(), 0);
    w.write("20240101000005_e.cjs", 0, &["SELECT 1"], false);
    w.raw("20240101000006_f.mjs", body);
    w.raw("README.md", "notes\n");
    w.raw(".hidden.js", "x\n");
    w.files.insert(".hidden.js".into(), 0);
    w.compare();
    w.remove(".hidden.js");
    w.remove("20240101000004_d.ts");
    std::fs::remove_file(w.dir(0).join("20240101000006_f.mjs")).expect("rm");
    w.knex(&["migrate:latest"]);
    w.compare();
    // A migration is its name: .cjs renamed to .js is a new one, and the row a missing file.
    w.remove("20240101000005_e.cjs");
    w.write("20240101000005_e.js", 0, &["SELECT 1"], false);
    w.compare();
    w.remove("20240101000005_e.js");
    w.write("20240101000005_e.cjs", 0, &["SELECT 1"], false);
    // Two directories.
    w.write("20240101000007_g.js", 1, &["SELECT 1"], false);
    w.compare();
    w.knex(&["migrate:latest"]);
    w.compare();
    // The lock: a slow migration in knex's transaction (the lock invisible from outside) …
    w.write("20240101000008_slow.js", 0, &["SELECT pg_sleep(5)"], false);
    let mut child = w.latest_in_background(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' \
         AND pid <> pg_backend_pid()",
    );
    let (at_least, _) = w.gate();
    assert_eq!(at_least.state(), "behind", "{at_least:?}");
    assert_eq!(at_least.ids("pending"), ["20240101000008_slow.js"]);
    assert!(child.wait().expect("wait").success());
    w.compare();
    w.knex(&["migrate:rollback"]);
    // … and outside it (config = { transaction: false }): the lock row is set and seen.
    w.write("20240101000008_slow.js", 0, &["SELECT pg_sleep(10)"], true);
    let mut child = w.latest_in_background("SELECT is_locked = 1 FROM knex_migrations_lock");
    w.compare(); // behind, "migration in progress"; migrate:status says nothing of it
    let (code, out) = w.knex(&["migrate:latest"]);
    assert!(
        code != 0 && out.contains("Migration table is already locked"),
        "{code}: {out}"
    );
    assert!(child.wait().expect("wait").success());
    w.compare();
    w.knex(&["migrate:rollback"]);
    // A migrator killed during the migration: the lock stays held.
    w.write("20240101000008_slow.js", 0, &["SELECT pg_sleep(60)"], true);
    let mut child = w.latest_in_background("SELECT is_locked = 1 FROM knex_migrations_lock");
    child.kill().expect("kill -9");
    let _ = child.wait();
    w.db.pg.sql(
        "app",
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' \
         AND pid <> pg_backend_pid()",
    );
    w.history.push("kill -9 the migrator".into());
    w.compare(); // stale lock: behind, "migration in progress"
    let (code, out) = w.knex(&["migrate:latest"]);
    assert!(
        code != 0 && out.contains("Migration table is already locked"),
        "{code}: {out}"
    );
    w.knex(&["migrate:unlock"]);
    w.compare();
    w.write("20240101000008_slow.js", 0, &["SELECT 1"], false);
    w.knex(&["migrate:latest"]);
    w.compare();
}

#[test]
fn knex_migrate_status_and_the_gate_agree_at_every_step() {
    let seed = tools::seed();
    let mut w = World::new(seed);
    corpus(&mut w);
    let mut rng = Rng::new(seed);
    // Each step is a Node start or two (~1-2 s): a plain run takes a dozen random steps,
    // `--full` (TOOLS_DIFF_STEPS) as many as it asks.
    let steps = tools::steps_or(12);
    for _ in 0..steps {
        step(&mut w, &mut rng);
        w.compare();
    }
    eprintln!(
        "knex differential: {} comparisons (seed {seed}), each direct and through PgBouncer, \
         at-least and exact; states (at-least/exact) seen: {:?}",
        w.compared, w.seen
    );
}

#[test]
fn the_gate_reads_with_select_alone_where_knex_writes() {
    let mut w = World::new(0);
    w.write("20240101000001_a.js", 0, &["SELECT 1"], false);
    w.knex(&["migrate:latest"]);
    tools::select_only(&w.db.pg, "app", "reader", "knex_migrations");
    w.db.pg
        .sql("app", "GRANT SELECT ON knex_migrations_lock TO reader");
    let dir = w.dir(0).display().to_string();
    let reader = w.db.pg.url("reader", "app", "");
    let c = tools::check("knex", &reader, &[("GATE_MIGRATIONS_DIR", &dir)]);
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    assert_eq!(c.json["expected"], "20240101000001_a.js", "{c:?}");
    // Without SELECT on the lock table the gate cannot tell whether a migration is running:
    // not ready, and the error names the table.
    w.db.pg
        .sql("app", "REVOKE SELECT ON knex_migrations_lock FROM reader");
    let c = tools::check("knex", &reader, &[("GATE_MIGRATIONS_DIR", &dir)]);
    assert_ne!(c.code, Some(0), "{c:?}");
    assert!(
        c.stderr.contains("knex_migrations_lock")
            || c.json.to_string().contains("knex_migrations_lock"),
        "{c:?}"
    );
    // knex's status command as that role: it writes (ensureTable) and so fails on a fresh
    // database, where the gate only says no_table.
    w.db.fresh("empty");
    let c = tools::check(
        "knex",
        &w.db.pg.url("gate", "empty", ""),
        &[("GATE_MIGRATIONS_DIR", &dir)],
    );
    assert_eq!(c.state(), "no_table", "{c:?}");
    w.db.pg
        .sql("empty", "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    let gate_url = w.db.pg.url("gate", "empty", "sslmode=disable");
    let knexfile = w.root.join("knexfile.js").display().to_string();
    let (code, out) = cli(
        &w.knex,
        &["--knexfile", &knexfile, "migrate:status"],
        Some(&w.root),
        &[("DATABASE_URL", &gate_url)],
    );
    assert_ne!(code, 0, "migrate:status as a role without CREATE: {out}");
    assert!(out.contains("permission denied"), "{out}");
}

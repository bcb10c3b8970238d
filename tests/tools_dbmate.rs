//! dbmate's real CLI (2.36.0, `scripts/peers/dbmate.sh`) against the gate: after every step of
//! a fixed corpus and of seeded random steps (migrate, rollback, `--strict`, a migration failing
//! half-way, versions as strings (`1` beside `001`), two directories, out-of-order and deleted
//! files), `dbmate status --exit-code` and the gate (direct and through PgBouncer, as a role with
//! only `SELECT`) must agree: its `[ ]` lines are the gate's pending list, its exit code is the
//! gate's readiness under `at-least`, and the rows it does not show are the gate's `ahead`
//! (`docs/tools/dbmate.md`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use support::tools::{self, Check, Rng, ToolDb, check_both, cli, peer, sorted};

struct World {
    db: ToolDb,
    root: PathBuf,
    /// File name → (directory index, broken).
    files: BTreeMap<String, (usize, bool)>,
    dbmate: PathBuf,
    seed: u64,
    history: Vec<String>,
    compared: usize,
    seen: BTreeMap<String, usize>,
}

impl World {
    fn new(seed: u64) -> World {
        let root = support::temp_dir("dbmate-files");
        for d in ["a", "b"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        World {
            db: ToolDb::start(),
            root,
            files: BTreeMap::new(),
            dbmate: peer("dbmate"),
            seed,
            history: Vec::new(),
            compared: 0,
            seen: BTreeMap::new(),
        }
    }

    fn dir(&self, index: usize) -> PathBuf {
        self.root.join(["a", "b"][index])
    }

    /// The directories in use: `a`, and `b` once a file is there.
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.dir(0)];
        if self.files.values().any(|(d, _)| *d == 1) {
            dirs.push(self.dir(1));
        }
        dirs
    }

    fn write(&mut self, name: &str, dir: usize, broken: bool) {
        let table = name.trim_end_matches(".sql");
        let up = if broken {
            format!("CREATE TABLE IF NOT EXISTS \"{table}\" (id int); SELECT 1/0;")
        } else {
            format!("CREATE TABLE IF NOT EXISTS \"{table}\" (id int);")
        };
        let body =
            format!("-- migrate:up\n{up}\n-- migrate:down\nDROP TABLE IF EXISTS \"{table}\";\n");
        std::fs::write(self.dir(dir).join(name), body).expect("write");
        self.files.insert(name.to_string(), (dir, broken));
    }

    fn remove(&mut self, name: &str) {
        if let Some((dir, _)) = self.files.remove(name) {
            let _ = std::fs::remove_file(self.dir(dir).join(name));
        }
    }

    fn dbmate(&mut self, args: &[&str]) -> (i32, String) {
        let url = self.db.migrator_url("app");
        let dirs: Vec<String> = self
            .dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let mut all = vec!["--url", &url, "--no-dump-schema"];
        for d in &dirs {
            all.extend(["-d", d.as_str()]);
        }
        all.extend_from_slice(args);
        let (code, out) = cli(&self.dbmate, &all, None, &[]);
        if args != ["status", "--exit-code"] {
            self.history.push(format!(
                "dbmate {} -> {code}: {}",
                args.join(" "),
                out.trim().replace('\n', " | ")
            ));
        }
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

    fn rows(&self) -> Option<BTreeSet<String>> {
        let exists = self.db.pg.sql(
            "app",
            "SELECT to_regclass('public.schema_migrations') IS NOT NULL",
        );
        (exists == "t").then(|| {
            self.db
                .pg
                .sql("app", "SELECT version FROM schema_migrations")
                .lines()
                .map(str::to_string)
                .collect()
        })
    }

    fn gate(&self) -> (Check, Check) {
        let dirs: Vec<String> = self
            .dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let spec = dirs.join(":");
        check_both(
            &self.db,
            "app",
            "dbmate",
            &[("GATE_MIGRATIONS_DIR", &spec)],
            &self.context(),
        )
    }

    fn compare(&mut self) {
        self.compared += 1;
        let (at_least, exact) = self.gate();
        *self
            .seen
            .entry(format!("{}/{}", at_least.state(), exact.state()))
            .or_default() += 1;
        let (code, out) = self.dbmate(&["status", "--exit-code"]);
        let ctx = self.context();
        let version =
            |line: &str| -> String { line.chars().take_while(char::is_ascii_digit).collect() };
        let pending: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("[ ] "))
            .map(version)
            .collect();
        let applied: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("[X] "))
            .map(version)
            .collect();
        assert_eq!(
            sorted(at_least.ids("pending")),
            sorted(pending.clone()),
            "{ctx}: the gate's pending list is dbmate's [ ] lines\n{out}\n{at_least:?}"
        );
        let Some(rows) = self.rows() else {
            assert_eq!(code, 1, "{ctx}: {out}");
            assert_eq!(at_least.state(), "no_table", "{ctx}: {at_least:?}");
            return;
        };
        // --exit-code: 0 when nothing is pending; the gate under at-least: ready.
        assert_eq!(
            code == 0,
            at_least.state() == "ready",
            "{ctx}: dbmate status --exit-code {code}\n{out}\n{at_least:?}"
        );
        // Rows without a file: dbmate shows none of them; the gate calls them ahead.
        self.listing_agrees(&out, &ctx);
        let shown: BTreeSet<String> = applied.into_iter().chain(pending).collect();
        let unshown: Vec<String> = rows.difference(&shown).cloned().collect();
        assert_eq!(
            sorted(at_least.ids("ahead")),
            sorted(unshown.clone()),
            "{ctx}: {at_least:?}"
        );
        let exact_state = match (at_least.state(), unshown.is_empty()) {
            ("ready", false) => "ahead",
            (other, _) => other,
        };
        assert_eq!(exact.state(), exact_state, "{ctx}: {exact:?}");
        assert!(
            at_least.ids("failed").is_empty(),
            "dbmate has no failed state"
        );
    }
}

impl World {
    /// `schema-gate status` lists every file as `dbmate status` does, `[X]` applied, `[ ]`
    /// pending, in its order (by file name across the directories).
    fn listing_agrees(&self, dbmate: &str, ctx: &str) {
        let spec: Vec<String> = self
            .dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let spec = spec.join(":");
        let url = self.db.pg.url("gate", "app", "");
        let (_, doc) = tools::status("dbmate", &url, &[("GATE_MIGRATIONS_DIR", &spec)]);
        let theirs: Vec<(String, String)> = dbmate
            .lines()
            .filter_map(|l| match l.get(..4) {
                Some("[X] ") => Some((l[4..].to_string(), "applied".to_string())),
                Some("[ ] ") => Some((l[4..].to_string(), "pending".to_string())),
                _ => None,
            })
            .collect();
        assert_eq!(tools::listed(&doc, "migrations"), theirs, "{ctx}: {doc}");
    }
}

fn step(world: &mut World, rng: &mut Rng) {
    let names: Vec<String> = world.files.keys().cloned().collect();
    match rng.below(10) {
        0..=2 => drop(world.dbmate(&["migrate"])),
        3 => drop(world.dbmate(&["migrate", "--strict"])),
        4 | 5 => drop(world.dbmate(&["rollback"])),
        6 => {
            // A new file: zero-padded, bare, or a timestamp; sometimes in the second directory.
            let n = rng.below(40) + 1;
            let name = match rng.below(3) {
                0 => format!("{n:03}_m{n}.sql"),
                1 => format!("{n}_m{n}.sql"),
                _ => format!("2024010{}0000{n:02}_m.sql", rng.below(9) + 1),
            };
            let dir = usize::from(rng.below(4) == 0);
            if !world.files.contains_key(&name) {
                world.write(&name, dir, false);
                world
                    .history
                    .push(format!("add {name} in {}", ["a", "b"][dir]));
            }
        }
        7 => {
            if let Some(name) = names.get(rng.below(names.len().max(1))) {
                let (dir, _) = world.files[name];
                world.write(name, dir, true);
                world.history.push(format!("break {name}"));
            }
        }
        8 => {
            for name in &names {
                let (dir, _) = world.files[name];
                world.write(name, dir, false);
            }
            world.history.push("fix every file".into());
        }
        _ => {
            if names.len() > 1 {
                let name = rng.pick(&names).clone();
                world.remove(&name);
                world.history.push(format!("delete {name}"));
            }
        }
    }
}

/// The characterisation's scenarios (docs/tools/dbmate.md).
fn corpus(world: &mut World) {
    world.write("001_a.sql", 0, false);
    world.write("002_b.sql", 0, false);
    world.compare(); // no table
    world.dbmate(&["migrate"]);
    world.compare();
    world.write("003_c.sql", 0, true);
    world.dbmate(&["migrate"]); // fails half-way: nothing recorded
    world.compare();
    world.write("003_c.sql", 0, false);
    world.dbmate(&["migrate"]);
    world.dbmate(&["rollback"]);
    world.compare();
    world.dbmate(&["migrate"]);
    world.write("1_one.sql", 0, false); // a second migration beside 001
    world.compare();
    world.dbmate(&["migrate"]); // applied out of order
    world.write("0005_e.sql", 0, false);
    world.write("004_d.sql", 0, false);
    world.dbmate(&["migrate", "--strict"]); // refused
    world.compare();
    world.dbmate(&["migrate"]);
    world.write("006_f.sql", 1, false); // the second directory
    world.compare();
    world.dbmate(&["migrate"]);
    world.compare();
    world.remove("004_d.sql"); // applied, then its file removed: ahead
    world.compare();
}

#[test]
fn dbmate_status_and_the_gate_agree_at_every_step() {
    let seed = tools::seed();
    let mut world = World::new(seed);
    corpus(&mut world);
    let mut rng = Rng::new(seed);
    for _ in 0..tools::steps() {
        step(&mut world, &mut rng);
        world.compare();
    }
    eprintln!(
        "dbmate differential: {} comparisons (seed {seed}), each direct and through PgBouncer, \
         at-least and exact; states (at-least/exact) seen: {:?}",
        world.compared, world.seen
    );
}

#[test]
fn versions_are_dbmates_strings() {
    let mut world = World::new(0);
    world.write("001_a.sql", 0, false);
    world.dbmate(&["migrate"]);
    let url = world.db.pg.url("gate", "app", "");
    let c = tools::check("dbmate", &url, &[("GATE_EXPECT_VERSION", "001")]);
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    assert_eq!(c.json["version"], "001", "a string: {c:?}");
    assert_eq!(c.json["expected"], "001", "{c:?}");
    // "1" is not a dbmate version of this build's files: the directory says 001.
    let dir = world.dir(0);
    let r = support::run(
        support::gate(&["check"])
            .env("DATABASE_URL", &url)
            .env("GATE_TOOL", "dbmate")
            .env("GATE_EXPECT_VERSION", "1")
            .env("GATE_MIGRATIONS_DIR", &dir),
        std::time::Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains("GATE_EXPECT_VERSION")
            && r.stderr.contains("newest migration file is 001"),
        "{r:?}"
    );
}

#[test]
fn the_gate_reads_with_select_alone_as_dbmate_status_does() {
    let mut world = World::new(0);
    world.write("001_a.sql", 0, false);
    world.dbmate(&["migrate"]);
    tools::select_only(&world.db.pg, "app", "reader", "schema_migrations");
    let dir = world.dir(0);
    let c = tools::check(
        "dbmate",
        &world.db.pg.url("reader", "app", ""),
        &[("GATE_MIGRATIONS_DIR", dir.to_str().expect("utf-8"))],
    );
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    // dbmate status is read-only too (it only asks whether its table exists): it needs no more.
    let reader = world.db.pg.url("reader", "app", "sslmode=disable");
    let d = dir.display().to_string();
    let (code, out) = cli(
        &world.dbmate,
        &[
            "--url",
            &reader,
            "--no-dump-schema",
            "-d",
            &d,
            "status",
            "--exit-code",
        ],
        None,
        &[],
    );
    assert_eq!(code, 0, "dbmate status with SELECT alone: {out}");
}

//! Flyway's real engine (13.12.0 from Maven Central, driven by `scripts/peers/flyway`'s
//! FlywayCli over Flyway's own API, one JVM for every command) against the gate: after every
//! step of a fixed corpus and of seeded random steps (migrate, `-target`, `-outOfOrder`,
//! failing scripts, edited, deleted and out-of-order scripts, repair, repeatables, versions
//! compared as Flyway compares them, nested directories; baselines and a `B` script on empty
//! databases), `flyway info`'s states and `flyway validate` must tell the gate's story, or the
//! difference `docs/tools/flyway.md` documents (direct and through PgBouncer, as a role with only
//! `SELECT`).

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::tools::{self, Check, LineSession, Rng, ToolDb, check_both, peer, sorted};

/// One JVM running `flyway session`: a command a line in, its output up to `== exit N` out.
struct Flyway(LineSession);

impl Flyway {
    fn start() -> Flyway {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("exec \"$0\" session 2>&1")
            .arg(peer("flyway"));
        Flyway(LineSession::start("flyway", command))
    }

    /// Runs one command line; returns its exit code and output.
    fn run(&mut self, line: &str) -> (i32, String) {
        let (code, lines) = self.0.run(line, Duration::from_secs(180));
        let mut out = lines.join("\n");
        if !lines.is_empty() {
            out.push('\n');
        }
        (code, out)
    }
}

/// What `info` and `validate` said, normalised.
#[derive(Debug, Default)]
struct Oracle {
    /// id → states (a changed repeatable has two entries: OUTDATED and PENDING).
    states: BTreeMap<String, Vec<String>>,
    valid: bool,
    mismatch: Vec<String>,
    validate: String,
    /// `info`'s current version.
    current: String,
}

impl Oracle {
    fn with(&self, wanted: &[&str]) -> Vec<String> {
        self.states
            .iter()
            .filter(|(_, states)| states.iter().any(|s| wanted.contains(&s.as_str())))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

struct World {
    db: ToolDb,
    name: String,
    dir: PathBuf,
    flyway: Flyway,
    /// Script path → contents.
    files: BTreeMap<String, String>,
    seed: u64,
    history: Vec<String>,
    compared: usize,
    seen: BTreeMap<String, usize>,
    /// Documented differences met (name → count).
    differences: BTreeMap<&'static str, usize>,
}

impl World {
    fn new(seed: u64) -> World {
        World {
            db: ToolDb::start(),
            name: "app".into(),
            dir: support::temp_dir("flyway-files"),
            flyway: Flyway::start(),
            files: BTreeMap::new(),
            seed,
            history: Vec::new(),
            compared: 0,
            seen: BTreeMap::new(),
            differences: BTreeMap::new(),
        }
    }

    fn write(&mut self, path: &str, contents: &str) {
        let full = self.dir.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, contents).expect("write");
        self.files.insert(path.to_string(), contents.to_string());
    }

    fn remove(&mut self, path: &str) {
        let _ = std::fs::remove_file(self.dir.join(path));
        self.files.remove(path);
    }

    fn flyway(&mut self, command: &str) -> (i32, String) {
        let line = format!(
            "{command} -url=jdbc:postgresql://127.0.0.1:{}/{} -user=migrator -password={} \
             -locations=filesystem:{}",
            self.db.pg.port,
            self.name,
            support::PASSWORD,
            self.dir.display()
        );
        let (code, out) = self.flyway.run(&line);
        if command != "info" && command != "validate" {
            let first = out
                .lines()
                .find(|l| !l.starts_with("WARNING"))
                .unwrap_or("");
            self.history
                .push(format!("flyway {command} -> {code}: {first}"));
        }
        (code, out)
    }

    fn sql(&mut self, sql: &str, why: &str) {
        self.db.pg.sql(&self.name, sql);
        self.history.push(format!("by hand ({why}): {sql}"));
    }

    fn context(&self) -> String {
        format!(
            "seed {} (TOOLS_DIFF_SEED={} replays it), database {}, step {}; files {:?}; steps:\n  {}",
            self.seed,
            self.seed,
            self.name,
            self.compared,
            self.files.keys().collect::<Vec<_>>(),
            self.history.join("\n  ")
        )
    }

    fn oracle(&mut self) -> Oracle {
        let (_, info) = self.flyway("info");
        let (code, validate) = self.flyway("validate");
        let mut oracle = Oracle {
            valid: code == 0,
            validate: validate.clone(),
            ..Oracle::default()
        };
        oracle.current = info
            .lines()
            .find_map(|l| l.strip_prefix("current\t"))
            .unwrap_or_default()
            .to_string();
        for line in info.lines() {
            let cells: Vec<&str> = line.split('\t').collect();
            if cells.first() != Some(&"migration") || cells.len() < 8 {
                continue;
            }
            let id = if cells[2].is_empty() {
                cells[7]
            } else {
                cells[2]
            };
            oracle
                .states
                .entry(id.to_string())
                .or_default()
                .push(cells[5].to_string());
        }
        oracle.mismatch = validate
            .lines()
            .filter_map(|l| l.strip_prefix("Migration checksum mismatch for migration version "))
            .map(|v| v.trim().to_string())
            .collect();
        oracle
    }

    fn table_exists(&self) -> bool {
        self.db.pg.sql(
            &self.name,
            "SELECT to_regclass('public.flyway_schema_history') IS NOT NULL",
        ) == "t"
    }

    fn compare(&mut self) {
        self.compared += 1;
        let dir = self.dir.display().to_string();
        let ctx = self.context();
        let (at_least, exact) = check_both(
            &self.db,
            &self.name,
            "flyway",
            &[("GATE_MIGRATIONS_DIR", &dir)],
            &ctx,
        );
        *self
            .seen
            .entry(format!("{}/{}", at_least.state(), exact.state()))
            .or_default() += 1;
        let oracle = self.oracle();
        let ctx = format!(
            "{ctx}\ninfo: {:?}\nvalidate: {}",
            oracle.states, oracle.validate
        );
        if !self.table_exists() {
            assert_eq!(at_least.state(), "no_table", "{ctx}: {at_least:?}");
            assert_eq!(
                sorted(at_least.ids("pending")),
                oracle.with(&["PENDING"]),
                "{ctx}"
            );
            return;
        }
        self.lists_agree(&oracle, &at_least, &ctx);
        self.validate_agrees(&oracle, &exact, &ctx);
        self.listing_agrees(&at_least, &dir, &ctx);
    }

    /// `schema-gate status` lists each script of the build in the state the check reported
    /// (which the lists above hold to `info`), and what is applied without a script apart.
    fn listing_agrees(&self, gate: &Check, dir: &str, ctx: &str) {
        let url = self.db.pg.url("gate", &self.name, "");
        let (_, doc) = tools::status("flyway", &url, &[("GATE_MIGRATIONS_DIR", dir)]);
        let (pending, failed) = (gate.ids("pending"), gate.ids("failed"));
        for entry in doc["migrations"].as_array().into_iter().flatten() {
            let id = entry["version"].as_str().unwrap_or_default().to_string();
            let state = entry["state"].as_str().unwrap_or_default();
            let want = if failed.contains(&id) {
                "failed"
            } else if pending.contains(&id) {
                "pending"
            } else {
                "applied"
            };
            assert_eq!(state, want, "{ctx}: {id} in {doc}");
        }
        let without: Vec<String> = doc["without_file"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["version"].as_str().unwrap_or_default().to_string())
            .collect();
        for id in &without {
            assert!(
                gate.ids("ahead").contains(id) || failed.contains(id),
                "{ctx}: {id} in {doc}"
            );
        }
    }

    /// The gate's lists are `info`'s states (`docs/tools/flyway.md`'s table).
    fn lists_agree(&mut self, oracle: &Oracle, gate: &Check, ctx: &str) {
        let mut pending = oracle.with(&["PENDING", "IGNORED"]);
        let mut ahead = oracle.with(&["FUTURE_SUCCESS", "MISSING_SUCCESS"]);
        // The documented difference: a repeatable whose build definition was applied earlier
        // and replaced since is OUTDATED + PENDING to Flyway (migrate would re-apply the old
        // definition), ahead for the gate (a newer release changed it).
        for id in gate.ids("ahead") {
            if pending.contains(&id) && id.ends_with(".sql") && self.applied_before(&id) {
                pending.retain(|p| *p != id);
                ahead.push(id);
                *self.differences.entry("repeatable superseded").or_default() += 1;
            }
        }
        assert_eq!(
            sorted(gate.ids("pending")),
            sorted(pending),
            "{ctx}: {gate:?}"
        );
        assert_eq!(sorted(gate.ids("ahead")), sorted(ahead), "{ctx}: {gate:?}");
        let failed = oracle.with(&["FAILED", "FUTURE_FAILED", "MISSING_FAILED"]);
        assert_eq!(sorted(gate.ids("failed")), failed, "{ctx}: {gate:?}");
        assert_eq!(
            sorted(gate.ids("checksum_mismatch")),
            sorted(oracle.mismatch.clone()),
            "{ctx}: {gate:?}"
        );
        assert_eq!(gate.version(), oracle.current, "{ctx}: current");
    }

    /// `validate` passes ⇔ the gate is ready under `exact`, but for the documented cases:
    /// FUTURE rows (validate ignores them, `exact` does not) and a superseded repeatable.
    fn validate_agrees(&mut self, oracle: &Oracle, exact: &Check, ctx: &str) {
        let ready = exact.state() == "ready";
        if ready {
            assert!(
                oracle.valid,
                "{ctx}: the gate is ready under exact, validate fails"
            );
            return;
        }
        if oracle.valid {
            let future = oracle.with(&["FUTURE_SUCCESS"]);
            let explained = exact.state() == "ahead"
                && exact
                    .ids("ahead")
                    .iter()
                    .all(|id| future.contains(id) || id.ends_with(".sql"));
            assert!(
                explained,
                "{ctx}: validate passes, the gate under exact says {exact:?}"
            );
            *self
                .differences
                .entry("future row (validate ignores it)")
                .or_default() += 1;
        }
    }

    /// Whether the history holds an earlier successful row of repeatable `script` with the
    /// shipped file's checksum (then replaced).
    fn applied_before(&self, script: &str) -> bool {
        let Some(contents) = self.files.get(script) else {
            return false;
        };
        let checksum = flyway_checksum(contents);
        let rows = self.db.pg.sql(
            &self.name,
            &format!(
                "SELECT count(*) FROM flyway_schema_history WHERE script = '{script}' \
                 AND checksum = {checksum} AND success"
            ),
        );
        rows != "0"
    }
}

/// Flyway's checksum (CRC-32 over the lines without terminators), for the test's own look at
/// the history; the gate's is unit-tested against the values Flyway recorded.
fn flyway_checksum(text: &str) -> i32 {
    let mut crc: u32 = !0;
    for piece in text.split(['\r', '\n']) {
        for b in piece.bytes() {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    0xEDB8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
            }
        }
    }
    (!crc) as i32
}

const VERSIONS: &[&str] = &[
    "1", "1.1", "1_2", "1.9", "1.10", "2", "2.0.1", "3", "4", "10",
];

fn step(world: &mut World, rng: &mut Rng) {
    let scripts: Vec<String> = world.files.keys().cloned().collect();
    match rng.below(12) {
        0..=2 => drop(world.flyway("migrate")),
        3 => {
            let v = rng.pick(VERSIONS).replace('_', ".");
            drop(world.flyway(&format!("migrate -target={v}")));
        }
        4 => drop(world.flyway("migrate -outOfOrder=true")),
        5 => drop(world.flyway("repair")),
        6 => {
            let v = *rng.pick(VERSIONS);
            let key = v.replace('_', ".");
            let taken = scripts.iter().any(|s| {
                s.trim_start_matches("sub/")
                    .strip_prefix('V')
                    .and_then(|r| r.split_once("__"))
                    .is_some_and(|(sv, _)| same_version(&sv.replace('_', "."), &key))
            });
            if !taken {
                let nested = if rng.below(4) == 0 { "sub/" } else { "" };
                let body = if rng.below(5) == 0 {
                    "SELECT 1/0;\n"
                } else {
                    "SELECT 1;\n"
                };
                world.write(&format!("{nested}V{v}__m.sql"), body);
                world
                    .history
                    .push(format!("add {nested}V{v}__m.sql ({body:?})"));
            }
        }
        7 => {
            // Edit a versioned script: an applied one's checksum changes.
            if let Some(s) = scripts
                .iter()
                .find(|s| s.contains('V') && rng.below(2) == 0)
            {
                let body = format!("SELECT {};\n", rng.below(3));
                world.write(s, &body);
                world.history.push(format!("edit {s} to {body:?}"));
            }
        }
        8 => {
            let body = format!(
                "CREATE OR REPLACE VIEW v AS SELECT {} AS x;\n",
                rng.below(3)
            );
            world.write("R__v.sql", &body);
            world.history.push(format!("write R__v.sql: {body:?}"));
        }
        9 => {
            // Fix the failing scripts.
            let failing: Vec<String> = scripts
                .iter()
                .filter(|s| world.files[*s].contains("1/0"))
                .cloned()
                .collect();
            for s in &failing {
                world.write(s, "SELECT 1;\n");
            }
            world.history.push("fix failing scripts".into());
        }
        _ => {
            if scripts.len() > 1 {
                let s = rng.pick(&scripts).clone();
                world.remove(&s);
                world.history.push(format!("delete {s}"));
            }
        }
    }
}

/// Flyway's version equality for the random steps' names (`1.0` is `1`).
fn same_version(a: &str, b: &str) -> bool {
    let parts = |s: &str| -> Vec<u64> {
        let mut p: Vec<u64> = s.split('.').map(|x| x.parse().unwrap_or(0)).collect();
        while p.len() > 1 && p.last() == Some(&0) {
            p.pop();
        }
        p
    };
    parts(a) == parts(b)
}

/// The characterisation's scenarios (docs/tools/flyway.md), on `app`.
fn corpus(world: &mut World) {
    world.write("V1__a.sql", "CREATE TABLE a (id int);\n");
    world.write(
        "V1.1__b_crlf.sql",
        "CREATE TABLE b (id int);\r\nINSERT INTO b VALUES (1);\r\n",
    );
    world.write("V2__c_bom.sql", "\u{feff}CREATE TABLE c (id int);\n");
    world.compare(); // no table
    world.flyway("migrate");
    world.compare();
    world.write("V3__d.sql", "CREATE TABLE d (id int);\nSELECT 1/0;\n");
    world.flyway("migrate"); // transactional failure: rolled back, nothing recorded
    world.compare();
    world.write("V3__d.sql", "CREATE TABLE d (id int);\n");
    world.write("V5__f.sql", "CREATE TABLE f (id int);\n");
    world.flyway("migrate -target=3");
    world.compare();
    world.flyway("migrate");
    world.write("V4__e.sql", "CREATE TABLE e (id int);\n");
    world.compare(); // IGNORED: below the highest applied
    world.flyway("migrate -outOfOrder=true");
    world.compare();
    world.write("V1__a.sql", "CREATE TABLE a2 (id int);\n"); // checksum mismatch
    world.compare();
    world.flyway("repair");
    world.compare();
    world.write("V1__a.sql", "CREATE TABLE a (id int);\n");
    world.flyway("repair");
    let v5 = world.files["V5__f.sql"].clone();
    world.remove("V5__f.sql"); // FUTURE_SUCCESS: the newest file gone
    world.compare();
    world.write("V5__f.sql", &v5);
    world.remove("V3__d.sql"); // MISSING_SUCCESS: below the newest
    world.compare();
    world.flyway("repair"); // a DELETE row
    world.compare();
    world.write("V3__d.sql", "CREATE TABLE IF NOT EXISTS d (id int);\n"); // back: IGNORED again
    world.compare();
    world.write("R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS x;\n");
    world.compare();
    world.flyway("migrate -outOfOrder=true");
    world.write("R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT 2 AS x;\n"); // OUTDATED
    world.compare();
    world.flyway("migrate -outOfOrder=true");
    world.write("R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS x;\n"); // superseded
    world.compare();
    // A success = false row: Flyway 13.12.0 on PostgreSQL never leaves one (it rolls its own
    // insert back); written by hand, labelled so, to see that Flyway's own info reads it FAILED.
    world.write("V9__broken.sql", "SELECT 1;\n");
    world.sql(
        "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, \
         checksum, installed_by, execution_time, success) VALUES (100, '9', 'broken', 'SQL', \
         'V9__broken.sql', 78787420, 'migrator', 1, false)",
        "a failed row, as older Flyway releases leave",
    );
    world.compare();
    world.flyway("repair"); // removes the failed row
    world.compare();
}

/// Baselines and a `B` script, each on an empty database.
fn baselines(world: &mut World) {
    world.name = "base".into();
    world.db.fresh("base");
    for f in world.files.clone().keys() {
        world.remove(f);
    }
    for v in 1..=3 {
        world.write(
            &format!("V{v}__t{v}.sql"),
            &format!("CREATE TABLE t{v} (id int);\n"),
        );
    }
    world.sql(
        "CREATE TABLE t1 (id int); CREATE TABLE t2 (id int)",
        "an existing schema",
    );
    world.flyway("baseline -baselineVersion=2");
    world.compare();
    world.flyway("migrate");
    world.compare();
    world.name = "bscript".into();
    world.db.fresh("bscript");
    for f in world.files.clone().keys() {
        world.remove(f);
    }
    for (f, body) in [
        ("V1__a.sql", "SELECT 1;\n"),
        ("V5__e.sql", "SELECT 1;\n"),
        ("B6__base.sql", "SELECT 1;\n"),
        ("V7__after.sql", "SELECT 1;\n"),
    ] {
        world.write(f, body);
    }
    world.compare(); // no table: B6 and V7 pending (Flyway lists every script)
    world.flyway("migrate");
    world.compare();
}

#[test]
fn flyway_info_validate_and_the_gate_agree_on_the_corpus() {
    let mut world = World::new(0);
    corpus(&mut world);
    baselines(&mut world);
    eprintln!(
        "flyway differential, corpus: {} comparisons, each direct and through PgBouncer, \
         at-least and exact; states (at-least/exact) seen: {:?}; documented differences met: {:?}",
        world.compared, world.seen, world.differences
    );
}

#[test]
fn flyway_info_validate_and_the_gate_agree_at_every_random_step() {
    let seed = tools::seed();
    let mut world = World::new(seed);
    for (file, body) in [
        ("V1__a.sql", "SELECT 1;\n"),
        ("V1.1__b.sql", "SELECT 1;\n"),
        ("sub/V2__c.sql", "SELECT 1;\n"),
        ("R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT 0 AS x;\n"),
    ] {
        world.write(file, body);
    }
    let mut rng = Rng::new(seed);
    for _ in 0..tools::steps() {
        step(&mut world, &mut rng);
        world.compare();
    }
    eprintln!(
        "flyway differential, random: {} comparisons (seed {seed}), each direct and through \
         PgBouncer, at-least and exact; states (at-least/exact) seen: {:?}; documented \
         differences met: {:?}",
        world.compared, world.seen, world.differences
    );
}

#[test]
fn the_gate_reads_with_select_alone_where_flyway_needs_more() {
    let mut world = World::new(0);
    world.write("V1__a.sql", "SELECT 1;\n");
    world.flyway("migrate");
    tools::select_only(&world.db.pg, "app", "reader", "flyway_schema_history");
    let dir = world.dir.display().to_string();
    let c = tools::check(
        "flyway",
        &world.db.pg.url("reader", "app", ""),
        &[("GATE_MIGRATIONS_DIR", &dir)],
    );
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    assert_eq!(c.json["version"], "1", "a string: {c:?}");
    let line = format!(
        "info -url=jdbc:postgresql://127.0.0.1:{}/app -user=reader -password={} \
         -locations=filesystem:{dir}",
        world.db.pg.port,
        support::PASSWORD
    );
    let (code, out) = world.flyway.run(&line);
    // Flyway's info is read-only too: with SELECT alone it reads the same history.
    assert_eq!(code, 0, "flyway info as a SELECT-only role: {out}");
    assert!(out.contains("migration\tVersioned\t1\t"), "{out}");
    // migrate is what needs more: it writes the history (and the schema).
    world.write("V2__b.sql", "SELECT 1;\n");
    let (code, out) = world.flyway.run(&line.replacen("info", "migrate", 1));
    assert_ne!(code, 0, "flyway migrate as a SELECT-only role: {out}");
}

#[test]
fn the_old_binary_does_not_know_flyway() {
    // GATE_TOOL=flyway, GATE_EXPECT_VERSION=1.10: refused by the old binary (goose versions are
    // integers: exit 2); the new one reads Flyway's history.
    let mut world = World::new(0);
    world.write("V1.9__a.sql", "SELECT 1;\n");
    world.write("V1.10__b.sql", "SELECT 1;\n");
    world.flyway("migrate");
    let c = tools::check(
        "flyway",
        &world.db.pg.url("gate", "app", ""),
        &[("GATE_EXPECT_VERSION", "1.10")],
    );
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    assert_eq!(c.json["expected"], "1.10", "{c:?}");
    assert_eq!(c.json["tool"], "flyway", "{c:?}");
}

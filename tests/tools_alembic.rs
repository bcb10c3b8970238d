//! Alembic's real CLI (1.20.1 from PyPI, `scripts/peers/alembic.sh`; its commands run through
//! `alembic.config.main` in one Python process, `scripts/peers/alembic/session.py`) against the
//! gate: after every step of a fixed corpus and of seeded random steps (upgrades, downgrades,
//! stamps, a revision failing half-way, branches, merges, a second base with `depends_on`, a
//! newer release's revision whose file this build lacks), `alembic current --check-heads` and
//! `alembic current` must agree with the gate, directly and through PgBouncer, as a role with
//! only `SELECT` — or differ exactly where `docs/tools/alembic.md` says: `--check-heads` is
//! exact-only (a newer release's head fails it; the gate's `at-least` is ready) and wrong about
//! dependency-only heads.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::tools::{self, Check, LineSession, Rng, ToolDb, check_both, peer, sorted};

/// One Python process running `session.py`: Alembic's own command line, a command a line.
struct Alembic(LineSession);

impl Alembic {
    fn start() -> Alembic {
        let python = peer("alembic").with_file_name("python");
        let session = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/peers/alembic/session.py"
        );
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("exec \"$0\" \"$1\" 2>&1")
            .arg(python)
            .arg(session);
        Alembic(LineSession::start("alembic", command))
    }

    fn run(&mut self, cwd: &std::path::Path, argv: &[&str]) -> (i32, String) {
        let request = serde_json::json!({"cwd": cwd, "argv": argv});
        let (code, lines) = self.0.run(&request.to_string(), Duration::from_secs(120));
        let mut out = String::new();
        for line in lines {
            if !line.starts_with("INFO  [alembic.runtime.migration] Context impl")
                && !line.starts_with("INFO  [alembic.runtime.migration] Will assume")
            {
                out.push_str(&line);
                out.push('\n');
            }
        }
        (code, out)
    }
}

struct World {
    db: ToolDb,
    project: PathBuf,
    alembic: Alembic,
    /// Revisions made (id → parents), and which of them are this build's files now.
    revisions: BTreeMap<String, Vec<String>>,
    away: Vec<String>,
    next: usize,
    seed: u64,
    history: Vec<String>,
    compared: usize,
    seen: BTreeMap<String, usize>,
    differences: BTreeMap<&'static str, usize>,
    /// Revisions made with `depends_on` (their dependencies stay "effective heads").
    depends: bool,
}

impl World {
    fn new(seed: u64) -> World {
        let db = ToolDb::start();
        let project = support::temp_dir("alembic-project");
        let mut alembic = Alembic::start();
        let (code, out) = alembic.run(&project, &["init", "migrations"]);
        assert_eq!(code, 0, "alembic init: {out}");
        let ini = project.join("alembic.ini");
        let url = db
            .migrator_url("app")
            .replace("postgres://", "postgresql://");
        let text = std::fs::read_to_string(&ini).expect("alembic.ini");
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("sqlalchemy.url") {
                    format!("sqlalchemy.url = {url}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&ini, text).expect("alembic.ini");
        World {
            db,
            project,
            alembic,
            revisions: BTreeMap::new(),
            away: Vec::new(),
            next: 1,
            seed,
            history: Vec::new(),
            compared: 0,
            seen: BTreeMap::new(),
            differences: BTreeMap::new(),
            depends: false,
        }
    }

    fn versions(&self) -> PathBuf {
        self.project.join("migrations/versions")
    }

    fn alembic(&mut self, argv: &[&str]) -> (i32, String) {
        let project = self.project.clone();
        let (code, out) = self.alembic.run(&project, argv);
        if !matches!(argv.first(), Some(&"current") | Some(&"heads")) {
            let first = out.lines().last().unwrap_or("");
            self.history
                .push(format!("alembic {} -> {code}: {first}", argv.join(" ")));
        }
        (code, out)
    }

    /// A new revision on `head` (`base` for a new base), optionally one that fails half-way.
    fn revision(&mut self, head: &str, extra: &[&str], fails: bool) -> String {
        let id = format!("r{:02}", self.next);
        self.next += 1;
        let splice = head != "base" && !self.heads().contains(&head.to_string());
        let mut argv = vec!["revision", "-m", &id, "--rev-id", &id, "--head", head];
        if splice {
            argv.push("--splice");
        }
        argv.extend_from_slice(extra);
        let (code, out) = self.alembic(&argv);
        assert_eq!(code, 0, "alembic revision: {out}\n{}", self.context());
        if fails {
            let file = self.file_of(&id);
            let text = std::fs::read_to_string(&file).expect("revision file");
            let text = text.replacen("    pass", "    op.execute('SELECT 1/0')", 1);
            std::fs::write(&file, text).expect("revision file");
        }
        let parents = if head == "base" {
            vec![]
        } else {
            vec![head.to_string()]
        };
        self.revisions.insert(id.clone(), parents);
        id
    }

    fn file_of(&self, id: &str) -> PathBuf {
        std::fs::read_dir(self.versions())
            .expect("versions")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{id}_")) && n.ends_with(".py"))
            })
            .unwrap_or_else(|| panic!("no file for {id}"))
    }

    /// `alembic heads`, as ids.
    fn heads(&mut self) -> Vec<String> {
        let (_, out) = self.alembic(&["heads"]);
        sorted(
            out.lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string)
                .collect(),
        )
    }

    fn rows(&self) -> Option<Vec<String>> {
        let exists = self.db.pg.sql(
            "app",
            "SELECT to_regclass('public.alembic_version') IS NOT NULL",
        );
        (exists == "t").then(|| {
            sorted(
                self.db
                    .pg
                    .sql("app", "SELECT version_num FROM alembic_version")
                    .lines()
                    .map(str::to_string)
                    .collect(),
            )
        })
    }

    fn context(&self) -> String {
        format!(
            "seed {} (TOOLS_DIFF_SEED={} replays it), step {}; revisions {:?}, away {:?}; steps:\n  {}",
            self.seed,
            self.seed,
            self.compared,
            self.revisions,
            self.away,
            self.history.join("\n  ")
        )
    }

    fn compare(&mut self) {
        self.compared += 1;
        let ctx = self.context();
        let dir = self.versions().display().to_string();
        let (at_least, exact) = check_both(
            &self.db,
            "app",
            "alembic",
            &[("GATE_MIGRATIONS_DIR", &dir)],
            &ctx,
        );
        *self
            .seen
            .entry(format!("{}/{}", at_least.state(), exact.state()))
            .or_default() += 1;
        let (check_heads, said) = self.alembic(&["current", "--check-heads"]);
        let ctx = format!("{ctx}\ncurrent --check-heads: exit {check_heads}: {said}");
        let Some(rows) = self.rows() else {
            assert_eq!(at_least.state(), "no_table", "{ctx}: {at_least:?}");
            assert_eq!(check_heads, 255, "{ctx}");
            return;
        };
        self.heads_agree(&rows, &at_least, &ctx);
        self.listing_agrees(&rows, &at_least, &ctx);
        let at_heads = check_heads == 0;
        let unknown: Vec<&String> = rows.iter().filter(|r| !self.in_build(r)).collect();
        if !unknown.is_empty() {
            // A newer release's revision: --check-heads fails, and so does the gate under
            // exact; under at-least the gate is ready unless a known row proves a head missing.
            assert!(!at_heads, "{ctx}");
            assert_ne!(exact.state(), "ready", "{ctx}: {exact:?}");
            if at_least.state() == "ready" {
                *self
                    .differences
                    .entry("newer release: gate ready, --check-heads fails")
                    .or_default() += 1;
            }
            return;
        }
        if exact.state() == "ready" && !at_heads && self.depends {
            // The dependency-only head: applied through its dependent, yet a script head.
            *self
                .differences
                .entry("effective head: --check-heads fails for ever")
                .or_default() += 1;
            return;
        }
        assert_eq!(
            exact.state() == "ready",
            at_heads,
            "{ctx}: --check-heads says {check_heads}, the gate under exact {exact:?}"
        );
        assert_eq!(at_least.state(), exact.state(), "{ctx}: every row is known");
    }

    /// The gate's `version` is the table's heads, as `alembic current` lists them.
    fn heads_agree(&mut self, rows: &[String], gate: &Check, ctx: &str) {
        let version = gate.version();
        let gate_heads: Vec<String> = if version.is_empty() {
            vec![]
        } else {
            sorted(version.split(',').map(str::to_string).collect())
        };
        assert_eq!(gate_heads, rows, "{ctx}: {gate:?}");
        let (code, out) = self.alembic(&["current"]);
        if code == 0 {
            let listed = sorted(
                // `current` adds the dependencies that are heads ("effective head"), which the
                // table never holds: the rows are the rest.
                out.lines()
                    .filter(|l| !l.starts_with("INFO") && !l.contains("(effective head)"))
                    .filter_map(|l| l.split_whitespace().next())
                    .map(str::to_string)
                    .collect(),
            );
            assert_eq!(listed, rows, "{ctx}: alembic current: {out}");
        } else {
            assert!(
                out.contains("Can't locate revision"),
                "{ctx}: current fails only on a revision this build lacks: {out}"
            );
        }
    }

    /// `schema-gate status` lists every revision of the build: the table's rows applied, the
    /// pending heads pending; the rows the build lacks apart.
    fn listing_agrees(&self, rows: &[String], gate: &Check, ctx: &str) {
        let dir = self.versions().display().to_string();
        let url = self.db.pg.url("gate", "app", "");
        let (_, doc) = tools::status("alembic", &url, &[("GATE_MIGRATIONS_DIR", &dir)]);
        let state_of = |part: &str, id: &str| -> Option<String> {
            doc[part].as_array().into_iter().flatten().find_map(|e| {
                (e["version"] == id).then(|| e["state"].as_str().unwrap_or_default().to_string())
            })
        };
        for row in rows {
            let part = if self.in_build(row) {
                "migrations"
            } else {
                "without_file"
            };
            assert_eq!(
                state_of(part, row).as_deref(),
                Some("applied"),
                "{ctx}: {row}: {doc}"
            );
        }
        for head in gate.ids("pending") {
            assert_eq!(
                state_of("migrations", &head).as_deref(),
                Some("pending"),
                "{ctx}: {head}: {doc}"
            );
        }
    }

    fn in_build(&self, id: &str) -> bool {
        self.revisions.contains_key(id) && !self.away.iter().any(|a| a == id)
    }

    /// A newer release's revision: made, applied, then its file taken away (this build is the
    /// older one), or brought back.
    fn toggle_newer_release(&mut self) {
        if let Some(id) = self.away.pop() {
            let from = self.project.join(format!("{id}.away"));
            let to = self.versions().join(format!("{id}_back.py"));
            std::fs::rename(from, to).expect("bring back");
            self.history.push(format!("bring {id}'s file back"));
            return;
        }
        let heads = self.heads();
        if heads.len() != 1 {
            return;
        }
        let id = self.revision(&heads[0], &[], false);
        self.alembic(&["upgrade", "heads"]);
        let file = self.file_of(&id);
        std::fs::rename(file, self.project.join(format!("{id}.away"))).expect("take away");
        self.away.push(id.clone());
        self.history
            .push(format!("take {id}'s file away (an older build)"));
    }
}

fn step(world: &mut World, rng: &mut Rng) {
    let ids: Vec<String> = world
        .revisions
        .keys()
        .filter(|id| world.in_build(id))
        .cloned()
        .collect();
    match rng.below(11) {
        0 | 1 => drop(world.alembic(&["upgrade", "heads"])),
        2 => drop(world.alembic(&["upgrade", "+1"])),
        3 | 4 => drop(world.alembic(&["downgrade", "-1"])),
        5 => {
            let target = rng.pick(&ids).clone();
            drop(world.alembic(&["stamp", &target]));
        }
        6 => drop(world.alembic(&["downgrade", "base"])),
        7 => {
            // A new revision on a head, or a branch off an older revision.
            let heads = world.heads();
            let on = if rng.below(3) == 0 {
                rng.pick(&ids).clone()
            } else {
                rng.pick(&heads).clone()
            };
            let fails = rng.below(8) == 0;
            world.revision(&on, &[], fails);
        }
        8 => {
            if world.heads().len() > 1 {
                let id = format!("r{:02}", world.next);
                world.next += 1;
                let (code, out) =
                    world.alembic(&["merge", "-m", "merge", "--rev-id", &id, "heads"]);
                assert_eq!(code, 0, "merge: {out}");
                world.revisions.insert(id, vec!["(merge)".into()]);
            }
        }
        9 => {
            // Fix every failing revision.
            for id in &ids {
                let file = world.file_of(id);
                let text = std::fs::read_to_string(&file).expect("read");
                std::fs::write(&file, text.replace("op.execute('SELECT 1/0')", "pass"))
                    .expect("write");
            }
            world.history.push("fix failing revisions".into());
        }
        _ => world.toggle_newer_release(),
    }
}

/// The characterisation's scenarios (docs/tools/alembic.md).
fn corpus(world: &mut World) {
    let a1 = world.revision("base", &[], false);
    let b2 = world.revision(&a1, &[], false);
    world.compare(); // no table
    world.alembic(&["upgrade", &a1]);
    world.compare(); // below the head
    world.alembic(&["upgrade", "head"]);
    world.compare();
    let c3 = world.revision(&b2, &[], true);
    world.alembic(&["upgrade", "head"]); // fails half-way: one transaction, nothing recorded
    world.compare();
    let file = world.file_of(&c3);
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("op.execute('SELECT 1/0')", "pass")).expect("fix");
    world.alembic(&["upgrade", "head"]);
    world.alembic(&["downgrade", "-1"]);
    world.compare();
    world.alembic(&["upgrade", "head"]);
    let d4 = world.revision(&b2, &[], false); // a branch beside c3
    world.compare();
    world.alembic(&["upgrade", "heads"]);
    world.compare();
    let m5 = format!("r{:02}", world.next);
    world.next += 1;
    world.alembic(&["merge", "-m", "merge", "--rev-id", &m5, "heads"]);
    world
        .revisions
        .insert(m5.clone(), vec![c3.clone(), d4.clone()]);
    world.compare(); // merged scripts, unmerged database
    world.alembic(&["upgrade", "head"]);
    world.compare();
    world.alembic(&["downgrade", &c3]); // undoes the merge: c3 and d4
    world.compare();
    world.alembic(&["upgrade", "head"]);
    world.toggle_newer_release(); // a newer release migrated; this build is older
    world.compare();
    world.toggle_newer_release();
    world.alembic(&["stamp", "base"]);
    world.compare(); // an empty table
}

/// Two new bases, the second depending on the first (as characterised: `x1`, and `y1` with
/// `depends_on = x1`): `x1` stays an "effective head" that `--check-heads` wants in the table,
/// where Alembic never keeps it once `y1` is applied.
fn dependencies(world: &mut World) {
    world.alembic(&["upgrade", "heads"]);
    world.depends = true;
    let x = world.revision("base", &["--branch-label", "x"], false);
    world.revision("base", &["--depends-on", &x, "--branch-label", "y"], false);
    world.compare();
    world.alembic(&["upgrade", "heads"]);
    world.compare();
}

#[test]
fn alembic_current_check_heads_and_the_gate_agree_at_every_step() {
    let seed = tools::seed();
    let mut world = World::new(seed);
    corpus(&mut world);
    let mut rng = Rng::new(seed);
    for _ in 0..tools::steps() {
        step(&mut world, &mut rng);
        world.compare();
    }
    dependencies(&mut world);
    eprintln!(
        "alembic differential: {} comparisons (seed {seed}), each direct and through PgBouncer, \
         at-least and exact; states (at-least/exact) seen: {:?}; documented differences met: {:?}",
        world.compared, world.seen, world.differences
    );
}

#[test]
fn the_dependency_only_head_is_applied_through_its_dependent() {
    let mut world = World::new(0);
    let a1 = world.revision("base", &[], false);
    world.revision(&a1, &[], false);
    dependencies(&mut world);
    let dir = world.versions().display().to_string();
    let c = tools::check(
        "alembic",
        &world.db.pg.url("gate", "app", ""),
        &[("GATE_MIGRATIONS_DIR", &dir), ("GATE_POLICY", "exact")],
    );
    assert_eq!(c.state(), "ready", "{c:?}");
    let (code, out) = world.alembic(&["current", "--check-heads"]);
    assert_eq!(
        code,
        255,
        "alembic's own check fails after upgrade heads: {out}\n{}",
        world.context()
    );
}

#[test]
fn manifests_from_alembic_heads_and_the_graph() {
    let mut world = World::new(0);
    let a1 = world.revision("base", &[], false);
    let b2 = world.revision(&a1, &[], false);
    world.alembic(&["upgrade", "head"]);
    let manifest = world.project.join("expected-revisions");
    let (_, heads) = world.alembic(&["heads"]);
    std::fs::write(&manifest, &heads).expect("write");
    let url = world.db.pg.url("gate", "app", "");
    let path = manifest.display().to_string();
    let c = tools::check("alembic", &url, &[("GATE_EXPECT_FILE", &path)]);
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{heads}: {c:?}");
    assert_eq!(c.json["expected"], b2.as_str(), "{c:?}");
    // The graph form, written by Alembic's own API at build time (docs/tools/alembic.md).
    let python = peer("alembic").with_file_name("python");
    let script = "from alembic.config import Config\nfrom alembic.script import ScriptDirectory\n\
                  from alembic.util import to_tuple\n\
                  for s in ScriptDirectory.from_config(Config('alembic.ini')).walk_revisions():\n\
                  \x20   print(s.revision + ':', *to_tuple(s.down_revision, ()), '|', *to_tuple(s.dependencies, ()))\n";
    let (code, graph) = tools::cli(&python, &["-c", script], Some(&world.project), &[]);
    assert_eq!(code, 0, "{graph}");
    std::fs::write(&manifest, &graph).expect("write");
    let c = tools::check("alembic", &url, &[("GATE_EXPECT_FILE", &path)]);
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{graph}: {c:?}");
}

#[test]
fn the_gate_reads_with_select_alone_and_never_runs_env_py() {
    let mut world = World::new(0);
    let a1 = world.revision("base", &[], false);
    world.alembic(&["upgrade", &a1]);
    tools::select_only(&world.db.pg, "app", "reader", "alembic_version");
    let dir = world.versions().display().to_string();
    let c = tools::check(
        "alembic",
        &world.db.pg.url("reader", "app", ""),
        &[("GATE_MIGRATIONS_DIR", &dir)],
    );
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    assert_eq!(c.json["tool"], "alembic", "{c:?}");
    // alembic current as the same role reads with SELECT too, but only by running the
    // project's env.py (any code, with the app's settings); upgrade needs more.
    let ini = world.project.join("alembic.ini");
    let text = std::fs::read_to_string(&ini)
        .expect("ini")
        .replace("migrator:", "reader:");
    std::fs::write(&ini, text).expect("ini");
    let (code, out) = world.alembic(&["current", "--check-heads"]);
    assert_eq!(code, 0, "{out}");
    let b2 = world.revision(&a1, &[], false);
    let (code, out) = world.alembic(&["upgrade", &b2]);
    assert_ne!(code, 0, "upgrade as a SELECT-only role: {out}");
}

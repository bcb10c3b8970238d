//! Django's real CLI (5.2.19, `scripts/peers/django.sh`) against the gate: after every step of
//! the characterisation's scenarios (two apps, SQL migrations; applies, rollbacks to a target
//! and to zero, a migration failing half-way atomic and not, a row deleted below applied ones,
//! rows without files, `squashmigrations` with all, none and part of the replaced migrations
//! applied, the replaced files deleted, conflicting leaves) and of seeded random steps, Django's
//! own `showmigrations --plan` and `migrate --check` and the gate (direct and through PgBouncer,
//! as a role with only `SELECT`, from the manifest `scripts/manifests/django-manifest.py` writes
//! without a database after every change of the files) must agree: the `[ ]` lines are the
//! gate's pending list, `migrate --check`'s exit code is the gate's readiness under
//! `at-least`, and the rows Django does not show are the gate's `ahead`. The two states where
//! Django contradicts itself (`docs/tools/django.md`) are named where they are reached.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use support::tools::{self, Check, Rng, ToolDb, check_both, cli, peer, sorted};

/// A step whose comparison differs as `docs/tools/django.md` documents.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Known {
    /// Django and the gate agree.
    Agree,
    /// A squash's own row without (all of) the rows it replaces: `migrate --check` exits 0
    /// (it reads raw rows and plans only the leaves), `showmigrations` shows the squash or the
    /// replaced migrations unapplied (or, their files deleted, not at all); the gate is behind.
    /// `true`: this step is the scenario itself, where nothing else is pending and
    /// `migrate --check` exits 0.
    SquashRowOnly(bool),
}

struct World {
    db: ToolDb,
    /// The database in use (`app`, or a fresh one).
    name: String,
    root: PathBuf,
    python: PathBuf,
    manifest_py: PathBuf,
    seed: u64,
    history: Vec<String>,
    compared: usize,
    seen: std::collections::BTreeMap<String, usize>,
    /// The newest migration written per app (for the random steps), with its dependency line.
    leaves: Vec<(String, u32)>,
}

const SETTINGS: &str = r#"import os
from urllib.parse import urlsplit
u = urlsplit(os.environ.get("DATABASE_URL", "postgres://build@127.0.0.1/none"))
SECRET_KEY = "differential"
INSTALLED_APPS = ["blog", "shop"]
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": u.path[1:],
    "USER": u.username, "PASSWORD": u.password, "HOST": u.hostname, "PORT": u.port}}
"#;

/// Django's two status commands in one Python start, each through Django's own command-line
/// entry point (`execute_from_command_line`, as `manage.py` runs them): `showmigrations
/// --plan`, then `migrate --check` (its exit code; an exception it raises, such as
/// `InconsistentMigrationHistory`, is exit 1 as it is for `manage.py`).
const ORACLE: &str = r#"import sys
from django.core.management import execute_from_command_line
try:
    execute_from_command_line(["manage.py", "showmigrations", "--plan"])
except BaseException as e:
    print("showmigrations raised", type(e).__name__)
sys.stdout.flush()
try:
    execute_from_command_line(["manage.py", "migrate", "--check"])
    rc = 0
except SystemExit as e:
    rc = e.code if isinstance(e.code, int) else 1
except BaseException as e:
    print("migrate --check raised", type(e).__name__)
    rc = 1
print("== migrate --check exit=%d" % rc)
"#;

/// What Django's commands said.
struct Oracle {
    pending: Vec<String>,
    applied: Vec<String>,
    check_exit: i32,
    text: String,
}

impl World {
    fn new(seed: u64) -> World {
        let root = support::temp_dir("django-project");
        for dir in ["gateproj", "blog/migrations", "shop/migrations"] {
            std::fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        for file in [
            "gateproj/__init__.py",
            "blog/__init__.py",
            "blog/migrations/__init__.py",
            "shop/__init__.py",
            "shop/migrations/__init__.py",
        ] {
            std::fs::write(root.join(file), "").expect("write");
        }
        std::fs::write(root.join("gateproj/settings.py"), SETTINGS).expect("write");
        std::fs::write(
            root.join("manage.py"),
            "import sys\nfrom django.core.management import execute_from_command_line\n\
             execute_from_command_line(sys.argv)\n",
        )
        .expect("write");
        std::fs::write(root.join("oracle.py"), ORACLE).expect("write");
        let django = peer("django");
        let python = django.with_file_name("python");
        World {
            db: ToolDb::start(),
            name: "app".into(),
            root,
            python,
            manifest_py: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scripts/manifests/django-manifest.py"),
            seed,
            history: Vec::new(),
            compared: 0,
            seen: Default::default(),
            leaves: Vec::new(),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.db.migrator_url(&self.name)),
            ("DJANGO_SETTINGS_MODULE", "gateproj.settings".into()),
            ("PYTHONDONTWRITEBYTECODE", "1".into()),
        ]
    }

    fn python(&self, args: &[&str]) -> (i32, String) {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        cli(&self.python, args, Some(&self.root), &env)
    }

    /// `manage.py ARGS`, recorded in the history.
    fn dj(&mut self, args: &[&str]) -> (i32, String) {
        let mut all = vec!["manage.py"];
        all.extend_from_slice(args);
        let (code, out) = self.python(&all);
        let last = out.trim().lines().last().unwrap_or("").to_string();
        self.history
            .push(format!("manage.py {} -> {code}: {last}", args.join(" ")));
        (code, out)
    }

    /// A migration of `app` running SQL (`deps`: Python tuples).
    fn mig(&mut self, app: &str, name: &str, deps: &str, sql: &str, reverse: &str, atomic: bool) {
        let atomic = if atomic { "True" } else { "False" };
        let body = format!(
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    \
             atomic = {atomic}\n    dependencies = [{deps}]\n    \
             operations = [migrations.RunSQL({sql}, {reverse})]\n"
        );
        std::fs::write(self.root.join(format!("{app}/migrations/{name}.py")), body).expect("write");
        self.history.push(format!("write {app}/{name}"));
    }

    fn table(&mut self, app: &str, name: &str, deps: &str, table: &str) {
        self.mig(
            app,
            name,
            deps,
            &format!("\"CREATE TABLE {table} (id int)\""),
            &format!("\"DROP TABLE {table}\""),
            true,
        );
    }

    /// The build step: the manifest, written without a database; its exit code.
    fn manifest(&mut self) -> i32 {
        let mut cmd = std::process::Command::new(&self.python);
        cmd.arg(&self.manifest_py)
            .current_dir(&self.root)
            .env_remove("DATABASE_URL")
            .env("DJANGO_SETTINGS_MODULE", "gateproj.settings")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let out = cmd.output().expect("django-manifest.py");
        let code = out.status.code().unwrap_or(-1);
        self.history.push(format!("django-manifest.py -> {code}"));
        if code == 0 {
            std::fs::write(self.root.join("expected"), &out.stdout).expect("write");
        }
        code
    }

    /// SQL as the superuser on the database in use (rows edited by hand, as the scenario says).
    fn sql(&mut self, sql: &str) -> String {
        self.history.push(format!("sql: {sql}"));
        self.db.pg.sql(&self.name, sql)
    }

    fn fresh(&mut self, name: &str) {
        self.db.fresh(name);
        self.name = name.to_string();
        self.history.push(format!("fresh database {name}"));
    }

    fn context(&self) -> String {
        format!(
            "seed {} (TOOLS_DIFF_SEED={} replays it), step {}; steps so far:\n  {}",
            self.seed,
            self.seed,
            self.compared,
            self.history.join("\n  ")
        )
    }

    fn rows(&self) -> Option<BTreeSet<String>> {
        let exists = self.db.pg.sql(
            &self.name,
            "SELECT to_regclass('public.django_migrations') IS NOT NULL",
        );
        (exists == "t").then(|| {
            self.db
                .pg
                .sql(
                    &self.name,
                    "SELECT app || '.' || name FROM django_migrations",
                )
                .lines()
                .map(str::to_string)
                .collect()
        })
    }

    fn oracle(&self) -> Oracle {
        let (_, text) = self.python(&["oracle.py"]);
        let list = |mark: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.strip_prefix(mark))
                .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
                .collect()
        };
        let check_exit = text
            .lines()
            .find_map(|l| l.strip_prefix("== migrate --check exit="))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no exit code in the oracle's output:\n{text}"));
        Oracle {
            pending: list("[ ]  "),
            applied: list("[X]  "),
            check_exit,
            text,
        }
    }

    fn expected_path(&self) -> String {
        self.root.join("expected").display().to_string()
    }

    fn gate(&self) -> (Check, Check) {
        let path = self.expected_path();
        check_both(
            &self.db,
            &self.name,
            "django",
            &[("GATE_EXPECT_FILE", &path)],
            &self.context(),
        )
    }

    /// Every id the manifest names (lines and what squashes replace).
    fn known(&self) -> BTreeSet<String> {
        let text = std::fs::read_to_string(self.root.join("expected")).unwrap_or_default();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.split([':', ' ']))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn compare(&mut self) {
        self.compare_as(Known::Agree);
    }

    fn compare_as(&mut self, known: Known) {
        self.compared += 1;
        let (at_least, exact) = self.gate();
        *self
            .seen
            .entry(format!("{}/{}", at_least.state(), exact.state()))
            .or_default() += 1;
        let oracle = self.oracle();
        let ctx = format!("{}\n{}", self.context(), oracle.text);
        assert!(
            at_least.ids("failed").is_empty(),
            "Django has no failed state: {ctx}"
        );
        let Some(rows) = self.rows() else {
            assert_eq!(at_least.state(), "no_table", "{ctx}\n{at_least:?}");
            assert_eq!(oracle.check_exit == 0, oracle.pending.is_empty(), "{ctx}");
            assert_eq!(
                sorted(at_least.ids("pending")),
                sorted(oracle.pending.clone()),
                "{ctx}\n{at_least:?}"
            );
            return;
        };
        let django_ready = oracle.check_exit == 0;
        match known {
            Known::Agree => {
                assert_eq!(
                    sorted(at_least.ids("pending")),
                    sorted(oracle.pending.clone()),
                    "{ctx}: the gate's pending list is showmigrations --plan's [ ] lines\n\
                     {at_least:?}"
                );
                assert_eq!(
                    django_ready,
                    at_least.state() == "ready",
                    "{ctx}: migrate --check exit {} vs the gate under at-least\n{at_least:?}",
                    oracle.check_exit
                );
                self.listing_agrees(&oracle, &ctx);
            }
            Known::SquashRowOnly(scenario) => {
                // docs/tools/django.md, "Where Django contradicts itself": the gate takes the
                // loader's side (showmigrations), never migrate --check's 0.
                assert!(
                    django_ready || !scenario,
                    "{ctx}: expected migrate --check to exit 0 here"
                );
                assert_eq!(at_least.state(), "behind", "{ctx}\n{at_least:?}");
                assert!(!at_least.ids("pending").is_empty(), "{ctx}\n{at_least:?}");
                let shown: BTreeSet<String> = oracle.pending.iter().cloned().collect();
                let ours: BTreeSet<String> = at_least.ids("pending").into_iter().collect();
                assert!(shown.is_subset(&ours), "{ctx}\n{at_least:?}");
            }
        }
        // Rows the manifest does not know: Django shows none of them; the gate calls them ahead.
        let known_ids = self.known();
        let unknown: Vec<String> = rows.difference(&known_ids).cloned().collect();
        for id in &unknown {
            assert!(
                !oracle.applied.contains(id) && !oracle.pending.contains(id),
                "{ctx}: {id}"
            );
        }
        assert_eq!(
            sorted(at_least.ids("ahead")),
            sorted(unknown.clone()),
            "{ctx}\n{at_least:?}"
        );
        let exact_state = match (at_least.state(), unknown.is_empty()) {
            ("ready", false) => "ahead",
            (other, _) => other,
        };
        assert_eq!(exact.state(), exact_state, "{ctx}\n{exact:?}");
        assert_eq!(
            exact.code == Some(4),
            exact_state == "ahead",
            "{ctx}\n{exact:?}"
        );
    }

    /// `schema-gate status` lists what `showmigrations --plan` lists, each `[X]` applied and
    /// `[ ]` pending (by name: Django's plan order is the graph's, the gate's is by name).
    fn listing_agrees(&self, oracle: &Oracle, ctx: &str) {
        let url = self.db.pg.url("gate", &self.name, "");
        let path = self.expected_path();
        let (_, doc) = tools::status("django", &url, &[("GATE_EXPECT_FILE", &path)]);
        let mut theirs: Vec<(String, String)> = oracle
            .applied
            .iter()
            .map(|id| (id.clone(), "applied".to_string()))
            .chain(
                oracle
                    .pending
                    .iter()
                    .map(|id| (id.clone(), "pending".to_string())),
            )
            .collect();
        theirs.sort();
        let mut ours = tools::listed(&doc, "migrations");
        ours.sort();
        assert_eq!(ours, theirs, "{ctx}: {doc}");
    }
}

/// The characterisation's scenarios (docs/tools/django.md, scripts/tools/characterise-django.sh).
fn corpus(w: &mut World) {
    w.table("blog", "0001_initial", "", "blog_a");
    w.table("blog", "0002_b", "(\"blog\", \"0001_initial\")", "blog_b");
    w.table("blog", "0003_c", "(\"blog\", \"0002_b\")", "blog_c");
    w.table("shop", "0001_initial", "(\"blog\", \"0002_b\")", "shop_a");
    assert_eq!(w.manifest(), 0);
    w.compare(); // no table: migrate --check and showmigrations do not create it
    assert!(
        w.rows().is_none(),
        "Django's status commands created django_migrations"
    );
    w.dj(&["migrate", "blog", "0001_initial"]);
    w.compare();
    w.dj(&["migrate"]);
    w.compare(); // all applied
    // 0004 fails half-way, atomic: nothing recorded.
    w.mig(
        "blog",
        "0004_fails",
        "(\"blog\", \"0003_c\")",
        "\"CREATE TABLE blog_d (id int); SELECT 1/0\"",
        "\"DROP TABLE blog_d\"",
        true,
    );
    assert_eq!(w.manifest(), 0);
    assert_ne!(w.dj(&["migrate"]).0, 0);
    w.compare();
    // Not atomic: the first statement's table stays, still no row.
    w.mig(
        "blog",
        "0004_fails",
        "(\"blog\", \"0003_c\")",
        "[\"CREATE TABLE blog_d (id int)\", \"SELECT 1/0\"]",
        "\"DROP TABLE blog_d\"",
        false,
    );
    assert_ne!(w.dj(&["migrate"]).0, 0);
    w.compare();
    w.sql("DROP TABLE blog_d");
    w.table("blog", "0004_fails", "(\"blog\", \"0003_c\")", "blog_d");
    w.dj(&["migrate"]);
    w.compare();
    w.dj(&["migrate", "blog", "0002_b"]);
    w.compare();
    w.dj(&["migrate", "blog", "zero"]); // shop depends on blog.0002_b: rolled back too
    w.compare();
    w.dj(&["migrate"]);
    w.compare();
    // Out of order: 0002's row deleted below 0003's.
    w.sql("DELETE FROM django_migrations WHERE app = 'blog' AND name = '0002_b'");
    w.compare();
    assert_ne!(w.dj(&["migrate"]).0, 0, "InconsistentMigrationHistory");
    w.compare();
    w.sql("INSERT INTO django_migrations (app, name, applied) VALUES ('blog', '0002_b', now())");
    w.sql(
        "INSERT INTO django_migrations (app, name, applied) VALUES \
         ('blog', '0099_gone', now()), ('gone', '0001_initial', now())",
    );
    w.compare(); // rows without files: ahead
    w.sql("DELETE FROM django_migrations WHERE name = '0099_gone' OR app = 'gone'");
    // Squashed, every replaced migration applied, no row for the squash yet.
    w.dj(&["squashmigrations", "--noinput", "blog", "0001", "0003_c"]);
    assert_eq!(w.manifest(), 0);
    w.compare();
    w.dj(&["migrate"]); // records the squash
    w.compare();
    w.sql("DELETE FROM django_migrations WHERE app = 'blog' AND name = '0002_b'");
    w.compare(); // migrate --check 1 (InconsistentMigrationHistory), the gate behind
    w.sql(
        "DELETE FROM django_migrations WHERE app = 'blog' AND name IN ('0001_initial', '0003_c')",
    );
    w.compare_as(Known::SquashRowOnly(true)); // only the squash's own row
    // A fresh database: migrate with the squash.
    w.fresh("app2");
    w.compare();
    w.dj(&["migrate"]);
    w.compare();
    // Another: the squash partly applied (0001 of 0001..0003).
    w.fresh("app3");
    let squash = w
        .root
        .join("blog/migrations/0001_initial_squashed_0003_c.py");
    let away = w.root.join("squash.away");
    std::fs::rename(&squash, &away).expect("move the squash away");
    w.dj(&["migrate", "blog", "0001_initial"]);
    std::fs::rename(&away, &squash).expect("move it back");
    w.compare();
    w.dj(&["migrate"]);
    w.compare();
    w.dj(&["migrate", "blog", "0002_b"]); // rolled back into the squash: its row stays
    w.compare();
    w.dj(&["migrate"]);
    w.compare();
    // The replaced files deleted.
    for name in ["0001_initial", "0002_b", "0003_c"] {
        std::fs::remove_file(w.root.join(format!("blog/migrations/{name}.py"))).expect("rm");
    }
    w.table(
        "blog",
        "0004_fails",
        "(\"blog\", \"0001_initial_squashed_0003_c\")",
        "blog_d",
    );
    w.table(
        "shop",
        "0001_initial",
        "(\"blog\", \"0001_initial_squashed_0003_c\")",
        "shop_a",
    );
    assert_eq!(w.manifest(), 0);
    w.compare();
    w.sql("DELETE FROM django_migrations WHERE app = 'blog' AND name = '0002_b'");
    w.compare_as(Known::SquashRowOnly(true)); // Django: "No migrations to apply"; the gate: behind
    w.dj(&["migrate"]);
    w.compare_as(Known::SquashRowOnly(true));
    w.sql("INSERT INTO django_migrations (app, name, applied) VALUES ('blog', '0002_b', now())");
    w.compare();
    // Two leaves in blog: the build step fails, as migrate refuses them.
    w.mig(
        "blog",
        "0005_x",
        "(\"blog\", \"0004_fails\")",
        "\"SELECT 1\"",
        "\"SELECT 1\"",
        true,
    );
    w.mig(
        "blog",
        "0005_y",
        "(\"blog\", \"0004_fails\")",
        "\"SELECT 1\"",
        "\"SELECT 1\"",
        true,
    );
    assert_ne!(
        w.manifest(),
        0,
        "two leaves: the manifest script must fail the build"
    );
    assert_ne!(w.oracle().check_exit, 0);
    std::fs::remove_file(w.root.join("blog/migrations/0005_y.py")).expect("rm");
    assert_eq!(w.manifest(), 0);
    w.compare();
    w.dj(&["migrate"]);
    w.compare();
    w.leaves = vec![("blog".into(), 5), ("shop".into(), 1)];
}

/// A random step on top of the corpus' end state: migrate all or an app to a target (or zero),
/// a new leaf migration (sometimes failing half-way, sometimes not atomic), a row deleted or
/// re-inserted by hand.
fn step(w: &mut World, rng: &mut Rng) {
    let app = rng.pick(&["blog", "shop"]).to_string();
    match rng.below(8) {
        0..=2 => drop(w.dj(&["migrate"])),
        3 => {
            let text = w.db.pg.sql(
                &w.name,
                &format!("SELECT name FROM django_migrations WHERE app = '{app}' ORDER BY id"),
            );
            let names: Vec<&str> = text.lines().collect();
            let target = if names.is_empty() || rng.below(4) == 0 {
                "zero".to_string()
            } else {
                rng.pick(&names).to_string()
            };
            w.dj(&["migrate", &app, &target]);
        }
        4 | 5 => {
            let index = w.leaves.iter().position(|(a, _)| *a == app).unwrap_or(0);
            let (leaf_app, n) = w.leaves[index].clone();
            let prev = std::fs::read_dir(w.root.join(format!("{leaf_app}/migrations")))
                .expect("ls")
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|f| f.starts_with(&format!("{n:04}_")) && f.ends_with(".py"))
                .max()
                .map(|f| f.trim_end_matches(".py").to_string());
            let name = format!("{:04}_r{}", n + 1, rng.below(1000));
            let deps = prev
                .map(|p| format!("(\"{leaf_app}\", \"{p}\")"))
                .unwrap_or_default();
            let table = format!("{leaf_app}_{}", name);
            let broken = rng.below(3) == 0;
            let sql = if broken {
                format!("[\"CREATE TABLE IF NOT EXISTS {table} (id int)\", \"SELECT 1/0\"]")
            } else {
                format!("\"CREATE TABLE IF NOT EXISTS {table} (id int)\"")
            };
            let atomic = rng.below(2) == 0;
            w.mig(
                &leaf_app,
                &name,
                &deps,
                &sql,
                &format!("\"DROP TABLE IF EXISTS {table}\""),
                atomic,
            );
            if broken {
                // Applied once broken (nothing recorded), then fixed: the next migrate runs it.
                w.dj(&["migrate"]);
                w.mig(
                    &leaf_app,
                    &name,
                    &deps,
                    &format!("\"CREATE TABLE IF NOT EXISTS {table} (id int)\""),
                    &format!("\"DROP TABLE IF EXISTS {table}\""),
                    atomic,
                );
            }
            w.leaves[index].1 = n + 1;
            assert_eq!(w.manifest(), 0, "{}", w.context());
        }
        6 => {
            let text = w.db.pg.sql(
                &w.name,
                &format!("SELECT name FROM django_migrations WHERE app = '{app}' ORDER BY id"),
            );
            let names: Vec<String> = text.lines().map(str::to_string).collect();
            if !names.is_empty() {
                let name = rng.pick(&names).clone();
                if !name.contains("squashed") {
                    w.sql(&format!(
                        "DELETE FROM django_migrations WHERE app = '{app}' AND name = '{name}'"
                    ));
                }
            }
        }
        _ => {
            // Re-insert every row the files have but the table lacks below the newest applied
            // (what `migrate --fake` would record), keeping random steps out of holes forever.
            drop(w.dj(&["migrate", "--fake"]));
        }
    }
}

/// Whether the database holds a squash row whose replaced rows are not all there (the state
/// Django contradicts itself in): random steps that reach it are compared as documented.
fn squash_row_only(w: &World) -> bool {
    let Some(rows) = w.rows() else { return false };
    rows.contains("blog.0001_initial_squashed_0003_c")
        && !["blog.0001_initial", "blog.0002_b", "blog.0003_c"]
            .iter()
            .all(|r| rows.contains(*r))
}

#[test]
fn django_showmigrations_and_migrate_check_agree_with_the_gate_at_every_step() {
    let seed = tools::seed();
    let mut w = World::new(seed);
    corpus(&mut w);
    let mut rng = Rng::new(seed);
    // Each step is a Python start or two (~1-2 s): a plain run takes a few random steps, `--full`
    // (TOOLS_DIFF_STEPS) as many as it asks.
    let steps = tools::steps_or(8);
    for _ in 0..steps {
        step(&mut w, &mut rng);
        let known = if squash_row_only(&w) {
            Known::SquashRowOnly(false)
        } else {
            Known::Agree
        };
        w.compare_as(known);
    }
    eprintln!(
        "Django differential: {} comparisons (seed {seed}), each direct and through PgBouncer, \
         at-least and exact; states (at-least/exact) seen: {:?}",
        w.compared, w.seen
    );
}

#[test]
fn the_gate_reads_with_select_alone_where_django_needs_more() {
    let mut w = World::new(0);
    w.table("blog", "0001_initial", "", "blog_a");
    w.table(
        "shop",
        "0001_initial",
        "(\"blog\", \"0001_initial\")",
        "shop_a",
    );
    assert_eq!(w.manifest(), 0);
    w.dj(&["migrate"]);
    tools::select_only(&w.db.pg, "app", "reader", "django_migrations");
    let path = w.expected_path();
    let c = tools::check(
        "django",
        &w.db.pg.url("reader", "app", ""),
        &[("GATE_EXPECT_FILE", &path)],
    );
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    assert_eq!(
        c.json["expected"], "blog.0001_initial,shop.0001_initial",
        "{c:?}"
    );
    // migrate --check as that role: Django reads the same table, but its consistency check and
    // plan need nothing more; what it does need is the whole project (settings, apps, driver).
    let reader = w.db.pg.url("reader", "app", "sslmode=disable");
    let (code, out) = cli(
        &w.python,
        &["manage.py", "migrate", "--check"],
        Some(&w.root),
        &[
            ("DATABASE_URL", reader.as_str()),
            ("DJANGO_SETTINGS_MODULE", "gateproj.settings"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
        ],
    );
    assert_eq!(code, 0, "migrate --check with SELECT alone: {out}");
    // A fresh database as a role without CREATE: `migrate` cannot even make its table; the
    // gate says no_table and writes nothing.
    w.db.fresh("empty");
    w.db.pg
        .sql("empty", "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    let c = tools::check(
        "django",
        &w.db.pg.url("gate", "empty", ""),
        &[("GATE_EXPECT_FILE", &path)],
    );
    assert_eq!(c.state(), "no_table", "{c:?}");
    let gate = w.db.pg.url("gate", "empty", "sslmode=disable");
    let (code, out) = cli(
        &w.python,
        &["manage.py", "migrate"],
        Some(&w.root),
        &[
            ("DATABASE_URL", gate.as_str()),
            ("DJANGO_SETTINGS_MODULE", "gateproj.settings"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
        ],
    );
    assert_ne!(code, 0, "migrate as the gate's role: {out}");
    assert!(
        out.contains("MigrationSchemaMissing") || out.contains("permission denied"),
        "{out}"
    );
    assert_eq!(
        w.db.pg.sql(
            "empty",
            "SELECT to_regclass('public.django_migrations') IS NULL"
        ),
        "t"
    );
}

#[test]
fn django_takes_only_its_manifest() {
    let w = World::new(0);
    let url = w.db.pg.url("gate", "app", "");
    for (var, value) in [
        (
            "GATE_MIGRATIONS_DIR",
            w.root.join("blog/migrations").display().to_string(),
        ),
        ("GATE_EXPECT_VERSION", "0001_initial".to_string()),
    ] {
        let r = support::run(
            support::gate(&["check"])
                .env("DATABASE_URL", &url)
                .env("GATE_TOOL", "django")
                .env(var, &value),
            std::time::Duration::from_secs(30),
        );
        assert_eq!(r.code, Some(2), "{var}: {r:?}");
        assert!(
            r.stderr.contains(var) && r.stderr.contains("django-manifest.py"),
            "{var}: {r:?}"
        );
    }
}

//! Rails' migrations for real (Active Record 6.1.7 from Debian, `scripts/peers/rails.sh`, in an
//! application made from `scripts/peers/rails/app`) against the gate: after every step of the
//! characterisation's scenarios (db:migrate, a migration failing half-way in its transaction
//! and with `disable_ddl_transaction!`, db:rollback, a file older than the applied ones, a hole
//! made by db:migrate:down, rows without a file, versions with leading zeros, a file in a
//! subdirectory, a scoped file and files Rails does not look at, names Rails refuses,
//! ar_internal_metadata emptied and dropped) and of seeded random steps, the gate (direct and
//! through PgBouncer, as a role with only `SELECT`) and Rails must agree:
//! `rake db:migrate:status`' `down` lines are the gate's pending list and its `NO FILE` lines
//! the gate's `ahead`, `db:version` the gate's `version`, and (run after the gate: it creates
//! the tables) `rake db:abort_if_pending_migrations`' exit 0 is the gate's readiness under
//! `at-least`, its list the gate's pending list (`docs/tools/rails.md`).
//!
//! The rake tasks run in one Ruby process (`scripts/peers/rails/session.rb`: a `rake` start
//! boots the application, 2–8 s); one test holds its answers to a fresh `rake`'s.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::tools::{self, Check, LineSession, Rng, ToolDb, check_both, peer, sorted};

/// A step whose comparison differs as `docs/tools/rails.md` documents.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Known {
    Agree,
    /// A symlink to a directory under db/migrate: Ruby's `**/` does not follow it, the gate's
    /// listing does; the gate expects (pending) the migration in it, Rails never sees it.
    SymlinkedDir(&'static str),
}

/// Many rake command lines in one Ruby process.
struct Session(LineSession);

impl Session {
    fn start(app: &Path, url: &str, rake: &Path) -> Session {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/peers/rails/session.rb");
        let mut command = ruby(rake);
        command
            .arg(script)
            .current_dir(app)
            .env("DATABASE_URL", url)
            .env("RAILS_ENV", "development")
            .stderr(Stdio::inherit());
        let mut s = Session(LineSession::start("rails", command));
        let line = s.0.line(Duration::from_secs(300));
        assert_eq!(line.trim(), "== ready", "the Rails session did not start");
        s
    }

    fn run(&mut self, line: &str) -> (i32, String) {
        let (code, lines) = self.0.run(line, Duration::from_secs(300));
        let mut text = String::new();
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        (code, text)
    }
}

/// The Ruby that runs `rake` (its shebang's, beside it).
fn ruby(rake: &Path) -> Command {
    let beside = rake.with_file_name("ruby");
    Command::new(if beside.exists() {
        beside
    } else {
        PathBuf::from("ruby")
    })
}

/// A fresh `rake TASK…` in `app` as `url`: (exit code, stdout + stderr).
fn rake(rake: &Path, app: &Path, url: &str, args: &[&str]) -> (i32, String) {
    tools::cli(
        rake,
        args,
        Some(app),
        &[("DATABASE_URL", url), ("RAILS_ENV", "development")],
    )
}

/// A copy of scripts/peers/rails/app with database.yml reading DATABASE_URL and a second
/// migrations path, `db/more` (`config.paths["db/migrate"]`).
fn new_app() -> PathBuf {
    let root = support::temp_dir("rails-app");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/peers/rails/app");
    for f in ["Rakefile", "config/application.rb", "config/environment.rb"] {
        let to = root.join(f);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(src.join(f), to).expect("copy");
    }
    for d in ["db/migrate", "db/more"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(
        root.join("config/environment.rb"),
        "require_relative \"application\"\n\
         Rails.application.config.paths[\"db/migrate\"] << \"db/more\"\n\
         Rails.application.initialize!\n",
    )
    .expect("write");
    std::fs::write(
        root.join("config/database.yml"),
        "development:\n  adapter: postgresql\n  url: <%= ENV[\"DATABASE_URL\"] %>\n",
    )
    .expect("write");
    root
}

/// A migration `class` running `up` (each statement one `execute`), its `down` dropping the
/// tables `up` creates, optionally outside a transaction (`disable_ddl_transaction!`).
fn migration(class: &str, up: &[&str], no_tx: bool) -> String {
    let mut body = format!("class {class} < ActiveRecord::Migration[6.1]\n");
    if no_tx {
        body.push_str("  disable_ddl_transaction!\n");
    }
    body.push_str("  def up\n");
    for stmt in up {
        body.push_str(&format!("    execute \"{stmt}\"\n"));
    }
    body.push_str("  end\n\n  def down\n");
    for stmt in up {
        if let Some(table) = stmt
            .strip_prefix("CREATE TABLE IF NOT EXISTS ")
            .or_else(|| stmt.strip_prefix("CREATE TABLE "))
            .and_then(|t| t.split_whitespace().next())
        {
            body.push_str(&format!("    execute \"DROP TABLE IF EXISTS {table}\"\n"));
        }
    }
    body.push_str("  end\nend\n");
    body
}

/// A version as `db:migrate:status` prints it (`"%.3d"`).
fn normal(digits: &str) -> String {
    let v: u128 = digits.parse().unwrap_or(0);
    format!("{v:03}")
}

/// What Rails said about one state.
#[derive(Debug, Default, PartialEq, Eq)]
struct Oracle {
    /// `db:migrate:status`: exit code, `down` versions, `up` versions with a file, `NO FILE`.
    status: i32,
    down: Vec<String>,
    up: Vec<String>,
    no_file: Vec<String>,
    /// `db:version`'s "Current version".
    version: Option<String>,
    /// `db:abort_if_pending_migrations`: exit code and its listed versions (normalised).
    abort: i32,
    listed: Vec<String>,
}

fn parse_status(code: i32, text: &str, o: &mut Oracle) {
    o.status = code;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(state), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        match state {
            "down" => o.down.push(version.to_string()),
            "up" if line.contains("NO FILE") => o.no_file.push(version.to_string()),
            "up" => o.up.push(version.to_string()),
            _ => {}
        }
    }
}

fn parse_abort(code: i32, text: &str, o: &mut Oracle) {
    o.abort = code;
    o.listed = text
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
        .map(normal)
        .collect();
}

fn parse_version(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("Current version: "))
        .map(|v| v.trim().to_string())
}

struct World {
    db: ToolDb,
    app: PathBuf,
    rake: PathBuf,
    session: Session,
    /// Migration files under db/migrate (relative path → class), as the test wrote them.
    files: BTreeMap<String, String>,
    seed: u64,
    history: Vec<String>,
    compared: usize,
    seen: BTreeMap<String, usize>,
}

impl World {
    fn new(seed: u64) -> World {
        let db = ToolDb::start();
        let app = new_app();
        let rake = peer("rails");
        let session = Session::start(&app, &db.migrator_url("app"), &rake);
        World {
            db,
            app,
            rake,
            session,
            files: BTreeMap::new(),
            seed,
            history: Vec::new(),
            compared: 0,
            seen: BTreeMap::new(),
        }
    }

    fn dir(&self) -> PathBuf {
        self.app.join("db/migrate")
    }

    fn write(&mut self, rel: &str, class: &str, up: &[&str], no_tx: bool) {
        let path = self.dir().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, migration(class, up, no_tx)).expect("write");
        self.files.insert(rel.to_string(), class.to_string());
        self.history
            .push(format!("write {rel} ({class}: {up:?}, no tx {no_tx})"));
    }

    /// A file that is not a migration for Rails, or one the map should not hold.
    fn raw(&mut self, rel: &str, contents: &str) {
        std::fs::write(self.dir().join(rel), contents).expect("write");
        self.history.push(format!("write {rel}: {contents:?}"));
    }

    fn remove(&mut self, rel: &str) {
        self.files.remove(rel);
        let _ = std::fs::remove_file(self.dir().join(rel));
        self.history.push(format!("rm {rel}"));
    }

    fn rake(&mut self, line: &str) -> (i32, String) {
        let (code, out) = self.session.run(line);
        if ![
            "db:migrate:status",
            "db:abort_if_pending_migrations",
            "db:version",
        ]
        .contains(&line)
        {
            let summary: Vec<&str> = out
                .lines()
                .filter(|l| l.starts_with("== ") || l.contains("Error") || l.contains("rror:"))
                .take(6)
                .collect();
            self.history
                .push(format!("rake {line} -> {code}: {}", summary.join(" | ")));
        }
        (code, out)
    }

    fn sql(&mut self, sql: &str) {
        self.history.push(format!("sql: {sql}"));
        self.db.pg.sql("app", sql);
    }

    fn exists(&self, table: &str) -> bool {
        self.db.pg.sql(
            "app",
            &format!("SELECT to_regclass('public.{table}') IS NOT NULL"),
        ) == "t"
    }

    fn context(&self) -> String {
        format!(
            "seed {} (TOOLS_DIFF_SEED={} replays it), step {}; files {:?}; steps so far:\n  {}",
            self.seed,
            self.seed,
            self.compared,
            self.files.keys().collect::<Vec<_>>(),
            self.history.join("\n  ")
        )
    }

    /// Both migrations paths, as the gate is told them.
    fn vars(&self) -> Vec<(&'static str, String)> {
        let more = self.app.join("db/more");
        let both = format!("{}:{}", self.dir().display(), more.display());
        vec![("GATE_MIGRATIONS_DIR", both)]
    }

    fn gate(&self) -> (Check, Check) {
        let vars = self.vars();
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        check_both(&self.db, "app", "rails", &vars, &self.context())
    }

    /// Rails' answers, from the session: `db:migrate:status`, `db:version` (only where the
    /// table exists: the gate's `version`), then `db:abort_if_pending_migrations`, which
    /// creates the tables.
    fn oracle(&mut self) -> (Oracle, String) {
        let mut o = Oracle::default();
        let (code, status) = self.rake("db:migrate:status");
        parse_status(code, &status, &mut o);
        if code == 0 {
            o.version = parse_version(&self.rake("db:version").1);
        }
        let (code, abort) = self.rake("db:abort_if_pending_migrations");
        parse_abort(code, &abort, &mut o);
        (
            o,
            format!("db:migrate:status:\n{status}\nabort_if_pending:\n{abort}"),
        )
    }

    fn compare(&mut self) {
        self.compare_as(Known::Agree);
    }

    fn compare_as(&mut self, known: Known) {
        self.compared += 1;
        let existed = self.exists("schema_migrations");
        let (at_least, exact) = self.gate();
        let listing = self.listing();
        *self
            .seen
            .entry(format!("{}/{}", at_least.state(), exact.state()))
            .or_default() += 1;
        let (o, text) = self.oracle();
        let ctx = format!("{}\n{text}", self.context());
        assert!(at_least.ids("failed").is_empty(), "{ctx}: no failed state");
        if !existed {
            assert_eq!(at_least.state(), "no_table", "{ctx}\n{at_least:?}");
            assert_eq!(o.status, 1, "{ctx}");
            assert!(
                text.contains("Schema migrations table does not exist yet."),
                "{ctx}"
            );
            assert_eq!(o.abort, 1, "{ctx}");
            assert_eq!(sorted(at_least.ids("pending")), sorted(o.listed), "{ctx}");
            assert!(
                self.exists("schema_migrations") && self.exists("ar_internal_metadata"),
                "{ctx}: db:abort_if_pending_migrations creates both tables"
            );
            return;
        }
        assert_eq!(o.status, 0, "{ctx}");
        let mut down = o.down.clone();
        if let Known::SymlinkedDir(version) = known {
            assert!(!down.iter().any(|v| v == version), "{ctx}: Rails sees it");
            assert!(
                at_least.ids("pending").iter().any(|v| v == version),
                "{ctx}\n{at_least:?}"
            );
            down.push(version.to_string());
        }
        assert_eq!(
            sorted(at_least.ids("pending")),
            sorted(down.clone()),
            "{ctx}: the gate's pending list is db:migrate:status' down lines\n{at_least:?}"
        );
        assert_eq!(
            sorted(at_least.ids("ahead")),
            sorted(o.no_file.clone()),
            "{ctx}: the gate's ahead is db:migrate:status' NO FILE lines\n{at_least:?}"
        );
        let number = |v: &str| v.parse::<u128>().unwrap_or(0);
        assert_eq!(
            number(&at_least.version()),
            number(o.version.as_deref().unwrap_or("")),
            "{ctx}: the gate's version is db:version's\n{at_least:?}"
        );
        let mut listed = o.listed.clone();
        if let Known::SymlinkedDir(version) = known {
            listed.push(version.to_string());
        }
        assert_eq!(sorted(listed), sorted(down.clone()), "{ctx}");
        assert_eq!(
            o.abort == 0 && known == Known::Agree,
            at_least.state() == "ready",
            "{ctx}: abort_if_pending's exit 0 vs the gate under at-least\n{at_least:?}"
        );
        let exact_state = match (at_least.state(), o.no_file.is_empty()) {
            ("ready", false) => "ahead",
            (other, _) => other,
        };
        assert_eq!(exact.state(), exact_state, "{ctx}\n{exact:?}");
        // status lists every file's version as db:migrate:status does, up or down, and the
        // NO FILE rows apart.
        let want: Vec<(String, String)> =
            o.up.iter()
                .map(|v| (v.clone(), "applied".to_string()))
                .chain(down.iter().map(|v| (v.clone(), "pending".to_string())))
                .collect();
        assert_eq!(sorted_pairs(listing.0), sorted_pairs(want), "{ctx}");
        assert_eq!(sorted(listing.1), sorted(o.no_file), "{ctx}");
    }

    /// `schema-gate status --json`: (version, state) of every migration, and the versions
    /// without a file.
    fn listing(&self) -> (Vec<(String, String)>, Vec<String>) {
        let url = self.db.pg.url("gate", "app", "");
        let vars = self.vars();
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (_, doc) = tools::status("rails", &url, &vars);
        let part = |name: &str| -> Vec<(String, String)> {
            doc[name]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            (
                                e["version"].as_str().unwrap_or("").to_string(),
                                e["state"].as_str().unwrap_or("").to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let without: Vec<String> = part("without_file").into_iter().map(|(v, _)| v).collect();
        (part("migrations"), without)
    }

    /// A directory Rails refuses: the gate's configuration error (exit 2, naming the
    /// variable and the file), and Rails' tasks as given.
    fn refused(&mut self, file: &str, status_lists: bool) {
        self.compared += 1;
        let r = support::run(
            support::gate(&["check"])
                .env("DATABASE_URL", self.db.pg.url("gate", "app", ""))
                .env("GATE_TOOL", "rails")
                .env("GATE_MIGRATIONS_DIR", self.dir()),
            std::time::Duration::from_secs(30),
        );
        let (o, text) = self.oracle();
        let ctx = format!("{}\n{text}", self.context());
        assert_eq!(r.code, Some(2), "{ctx}\n{r:?}");
        assert!(
            r.stderr.contains("GATE_MIGRATIONS_DIR") && r.stderr.contains(file),
            "{ctx}\n{r:?}"
        );
        assert_eq!(o.status == 0, status_lists, "{ctx}");
        assert_eq!(o.abort, 1, "{ctx}");
        assert!(o.listed.is_empty(), "{ctx}: abort_if_pending aborts");
    }
}

fn sorted_pairs(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

/// The characterisation's scenarios (docs/tools/rails.md, scripts/tools/characterise-rails.sh).
fn corpus(w: &mut World) {
    w.write(
        "20240101000001_create_a.rb",
        "CreateA",
        &["CREATE TABLE a (id int)"],
        false,
    );
    w.write(
        "20240101000002_create_b.rb",
        "CreateB",
        &["CREATE TABLE b (id int)"],
        false,
    );
    w.compare(); // no table: abort_if_pending creates both
    w.rake("db:migrate");
    w.compare(); // all applied
    let broken = ["CREATE TABLE c (id int)", "SELECT 1/0"];
    w.write("20240101000003_create_c.rb", "CreateC", &broken, false);
    assert_ne!(w.rake("db:migrate").0, 0);
    w.compare(); // failed in its transaction: no row
    w.write("20240101000003_create_c.rb", "CreateC", &broken, true);
    assert_ne!(w.rake("db:migrate").0, 0);
    assert!(w.exists("c"), "disable_ddl_transaction!: table c stays");
    w.compare(); // still no row
    w.sql("DROP TABLE c");
    w.write(
        "20240101000003_create_c.rb",
        "CreateC",
        &["CREATE TABLE c (id int)"],
        false,
    );
    assert_eq!(w.rake("db:migrate").0, 0);
    w.compare();
    w.rake("db:rollback");
    w.compare(); // rolled back
    w.rake("db:migrate");
    w.write(
        "20231231000000_create_early.rb",
        "CreateEarly",
        &["SELECT 1"],
        false,
    );
    w.compare(); // out of order: pending
    w.rake("db:migrate");
    w.compare();
    w.rake("db:migrate:down VERSION=20240101000002");
    w.compare(); // a hole
    w.rake("db:migrate:up VERSION=20240101000002");
    w.compare();
    w.sql("INSERT INTO schema_migrations VALUES ('20991231000000'), ('0042')");
    w.compare(); // rows without files: ahead
    // Rows by hand that Ruby's to_i reads as numbers: ' 20231231000000' is that file's,
    // '1_0' is 10 (no file).
    w.sql("INSERT INTO schema_migrations VALUES (' 20231231000000'), ('1_0')");
    w.compare();
    w.sql(
        "DELETE FROM schema_migrations WHERE version IN \
         ('20991231000000', '0042', ' 20231231000000', '1_0')",
    );
    w.write("001_leading.rb", "Leading", &["SELECT 1"], false);
    w.sql("INSERT INTO schema_migrations VALUES ('1')");
    w.compare(); // 001_leading.rb with the row '1': up
    w.sql("UPDATE schema_migrations SET version = '0001' WHERE version = '1'");
    w.compare(); // … with the row '0001': up
    w.sql("INSERT INTO schema_migrations VALUES ('1')");
    w.compare(); // … with both: up once
    w.remove("001_leading.rb");
    w.sql("DELETE FROM schema_migrations WHERE version IN ('1', '0001')");
    w.write(
        "sub/20240101000004_create_d.rb",
        "CreateD",
        &["SELECT 1"],
        false,
    );
    w.compare(); // a file in a subdirectory: pending
    w.rake("db:migrate");
    w.compare();
    w.write(
        "20240101000005_create_e.scoped.rb",
        "CreateE",
        &["SELECT 1"],
        false,
    );
    w.raw("README.md", "# not a migration\n");
    w.raw("helper.rb", "# not a migration\n");
    std::fs::create_dir_all(w.dir().join(".hidden")).expect("mkdir");
    w.raw(".hidden/20240101000009_hidden.rb", "# not looked at\n");
    w.compare(); // names: only the scoped file counts
    w.rake("db:migrate");
    w.compare();
    w.write("20240101000006_CreateF.rb", "CreateF", &["SELECT 1"], false);
    w.refused("20240101000006_CreateF.rb", false); // an illegal name: both abort
    w.remove("20240101000006_CreateF.rb");
    w.write(
        "20240101000005_create_e2.rb",
        "CreateE2",
        &["SELECT 1"],
        false,
    );
    w.refused("20240101000005_create_e2.rb", true); // a duplicate version: status lists both
    w.remove("20240101000005_create_e2.rb");
    w.write(
        "20240101000007_create_e.rb",
        "CreateE",
        &["SELECT 1"],
        false,
    );
    w.refused("20240101000007_create_e.rb", true); // a duplicate name
    w.remove("20240101000007_create_e.rb");
    // The second migrations path (db/more): pending, then applied.
    w.write(
        "../more/20240101000012_create_more.rb",
        "CreateMore",
        &["SELECT 1"],
        false,
    );
    w.compare();
    w.rake("db:migrate");
    w.compare();
    // A directory named like a migration: Ruby's Dir[] returns it, Rails lists it (down) and
    // cannot load it; the gate counts it too.
    std::fs::create_dir_all(w.dir().join("20240101000011_create_dir.rb")).expect("mkdir");
    w.history
        .push("mkdir db/migrate/20240101000011_create_dir.rb".into());
    w.compare();
    assert_ne!(w.rake("db:migrate").0, 0);
    w.compare();
    std::fs::remove_dir(w.dir().join("20240101000011_create_dir.rb")).expect("rmdir");
    w.sql("DELETE FROM ar_internal_metadata");
    w.compare(); // ar_internal_metadata emptied: the same
    w.sql("DROP TABLE ar_internal_metadata");
    w.compare(); // dropped: the same (abort_if_pending makes it again)
    assert!(w.exists("ar_internal_metadata"));
    // A symlinked directory: Ruby's glob does not follow it; the gate's listing does.
    let elsewhere = w.app.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    std::fs::write(
        elsewhere.join("20240101000008_create_g.rb"),
        migration("CreateG", &["SELECT 1"], false),
    )
    .expect("write");
    std::os::unix::fs::symlink(&elsewhere, w.dir().join("linked")).expect("symlink");
    w.history
        .push("symlink db/migrate/linked -> elsewhere (20240101000008)".into());
    w.compare_as(Known::SymlinkedDir("20240101000008"));
    w.rake("db:migrate");
    w.compare_as(Known::SymlinkedDir("20240101000008"));
    std::fs::remove_file(w.dir().join("linked")).expect("rm");
    w.history.push("rm db/migrate/linked".into());
    w.compare();
}

/// The digits a file name starts with.
fn version_of(rel: &str) -> String {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    base.split('_').next().unwrap_or("").to_string()
}

fn step(w: &mut World, rng: &mut Rng) {
    let names: Vec<String> = w.files.keys().cloned().collect();
    match rng.below(12) {
        0..=2 => drop(w.rake("db:migrate")),
        3 => drop(w.rake(&format!("db:rollback STEP={}", rng.below(2) + 1))),
        4 if !names.is_empty() => {
            let v = version_of(&names[rng.below(names.len())]);
            drop(w.rake(&format!("db:migrate:down VERSION={v}")));
        }
        5 if !names.is_empty() => {
            let v = version_of(&names[rng.below(names.len())]);
            drop(w.rake(&format!("db:migrate:up VERSION={v}")));
        }
        6 if !names.is_empty() => {
            let v = version_of(&names[rng.below(names.len())]);
            drop(w.rake(&format!("db:migrate VERSION={v}")));
        }
        7 | 8 => {
            // A new file: a timestamp (sometimes before the applied ones) or a short version
            // with leading zeros, sometimes in a subdirectory, sometimes failing half-way, in
            // its transaction or outside one.
            let digits = if rng.below(4) == 0 {
                format!("{:03}", rng.below(60) + 1)
            } else {
                format!("2024010{}0000{:02}", rng.below(9) + 1, rng.below(60))
            };
            let value: u128 = digits.parse().unwrap_or(0);
            let taken = names
                .iter()
                .any(|n| version_of(n).parse::<u128>().ok() == Some(value));
            if !taken {
                let dir = *rng.pick(&["", "", "", "", "sub/", "../more/"]);
                let rel = format!("{dir}{digits}_m{value}.rb");
                let create = format!("CREATE TABLE IF NOT EXISTS t_{value} (id int)");
                let broken = rng.below(3) == 0;
                let up: Vec<&str> = if broken {
                    vec![&create, "SELECT 1/0"]
                } else {
                    vec![&create]
                };
                let no_tx = rng.below(2) == 0;
                w.write(&rel, &format!("M{value}"), &up, no_tx);
            }
        }
        9 => {
            // Fix every file; delete the rows without a file.
            for (rel, class) in w.files.clone() {
                let value: u128 = version_of(&rel).parse().unwrap_or(0);
                let create = format!("CREATE TABLE IF NOT EXISTS t_{value} (id int)");
                w.write(&rel, &class, &[&create], false);
            }
            if w.exists("schema_migrations") {
                let keep: Vec<String> = w
                    .files
                    .keys()
                    .map(|n| version_of(n).parse::<u128>().unwrap_or(0).to_string())
                    .collect();
                let keep = if keep.is_empty() {
                    "'-1'".to_string()
                } else {
                    keep.iter()
                        .map(|v| format!("'{v}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                w.sql(&format!(
                    "DELETE FROM schema_migrations WHERE ltrim(version, '0') NOT IN ({keep})"
                ));
            }
        }
        10 if w.exists("schema_migrations") => {
            // A row by hand: a version with leading zeros of a file's, or one without a file.
            let row = if !names.is_empty() && rng.below(2) == 0 {
                format!("0{}", version_of(&names[rng.below(names.len())]))
            } else {
                format!("2099010{}000000", rng.below(9) + 1)
            };
            w.sql(&format!(
                "INSERT INTO schema_migrations VALUES ('{row}') ON CONFLICT DO NOTHING"
            ));
        }
        _ if names.len() > 1 => {
            // Delete a file: applied, its row stays (NO FILE) unless deleted too.
            let rel = rng.pick(&names).clone();
            w.remove(&rel);
            if rng.below(2) == 0 && w.exists("schema_migrations") {
                let v = version_of(&rel);
                w.sql(&format!(
                    "DELETE FROM schema_migrations WHERE ltrim(version, '0') = ltrim('{v}', '0')"
                ));
            }
        }
        _ => drop(w.rake("db:migrate")),
    }
}

#[test]
fn rails_migrate_status_and_the_gate_agree_at_every_step() {
    let mut w = World::new(0);
    corpus(&mut w);
    eprintln!(
        "Rails differential (corpus): {} comparisons, each direct and through PgBouncer, \
         at-least and exact; states (at-least/exact) seen: {:?}",
        w.compared, w.seen
    );
}

#[test]
fn rails_and_the_gate_agree_at_every_random_step() {
    let seed = tools::seed();
    let mut w = World::new(seed);
    w.write(
        "20240101000001_create_a.rb",
        "CreateA",
        &["CREATE TABLE a (id int)"],
        false,
    );
    w.compare(); // no table
    let mut rng = Rng::new(seed);
    // Each comparison is ~1 s (four checks and a status, three rake tasks in the session): a
    // plain run takes a dozen random steps, `--full` (TOOLS_DIFF_STEPS) as many as it asks.
    let steps = tools::steps_or(12);
    for _ in 0..steps {
        step(&mut w, &mut rng);
        w.compare();
    }
    eprintln!(
        "Rails differential (random): {} comparisons (seed {seed}), each direct and through \
         PgBouncer, at-least and exact; states (at-least/exact) seen: {:?}",
        w.compared, w.seen
    );
}

/// The session's answers are a fresh `rake`'s, on a state with an applied, a pending and a
/// `NO FILE` version; then the read-only proof: the gate as a role with only `SELECT` on
/// `schema_migrations`, and on a fresh database `db:abort_if_pending_migrations` failing for
/// want of `CREATE` where the gate says `no_table`, and as the owner creating both tables.
#[test]
fn the_gate_reads_with_select_alone_where_abort_if_pending_creates_tables() {
    let mut w = World::new(0);
    w.write(
        "20240101000001_create_a.rb",
        "CreateA",
        &["SELECT 1"],
        false,
    );
    assert_eq!(w.rake("db:migrate").0, 0);
    w.sql("INSERT INTO schema_migrations VALUES ('0042')");
    w.write(
        "20240101000002_create_b.rb",
        "CreateB",
        &["SELECT 1"],
        false,
    );
    let (session, _) = w.oracle();
    let url = w.db.migrator_url("app");
    let mut fresh = Oracle::default();
    let (code, text) = rake(&w.rake, &w.app, &url, &["db:migrate:status"]);
    parse_status(code, &text, &mut fresh);
    let (_, text) = rake(&w.rake, &w.app, &url, &["db:version"]);
    fresh.version = parse_version(&text);
    let (code, text) = rake(&w.rake, &w.app, &url, &["db:abort_if_pending_migrations"]);
    parse_abort(code, &text, &mut fresh);
    assert_eq!(session, fresh, "the session and a fresh rake");
    assert_eq!(
        (&session.up[..], &session.down[..], &session.no_file[..]),
        (
            &["20240101000001".to_string()][..],
            &["20240101000002".to_string()][..],
            &["042".to_string()][..]
        ),
        "{session:?}"
    );
    w.compare();
    w.rake("db:migrate");
    let dir = w.dir().display().to_string();
    let vars = [("GATE_MIGRATIONS_DIR", dir.as_str())];
    tools::select_only(&w.db.pg, "app", "reader", "schema_migrations");
    let c = tools::check("rails", &w.db.pg.url("reader", "app", ""), &vars);
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    assert_eq!(c.json["expected"], "20240101000002", "{c:?}");
    // A fresh database: the gate says no_table as a role without CREATE; abort_if_pending as
    // that role fails for want of CREATE, and as the owner creates both tables.
    let db = &w.db;
    db.fresh("empty");
    db.pg
        .sql("empty", "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    let c = tools::check("rails", &db.pg.url("gate", "empty", ""), &vars);
    assert_eq!((c.code, c.state()), (Some(1), "no_table"), "{c:?}");
    let gate_url = db.pg.url("gate", "empty", "sslmode=disable");
    let (code, out) = rake(
        &w.rake,
        &w.app,
        &gate_url,
        &["db:abort_if_pending_migrations"],
    );
    assert_ne!(code, 0, "abort_if_pending as a role without CREATE: {out}");
    assert!(out.contains("permission denied"), "{out}");
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    assert_eq!(db.pg.sql("empty", tables), "0");
    let (code, out) = rake(
        &w.rake,
        &w.app,
        &db.migrator_url("empty"),
        &["db:abort_if_pending_migrations"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("20240101000002 CreateB"), "{out}");
    assert_eq!(
        db.pg.sql(
            "empty",
            "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables \
             WHERE schemaname = 'public'"
        ),
        "ar_internal_metadata schema_migrations"
    );
}

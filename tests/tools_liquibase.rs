//! Liquibase's real CLI (4.33.0, `scripts/peers/liquibase.sh`: `LiquibaseCommandLine`, many
//! command lines in one JVM through `liquibase-session`) against the gate: after every step of
//! the characterisation's scenarios (an XML changelog including a formatted-SQL one; update,
//! update-count, changesets failing half-way in a transaction, with `runInTransaction="false"`
//! and with `failOnError="false"`, rollback-count, changelog-sync, a `MARK_RAN` precondition,
//! contexts, `runAlways`, rows whose changeset is gone, the lock held while a changeset runs
//! and left by a killed Liquibase, release-locks), `liquibase status --verbose` and the gate
//! (direct and through PgBouncer, as a role with only `SELECT`, from the manifest the offline
//! `status --verbose` writes in a JVM of its own after every change of the changelog) must
//! agree: its list is the gate's pending list, "is up to date" with a free lock is the gate's
//! readiness under `at-least`, and the rows it ignores are the gate's `ahead`
//! (`docs/tools/liquibase.md`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::tools::{self, Check, LineSession, ToolDb, check_both, peer, sorted};

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<databaseChangeLog \
    xmlns=\"http://www.liquibase.org/xml/ns/dbchangelog\"\n  \
    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n  \
    xsi:schemaLocation=\"http://www.liquibase.org/xml/ns/dbchangelog \
    http://www.liquibase.org/xml/ns/dbchangelog/dbchangelog-4.33.xsd\">\n";
const BASE: &str = "  <changeSet id=\"1\" author=\"alice\"><sql>CREATE TABLE a (id int)</sql>\
    <rollback>DROP TABLE a</rollback></changeSet>\n  <changeSet id=\"2\" author=\"bob\">\
    <sql>CREATE TABLE b (id int)</sql><rollback>DROP TABLE b</rollback></changeSet>\n";

/// A step whose comparison differs as `docs/tools/liquibase.md` documents.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Known {
    Agree,
    /// `runAlways` changesets with a row: `status` lists them as not applied (they run at
    /// every update); the gate counts them applied.
    RunAlways(&'static str),
}

/// One JVM running Liquibase's command line, a command a line (its stderr in a file of its own).
struct Session {
    session: LineSession,
    stderr: PathBuf,
}

impl Session {
    fn run(&mut self, args: &[&str]) -> (i32, String) {
        let before = std::fs::metadata(&self.stderr).map_or(0, |m| m.len()) as usize;
        let mut line = vec!["--show-banner=false"];
        line.extend_from_slice(args);
        let (code, lines) = self.session.run(&line.join("\t"), Duration::from_secs(300));
        let mut text = String::new();
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        let err = std::fs::read(&self.stderr).unwrap_or_default();
        text.push_str(&String::from_utf8_lossy(&err[before.min(err.len())..]));
        (code, text)
    }
}

struct World {
    db: ToolDb,
    root: PathBuf,
    liquibase: PathBuf,
    session: Session,
    /// The changesets of the master changelog after BASE (XML).
    extra: String,
    contexts: Option<&'static str>,
    history: Vec<String>,
    compared: usize,
    seen: BTreeMap<String, usize>,
}

impl World {
    fn new() -> World {
        let root = support::temp_dir("liquibase-project");
        std::fs::create_dir_all(root.join("db/more")).expect("mkdir");
        std::fs::write(
            root.join("db/more/more.sql"),
            "--liquibase formatted sql\n\n--changeset carol:3\nCREATE TABLE c (id int);\n\
             --rollback DROP TABLE c;\n",
        )
        .expect("write");
        let db = ToolDb::start();
        let liquibase = peer("liquibase");
        let session_bin = liquibase.with_file_name("liquibase-session");
        let stderr = root.join("session.err");
        let mut command = Self::command(&db, &root, &session_bin);
        command.stderr(Stdio::from(std::fs::File::create(&stderr).expect("log")));
        let session = Session {
            session: LineSession::start("liquibase", command),
            stderr,
        };
        let mut w = World {
            db,
            root,
            liquibase,
            session,
            extra: String::new(),
            contexts: None,
            history: Vec::new(),
            compared: 0,
            seen: BTreeMap::new(),
        };
        w.changelog("");
        w
    }

    /// Liquibase's settings, as a migration Job sets them (the migrator's JDBC URL).
    fn command(db: &ToolDb, root: &std::path::Path, program: &std::path::Path) -> Command {
        let url = db.migrator_url("app");
        let rest = url
            .split_once('@')
            .map(|(_, r)| r.trim_end_matches("?sslmode=disable"))
            .unwrap_or_default();
        let mut cmd = Command::new(program);
        cmd.current_dir(root)
            .env("LIQUIBASE_COMMAND_URL", format!("jdbc:postgresql://{rest}"))
            .env("LIQUIBASE_COMMAND_USERNAME", "migrator")
            .env("LIQUIBASE_COMMAND_PASSWORD", support::PASSWORD)
            .env("LIQUIBASE_COMMAND_CHANGELOG_FILE", "db/changelog.xml");
        cmd
    }

    /// The master changelog: BASE, then `extra`, then the formatted-SQL include; and the
    /// build step (the manifest, offline, in a JVM of its own).
    fn changelog(&mut self, extra: &str) {
        self.extra = extra.to_string();
        let text = format!(
            "{HEAD}{BASE}{extra}  <include file=\"more/more.sql\" \
             relativeToChangelogFile=\"true\"/>\n</databaseChangeLog>\n"
        );
        std::fs::write(self.root.join("db/changelog.xml"), text).expect("write");
        self.history.push(format!("changelog: base + {extra:?}"));
        let offline = format!(
            "--url=offline:postgresql?outputLiquibaseSql=none&changeLogFile={}",
            self.root.join("offline.csv").display()
        );
        // The wrapper passes --show-banner=false itself.
        let mut args = vec![offline];
        if let Some(c) = self.contexts {
            args.push(format!("--contexts={c}"));
        }
        args.extend(["status".into(), "--verbose".into()]);
        let out = Self::command(&self.db, &self.root, &self.liquibase)
            .args(&args)
            .output()
            .expect("liquibase offline status");
        let _ = std::fs::remove_file(self.root.join("offline.csv"));
        let text = String::from_utf8_lossy(&out.stdout);
        let manifest: String = changeset_lines(&text)
            .iter()
            .map(|key| {
                let mut parts = key.rsplitn(3, "::");
                let (author, id, file) = (
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                );
                format!("{id}\t{author}\t{file}\n")
            })
            .collect();
        assert!(
            out.status.success() && !manifest.is_empty(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(self.root.join("expected"), manifest).expect("write");
    }

    fn lb(&mut self, args: &[&str]) -> (i32, String) {
        let mut all: Vec<String> = Vec::new();
        if let Some(c) = self.contexts {
            all.push(format!("--contexts={c}"));
        }
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let (code, out) = self.session.run(&all);
        if args != ["status", "--verbose"] {
            let summary: Vec<&str> = out
                .lines()
                .filter(|l| !l.starts_with("WARNING: License") && !l.trim().is_empty())
                .take(3)
                .collect();
            self.history.push(format!(
                "liquibase {} -> {code}: {}",
                args.join(" "),
                summary.join(" | ")
            ));
        }
        (code, out)
    }

    fn sql(&mut self, sql: &str) {
        self.history.push(format!("sql: {sql}"));
        self.db.pg.sql("app", sql);
    }

    fn context(&self) -> String {
        format!(
            "step {}; changelog extra {:?}; steps so far:\n  {}",
            self.compared,
            self.extra,
            self.history.join("\n  ")
        )
    }

    fn exists(&self) -> bool {
        self.db.pg.sql(
            "app",
            "SELECT to_regclass('public.databasechangelog') IS NOT NULL",
        ) == "t"
    }

    fn locked(&self) -> bool {
        self.db.pg.sql(
            "app",
            "SELECT to_regclass('public.databasechangeloglock') IS NOT NULL",
        ) == "t"
            && self.db.pg.sql(
                "app",
                "SELECT coalesce(bool_or(locked), false) FROM databasechangeloglock",
            ) == "t"
    }

    fn rows(&self) -> BTreeSet<String> {
        self.db
            .pg
            .sql(
                "app",
                "SELECT filename || '::' || id || '::' || author FROM databasechangelog",
            )
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn gate(&self) -> (Check, Check) {
        let path = self.root.join("expected").display().to_string();
        check_both(
            &self.db,
            "app",
            "liquibase",
            &[("GATE_EXPECT_FILE", &path)],
            &self.context(),
        )
    }

    fn compare(&mut self) {
        self.compare_as(Known::Agree);
    }

    /// The gate first (`status` creates both tables), then `status --verbose`, compared.
    fn compare_as(&mut self, known: Known) {
        self.compared += 1;
        let existed = self.exists();
        let locked = self.locked();
        let (at_least, exact) = self.gate();
        *self
            .seen
            .entry(format!("{}/{}", at_least.state(), exact.state()))
            .or_default() += 1;
        let (code, out) = self.lb(&["status", "--verbose"]);
        let ctx = format!("{}\n{out}", self.context());
        assert_eq!(code, 0, "{ctx}");
        let listed = changeset_lines(&out);
        assert_eq!(
            listed.is_empty(),
            out.contains("is up to date"),
            "{ctx}: the list and 'up to date'"
        );
        assert!(at_least.ids("failed").is_empty(), "{ctx}: no failed state");
        if !existed {
            assert_eq!(at_least.state(), "no_table", "{ctx}\n{at_least:?}");
            assert_eq!(sorted(at_least.ids("pending")), sorted(listed), "{ctx}");
            assert!(self.exists(), "{ctx}: status creates its tables");
            return;
        }
        let mut theirs = listed.clone();
        if let Known::RunAlways(key) = known {
            assert!(theirs.iter().any(|k| k == key), "{ctx}: {key} listed");
            assert!(!at_least.ids("pending").iter().any(|k| k == key), "{ctx}");
            theirs.retain(|k| k != key);
        }
        assert_eq!(
            sorted(at_least.ids("pending")),
            sorted(theirs.clone()),
            "{ctx}: the gate's pending list is status --verbose's\n{at_least:?}"
        );
        let hint = at_least.json["hint"].as_str().unwrap_or("");
        assert_eq!(
            hint.contains("migration in progress"),
            locked,
            "{ctx}\n{at_least:?}"
        );
        assert_eq!(
            theirs.is_empty() && !locked,
            at_least.state() == "ready",
            "{ctx}: up to date and unlocked vs the gate under at-least\n{at_least:?}"
        );
        // Rows the manifest does not name: Liquibase ignores them; the gate calls them ahead.
        let manifest = std::fs::read_to_string(self.root.join("expected")).unwrap_or_default();
        let known_keys: BTreeSet<String> = manifest
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.len() == 3).then(|| format!("{}::{}::{}", f[2], f[0], f[1]))
            })
            .collect();
        let unknown: Vec<String> = self.rows().difference(&known_keys).cloned().collect();
        assert_eq!(
            sorted(at_least.ids("ahead")),
            sorted(unknown.clone()),
            "{ctx}"
        );
        let exact_state = match (at_least.state(), unknown.is_empty()) {
            ("ready", false) => "ahead",
            (other, _) => other,
        };
        assert_eq!(exact.state(), exact_state, "{ctx}\n{exact:?}");
        // status lists every changeset of the manifest, applied unless status lists it.
        let url = self.db.pg.url("gate", "app", "");
        let path = self.root.join("expected").display().to_string();
        let (_, doc) = tools::status("liquibase", &url, &[("GATE_EXPECT_FILE", &path)]);
        let pending: BTreeSet<&String> = theirs.iter().collect();
        let mut want: Vec<(String, String)> = known_keys
            .iter()
            .map(|k| {
                let state = if pending.contains(k) {
                    "pending"
                } else {
                    "applied"
                };
                (k.clone(), state.to_string())
            })
            .collect();
        want.sort();
        let mut ours = tools::listed(&doc, "migrations");
        ours.sort();
        assert_eq!(ours, want, "{ctx}: {doc}");
    }

    /// `liquibase update` in a JVM of its own, in the background, once `ready` is observed.
    fn update_in_background(&mut self, ready: &str) -> Child {
        self.history.push("liquibase update & (background)".into());
        let mut command = Self::command(&self.db, &self.root, &self.liquibase);
        command.args(["update"]);
        tools::in_background(
            command,
            &self.db.pg,
            ready,
            Duration::from_secs(180),
            &self.root.join("background.log"),
            &self.context(),
        )
    }
}

/// The `file::id::author` lines of `status --verbose`.
fn changeset_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("     "))
        .filter(|l| l.matches("::").count() >= 2)
        .map(|l| l.trim().to_string())
        .collect()
}

fn dave(attrs: &str, body: &str) -> String {
    format!("  <changeSet id=\"4\" author=\"dave\"{attrs}>{body}</changeSet>\n")
}

#[test]
fn liquibase_status_and_the_gate_agree_at_every_step() {
    let mut w = World::new();
    w.compare(); // no table: status creates both tables
    w.lb(&["update-count", "--count=1"]);
    w.compare();
    w.lb(&["update"]);
    w.compare();
    let failing = "<sql>CREATE TABLE d (id int)</sql><sql>SELECT 1/0</sql>\
                   <rollback>DROP TABLE d</rollback>";
    w.changelog(&dave("", failing));
    assert_ne!(w.lb(&["update"]).0, 0);
    w.compare(); // failed in its transaction: no row
    w.changelog(&dave(" runInTransaction=\"false\"", failing));
    assert_ne!(w.lb(&["update"]).0, 0);
    w.compare(); // table d stays, still no row
    w.sql("DROP TABLE d");
    w.changelog(&dave(" failOnError=\"false\"", "<sql>SELECT 1/0</sql>"));
    w.lb(&["update"]);
    w.compare(); // failOnError=false: no row either
    w.changelog(&dave(
        "",
        "<sql>CREATE TABLE d (id int)</sql><rollback>DROP TABLE d</rollback>",
    ));
    w.lb(&["update"]);
    w.compare();
    w.lb(&["rollback-count", "--count=1"]);
    w.compare();
    w.lb(&["changelog-sync"]); // records 4 without running it
    w.compare();
    w.sql("DELETE FROM databasechangelog WHERE id = '4'");
    w.changelog(&dave(
        "",
        "<preConditions onFail=\"MARK_RAN\"><tableExists tableName=\"nope\"/></preConditions>\
         <sql>SELECT 1</sql>",
    ));
    w.compare();
    w.lb(&["update"]); // MARK_RAN
    w.compare();
    // runAlways and contexts (the manifest with the Job's --contexts).
    w.contexts = Some("prod");
    let five_six = "  <changeSet id=\"5\" author=\"erin\" runAlways=\"true\"><sql>SELECT 1</sql>\
                    </changeSet>\n  <changeSet id=\"6\" author=\"frank\" context=\"test\">\
                    <sql>SELECT 1</sql></changeSet>\n";
    w.changelog(five_six);
    w.compare();
    w.lb(&["update"]);
    w.compare_as(Known::RunAlways("db/changelog.xml::5::erin"));
    w.contexts = None;
    // Rows whose changeset is gone (4, 5): Liquibase up to date; the gate ahead.
    w.changelog("");
    w.compare();
    // The lock: seen while a changeset runs …
    w.changelog(
        "  <changeSet id=\"7\" author=\"gina\"><sql>SELECT pg_sleep(10)</sql></changeSet>\n",
    );
    let mut child = w
        .update_in_background("SELECT coalesce(bool_or(locked), false) FROM databasechangeloglock");
    // Behind, "migration in progress"; status says nothing of the lock (and a second update
    // waits for it: "Waiting for changelog lock....", not run here).
    w.compare();
    assert!(child.wait().expect("wait").success());
    w.compare();
    // … and left by a Liquibase killed during a changeset.
    w.changelog(
        "  <changeSet id=\"8\" author=\"hal\"><sql>SELECT pg_sleep(60)</sql></changeSet>\n",
    );
    let mut child = w.update_in_background(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' \
         AND pid <> pg_backend_pid()",
    );
    child.kill().expect("kill -9");
    let _ = child.wait();
    w.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' \
         AND pid <> pg_backend_pid()",
    );
    w.compare(); // stale lock: behind, "migration in progress"
    w.lb(&["release-locks"]);
    w.compare();
    w.changelog("  <changeSet id=\"8\" author=\"hal\"><sql>SELECT 1</sql></changeSet>\n");
    w.lb(&["update"]);
    w.compare();
    eprintln!(
        "Liquibase differential: {} comparisons, each direct and through PgBouncer, at-least \
         and exact; states (at-least/exact) seen: {:?}",
        w.compared, w.seen
    );
}

#[test]
fn the_gate_reads_with_select_alone_where_liquibase_status_writes() {
    let mut w = World::new();
    w.lb(&["update"]);
    tools::select_only(&w.db.pg, "app", "reader", "databasechangelog");
    w.db.pg
        .sql("app", "GRANT SELECT ON databasechangeloglock TO reader");
    let path = w.root.join("expected").display().to_string();
    let c = tools::check(
        "liquibase",
        &w.db.pg.url("reader", "app", ""),
        &[("GATE_EXPECT_FILE", &path)],
    );
    assert_eq!((c.code, c.state()), (Some(0), "ready"), "{c:?}");
    assert_eq!(c.json["expected"], "db/more/more.sql::3::carol", "{c:?}");
    // On an empty database the gate says no_table as a role without CREATE, while Liquibase's
    // status, as that role, fails: it creates its tables first.
    w.db.fresh("empty");
    let c = tools::check(
        "liquibase",
        &w.db.pg.url("gate", "empty", ""),
        &[("GATE_EXPECT_FILE", &path)],
    );
    assert_eq!(c.state(), "no_table", "{c:?}");
    w.db.pg
        .sql("empty", "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    let url = w.db.pg.url("gate", "empty", "");
    let rest = url.split_once('@').map(|(_, r)| r).unwrap_or_default();
    let out = World::command(&w.db, &w.root, &w.liquibase)
        .env("LIQUIBASE_COMMAND_URL", format!("jdbc:postgresql://{rest}"))
        .env("LIQUIBASE_COMMAND_USERNAME", "gate")
        .args(["status", "--verbose"])
        .output()
        .expect("liquibase status");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "status as a role without CREATE: {text}"
    );
    assert!(text.contains("permission denied"), "{text}");
}

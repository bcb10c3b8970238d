//! The tool settings end to end, on the real binary: `GATE_TOOL` and its refusals, `GATE_TABLE`
//! beside goose's `GOOSE_TABLE`, `GATE_EXPECT_FILE`, the safe name resolution for every tool's
//! table through a transaction-mode pooler, and what `serve` exports for a tool whose ids are
//! strings. Each of these fails on the previous release, which knew goose only.

mod support;

use std::time::Duration;
use support::{Bouncer, Postgres, Sidecar, gate, psql_at, run, temp_dir};

const LIMIT: Duration = Duration::from_secs(30);

/// A cluster with database `app` and role `gate`, which owns nothing.
fn cluster() -> Postgres {
    let pg = Postgres::start();
    pg.create_db_and_role("app", "gate");
    pg
}

/// golang-migrate's table as the tool makes it, at `version`, readable by `gate`.
fn golang_migrate_at(pg: &Postgres, version: i64, dirty: bool) {
    pg.sql(
        "app",
        &format!(
            "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); \
             INSERT INTO schema_migrations VALUES ({version}, {dirty}); \
             GRANT SELECT ON schema_migrations TO gate"
        ),
    );
}

#[test]
fn an_unknown_tool_is_refused_naming_gate_tool() {
    let pg = cluster();
    pg.goose_table("app", "goose_db_version", &[(1, true)], Some("gate"));
    for tool in ["Flyway", "migrate", "atlas"] {
        let r = run(
            gate(&["check"])
                .env("DATABASE_URL", pg.url("gate", "app", ""))
                .env("GATE_EXPECT_VERSION", "1")
                .env("GATE_TOOL", tool),
            LIMIT,
        );
        assert_eq!(r.code, Some(2), "{tool}: {r:?}");
        assert!(
            r.stderr.contains("GATE_TOOL")
                && r.stderr.contains("golang-migrate, flyway, alembic, dbmate"),
            "{tool}: {r:?}"
        );
    }
    // The default is goose, every name unchanged.
    let r = run(
        gate(&["check"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_EXPECT_VERSION", "1"),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
}

#[test]
fn near_misses_of_the_tool_variables_stop_the_gate() {
    let pg = cluster();
    pg.goose_table("app", "goose_db_version", &[(1, true)], Some("gate"));
    for (set, meant) in [
        ("GATE_TOOLS", "GATE_TOOL"),
        ("GATE_TABLE_NAME", "GATE_TABLE"),
        ("GATE_EXPECT_FILES", "GATE_EXPECT_FILE"),
    ] {
        let r = run(
            gate(&["check"])
                .env("DATABASE_URL", pg.url("gate", "app", ""))
                .env("GATE_EXPECT_VERSION", "1")
                .env(set, "x"),
            LIMIT,
        );
        assert_eq!(r.code, Some(2), "{set}: {r:?}");
        assert!(
            r.stderr.contains(set) && r.stderr.contains(&format!("rename it to {meant}")),
            "{set}: {r:?}"
        );
    }
}

#[test]
fn gate_table_wins_over_goose_table_for_goose() {
    let pg = cluster();
    // GOOSE_TABLE names a lagging copy; GATE_TABLE the table the Job migrates.
    pg.goose_table("app", "lagging", &[(1, true)], Some("gate"));
    pg.goose_table("app", "current", &[(1, true), (2, true)], Some("gate"));
    let r = run(
        gate(&["check"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_EXPECT_VERSION", "2")
            .env("GOOSE_TABLE", "lagging")
            .env("GATE_TABLE", "current"),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.starts_with("ready: current at version 2"), "{r:?}");
    assert!(
        r.stderr.contains(
            "GOOSE_TABLE and GATE_TABLE are both set, to different values: GATE_TABLE is used"
        ),
        "{r:?}"
    );
    // A flag of either name beats both variables, as in every alias group.
    let r = run(
        gate(&["check", "--goose-table", "current"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_EXPECT_VERSION", "2")
            .env("GATE_TABLE", "lagging"),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
}

#[test]
fn goose_table_is_goose_s_alone() {
    let pg = cluster();
    golang_migrate_at(&pg, 2, false);
    let r = run(
        gate(&["check"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_TOOL", "golang-migrate")
            .env("GATE_EXPECT_VERSION", "2")
            .env("GOOSE_TABLE", "goose_db_version"),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "reads schema_migrations: {r:?}");
    assert!(
        r.stderr.contains("GOOSE_TABLE is goose's and is ignored"),
        "{r:?}"
    );
}

#[test]
fn gate_expect_file_is_for_the_other_tools() {
    let pg = cluster();
    pg.goose_table("app", "goose_db_version", &[(1, true)], Some("gate"));
    let dir = temp_dir("manifest");
    let manifest = dir.join("expected");
    std::fs::write(&manifest, "1\n").expect("write");
    let r = run(
        gate(&["check"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_EXPECT_FILE", &manifest),
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains("GATE_EXPECT_FILE: goose's expectation"),
        "{r:?}"
    );
    // golang-migrate with versions embedded in the binary: the manifest is the expectation.
    golang_migrate_at(&pg, 1, false);
    std::fs::write(&manifest, "# iofs\n1\n2\n").expect("write");
    let r = run(
        gate(&["check", "--json"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_TOOL", "golang-migrate")
            .env("GATE_EXPECT_FILE", &manifest),
        LIMIT,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(json["pending"], serde_json::json!([2]), "{json}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_temporary_table_never_shadows_a_tool_s_table_through_a_pooler() {
    // One server connection for the gate's role: what another client leaves on it (a temporary
    // schema_migrations at a dirty version) is there when the gate's check runs.
    let pg = cluster();
    golang_migrate_at(&pg, 2, false);
    let bouncer = Bouncer::start_with_pool_size(&pg, &["gate"], 1);
    psql_at(
        &bouncer.url("gate", "app", ""),
        "CREATE TEMP TABLE schema_migrations (version bigint, dirty boolean); \
         INSERT INTO schema_migrations VALUES (9, true)",
    );
    let r = run(
        gate(&["check", "--json"])
            .env("DATABASE_URL", bouncer.url("gate", "app", ""))
            .env("GATE_TOOL", "golang-migrate")
            .env("GATE_EXPECT_VERSION", "2"),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(json["resolved_table"], "public.schema_migrations", "{json}");
    assert_eq!(json["version"], 2, "{json}");
    // Without the real table, the temporary one is refused, not read.
    pg.sql("app", "DROP TABLE schema_migrations");
    let r = run(
        gate(&["check"])
            .env("DATABASE_URL", bouncer.url("gate", "app", ""))
            .env("GATE_TOOL", "golang-migrate")
            .env("GATE_EXPECT_VERSION", "2"),
        LIMIT,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(
        r.stdout.contains("a temporary table") && r.stdout.contains("golang-migrate's table"),
        "{r:?}"
    );
}

#[test]
fn rows_another_tool_wrote_are_a_rejection() {
    // dbmate's table where golang-migrate's is expected: no dirty column.
    let pg = cluster();
    pg.sql(
        "app",
        "CREATE TABLE schema_migrations (version varchar PRIMARY KEY); \
         INSERT INTO schema_migrations VALUES ('001'); GRANT SELECT ON schema_migrations TO gate",
    );
    let r = run(
        gate(&["wait"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_TOOL", "golang-migrate")
            .env("GATE_EXPECT_VERSION", "1")
            .env("GATE_TIMEOUT", "20s"),
        LIMIT,
    );
    assert_eq!(r.code, Some(3), "fails fast: {r:?}");
    // And two rows are not golang-migrate's either.
    pg.sql("app", "DROP TABLE schema_migrations");
    pg.sql(
        "app",
        "CREATE TABLE schema_migrations (version bigint, dirty boolean); \
         INSERT INTO schema_migrations VALUES (1, false), (2, false); \
         GRANT SELECT ON schema_migrations TO gate",
    );
    let r = run(
        gate(&["check"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_TOOL", "golang-migrate")
            .env("GATE_EXPECT_VERSION", "1"),
        LIMIT,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("is it golang-migrate's table?"), "{r:?}");
}

#[test]
fn serve_exports_string_ids_as_a_label_and_the_tool() {
    let pg = cluster();
    pg.sql(
        "app",
        "CREATE TABLE schema_migrations (version varchar PRIMARY KEY); \
         INSERT INTO schema_migrations VALUES ('001'), ('002'); \
         GRANT SELECT ON schema_migrations TO gate",
    );
    let sidecar = Sidecar::start(
        &pg.url("gate", "app", ""),
        &[("GATE_TOOL", "dbmate"), ("GATE_EXPECT_VERSION", "002")],
    );
    sidecar.until_ready_is(200, Duration::from_secs(30));
    let (_, metrics) = sidecar.get("/metrics");
    assert!(
        metrics.contains("schema_gate_version_info{version=\"002\"} 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("schema_gate_version "),
        "no number for a string id: {metrics}"
    );
    assert!(
        metrics.contains(
            "schema_gate_expectation_info{expected=\"002\",policy=\"at-least\",table=\"schema_migrations\",tool=\"dbmate\"} 1"
        ),
        "{metrics}"
    );
    let status = sidecar.status();
    assert_eq!(status["tool"], "dbmate", "{status}");
    assert_eq!(status["version"], "002", "{status}");
    // A dirty golang-migrate row fails readiness, as failed.
    pg.sql("app", "DROP TABLE schema_migrations");
    golang_migrate_at(&pg, 2, true);
    let sidecar = Sidecar::start(
        &pg.url("gate", "app", ""),
        &[
            ("GATE_TOOL", "golang-migrate"),
            ("GATE_EXPECT_VERSION", "2"),
        ],
    );
    support::eventually(Duration::from_secs(30), "a failed verdict", || {
        (sidecar.status()["state"] == "failed").then_some(())
    });
    let (code, reason) = sidecar.get("/readyz");
    assert_eq!(code, 503, "{reason}");
    assert!(reason.contains("failed: 2"), "{reason}");
    let (_, metrics) = sidecar.get("/metrics");
    assert!(
        metrics.contains("schema_gate_state{state=\"failed\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("schema_gate_version 2"), "{metrics}");
}

/// One query per check, for every tool: a cold `check` and a cold `status` are the startup,
/// SCRAM's two messages and one simple-protocol `Query` (the tool's whole read in one
/// transaction), directly and through PgBouncer; nothing else is sent but `Terminate`. Counted
/// by the proxy of `tests/round_trips.rs`. The tables are made by hand in each tool's shape:
/// what is under test is the traffic, not what the rows mean (the differentials hold that to
/// the real CLIs).
#[test]
fn every_tool_s_check_and_status_are_one_query() {
    let pg = cluster();
    pg.sql(
        "app",
        "CREATE SCHEMA gm; CREATE SCHEMA db; \
         CREATE TABLE gm.schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); \
         INSERT INTO gm.schema_migrations VALUES (1, false); \
         CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), \
           description varchar(200) NOT NULL, type varchar(20) NOT NULL, script varchar(1000) NOT NULL, \
           checksum int, installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(), \
           execution_time int NOT NULL, success boolean NOT NULL); \
         INSERT INTO flyway_schema_history VALUES (1, '1', 'a', 'SQL', 'V1__a.sql', 0, 'migrator', now(), 1, true); \
         CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); \
         INSERT INTO alembic_version VALUES ('a1'); \
         CREATE TABLE db.schema_migrations (version varchar(128) PRIMARY KEY); \
         INSERT INTO db.schema_migrations VALUES ('001'); \
         GRANT USAGE ON SCHEMA gm, db TO gate; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public, gm, db TO gate",
    );
    // Issue 19's tools' tables, in their tools' own shapes (the rows by hand: this test counts
    // round trips, the differentials hold the rules to the real CLIs).
    pg.sql(
        "app",
        "CREATE SCHEMA rl; \
         CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255) NOT NULL, \
           name varchar(255) NOT NULL, applied timestamptz NOT NULL DEFAULT now()); \
         INSERT INTO django_migrations (app, name) VALUES ('blog', '0001_initial'); \
         CREATE TABLE rl.schema_migrations (version varchar PRIMARY KEY); \
         INSERT INTO rl.schema_migrations VALUES ('1'); \
         CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, \
           finished_at timestamptz, migration_name varchar(255) NOT NULL, logs text, \
           rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(), \
           applied_steps_count int NOT NULL DEFAULT 0); \
         INSERT INTO _prisma_migrations VALUES ('p1', 'c', now(), '20240101_init', NULL, NULL, now(), 1); \
         CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL, \
           installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL, \
           checksum bytea NOT NULL, execution_time bigint NOT NULL); \
         INSERT INTO _sqlx_migrations VALUES (1, 'a', now(), true, '\\x00', 1); \
         CREATE TABLE knex_migrations (id serial PRIMARY KEY, name varchar(255), batch int, \
           migration_time timestamptz); \
         INSERT INTO knex_migrations (name, batch, migration_time) VALUES ('1_a.js', 1, now()); \
         CREATE TABLE knex_migrations_lock (index serial PRIMARY KEY, is_locked int); \
         INSERT INTO knex_migrations_lock (is_locked) VALUES (0); \
         CREATE TABLE databasechangelog (id varchar(255) NOT NULL, author varchar(255) NOT NULL, \
           filename varchar(255) NOT NULL, dateexecuted timestamp NOT NULL, \
           orderexecuted int NOT NULL, exectype varchar(10) NOT NULL); \
         INSERT INTO databasechangelog VALUES ('1', 'alice', 'db/changelog.xml', now(), 1, 'EXECUTED'); \
         CREATE TABLE databasechangeloglock (id int PRIMARY KEY, locked boolean NOT NULL, \
           lockgranted timestamp, lockedby varchar(255)); \
         INSERT INTO databasechangeloglock VALUES (1, false, NULL, NULL); \
         GRANT USAGE ON SCHEMA rl TO gate; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public, rl TO gate",
    );
    let dir = temp_dir("tools-one-query");
    let manifest = dir.join("expected");
    std::fs::write(&manifest, "a1\n").expect("manifest");
    let manifest = manifest.to_str().expect("utf-8");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("manifest");
        path.to_str().expect("utf-8").to_string()
    };
    let django = write(
        "django",
        "# schema-gate expectation: Django migrations\nblog.0001_initial\n",
    );
    let knex = write("knex", "1_a.js\n");
    let prisma = write("prisma", "20240101_init\n");
    let liquibase = write("liquibase", "1\talice\tdb/changelog.xml\n");
    let bouncer = Bouncer::start(&pg, &["gate"]);
    let tools: [(&str, &[(&str, &str)]); 10] = [
        (
            "golang-migrate",
            &[
                ("GATE_TABLE", "gm.schema_migrations"),
                ("GATE_EXPECT_VERSION", "1"),
            ],
        ),
        ("flyway", &[("GATE_EXPECT_VERSION", "1")]),
        ("alembic", &[("GATE_EXPECT_FILE", manifest)]),
        (
            "dbmate",
            &[
                ("GATE_TABLE", "db.schema_migrations"),
                ("GATE_EXPECT_VERSION", "001"),
            ],
        ),
        ("django", &[("GATE_EXPECT_FILE", &django)]),
        (
            "rails",
            &[
                ("GATE_TABLE", "rl.schema_migrations"),
                ("GATE_EXPECT_VERSION", "1"),
            ],
        ),
        ("prisma", &[("GATE_EXPECT_FILE", &prisma)]),
        ("sqlx", &[("GATE_EXPECT_VERSION", "1")]),
        ("knex", &[("GATE_EXPECT_FILE", &knex)]),
        ("liquibase", &[("GATE_EXPECT_FILE", &liquibase)]),
    ];
    for (tool, vars) in tools {
        for upstream in [pg.port, bouncer.port] {
            for mode in ["check", "status"] {
                let proxy = support::FlightCounter::start(upstream);
                let url = format!(
                    "postgres://gate:{}@localhost:{}/app?sslmode=disable",
                    support::PASSWORD,
                    proxy.port
                );
                let mut cmd = gate(&[mode]);
                cmd.env("DATABASE_URL", &url).env("GATE_TOOL", tool);
                for (k, v) in vars {
                    cmd.env(k, v);
                }
                let r = run(&mut cmd, LIMIT);
                assert_eq!(r.code, Some(0), "{tool} {mode}: {r:?}");
                let seen = proxy.seen();
                assert_eq!(
                    seen.round_trips, 4,
                    "{tool} {mode} via {upstream}: {seen:?}"
                );
                assert_eq!(
                    seen.sent[..4],
                    ["startup", "p", "p", "Q"],
                    "{tool} {mode}: {seen:?}"
                );
                assert!(
                    seen.sent[4..].iter().all(|m| m == "X"),
                    "{tool} {mode}: {seen:?}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

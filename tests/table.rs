//! Which table a check reads: goose's, whatever else shares the pooled server connection.
//! Temporary tables and session-level `search_path`s left on a PgBouncer server connection by
//! another client, role-level `search_path`s, schemas the gate may not use, and quoted,
//! case-preserving names, against a real PostgreSQL and a real PgBouncer in transaction mode.

mod support;

use std::time::Duration;
use support::{Bouncer, Postgres, Sidecar, eventually, gate, gate_for, psql_at, run};

const LIMIT: Duration = Duration::from_secs(30);

/// `schema-gate check --json` against `url`, expecting `expect`, with more variables.
fn check_json(url: &str, expect: &str, vars: &[(&str, &str)]) -> (support::Run, serde_json::Value) {
    let r = run(
        gate(&["check", "--json"])
            .env("DATABASE_URL", url)
            .env("GATE_EXPECT_VERSION", expect)
            .envs(vars.iter().copied()),
        LIMIT,
    );
    let json = r.json();
    (r, json)
}

/// A PgBouncer with one server connection for `gate`, so that whatever one client leaves on it,
/// the next client gets.
fn one_server_connection(pg: &Postgres) -> Bouncer {
    Bouncer::start_with_pool_size(pg, &["gate"], 1)
}

const POISON: &str = "CREATE TEMP TABLE goose_db_version AS \
                      SELECT 999::bigint AS version_id, 1 AS id, true AS is_applied";

#[test]
fn a_temporary_table_left_on_a_pooled_connection_does_not_shadow_goose_table() {
    // goose's table is at version 0: nothing applied.
    let pg = Postgres::app(&[]);
    let bouncer = one_server_connection(&pg);
    let url = bouncer.url("gate", "app", "");
    // Another client of the pool's server user leaves a temporary table behind; transaction
    // mode runs no reset query, so it stays on the (only) server connection.
    psql_at(&url, POISON);
    let poisoned = || psql_at(&url, "SELECT max(version_id) FROM goose_db_version");
    assert_eq!(
        poisoned(),
        "999",
        "the next client sees the temporary table"
    );
    for params in ["", "", "", "search_path=public"] {
        let (r, json) = check_json(&bouncer.url("gate", "app", params), "1", &[]);
        assert_eq!(r.code, Some(1), "{params}: {r:?}");
        assert_eq!(json["state"], "behind", "{r:?}");
        assert_eq!(json["version"], 0, "{r:?}");
        assert_eq!(json["resolved_table"], "public.goose_db_version", "{r:?}");
    }
    // wait never starts the app.
    let r = run(
        gate_for("wait", &url, "1")
            .env("GATE_TIMEOUT", "2s")
            .args(["--", "true"]),
        LIMIT,
    );
    assert_eq!(r.code, Some(124), "{r:?}");
    assert_eq!(
        poisoned(),
        "999",
        "the test ran against the poisoned connection"
    );
}

#[test]
fn a_temporary_table_alone_is_a_rejection() {
    // goose has not created its table yet; a temporary table is all there is.
    let pg = Postgres::start();
    pg.create_db_and_role("app", "gate");
    let bouncer = one_server_connection(&pg);
    let url = bouncer.url("gate", "app", "");
    psql_at(&url, POISON);
    let (r, json) = check_json(&url, "1", &[]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert_eq!(json["state"], "db_error", "{r:?}");
    let error = json["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("temporary table") && error.contains("pg_temp_"),
        "{error}"
    );
    // A rejection: wait does not wait for it.
    let r = run(gate_for("wait", &url, "1").args(["--", "true"]), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    // Named explicitly, the temporary schema is refused at start-up.
    let r = run(
        gate_for("check", &url, "1").env("GOOSE_TABLE", "pg_temp.goose_db_version"),
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("GOOSE_TABLE"), "{r:?}");
}

#[test]
fn another_clients_session_search_path_does_not_count() {
    let pg = Postgres::app(&[]);
    pg.sql(
        "app",
        "CREATE SCHEMA tenant; GRANT USAGE ON SCHEMA tenant TO gate",
    );
    pg.goose_table(
        "app",
        "tenant.goose_db_version",
        &[(1, true), (999, true)],
        Some("gate"),
    );
    let bouncer = one_server_connection(&pg);
    let url = bouncer.url("gate", "app", "");
    psql_at(&url, "SET search_path TO tenant, public");
    assert_eq!(psql_at(&url, "SHOW search_path"), "tenant, public");
    for _ in 0..3 {
        let (r, json) = check_json(&url, "1", &[]);
        assert_eq!(r.code, Some(1), "{r:?}");
        assert_eq!(json["version"], 0, "{r:?}");
        assert_eq!(json["resolved_table"], "public.goose_db_version", "{r:?}");
    }
    assert_eq!(psql_at(&url, "SHOW search_path"), "tenant, public");
    // The DSN's own search_path is the gate's, and counts.
    let (r, json) = check_json(&bouncer.url("gate", "app", "search_path=tenant"), "1", &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(json["resolved_table"], "tenant.goose_db_version", "{r:?}");
    assert!(r.stdout.contains("\"version\":999"), "{r:?}");
}

#[test]
fn another_clients_session_role_does_not_count() {
    // The gate's role may become `tenant` (a member), whose "$user" schema holds a stale copy.
    let pg = Postgres::app(&[]);
    pg.sql(
        "app",
        "CREATE ROLE tenant; GRANT tenant TO gate; CREATE SCHEMA tenant AUTHORIZATION tenant",
    );
    pg.goose_table(
        "app",
        "tenant.goose_db_version",
        &[(999, true)],
        Some("tenant"),
    );
    let bouncer = one_server_connection(&pg);
    let url = bouncer.url("gate", "app", "");
    psql_at(&url, "SET ROLE tenant");
    assert_eq!(psql_at(&url, "SELECT current_user"), "tenant");
    let (r, json) = check_json(&url, "1", &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(json["resolved_table"], "public.goose_db_version", "{r:?}");
    assert_eq!(psql_at(&url, "SELECT current_user"), "tenant");
}

#[test]
fn a_role_level_search_path_is_warned_about_and_shown() {
    let pg = Postgres::app(&[]);
    pg.sql(
        "app",
        "CREATE SCHEMA tenant; GRANT USAGE ON SCHEMA tenant TO gate; \
         ALTER ROLE gate IN DATABASE app SET search_path = tenant, public",
    );
    pg.goose_table("app", "tenant.goose_db_version", &[(1, true)], Some("gate"));
    let url = pg.url("gate", "app", "");
    let (r, json) = check_json(&url, "1", &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(json["resolved_table"], "tenant.goose_db_version", "{r:?}");
    assert_eq!(json["role_search_path"], "tenant, public", "{r:?}");
    assert!(
        r.stderr.contains("WARN") && r.stderr.contains("search_path"),
        "{r:?}"
    );
    let text = run(gate_for("check", &url, "1"), LIMIT);
    assert!(
        text.stdout
            .trim()
            .ends_with("; resolved to tenant.goose_db_version"),
        "{text:?}"
    );
    let sidecar = Sidecar::start(&url, &[("GATE_EXPECT_VERSION", "1")]);
    let status = eventually(LIMIT, "a check reaches the database", || {
        let status = sidecar.status();
        (status["state"] == "ready").then_some(status)
    });
    assert_eq!(
        status["resolved_table"], "tenant.goose_db_version",
        "{status}"
    );
    assert_eq!(status["role_search_path"], "tenant, public", "{status}");
    assert!(sidecar.log().contains("search_path"), "{}", sidecar.log());
    // Schema-qualified, the name does not depend on it, and nothing is warned about.
    let (r, json) = check_json(&url, "0", &[("GOOSE_TABLE", "public.goose_db_version")]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(json["resolved_table"], "public.goose_db_version", "{r:?}");
    assert_eq!(json["role_search_path"], serde_json::Value::Null, "{r:?}");
    assert!(!r.stderr.contains("WARN"), "{r:?}");
}

#[test]
fn a_schema_the_gate_may_not_use_is_a_rejection_not_a_missing_table() {
    // goose migrates `hidden` (at 1); a stale copy in `public` says 2; the gate has no USAGE
    // on `hidden`, so Postgres would silently skip it and read public's.
    let pg = Postgres::app(&[(1, true), (2, true)]);
    pg.sql("app", "CREATE SCHEMA hidden");
    pg.goose_table("app", "hidden.goose_db_version", &[(1, true)], Some("gate"));
    let at = |params: &str, vars: &[(&str, &str)]| {
        run(
            gate_for("check", pg.url("gate", "app", params), "2").envs(vars.iter().copied()),
            LIMIT,
        )
    };
    for params in ["search_path=hidden,public", "search_path=hidden"] {
        let r = at(params, &[]);
        assert_eq!(r.code, Some(3), "{params}: {r:?}");
        assert!(
            r.stdout.contains("hidden") && r.stdout.contains("USAGE"),
            "{params}: {r:?}"
        );
    }
    // wait fails fast on it.
    let r = run(
        gate_for(
            "wait",
            pg.url("gate", "app", "search_path=hidden,public"),
            "2",
        ),
        LIMIT,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    // Schema-qualified, the same.
    let r = at("", &[("GOOSE_TABLE", "hidden.goose_db_version")]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("hidden"), "{r:?}");
    // After the path's resolved schema, a schema without USAGE changes nothing.
    let r = at("search_path=public,hidden", &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    // A schema that does not exist yet: the table does not exist (the first migration may
    // create it), before public's table or alone.
    let r = at("search_path=later", &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("does not exist"), "{r:?}");
    let r = at("", &[("GOOSE_TABLE", "later.goose_db_version")]);
    assert_eq!(r.code, Some(1), "{r:?}");
    // Granted, the gate reads goose's table: behind.
    pg.sql("app", "GRANT USAGE ON SCHEMA hidden TO gate");
    let r = at("search_path=hidden,public", &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stdout.contains("at version 1")
            && r.stdout.contains("resolved to hidden.goose_db_version"),
        "{r:?}"
    );
}

/// Goose tables whose names need quotes, and the lower-case twin an unquoted name folds to.
fn quoted_tables() -> Postgres {
    let pg = Postgres::start();
    pg.create_db_and_role("app", "gate");
    pg.sql(
        "app",
        "CREATE SCHEMA myschema; GRANT USAGE ON SCHEMA myschema TO gate; \
         CREATE SCHEMA \"My\"\"Odd.Schema\"; GRANT USAGE ON SCHEMA \"My\"\"Odd.Schema\" TO gate",
    );
    pg.goose_table("app", "\"Goose_Versions\"", &[(1, true)], Some("gate"));
    pg.goose_table(
        "app",
        "myschema.\"Goose_Versions\"",
        &[(1, true), (2, true)],
        Some("gate"),
    );
    pg.goose_table(
        "app",
        "\"My\"\"Odd.Schema\".\"T'\\x\"",
        &[(1, true), (2, true), (3, true)],
        Some("gate"),
    );
    pg.goose_table("app", "\"order\"", &[(4, true)], Some("gate"));
    // The lower-case twin an unquoted name folds to: nothing applied.
    pg.goose_table("app", "goose_versions", &[], Some("gate"));
    pg
}

#[test]
fn quoted_case_preserving_table_names_are_read_as_goose_reads_them() {
    let pg = quoted_tables();
    let bouncer = Bouncer::start(&pg, &["gate"]);
    for url in [pg.url("gate", "app", ""), bouncer.url("gate", "app", "")] {
        for (table, expect, code, resolved) in [
            ("\"Goose_Versions\"", "1", 0, "public.\"Goose_Versions\""),
            (
                "myschema.\"Goose_Versions\"",
                "2",
                0,
                "myschema.\"Goose_Versions\"",
            ),
            (
                "MySchema.\"Goose_Versions\"",
                "2",
                0,
                "myschema.\"Goose_Versions\"",
            ),
            (
                "\"My\"\"Odd.Schema\".\"T'\\x\"",
                "3",
                0,
                "\"My\"\"Odd.Schema\".\"T'\\x\"",
            ),
            ("\"order\"", "4", 0, "public.\"order\""),
            // Unquoted, the name folds to lower case, as in goose.
            ("Goose_Versions", "1", 1, "public.goose_versions"),
            ("\"goose_versions\"", "0", 0, "public.goose_versions"),
        ] {
            let (r, json) = check_json(&url, expect, &[("GOOSE_TABLE", table)]);
            assert_eq!(r.code, Some(code), "{table}: {r:?}");
            assert_eq!(json["table"], table, "{r:?}");
            assert_eq!(json["resolved_table"], resolved, "{table}: {r:?}");
        }
    }
}

#[test]
fn quoted_names_are_names_and_what_goose_refuses_is_refused() {
    let pg = quoted_tables();
    // A quoted part holding SQL is a name, never SQL.
    let (r, json) = check_json(
        &pg.url("gate", "app", ""),
        "1",
        &[("GOOSE_TABLE", "\"x\"\"; DROP TABLE goose_versions; --\"")],
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(json["state"], "no_table", "{r:?}");
    assert_eq!(
        pg.sql("app", "SELECT count(*) FROM goose_versions"),
        "1",
        "the table is still there"
    );
    // status reads the same table.
    let r = run(
        gate_for("status", pg.url("gate", "app", ""), "2")
            .env("GOOSE_TABLE", "myschema.\"Goose_Versions\"")
            .arg("--json"),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("JSON");
    assert_eq!(
        json["verdict"]["resolved_table"], "myschema.\"Goose_Versions\"",
        "{r:?}"
    );
    // What goose refuses, or Postgres would read otherwise, is refused at start-up.
    for bad in [
        "\"unterminated",
        "\"a\"b",
        "\"\"",
        "a.\"b\".c",
        "my schema.t",
    ] {
        let r = run(
            gate_for("check", pg.url("gate", "app", ""), "1").env("GOOSE_TABLE", bad),
            LIMIT,
        );
        assert_eq!(r.code, Some(2), "{bad}: {r:?}");
        assert!(r.stderr.contains("GOOSE_TABLE"), "{bad}: {r:?}");
    }
}

//! `schema-gate check` against a real PostgreSQL (and PgBouncer): every exit code, every DSN
//! source, schema-qualified tables, privileges, TLS.

mod support;

use std::time::Duration;
use support::{Bouncer, PASSWORD, PgOptions, Postgres, gate, run, temp_dir};

const LIMIT: Duration = Duration::from_secs(30);

/// A cluster with database `app`, role `gate` allowed to read a goose table at version 3.
fn app_at_3() -> Postgres {
    Postgres::app(&[(1, true), (2, true), (3, true)])
}

/// `schema-gate check` against `url`, expecting version `expect`, with more variables.
fn check(url: &str, expect: &str, vars: &[(&str, &str)]) -> support::Run {
    run(
        gate(&["check"])
            .env("DATABASE_URL", url)
            .env("GATE_EXPECT_VERSION", expect)
            .envs(vars.iter().copied()),
        LIMIT,
    )
}

/// The same with `--json`.
fn check_json(url: &str, expect: &str, vars: &[(&str, &str)]) -> support::Run {
    run(
        gate(&["check", "--json"])
            .env("DATABASE_URL", url)
            .env("GATE_EXPECT_VERSION", expect)
            .envs(vars.iter().copied()),
        LIMIT,
    )
}

fn assert_no_secret(output: &str) {
    assert!(!output.contains(PASSWORD), "password leaked: {output}");
}

#[test]
fn every_verdict_exit_code() {
    let pg = app_at_3();
    let url = pg.url("gate", "app", "");
    let case = |expect: &str, policy: &str| check(&url, expect, &[("GATE_POLICY", policy)]);
    let ready = case("3", "at-least");
    assert_eq!(ready.code, Some(0), "{ready:?}");
    assert_eq!(
        ready.stdout.trim(),
        "ready: goose_db_version at version 3, expected 3 (at-least); resolved to public.goose_db_version"
    );
    let older_build = case("2", "at-least");
    assert_eq!(older_build.code, Some(0), "{older_build:?}");
    let behind = case("4", "at-least");
    assert_eq!(behind.code, Some(1), "{behind:?}");
    assert!(
        behind
            .stdout
            .starts_with("not ready: goose_db_version at version 3, expected 4"),
        "{behind:?}"
    );
    let ahead = case("2", "exact");
    assert_eq!(ahead.code, Some(4), "{ahead:?}");
    assert!(ahead.stdout.contains("ahead of expected 2"), "{ahead:?}");
    for r in [&ready, &behind, &ahead] {
        assert_no_secret(&r.all_output());
    }

    let no_table = check(&url, "1", &[("GOOSE_TABLE", "nope")]);
    assert_eq!(no_table.code, Some(1), "{no_table:?}");
    assert!(
        no_table.stdout.contains("table nope does not exist"),
        "{no_table:?}"
    );

    let config = check(&url, "three", &[]);
    assert_eq!(config.code, Some(2), "{config:?}");
    assert!(config.stderr.contains("GATE_EXPECT_VERSION"), "{config:?}");
    assert!(config.stdout.is_empty(), "nothing was checked: {config:?}");
    assert_no_secret(&config.all_output());
}

#[test]
fn migrations_dir_json_lists_pending_out_of_order() {
    let pg = Postgres::app(&[(1, true), (3, true)]);
    let dir = temp_dir("migrations");
    for name in [
        "00001_init.sql",
        "00002_users.sql",
        "00003_orders.sql",
        "00004_more.sql",
        "README.md",
    ] {
        std::fs::write(dir.join(name), "-- +goose Up\n").expect("write");
    }
    let r = run(
        gate(&["check", "--json"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_MIGRATIONS_DIR", &dir),
        LIMIT,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("one JSON object");
    assert_eq!(json["ready"], false);
    assert_eq!(json["state"], "behind");
    assert_eq!(json["version"], 3);
    assert_eq!(json["max_version"], 3);
    assert_eq!(json["expected"], 4);
    assert_eq!(json["pending"], serde_json::json!([2, 4]));
    assert_eq!(json["table"], "goose_db_version");
    assert_eq!(json["policy"], "at-least");
    assert_eq!(json["error"], serde_json::Value::Null);

    pg.apply("app", "goose_db_version", 2);
    pg.apply("app", "goose_db_version", 4);
    let r = run(
        gate(&["check"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GOOSE_MIGRATION_DIR", &dir),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        r.stdout.trim(),
        "ready: goose_db_version at version 4, expected 4 (at-least); resolved to public.goose_db_version"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rolled_back_rows_are_not_applied() {
    let pg = app_at_3();
    // goose <= 3.4.1 recorded a rollback as an is_applied = false row.
    pg.sql(
        "app",
        "INSERT INTO goose_db_version (version_id, is_applied) VALUES (3, false)",
    );
    let r = check_json(&pg.url("gate", "app", ""), "3", &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("JSON");
    assert_eq!(json["version"], 2);
    assert_eq!(json["max_version"], 2);
}

#[test]
fn every_dsn_source() {
    let pg = app_at_3();
    let ok = |cmd: &mut std::process::Command, what: &str| {
        let r = run(cmd.env("GATE_EXPECT_VERSION", "3"), LIMIT);
        assert_eq!(r.code, Some(0), "{what}: {r:?}");
        assert_no_secret(&r.all_output());
    };
    ok(
        gate(&["check"]).env("DATABASE_URL", pg.url("gate", "app", "sslmode=disable")),
        "DATABASE_URL",
    );
    ok(
        &mut gate(&["check", "--database-url", &pg.url("gate", "app", "")]),
        "--database-url",
    );

    let dir = temp_dir("dsn");
    let file = dir.join("url");
    std::fs::write(&file, format!("{}\n", pg.url("gate", "app", ""))).expect("write");
    ok(
        gate(&["check"]).env("DATABASE_URL_FILE", &file),
        "DATABASE_URL_FILE",
    );

    let kv = format!(
        "host=127.0.0.1 port={} user=gate password='{PASSWORD}' dbname=app",
        pg.port
    );
    ok(
        gate(&["check"])
            .env("GOOSE_DBSTRING", &kv)
            .env("GOOSE_DRIVER", "postgres"),
        "GOOSE_DBSTRING",
    );

    ok(
        gate(&["check"])
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", pg.port.to_string())
            .env("PGUSER", "gate")
            .env("PGPASSWORD", PASSWORD)
            .env("PGDATABASE", "app")
            .env("PGSSLMODE", "prefer")
            .env("PGAPPNAME", "gate-test")
            .env("PGCONNECT_TIMEOUT", "3"),
        "PG* variables",
    );

    let passfile = dir.join("pgpass");
    std::fs::write(
        &passfile,
        format!("127.0.0.1:{}:app:gate:{PASSWORD}\n", pg.port),
    )
    .expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    ok(
        gate(&["check"])
            .env(
                "DATABASE_URL",
                format!("postgres://gate@127.0.0.1:{}/app", pg.port),
            )
            .env("PGPASSFILE", &*passfile.to_string_lossy()),
        "PGPASSFILE",
    );
    // libpq ignores a password file others can read; so do we (and say so).
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let r = check(
        &format!("postgres://gate@127.0.0.1:{}/app", pg.port),
        "3",
        &[("PGPASSFILE", &*passfile.to_string_lossy())],
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stderr.contains("group or world access"), "{r:?}");
    assert_no_secret(&r.all_output());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn application_name_is_schema_gate() {
    let pg = app_at_3();
    pg.sql("postgres", "ALTER SYSTEM SET log_connections = on");
    pg.sql("postgres", "SELECT pg_reload_conf()");
    let r = check(&pg.url("gate", "app", ""), "3", &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let log = std::fs::read_to_string(pg.dir.join("postgres.log")).unwrap_or_default();
    assert!(
        log.contains("user=gate database=app application_name=schema-gate"),
        "no connection from schema-gate in:\n{log}"
    );
}

#[test]
fn resolves_a_host_name() {
    // By name, not IP: a static (musl) build must resolve without glibc's NSS.
    let pg = app_at_3();
    let r = check(
        &format!("postgres://gate:{PASSWORD}@localhost:{}/app", pg.port),
        "3",
        &[],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
}

#[test]
fn least_privilege_role_sql_works() {
    let pg = Postgres::start();
    pg.sql("postgres", "CREATE DATABASE honeydue");
    pg.create_role("honeydue_app");
    pg.create_role("migrator");
    pg.goose_table("honeydue", "goose_db_version", &[(1, true)], None);
    // PUBLIC's CREATE on public is PostgreSQL 13's and 14's default (15 revoked it): the role
    // SQL must take it away, or the gate's credentials can forge goose's table before goose's
    // first run (tests/hunt.rs, finding 9).
    pg.sql(
        "honeydue",
        "CREATE TABLE users (id int); INSERT INTO users VALUES (1); \
         GRANT CREATE ON SCHEMA public TO PUBLIC",
    );
    let sql = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("k8s/sql/schema-gate-role.sql");
    support::succeeded(
        pg.psql_command("honeydue")
            .arg("-v")
            .arg(format!("gate_password='{PASSWORD}'"))
            .arg("-f")
            .arg(&sql),
        "psql -f k8s/sql/schema-gate-role.sql",
    );
    let r = check(&pg.url("schema_gate", "honeydue", ""), "1", &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    // The role can read nothing else, write nothing, and leave no temporary table behind (a
    // pooled server connection would keep it); the app and goose keep TEMPORARY.
    for sql in [
        "SELECT * FROM users",
        "INSERT INTO goose_db_version (version_id, is_applied) VALUES (9, true)",
        "CREATE TEMP TABLE goose_db_version (version_id bigint)",
        "CREATE TABLE public.forged_goose_db_version (version_id bigint)",
    ] {
        let out = support::psql_output_at(&pg.url("schema_gate", "honeydue", ""), sql);
        assert!(!out.status.success(), "{sql} succeeded as schema_gate");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("permission denied"),
            "{sql}"
        );
    }
    for role in ["honeydue_app", "migrator"] {
        let temp = support::psql_at(
            &pg.url(role, "honeydue", ""),
            "CREATE TEMP TABLE scratch (x int); SELECT 'made'",
        );
        assert_eq!(temp, "made", "{role}");
    }
    // goose keeps what it needs in public: it creates its table and the migrations' tables.
    let made = support::psql_at(
        &pg.url("migrator", "honeydue", ""),
        "CREATE TABLE public.orders (id int); SELECT 'made'",
    );
    assert_eq!(made, "made");
}

#[test]
fn schema_qualified_table() {
    let pg = Postgres::start();
    pg.create_db_and_role("app", "gate");
    pg.sql(
        "app",
        "CREATE SCHEMA ops; GRANT USAGE ON SCHEMA ops TO gate",
    );
    pg.goose_table(
        "app",
        "ops.goose_versions",
        &[(1, true), (2, true)],
        Some("gate"),
    );
    let with_table = |table: &str, dsn_params: &str| {
        check(
            &pg.url("gate", "app", dsn_params),
            "2",
            &[("GOOSE_TABLE", table)],
        )
    };
    let r = with_table("ops.goose_versions", "");
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stdout.contains("ops.goose_versions at version 2"),
        "{r:?}"
    );
    // Unquoted, like goose: Postgres folds the name to lower case.
    let r = with_table("OPS.Goose_Versions", "");
    assert_eq!(r.code, Some(0), "{r:?}");
    // A search_path runtime parameter in the DSN finds the unqualified table (lib/pq and pgx send
    // unknown keys as runtime parameters; we set them inside the transaction).
    let r = with_table("goose_versions", "search_path=ops");
    assert_eq!(r.code, Some(0), "{r:?}");
    // A schema that does not exist: the table does not exist.
    let r = with_table("nowhere.goose_db_version", "");
    assert_eq!(r.code, Some(1), "{r:?}");
}

#[test]
fn privileges_select_only_and_none() {
    let pg = app_at_3();
    pg.create_role("stranger");
    let r = check(&pg.url("gate", "app", ""), "3", &[]);
    assert_eq!(r.code, Some(0), "SELECT alone is enough: {r:?}");
    let r = check(&pg.url("stranger", "app", ""), "3", &[]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("permission denied"), "{r:?}");
    // Read-only: nothing was written (the table is unchanged, no other table appeared).
    assert_eq!(pg.sql("app", "SELECT count(*) FROM goose_db_version"), "4");
    assert_eq!(
        pg.sql(
            "app",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ),
        "1"
    );
}

#[test]
fn database_errors_exit_3_without_secrets() {
    let pg = app_at_3();
    let wrong = format!("postgres://gate:not-{PASSWORD}@127.0.0.1:{}/app", pg.port);
    let r = check(&wrong, "3", &[]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("password authentication failed"), "{r:?}");
    assert_no_secret(&r.all_output());

    let r = check(&pg.url("gate", "missing_db", ""), "3", &[]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("does not exist"), "{r:?}");

    let closed = support::free_port();
    let r = check(
        &format!("postgres://gate:{PASSWORD}@127.0.0.1:{closed}/app"),
        "3",
        &[],
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(
        r.stdout.to_lowercase().contains("connection refused"),
        "{r:?}"
    );
    assert_no_secret(&r.all_output());
}

#[test]
fn termination_message_on_failure_only() {
    let pg = app_at_3();
    let dir = temp_dir("term");
    let file = dir.join("termination-log");
    let r = check(
        &pg.url("gate", "app", ""),
        "9",
        &[("GATE_TERMINATION_LOG", &*file.to_string_lossy())],
    );
    assert_eq!(r.code, Some(1));
    let message = std::fs::read_to_string(&file).expect("termination message written");
    assert_eq!(message, r.stdout.trim());
    std::fs::remove_file(&file).expect("rm");
    let r = check(
        &pg.url("gate", "app", ""),
        "3",
        &[("GATE_TERMINATION_LOG", &*file.to_string_lossy())],
    );
    assert_eq!(r.code, Some(0));
    assert!(
        !file.exists(),
        "a ready check writes no termination message"
    );
    let r = check(
        &pg.url("gate", "app", ""),
        "3",
        &[
            ("GATE_POLICY", "sometimes"),
            ("GATE_TERMINATION_LOG", &*file.to_string_lossy()),
        ],
    );
    assert_eq!(r.code, Some(2));
    let message = std::fs::read_to_string(&file).expect("config error written");
    assert!(message.contains("GATE_POLICY"), "{message}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn through_pgbouncer_transaction_mode() {
    let pg = app_at_3();
    let bouncer = Bouncer::start(&pg, &["gate"]);
    // Many checks at once through a 5-connection pool: no prepared-statement clashes.
    let children: Vec<_> = (0..12)
        .map(|_| {
            gate(&["check"])
                .env("DATABASE_URL", bouncer.url("gate", "app", ""))
                .env("GATE_EXPECT_VERSION", "3")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut child in children {
        let r = support::finish(&mut child, std::time::Instant::now(), LIMIT);
        assert_eq!(r.code, Some(0), "{r:?}");
    }
    // Missing table through the pooler: the aborted transaction is closed, the verdict is clean.
    let r = check(
        &bouncer.url("gate", "app", ""),
        "3",
        &[("GOOSE_TABLE", "nope")],
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    let wrong = format!("postgres://gate:nope@127.0.0.1:{}/app", bouncer.port);
    let r = check(&wrong, "3", &[]);
    assert_eq!(r.code, Some(3), "{r:?}");
}

#[test]
fn tls_modes_against_a_generated_ca() {
    let dir = temp_dir("tls");
    let certs = support::make_certs(&dir);
    let pg = Postgres::app_with(PgOptions::tls(&certs), &[(1, true)]);
    let over_tls = |host: &str, params: String| {
        check(
            &format!("postgres://gate:{PASSWORD}@{host}:{}/app?{params}", pg.port),
            "1",
            &[],
        )
    };
    let ca = certs.ca.display().to_string();
    let other = certs.other_ca.display().to_string();

    let r = over_tls("localhost", format!("sslmode=verify-full&sslrootcert={ca}"));
    assert_eq!(r.code, Some(0), "right CA: {r:?}");
    let r = over_tls(
        "localhost",
        format!("sslmode=verify-full&sslrootcert={other}"),
    );
    assert_eq!(r.code, Some(3), "wrong CA: {r:?}");
    assert!(r.stdout.to_lowercase().contains("certificate"), "{r:?}");
    let r = over_tls("localhost", "sslmode=require".into());
    assert_eq!(r.code, Some(0), "require does not verify: {r:?}");
    let r = over_tls("localhost", format!("sslmode=require&sslrootcert={other}"));
    assert_eq!(
        r.code,
        Some(3),
        "require with sslrootcert verifies the chain: {r:?}"
    );
    let r = over_tls(
        "localhost",
        "sslmode=require&channel_binding=require".into(),
    );
    assert_eq!(
        r.code,
        Some(0),
        "SCRAM-PLUS channel binding direct to Postgres: {r:?}"
    );

    // The certificate names localhost and 127.0.0.1.
    let r = over_tls("127.0.0.1", format!("sslmode=verify-full&sslrootcert={ca}"));
    assert_eq!(r.code, Some(0), "IP SAN matches: {r:?}");
    // Connect to 127.0.0.1 while naming the server 127.0.0.2, which the certificate lacks.
    let misnamed = |mode: &str| {
        let dsn = format!(
            "host=127.0.0.2 hostaddr=127.0.0.1 port={} user=gate password={PASSWORD} dbname=app sslmode={mode} sslrootcert={ca}",
            pg.port
        );
        check(&dsn, "1", &[])
    };
    let r = misnamed("verify-ca");
    assert_eq!(r.code, Some(0), "verify-ca ignores the host name: {r:?}");
    let r = misnamed("verify-full");
    assert_eq!(r.code, Some(3), "verify-full checks the host name: {r:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Poolers and managed servers still negotiate TLS 1.2: the gate's trimmed crypto provider
/// (AES-GCM suites only) must still verify, and bind the channel, over 1.2.
#[test]
fn tls_1_2_servers_are_verified_and_channel_bound() {
    let dir = temp_dir("tls12");
    let certs = support::make_certs(&dir);
    let pg = Postgres::app_with(PgOptions::tls(&certs), &[(1, true)]);
    pg.sql(
        "postgres",
        "ALTER SYSTEM SET ssl_max_protocol_version = 'TLSv1.2'",
    );
    pg.sql("postgres", "SELECT pg_reload_conf()");
    let ca = certs.ca.display().to_string();
    let verify = pg.url(
        "gate",
        "app",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    // The server now caps at 1.2 (psql, OpenSSL's client, reports what was negotiated).
    support::eventually(
        LIMIT,
        "the server negotiates TLS 1.2 after its reload",
        || {
            let seen = support::psql_at(
                &verify,
                "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            );
            (seen == "TLSv1.2").then_some(())
        },
    );
    let r = check(&verify, "1", &[]);
    assert_eq!(r.code, Some(0), "verify-full over TLS 1.2: {r:?}");
    let r = check(
        &pg.url("gate", "app", "sslmode=require&channel_binding=require"),
        "1",
        &[],
    );
    assert_eq!(r.code, Some(0), "SCRAM-PLUS over TLS 1.2: {r:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sslmode_allow_falls_back_to_tls_and_disable_does_not() {
    let dir = temp_dir("tls-only");
    let certs = support::make_certs(&dir);
    let pg = Postgres::app_with(PgOptions::tls_only(&certs), &[(1, true)]);
    // allow: plain first; the server refuses a plain connection, so TLS (as libpq does).
    let r = check(&pg.url("gate", "app", "sslmode=allow"), "1", &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let r = check(&pg.url("gate", "app", "sslmode=disable"), "1", &[]);
    assert_eq!(r.code, Some(3), "{r:?}");
    // PostgreSQL 14+ says "no encryption", 13 "SSL off".
    assert!(
        r.stdout.contains("no encryption") || r.stdout.contains("SSL off"),
        "{r:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

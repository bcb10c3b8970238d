//! Configuration seen end to end (issue 15): what the gate is told must be what it checks, or it
//! refuses to start (exit 2) saying why; a misspelt or misplaced setting is never ignored, and
//! no message, log or server statement carries a secret. Each test failed on the binary before
//! its fix (`SCHEMA_GATE_BIN=…`): the README's "Guarantees" table points at them.

mod support;

use std::time::Duration;
use support::{Bouncer, PASSWORD, Postgres, Run, gate, run, temp_dir};

const LIMIT: Duration = Duration::from_secs(60);

/// `check` with `vars` and `args`.
fn check(vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = gate(&["check"]);
    cmd.args(args).envs(vars.iter().copied());
    run(&mut cmd, LIMIT)
}

/// A DSN whose port nothing listens on: whatever the old binary did, it got as far as
/// connecting (exit 3); refused at start-up is exit 2.
fn closed_url(tail: &str) -> String {
    format!("postgres://gate:{PASSWORD}@127.0.0.1:1/app{tail}")
}

/// Asserts a start-up refusal: exit 2, the message holds every `expected` text, no password.
fn refused(r: &Run, what: &str, expected: &[&str]) {
    assert_eq!(r.code, Some(2), "{what}: {r:?}");
    for text in expected {
        assert!(r.stderr.contains(text), "{what}: no {text:?} in {r:?}");
    }
    assert!(!r.all_output().contains(PASSWORD), "{what}: leaked: {r:?}");
    assert!(
        !r.all_output().contains("Zq9"),
        "{what}: a value leaked: {r:?}"
    );
}

/// A cluster whose `public.goose_db_version` is at version 2 and `lagging.goose_db_version` at 1,
/// both readable by `gate`.
fn public_and_lagging() -> Postgres {
    let pg = Postgres::app(&[(1, true), (2, true)]);
    pg.sql(
        "app",
        "CREATE SCHEMA lagging; GRANT USAGE ON SCHEMA lagging TO gate",
    );
    pg.goose_table(
        "app",
        "lagging.goose_db_version",
        &[(1, true)],
        Some("gate"),
    );
    pg
}

fn migrations(tag: &str, versions: &[i64]) -> std::path::PathBuf {
    let dir = temp_dir(tag);
    for v in versions {
        std::fs::write(dir.join(format!("{v:05}_m.sql")), "").expect("write");
    }
    dir
}

// Item 2: options=-c search_path=… through a pooler that drops `options`.
#[test]
fn options_settings_survive_a_pooler_that_drops_options() {
    let pg = public_and_lagging();
    let bouncer = Bouncer::start_with(&pg, &["gate"], "ignore_startup_parameters = options");
    // Direct, the server honours options: lagging is read, version 1, not ready.
    let direct = pg.url("gate", "app", "options=-c%20search_path%3Dlagging");
    let r = check(
        &[("DATABASE_URL", &direct), ("GATE_EXPECT_VERSION", "2")],
        &[],
    );
    assert_eq!(r.code, Some(1), "direct: {r:?}");
    // Through the pooler the same holds, however options is given.
    let url = bouncer.url("gate", "app", "options=-c%20search_path%3Dlagging");
    let kv = format!(
        "host=127.0.0.1 port={} user=gate password={PASSWORD} dbname=app options='-c search_path=lagging'",
        bouncer.port
    );
    let plain = bouncer.url("gate", "app", "");
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        ("URL query", vec![("DATABASE_URL", &url)]),
        ("key=value", vec![("DATABASE_URL", &kv)]),
        (
            "PGOPTIONS",
            vec![
                ("DATABASE_URL", &plain),
                ("PGOPTIONS", "--search-path=lagging"),
            ],
        ),
        (
            "escaped",
            vec![
                ("DATABASE_URL", &plain),
                ("PGOPTIONS", r#"-c search_path=lagging,"my\ schema""#),
            ],
        ),
    ];
    for (how, vars) in cases {
        let mut vars = vars;
        vars.push(("GATE_EXPECT_VERSION", "2"));
        let r = check(&vars, &["--json"]);
        assert_eq!(r.code, Some(1), "{how}: the lagging schema is read: {r:?}");
        assert!(r.stdout.contains("\"version\":1"), "{how}: {r:?}");
    }
}

// Item 2: anything else in options is refused at start-up.
#[test]
fn other_options_are_refused_at_start_up() {
    let pg = Postgres::app(&[(1, true)]);
    for (options, expected) in [
        ("-B%20100", "the switch -B"),
        ("-c%20search_path", "no '=value'"),
        (
            "search_path%3Dapp",
            "schema-gate accepts only -c name=value",
        ),
    ] {
        let url = pg.url("gate", "app", &format!("options={options}"));
        let r = check(&[("DATABASE_URL", &url), ("GATE_EXPECT_VERSION", "1")], &[]);
        refused(&r, options, &["DATABASE_URL: options", expected]);
    }
}

// Item 3: PGTARGETSESSIONATTRS=read-write skips a server that does not accept writes.
#[test]
fn read_write_target_skips_a_read_only_server() {
    let read_only = Postgres::app(&[(1, true), (2, true)]);
    read_only.sql(
        "postgres",
        "ALTER SYSTEM SET default_transaction_read_only = on",
    );
    read_only.sql("postgres", "SELECT pg_reload_conf()");
    support::eventually(Duration::from_secs(30), "read-only in new sessions", || {
        (read_only.sql("app", "SHOW default_transaction_read_only") == "on").then_some(())
    });
    let writable = Postgres::app(&[(1, true)]);
    let both = format!(
        "postgres://gate:{PASSWORD}@127.0.0.1:{},127.0.0.1:{}/app",
        read_only.port, writable.port
    );
    let base = [
        ("DATABASE_URL", both.as_str()),
        ("GATE_EXPECT_VERSION", "2"),
    ];
    // Without it, the first host (read-only, at version 2) answers: ready.
    assert_eq!(check(&base, &[]).code, Some(0));
    // With it, the read-only server is skipped: the writable one is behind.
    let mut vars = base.to_vec();
    vars.push(("PGTARGETSESSIONATTRS", "read-write"));
    let r = check(&vars, &["--json"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("\"version\":1"), "{r:?}");
    // The read-only server alone is refused.
    let alone = read_only.url("gate", "app", "");
    let r = check(
        &[
            ("DATABASE_URL", &alone),
            ("GATE_EXPECT_VERSION", "2"),
            ("PGTARGETSESSIONATTRS", "read-write"),
        ],
        &[],
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    let r = check(
        &[
            ("DATABASE_URL", &alone),
            ("GATE_EXPECT_VERSION", "2"),
            ("PGTARGETSESSIONATTRS", "primary"),
        ],
        &[],
    );
    refused(&r, "primary", &["PGTARGETSESSIONATTRS", "read-write"]);
}

// Item 3: libpq variables are honoured, refused by name, or documented as having no effect.
#[test]
fn libpq_variables_are_honoured_or_refused_by_name() {
    let pg = Postgres::app(&[(1, true)]);
    let url = pg.url("gate", "app", "");
    let base = [("DATABASE_URL", url.as_str()), ("GATE_EXPECT_VERSION", "1")];
    for (var, value) in [
        ("PGSSLCRL", "/etc/hostname"),
        ("PGSSLCRLDIR", "/etc"),
        ("PGREQUIRESSL", "1"),
        ("PGSERVICE", "app"),
        ("PGSERVICEFILE", "/etc/hostname"),
        ("PGSSLPASSWORD", "x"),
        ("PGREQUIREAUTH", "scram"),
        ("PGSSLNEGOTIATION", "direct"),
        ("PGGSSENCMODE", "require"),
    ] {
        let mut vars = base.to_vec();
        vars.push((var, value));
        let r = check(&vars, &[]);
        refused(&r, var, &[&format!("{var}: ")]);
    }
    // No effect on what the gate reads: accepted.
    let mut vars = base.to_vec();
    vars.extend([
        ("PGTZ", "Pacific/Auckland"),
        ("PGDATESTYLE", "German"),
        ("PGCLIENTENCODING", "LATIN1"),
        ("PGGEQO", "off"),
        ("PGLOCALEDIR", "/nonexistent"),
        ("PGSYSCONFDIR", "/nonexistent"),
        ("PGGSSENCMODE", "prefer"),
        ("PGSSLCOMPRESSION", "1"),
    ]);
    let r = check(&vars, &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    // Honoured: PGHOSTADDR pins the address of a host name that does not resolve.
    let r = check(
        &[
            ("PGHOST", "db.invalid"),
            ("PGHOSTADDR", "127.0.0.1"),
            ("PGPORT", &pg.port.to_string()),
            ("PGUSER", "gate"),
            ("PGPASSWORD", PASSWORD),
            ("PGDATABASE", "app"),
            ("GATE_EXPECT_VERSION", "1"),
        ],
        &[],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
}

// Finding 8's follow-up: require_auth (and PGREQUIREAUTH) are honoured as libpq 16+ honours
// them, against the real server's SCRAM and md5 logins, directly and through PgBouncer.
#[test]
fn require_auth_is_honoured_as_libpq_honours_it() {
    let pg = Postgres::app(&[(1, true)]);
    pg.create_md5_role("gate_md5");
    pg.set_hba(
        "host all gate_md5 127.0.0.1/32 md5\n\
         host all all 127.0.0.1/32 scram-sha-256",
    );
    pg.sql("app", "GRANT SELECT ON goose_db_version TO gate_md5");
    let url = pg.url("gate", "app", "");
    let md5_url = pg.url("gate_md5", "app", "");
    let bouncer = Bouncer::start_with_auth(&pg, &["gate", "gate_md5"], support::free_port(), "md5");
    let pooled = bouncer.url("gate", "app", "");
    let with = |url: &str, var: Option<(&str, &str)>| {
        let mut vars = vec![("DATABASE_URL", url), ("GATE_EXPECT_VERSION", "1")];
        vars.extend(var);
        check(&vars, &[])
    };
    let join = |url: &str, extra: &str| {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{extra}")
    };
    // The server's SCRAM is allowed, md5 is not: refused before anything is sent, exit 3.
    for allowed in [
        "scram-sha-256",
        "md5,scram-sha-256",
        "!md5",
        "!password,!none",
    ] {
        let r = with(&join(&url, &format!("require_auth={allowed}")), None);
        assert_eq!(r.code, Some(0), "{allowed}: {r:?}");
        let r = with(&url, Some(("PGREQUIREAUTH", allowed)));
        assert_eq!(r.code, Some(0), "PGREQUIREAUTH={allowed}: {r:?}");
    }
    for refused_by in ["md5", "password", "none", "!scram-sha-256"] {
        let r = with(&join(&url, &format!("require_auth={refused_by}")), None);
        assert_eq!(r.code, Some(3), "{refused_by}: {r:?}");
        assert!(
            r.all_output()
                .contains("scram-sha-256 authentication, which require_auth does not allow"),
            "{refused_by}: {r:?}"
        );
        assert!(!r.stderr.contains(PASSWORD), "{r:?}");
    }
    // An md5 role, directly and through PgBouncer's md5 (which answers every client with md5).
    for md5 in [md5_url.as_str(), pooled.as_str()] {
        let r = with(md5, None);
        assert_eq!(r.code, Some(0), "md5 by default: {r:?}");
        let r = with(md5, Some(("PGREQUIREAUTH", "scram-sha-256")));
        assert_eq!(r.code, Some(3), "{r:?}");
        assert!(r.all_output().contains("md5 authentication"), "{r:?}");
    }
    // A setting libpq would refuse is refused, naming where it came from and what it takes.
    for bad in ["scram", "md5,!password", "oauth"] {
        let r = with(&url, Some(("PGREQUIREAUTH", bad)));
        refused(
            &r,
            "PGREQUIREAUTH",
            &["PGREQUIREAUTH", "it takes a comma-separated list"],
        );
    }
}

// Item 4: a misspelt variable that decides what is checked stops the gate.
#[test]
fn misspelt_variables_stop_the_gate_naming_both() {
    let pg = public_and_lagging();
    let url = pg.url("gate", "app", "");
    let three = migrations("three", &[1, 2, 3]);
    let base = [("DATABASE_URL", url.as_str()), ("GATE_EXPECT_VERSION", "2")];
    let three = three.to_string_lossy().to_string();
    for (var, value, meant) in [
        (
            "GOOSE_TABLE_NAME",
            "lagging.goose_db_version",
            "GOOSE_TABLE",
        ),
        (
            "GOOSE_MIGRATIONS_DIR",
            three.as_str(),
            "GOOSE_MIGRATION_DIR",
        ),
        ("GATE_MIGRATION_DIR", three.as_str(), "GATE_MIGRATIONS_DIR"),
        ("GOOSE_TABEL", "lagging.goose_db_version", "GOOSE_TABLE"),
        ("PGSSLMOD", "require", "PGSSLMODE"),
    ] {
        let mut vars = base.to_vec();
        vars.push((var, value));
        let r = check(&vars, &[]);
        refused(&r, var, &[var, &format!("looks like {meant} ")]);
    }
    // Names goose itself reads never warn; other near misses warn and run.
    let mut vars = base.to_vec();
    vars.extend([
        ("GOOSE_VERBOSE", "true"),
        ("NO_COLOR", "1"),
        ("GOOSE_DRIVER", "postgres"),
        ("GOOSE_DBSTRING", url.as_str()),
        ("GOOSE_DRIVERS", "pgx"),
    ]);
    let r = check(&vars, &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let warnings: Vec<&str> = r.stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{r:?}");
    assert!(
        warnings[0].contains("GOOSE_DRIVERS") && warnings[0].contains("GOOSE_DRIVER "),
        "{r:?}"
    );
}

// Item 5: a flag beats the environment within each alias group; --pg* flags beat the DSN.
#[test]
fn flags_beat_the_environment_in_every_alias_group() {
    let pg = Postgres::app(&[(1, true), (2, true)]);
    pg.sql("postgres", "CREATE DATABASE behind");
    pg.goose_table("behind", "goose_db_version", &[(1, true)], Some("gate"));
    let url = pg.url("gate", "app", "");
    let behind = pg.url("gate", "behind", "");
    let ready_dir = migrations("ready", &[1, 2]);
    let behind_dir = migrations("behind", &[1, 2, 3]);
    let ready_dir = ready_dir.to_string_lossy().to_string();
    let behind_dir = behind_dir.to_string_lossy().to_string();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: [Case; 3] = [
        (
            "--goose-migration-dir over GATE_MIGRATIONS_DIR",
            vec![("DATABASE_URL", &url), ("GATE_MIGRATIONS_DIR", &ready_dir)],
            vec!["--goose-migration-dir", &behind_dir],
        ),
        (
            "--goose-dbstring over DATABASE_URL",
            vec![("DATABASE_URL", &url), ("GATE_EXPECT_VERSION", "2")],
            vec!["--goose-dbstring", &behind],
        ),
        (
            "--pgdatabase over the DSN's database",
            vec![("DATABASE_URL", &url), ("GATE_EXPECT_VERSION", "2")],
            vec!["--pgdatabase", "behind"],
        ),
    ];
    for (what, vars, args) in cases {
        let r = check(&vars, &args);
        assert_eq!(
            r.code,
            Some(1),
            "{what}: the flag's target is behind: {r:?}"
        );
    }
    // Two aliases in the environment with different values: a warning naming both, not an error.
    let r = check(
        &[
            ("DATABASE_URL", &url),
            ("GOOSE_DBSTRING", &behind),
            ("GATE_EXPECT_VERSION", "2"),
        ],
        &[],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.lines().any(|l| l.contains("WARN")
            && l.contains("GOOSE_DBSTRING and DATABASE_URL are both set")
            && l.contains("DATABASE_URL is used")),
        "{r:?}"
    );
    // A flag lowering sslmode below the DSN's is a warning naming both.
    let tls_required = pg.url("gate", "app", "sslmode=require");
    let r = check(
        &[
            ("DATABASE_URL", &tls_required),
            ("GATE_EXPECT_VERSION", "2"),
        ],
        &["--pgsslmode", "disable"],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.lines().any(|l| l.contains("WARN")
            && l.contains("--pgsslmode=disable lowers the sslmode of DATABASE_URL (require)")),
        "{r:?}"
    );
    assert!(!r.all_output().contains(PASSWORD));
}

// Item 8: a CLI error never echoes an argument's value.
#[test]
fn command_line_errors_never_echo_an_argument() {
    let dsn = closed_url("");
    let (flag_dsn, json, short) = (
        format!("--datbase-url={dsn}"),
        format!("--json={PASSWORD}"),
        format!("-{PASSWORD}"),
    );
    let cases: Vec<Vec<&str>> = vec![
        vec![&dsn],
        vec!["check", &dsn],
        vec!["check", PASSWORD],
        vec!["check", "--expect-version", "1", PASSWORD],
        vec!["wait", "--datbase-url", &dsn],
        vec!["check", &flag_dsn],
        vec!["check", &json],
        vec!["check", &short],
        vec!["check", "--interval", &dsn],
        vec!["check", "--expect-version", PASSWORD],
    ];
    for args in cases {
        let r = run(
            gate(&args)
                .env("DATABASE_URL", closed_url(""))
                .env("GATE_EXPECT_VERSION", "1"),
            LIMIT,
        );
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(
            !r.all_output().contains(PASSWORD),
            "{args:?} echoed: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("argument ") || r.stderr.contains("--"),
            "{args:?}: the message says where: {r:?}"
        );
    }
}

// Item 9: an env-file line in DATABASE_URL_FILE never reaches the server.
#[test]
fn dsn_values_reach_the_server_only_as_their_settings() {
    let pg = Postgres::app(&[(1, true)]);
    pg.sql("postgres", "ALTER SYSTEM SET log_statement = 'all'");
    pg.sql("postgres", "SELECT pg_reload_conf()");
    let dir = temp_dir("env-file");
    let file = dir.join("dsn");
    let file_secret = "Zq9FileSecret";
    for content in [
        format!(
            "DATABASE_URL=postgres://gate:{file_secret}@127.0.0.1:{}/app\n",
            pg.port
        ),
        format!("DATABASE_URL='host=127.0.0.1 password={file_secret}'\n"),
    ] {
        std::fs::write(&file, &content).expect("write");
        let r = run(
            gate(&["check"])
                .env("DATABASE_URL_FILE", &file)
                .env("PGHOST", "127.0.0.1")
                .env("PGPORT", pg.port.to_string())
                .env("PGUSER", "gate")
                .env("PGPASSWORD", PASSWORD)
                .env("PGDATABASE", "app")
                .env("GATE_EXPECT_VERSION", "1"),
            LIMIT,
        );
        let log = std::fs::read_to_string(pg.dir.join("postgres.log")).unwrap_or_default();
        assert!(
            !log.contains(file_secret),
            "{content:?}: the server's log holds the file's password"
        );
        refused(
            &r,
            &content,
            &["DATABASE_URL_FILE: ", "env-file line", "should hold only"],
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

// Item 15: GATE_LOG is strict; its errors list what is accepted.
#[test]
fn gate_log_is_strict() {
    for value in [
        "warning",
        "debgu",
        "schema-gate=debug",
        "off",
        "info,schema_gate=off",
    ] {
        let url = closed_url("");
        let r = check(
            &[
                ("DATABASE_URL", &url),
                ("GATE_EXPECT_VERSION", "1"),
                ("GATE_LOG", value),
            ],
            &[],
        );
        refused(&r, value, &["GATE_LOG: "]);
        assert!(
            r.stderr.contains("schema_gate, tokio_postgres") || r.stderr.contains("off is refused"),
            "{value}: {r:?}"
        );
    }
    // Valid filters work, the gate's own lines included.
    let r = check(
        &[
            ("DATABASE_URL", &closed_url("")),
            ("GATE_EXPECT_VERSION", "1"),
            ("GATE_LOG", "warn,schema_gate=debug"),
        ],
        &[],
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stderr.contains("DEBUG"), "{r:?}");
}

// Item 17: misspelt security keys are refused, naming the key meant.
#[test]
fn misspelt_security_keys_are_refused() {
    for (param, meant) in [
        ("ssl_mode=disable", "sslmode"),
        ("SSLMODE=verify-full", "sslmode"),
        ("sslrootcrt=/etc/hostname", "sslrootcert"),
        ("channel_bind=require", "channel_binding"),
        ("target_session_attr=read-write", "target_session_attrs"),
        ("sslMode=require", "sslmode"),
    ] {
        let url = closed_url(&format!("?{param}"));
        let r = check(&[("DATABASE_URL", &url), ("GATE_EXPECT_VERSION", "1")], &[]);
        let key = param.split('=').next().unwrap_or_default();
        refused(&r, param, &[&format!("{key:?}"), &format!("write {meant}")]);
    }
}

// Item 18: near-miss connection strings are named with their fix; verify-ca needs a CA.
#[test]
fn near_miss_connection_strings_are_named_with_their_fix() {
    let dir = temp_dir("dsn-near-miss");
    let bom = dir.join("bom");
    std::fs::write(
        &bom,
        format!("\u{feff}postgres://gate:{PASSWORD}@127.0.0.1:1/app\n"),
    )
    .expect("write");
    let url = closed_url("");
    let quoted = format!("\"{url}\"");
    let jdbc = format!("jdbc:postgresql://127.0.0.1:1/app?user=gate&password={PASSWORD}");
    let leading = format!(" {url}");
    let newline = format!("{url}\n");
    let question = "postgres://gate:Zq9?pw@127.0.0.1:1/app".to_string();
    let verify_ca = closed_url("?sslmode=verify-ca");
    let bom = bom.to_string_lossy().to_string();
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "DATABASE_URL",
            &quoted,
            &["in quotes", "without the surrounding quotes"],
        ),
        (
            "DATABASE_URL",
            &jdbc,
            &["JDBC URL", "drop the jdbc: prefix"],
        ),
        (
            "DATABASE_URL",
            &leading,
            &["starts with white space", "remove it"],
        ),
        ("DATABASE_URL", &newline, &["ends with a newline", "printf"]),
        ("DATABASE_URL", &question, &["'?'", "%3F"]),
        (
            "DATABASE_URL_FILE",
            &bom,
            &["byte-order mark", "without a BOM"],
        ),
        ("DATABASE_URL", &verify_ca, &["sslrootcert", "verify-full"]),
    ];
    for (var, value, expected) in cases {
        let r = check(&[(var, value), ("GATE_EXPECT_VERSION", "1")], &[]);
        let mut expected = expected.to_vec();
        let named = format!("{var}: ");
        expected.push(&named);
        refused(&r, value, &expected);
    }
    let _ = std::fs::remove_dir_all(dir);
}

// Item 19: timeouts and intervals within their accepted ranges.
#[test]
fn query_timeout_and_interval_ranges() {
    for (var, value, expected) in [
        ("GATE_QUERY_TIMEOUT", "2147484s", "1ms to 2147483647ms"),
        ("GATE_QUERY_TIMEOUT", "597h", "1ms to 2147483647ms"),
        ("GATE_INTERVAL", "0.000001", "100ms to 1 year"),
        ("GATE_INTERVAL", "10ms", "100ms to 1 year"),
        ("GATE_RECHECK_INTERVAL", "1ms", "100ms to 1 year"),
    ] {
        let url = closed_url("");
        let r = check(
            &[
                ("DATABASE_URL", &url),
                ("GATE_EXPECT_VERSION", "1"),
                (var, value),
            ],
            &[],
        );
        refused(&r, value, &[var, expected]);
    }
    // The limits themselves are accepted.
    let url = closed_url("");
    let r = check(
        &[
            ("DATABASE_URL", &url),
            ("GATE_EXPECT_VERSION", "1"),
            ("GATE_QUERY_TIMEOUT", "2147483s"),
            ("GATE_INTERVAL", "100ms"),
        ],
        &[],
    );
    assert_eq!(r.code, Some(3), "{r:?}");
}

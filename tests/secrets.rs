//! Bad configuration and secrets: every malformed, out-of-range or hostile value is refused with
//! exit 2 and a message naming its variable, never a panic; and the database password, however it
//! is given, never appears in stdout, stderr (text and JSON logs, at trace level), `/status`,
//! `/metrics`, `/readyz?verbose` or the termination message, on any path.

mod support;

use std::process::Command;
use std::time::Duration;
use support::{PASSWORD, Postgres, Sidecar, eventually, free_port, gate, gate_for, run, temp_dir};

const LIMIT: Duration = Duration::from_secs(30);

/// Runs `check` with `vars` plus a valid baseline, expecting a configuration error that names
/// `expect_name`.
fn refused(vars: &[(&str, &str)], args: &[&str], expect_name: &str) {
    let dir = temp_dir("cfg");
    let term = dir.join("termination-log");
    let mut cmd = gate(args);
    cmd.env(
        "DATABASE_URL",
        format!("postgres://gate:{PASSWORD}@127.0.0.1:1/app"),
    )
    .env("GATE_EXPECT_VERSION", "1")
    .env("GATE_TERMINATION_LOG", &term);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let r = run(&mut cmd, LIMIT);
    let output = r.all_output();
    assert_eq!(r.code, Some(2), "{vars:?} {args:?}: {r:?}");
    assert!(
        output.contains(expect_name),
        "{vars:?}: message does not name {expect_name}: {output}"
    );
    assert!(
        !output.contains("panicked") && !output.contains("internal error"),
        "{vars:?}: {output}"
    );
    assert!(
        !output.contains(PASSWORD),
        "{vars:?}: password leaked: {output}"
    );
    assert!(
        r.stdout.is_empty(),
        "{vars:?}: nothing is checked, nothing printed: {output}"
    );
    if let Ok(message) = std::fs::read_to_string(&term) {
        assert!(
            !message.contains(PASSWORD),
            "{vars:?}: termination message leaks"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// (variable, bad value): each refused at start-up, naming the variable.
const BAD_VALUES: &[(&str, &str)] = &[
    ("GATE_EXPECT_VERSION", "9223372036854775808"),
    ("GATE_EXPECT_VERSION", "-1"),
    ("GATE_EXPECT_VERSION", "1.5"),
    ("GATE_EXPECT_VERSION", "0x10"),
    ("GATE_POLICY", "latest"),
    ("GATE_TIMEOUT", "-5s"),
    ("GATE_TIMEOUT", "99999999999999999999999s"),
    ("GATE_TIMEOUT", "1e9"),
    ("GATE_INTERVAL", "0"),
    ("GATE_INTERVAL", "1 s"),
    ("GATE_RECHECK_INTERVAL", "forever"),
    ("GATE_STALE_AFTER", "5s"),
    ("GATE_CONNECT_TIMEOUT", "2y"),
    ("GATE_QUERY_TIMEOUT", "\u{1F600}"),
    ("GATE_LISTEN", "999.1.1.1:80"),
    ("GATE_LISTEN", "127.0.0.1:99999"),
    ("GATE_LOG_FORMAT", "xml"),
    ("GATE_LOG", "info,[[["),
    ("GATE_OUTPUT", "yaml"),
    ("GOOSE_DRIVER", "mysql"),
    ("GOOSE_TABLE", "goose'; DROP TABLE x; --"),
    ("GOOSE_TABLE", "a.b.c"),
    ("GOOSE_TABLE", "\"unterminated"),
    ("GOOSE_TABLE", "order"),
    ("GOOSE_MIGRATION_DIR", "/nonexistent"),
];

/// Bad DSNs (with the password in them) and bad libpq variables: (variables, the one named).
fn bad_connection_cases(dir: &str) -> Vec<(Vec<(&'static str, String)>, &'static str)> {
    let pw = PASSWORD;
    let url = |tail: &str| format!("postgres://gate:{pw}@127.0.0.1:5432/app{tail}");
    let dsn = |value: String| (vec![("DATABASE_URL", value)], "DATABASE_URL");
    let with_url = |var: &'static str, value: &str| {
        (
            vec![
                (var, value.to_string()),
                ("DATABASE_URL", format!("postgres://gate:{pw}@h/app")),
            ],
            var,
        )
    };
    vec![
        dsn(format!("postgres://gate:{pw}@127.0.0.1:99999/app")),
        dsn(format!("postgres://gate:{pw}@127.0.0.1:-1/app")),
        dsn(format!("postgres://gate:{pw}@[::1/app")),
        dsn(url("?sslmode=verify-fool")),
        dsn(url("?sslrootcert=/nonexistent/ca.pem")),
        dsn(url("?sslcert=/etc/hostname")),
        dsn(url("?sslpassword=x")),
        dsn(format!("mysql://gate:{pw}@h/app")),
        dsn(format!("host=h password='{pw}")),
        dsn(format!("host=h {pw}")),
        (
            vec![("DATABASE_URL_FILE", dir.to_string())],
            "DATABASE_URL_FILE",
        ),
        with_url("PGPORT", "-1"),
        with_url("PGSSLMODE", "verify-fool"),
        with_url("PGCONNECT_TIMEOUT", "soon"),
        (
            vec![
                ("PGSSLROOTCERT", "/nonexistent".into()),
                ("PGSSLMODE", "verify-full".into()),
            ],
            "PGSSLROOTCERT",
        ),
        (
            vec![
                ("PGPASSFILE", dir.to_string()),
                ("DATABASE_URL", "postgres://gate@h/app".into()),
            ],
            "PGPASSFILE",
        ),
    ]
}

#[test]
fn every_variable_refuses_bad_values_by_name() {
    let dir = temp_dir("bad-migrations");
    let dup = dir.join("dup");
    std::fs::create_dir_all(&dup).expect("mkdir");
    std::fs::write(dup.join("001_a.sql"), "").expect("write");
    std::fs::write(dup.join("1_b.sql"), "").expect("write");
    let misnamed = dir.join("misnamed");
    std::fs::create_dir_all(&misnamed).expect("mkdir");
    std::fs::write(misnamed.join("init.sql"), "").expect("write");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let long_name = "x".repeat(100);
    let mut cases: Vec<(Vec<(&str, String)>, &str)> = BAD_VALUES
        .iter()
        .map(|(var, value)| (vec![(*var, value.to_string())], *var))
        .collect();
    cases.push((vec![("GOOSE_TABLE", long_name)], "GOOSE_TABLE"));
    for bad in [&dup, &misnamed, &empty] {
        let value = bad.to_string_lossy().to_string();
        cases.push((vec![("GATE_MIGRATIONS_DIR", value)], "GATE_MIGRATIONS_DIR"));
    }
    cases.extend(bad_connection_cases(&dir.to_string_lossy()));
    for (vars, name) in &cases {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        refused(&vars, &["check"], name);
    }
    // Flags are named as flags.
    refused(&[], &["check", "--interval", "soon"], "--interval");
    refused(&[], &["check", "--goose-table=a;b"], "--goose-table");
    refused(&[], &["check", "--no-such-flag"], "--no-such-flag");
    // A positional argument is never echoed (it may be a DSN): its position is named.
    refused(&[], &["frobnicate"], "argument 1 is not a mode");
    // Both DSN files given.
    refused(
        &[("DATABASE_URL_FILE", "/etc/hostname")],
        &["check"],
        "DATABASE_URL_FILE",
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn non_utf8_values_are_named() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"postgres://gate:\xff\xfe@h/app");
    let r = run(gate_for("check", bad, "1"), LIMIT);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("DATABASE_URL"), "{r:?}");
}

/// Everything a running `serve` shows: its HTTP answers and its log (at trace level).
fn serve_outputs(vars: &[(String, String)]) -> String {
    let mut settings: Vec<(&str, &str)> = vec![
        ("GATE_EXPECT_VERSION", "5"),
        ("GATE_INTERVAL", "100ms"),
        ("GATE_LOG", "trace"),
    ];
    settings.extend(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // The DSN comes from `vars` (some sources use no DATABASE_URL at all): start with an empty one.
    let mut sidecar = Sidecar::start("", &settings);
    // Its first check is done (and logged) once /status has a checked_at.
    eventually(Duration::from_secs(30), "serve has checked", || {
        sidecar.status()["checked_at"].is_string().then_some(())
    });
    let mut answers = String::new();
    for path in ["/status", "/metrics", "/readyz?verbose", "/readyz"] {
        let (status, body) = sidecar.get(path);
        answers.push_str(&format!("{path} {status}\n{body}\n"));
    }
    let (_, _, log) = sidecar.stop_with("TERM");
    assert!(answers.contains("/status 200"), "serve answered: {answers}");
    format!("{answers}\n{log}")
}

/// Each way to give the password, as a function of (port, database): (name, variables).
type Source = Box<dyn Fn(u16, &str) -> Vec<(String, String)>>;

/// The five ways a password reaches the gate: URL, key=value, PGPASSWORD, PGPASSFILE and
/// DATABASE_URL_FILE (the last two write their files when called).
fn password_sources(
    url_file: &std::path::Path,
    passfile: &std::path::Path,
) -> Vec<(&'static str, Source)> {
    let url_file_for = url_file.to_path_buf();
    let passfile_for = passfile.to_path_buf();
    vec![
        (
            "URL",
            Box::new(|p, db| {
                vec![(
                    "DATABASE_URL".into(),
                    format!("postgres://gate:{PASSWORD}@127.0.0.1:{p}/{db}"),
                )]
            }),
        ),
        (
            "key=value",
            Box::new(|p, db| {
                vec![(
                    "GOOSE_DBSTRING".into(),
                    format!("host=127.0.0.1 port={p} user=gate password='{PASSWORD}' dbname={db}"),
                )]
            }),
        ),
        (
            "PGPASSWORD",
            Box::new(|p, db| {
                vec![
                    ("PGHOST".into(), "127.0.0.1".into()),
                    ("PGPORT".into(), p.to_string()),
                    ("PGUSER".into(), "gate".into()),
                    ("PGDATABASE".into(), db.into()),
                    ("PGPASSWORD".into(), PASSWORD.into()),
                ]
            }),
        ),
        (
            "PGPASSFILE",
            Box::new(move |p, db| {
                std::fs::write(&passfile_for, format!("*:*:*:gate:{PASSWORD}\n")).expect("write");
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&passfile_for, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
                vec![
                    (
                        "DATABASE_URL".into(),
                        format!("postgres://gate@127.0.0.1:{p}/{db}"),
                    ),
                    ("PGPASSFILE".into(), passfile_for.to_string_lossy().into()),
                ]
            }),
        ),
        (
            "DATABASE_URL_FILE",
            Box::new(move |p, db| {
                std::fs::write(
                    &url_file_for,
                    format!("postgres://gate:{PASSWORD}@127.0.0.1:{p}/{db}\n"),
                )
                .expect("write");
                vec![(
                    "DATABASE_URL_FILE".into(),
                    url_file_for.to_string_lossy().into(),
                )]
            }),
        ),
    ]
}

#[test]
fn the_password_never_appears_in_any_output() {
    let pg = Postgres::app(&[(1, true)]);
    let dir = temp_dir("secrets");
    let url_file = dir.join("url");
    let passfile = dir.join("pgpass");
    let term = dir.join("termination-log");
    let port = pg.port;
    let closed = free_port();

    let sources = password_sources(&url_file, &passfile);
    // Failure paths: (name, port, database, extra variables).
    type Path<'a> = (&'a str, u16, &'a str, Vec<(&'a str, &'a str)>);
    let paths: Vec<Path> = vec![
        ("behind", port, "app", vec![]),
        ("no table", port, "app", vec![("GOOSE_TABLE", "nope")]),
        ("unknown database", port, "nodb", vec![]),
        ("unreachable", closed, "app", vec![]),
        ("TLS refused", port, "app", vec![("PGSSLMODE", "require")]),
        (
            "bad config elsewhere",
            port,
            "app",
            vec![("GATE_POLICY", "sometimes")],
        ),
    ];
    let mut checked = 0;
    for (source, vars_for) in &sources {
        for (path, p, db, extra) in &paths {
            for format in ["text", "json"] {
                for mode in ["check", "wait"] {
                    let _ = std::fs::remove_file(&term);
                    let mut cmd = gate(&[mode]);
                    cmd.env("GATE_EXPECT_VERSION", "5")
                        .env("GATE_TIMEOUT", "300ms")
                        .env("GATE_INTERVAL", "100ms")
                        .env("GATE_LOG", "trace")
                        .env("GATE_LOG_FORMAT", format)
                        .env("GATE_TERMINATION_LOG", &term);
                    for (k, v) in vars_for(*p, db) {
                        cmd.env(k, v);
                    }
                    for (k, v) in extra {
                        cmd.env(k, v);
                    }
                    let r = run(&mut cmd, LIMIT);
                    assert_ne!(r.code, Some(0), "{source}/{path}/{mode}: {r:?}");
                    let message = std::fs::read_to_string(&term).unwrap_or_default();
                    assert!(
                        !message.is_empty(),
                        "{source}/{path}/{mode}: no termination message"
                    );
                    let everything = format!("{}\n{message}", r.all_output());
                    assert!(
                        !everything.contains(PASSWORD),
                        "{source}/{path}/{mode}/{format}: password leaked:\n{everything}"
                    );
                    checked += 1;
                }
            }
        }
        // serve: logs at trace, /status, /metrics, /readyz?verbose, for a failing and a working DSN.
        for (p, db) in [(closed, "app"), (port, "app"), (port, "nodb")] {
            let everything = serve_outputs(&vars_for(p, db));
            assert!(
                !everything.contains(PASSWORD),
                "{source}/serve: password leaked:\n{everything}"
            );
            checked += 1;
        }
    }
    eprintln!("{checked} runs, none printed the password");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn debug_logging_of_the_configuration_hides_the_password() {
    let r = run(
        gate_for(
            "check",
            format!("postgres://gate:{PASSWORD}@127.0.0.1:1/app"),
            "1",
        )
        .env("GATE_LOG", "trace"),
        LIMIT,
    );
    assert!(
        r.stderr.contains("configuration"),
        "the settings are logged at debug: {r:?}"
    );
    assert!(!r.all_output().contains(PASSWORD), "{r:?}");
    // The command line is not an output; still, a DSN given as a flag is treated the same.
    let r = run(
        Command::new(env!("CARGO_BIN_EXE_schema-gate"))
            .args([
                "check",
                "--database-url",
                &format!("postgres://gate:{PASSWORD}@127.0.0.1:1/app"),
            ])
            .args(["--expect-version", "1", "--log", "trace"])
            .env_clear(),
        LIMIT,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(!r.all_output().contains(PASSWORD), "{r:?}");
}

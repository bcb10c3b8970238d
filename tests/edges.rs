//! Trust at the edges: inputs and errors that once opened the gate on a stale schema, leaked a
//! password, or hung. Each test here failed on the code before its fix; the README's
//! "Guarantees" table points at them.

mod support;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{
    Bouncer, FakeServer, Fault, PASSWORD, Postgres, Sidecar, eventually, exit_and_peak_rss, finish,
    gate, gate_for, migrations_dir, run, spawn, temp_dir,
};

const LIMIT: Duration = Duration::from_secs(60);
/// Generous: these are states on a possibly busy CI host, not latency promises.
const DEADLINE: Duration = Duration::from_secs(30);

/// `check --json` with a migrations directory: (exit code, the JSON verdict, the whole run).
fn check_dir(url: &str, dir: &Path, vars: &[(&str, &str)]) -> (Option<i32>, serde_json::Value) {
    let r = run(
        gate(&["check", "--json"])
            .env("DATABASE_URL", url)
            .env("GATE_MIGRATIONS_DIR", dir)
            .envs(vars.iter().copied()),
        LIMIT,
    );
    (r.code, r.json())
}

fn touch(dir: &Path, name: &[u8]) {
    std::fs::write(dir.join(std::ffi::OsStr::from_bytes(name)), "").expect("write");
}

// Item 1: every entry goose's glob sees counts.
#[test]
fn migration_entries_of_any_kind_are_expected() {
    let pg = Postgres::app(&[(1, true), (2, true)]);
    let url = pg.url("gate", "app", "");
    let dangling = temp_dir("dangling");
    let directory = temp_dir("directory");
    let non_utf8 = temp_dir("non-utf8");
    for dir in [&dangling, &directory, &non_utf8] {
        touch(dir, b"1_a.sql");
        touch(dir, b"2_b.sql");
    }
    std::os::unix::fs::symlink("/nonexistent/3_c.sql", dangling.join("3_c.sql")).expect("ln");
    std::fs::create_dir(directory.join("3_c.sql")).expect("mkdir");
    touch(&non_utf8, b"3_\xff.sql");
    for dir in [&dangling, &directory, &non_utf8] {
        let (code, json) = check_dir(&url, dir, &[]);
        assert_eq!(code, Some(1), "{}: {json}", dir.display());
        assert_eq!(json["pending"], serde_json::json!([3]), "{json}");
        assert_eq!(json["expected"], 3, "{json}");
    }
    pg.apply("app", "goose_db_version", 3);
    assert_eq!(check_dir(&url, &non_utf8, &[]).0, Some(0));
}

// Item 2: NumericComponent exactly.
#[test]
fn file_names_follow_numeric_component() {
    let pg = Postgres::app(&[(1, true), (2, true)]);
    let url = pg.url("gate", "app", "");
    let signed = temp_dir("signed");
    touch(&signed, b"1_a.sql");
    touch(&signed, b"+3_c.sql");
    let (code, json) = check_dir(&url, &signed, &[]);
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["pending"], serde_json::json!([3]), "{json}");

    let no_separator = temp_dir("no-separator");
    touch(&no_separator, b"1_a.sql");
    touch(&no_separator, b"2.sql");
    let r = run(
        gate(&["check"])
            .env("DATABASE_URL", &url)
            .env("GATE_MIGRATIONS_DIR", &no_separator),
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains("GATE_MIGRATIONS_DIR") && r.stderr.contains("no filename separator"),
        "{r:?}"
    );
}

// Item 3: under exact, an applied version without a file is ahead, wherever it is.
#[test]
fn exact_refuses_applied_versions_the_build_does_not_know() {
    let pg = Postgres::app(&[(1, true), (2, true)]);
    let url = pg.url("gate", "app", "");
    let dir = temp_dir("only-2");
    touch(&dir, b"2_b.sql");
    let (code, json) = check_dir(&url, &dir, &[("GATE_POLICY", "exact")]);
    assert_eq!(code, Some(4), "{json}");
    assert_eq!(json["state"], "ahead");
    assert_eq!(json["ahead"], serde_json::json!([1]));
    let (code, json) = check_dir(&url, &dir, &[("GATE_POLICY", "at-least")]);
    assert_eq!(code, Some(0), "{json}");
}

/// A cluster whose `gate` role reads the goose table at version 2, and a sidecar on it.
fn verified_sidecar(vars: &[(&str, &str)]) -> (Postgres, Sidecar) {
    let pg = Postgres::app(&[(1, true), (2, true)]);
    let sidecar = Sidecar::start(&pg.url("gate", "app", ""), vars);
    sidecar.until_ready_is(200, DEADLINE);
    (pg, sidecar)
}

/// Revokes the gate's grant and rolls version 2 back, in one transaction.
fn revoke_and_roll_back(pg: &Postgres) {
    pg.sql(
        "app",
        "BEGIN; REVOKE SELECT ON goose_db_version FROM gate; \
         DELETE FROM goose_db_version WHERE version_id = 2; COMMIT",
    );
}

// Item 4: a rejection keeps a verified answer, but never silently.
#[test]
fn serve_tells_a_rejection_apart_and_shows_it() {
    let (pg, sidecar) = verified_sidecar(&[("GATE_RECHECK_INTERVAL", "200ms")]);
    revoke_and_roll_back(&pg);
    let status = eventually(DEADLINE, "the rejection shows on /status", || {
        let status = sidecar.status();
        (status["error_kind"] == "rejected").then_some(status)
    });
    assert!(status["error_since"].is_string(), "{status}");
    assert!(
        status["error"]
            .as_str()
            .is_some_and(|e| e.contains("permission denied")),
        "{status}"
    );
    // Fail-static: still ready on the last verified answer...
    assert_eq!(sidecar.get("/readyz").0, 200);
    // ...but explained, counted apart, and logged at error.
    let (_, verbose) = sidecar.get("/readyz?verbose");
    assert!(
        verbose.contains("last error (rejected, since ")
            && verbose.contains("rollback would not be seen"),
        "{verbose}"
    );
    let (_, metrics) = sidecar.get("/metrics");
    let count = |result: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("schema_gate_checks_total{{result=\"{result}\"}}")))
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or(-1.0)
    };
    assert!(count("rejected") >= 1.0, "{metrics}");
    assert_eq!(
        count("error"),
        0.0,
        "a rejection is not also an error: {metrics}"
    );
    let log = sidecar.log();
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("permission denied")),
        "{log}"
    );
    assert!(!log.contains(PASSWORD));
}

// Item 4: GATE_STALE_AFTER bounds how long a rejected gate is trusted.
#[test]
fn stale_after_bounds_a_rejection_too() {
    let (pg, sidecar) = verified_sidecar(&[
        ("GATE_RECHECK_INTERVAL", "200ms"),
        ("GATE_STALE_AFTER", "2s"),
    ]);
    revoke_and_roll_back(&pg);
    sidecar.until_ready_is(503, DEADLINE);
    let (_, reason) = sidecar.get("/readyz");
    assert!(
        reason.contains("stale") && reason.contains("rejected"),
        "{reason}"
    );
    // Access restored: the rollback is seen at once.
    pg.sql("app", "GRANT SELECT ON goose_db_version TO gate");
    eventually(DEADLINE, "the rollback is seen", || {
        let (_, body) = sidecar.get("/readyz");
        body.contains("at version 1").then_some(())
    });
}

// Item 5: legacy rollback rows are named, with what to do.
#[test]
fn legacy_rollback_rows_get_a_hint() {
    let pg = Postgres::app(&[(1, true), (2, true), (2, false)]);
    let url = pg.url("gate", "app", "");
    let r = run(gate_for("check", &url, "2").arg("--json"), LIMIT);
    assert_eq!(r.code, Some(1), "{r:?}");
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    let hint = json["hint"].as_str().expect("a hint");
    assert!(
        hint.contains("version(s) 2 ") && hint.contains("goose up"),
        "{hint}"
    );
    let r = run(gate_for("wait", &url, "2").env("GATE_TIMEOUT", "1s"), LIMIT);
    assert_eq!(r.code, Some(124), "{r:?}");
    assert!(r.stderr.contains("by hand"), "{r:?}");
}

// Item 6: a malformed URL never echoes what may be its password.
#[test]
fn malformed_url_passwords_never_printed() {
    let termination = temp_dir("termination").join("log");
    for url in [
        "postgres://gate:S3cr3t/xyz@db:5432/app",
        "postgres://gate:S3cr3t?x@db:5432/app",
        "postgres://gate:S3cr3t",
    ] {
        for var in ["DATABASE_URL", "GOOSE_DBSTRING"] {
            for mode in ["check", "wait"] {
                let r = run(
                    gate(&[mode])
                        .env(var, url)
                        .env("GATE_EXPECT_VERSION", "1")
                        .env("GATE_TERMINATION_LOG", &termination),
                    LIMIT,
                );
                assert_eq!(r.code, Some(2), "{mode} {var} {url}: {r:?}");
                let written = std::fs::read_to_string(&termination).unwrap_or_default();
                for output in [&r.stderr, &r.stdout, &written] {
                    assert!(!output.contains("S3cr3t"), "{mode} {var} {url}: {output}");
                }
                assert!(
                    r.stderr.contains(var) && r.stderr.contains("percent-encode"),
                    "{r:?}"
                );
            }
        }
    }
}

// Item 7: a misspelt password key is refused, naming the key, never the value.
#[test]
fn misspelt_password_keys_are_refused() {
    for dsn in [
        "host=db user=gate passwd=Zq9Secret dbname=app",
        "host=db user=gate pwd=Zq9Secret dbname=app",
        "postgres://gate@db/app?pasword=Zq9Secret",
    ] {
        let r = run(
            gate(&["check"])
                .env("DATABASE_URL", dsn)
                .env("GATE_EXPECT_VERSION", "1")
                .env("GATE_LOG", "trace"),
            LIMIT,
        );
        assert_eq!(r.code, Some(2), "{dsn}: {r:?}");
        assert!(r.stderr.contains("misspelt"), "{r:?}");
        assert!(!r.all_output().contains("Zq9Secret"), "{r:?}");
    }
    // Runtime parameters' values never reach a log, even at trace.
    let pg = Postgres::app(&[(1, true)]);
    let url = pg.url("gate", "app", "search_path=public,Zq9Value");
    let r = run(gate_for("check", &url, "1").env("GATE_LOG", "trace"), LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(!r.all_output().contains("Zq9Value"), "{r:?}");
}

// Item 8: a closed stdout is not a crash.
#[test]
fn closed_stdout_keeps_the_verdict_code() {
    let pg = Postgres::app(&[(1, true)]);
    let url = pg.url("gate", "app", "");
    for (expect, code) in [("1", 0), ("2", 1)] {
        let mut child = gate_for("check", &url, expect)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let started = std::time::Instant::now();
        let r = finish(&mut child, started, LIMIT);
        assert_eq!(r.code, Some(code), "{r:?}");
        assert!(!r.stderr.contains("internal error"), "{r:?}");
    }
}

// Item 9: files are read with a cap, only when regular, without blocking.
#[test]
fn endless_blocking_and_odd_files_are_refused() {
    let dir = temp_dir("files");
    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let fifo = fifo.to_str().expect("utf-8").to_string();
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "DATABASE_URL_FILE",
            vec![("DATABASE_URL_FILE", "/dev/zero".into())],
        ),
        (
            "DATABASE_URL_FILE",
            vec![("DATABASE_URL_FILE", fifo.clone())],
        ),
        (
            "DATABASE_URL_FILE",
            vec![("DATABASE_URL_FILE", "/tmp".into())],
        ),
        (
            "PGPASSFILE",
            vec![
                ("DATABASE_URL", "postgres://gate@db/app".into()),
                ("PGPASSFILE", "/dev/zero".into()),
            ],
        ),
        (
            "DATABASE_URL",
            vec![(
                "DATABASE_URL",
                "postgres://gate@db/app?sslmode=verify-ca&sslrootcert=/dev/zero".into(),
            )],
        ),
        (
            "DATABASE_URL",
            vec![(
                "DATABASE_URL",
                format!("postgres://gate@db/app?sslmode=require&sslcert={fifo}&sslkey={fifo}"),
            )],
        ),
    ];
    for (named, vars) in cases {
        let r = run(
            gate(&["check"])
                .env("GATE_EXPECT_VERSION", "1")
                .envs(vars.iter().map(|(k, v)| (*k, v.as_str()))),
            LIMIT,
        );
        assert_eq!(r.code, Some(2), "{vars:?}: {r:?}");
        assert!(
            r.stderr.contains(named) && r.stderr.contains("not a regular file"),
            "{vars:?}: {r:?}"
        );
    }
    let big = dir.join("big");
    std::fs::write(&big, vec![b'x'; 2 << 20]).expect("write");
    let r = run(
        gate(&["check"])
            .env("GATE_EXPECT_VERSION", "1")
            .env("DATABASE_URL_FILE", &big),
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("larger than"), "{r:?}");
}

// Item 9: a Secret mounted the Kubernetes way (symlinks into ..data/) works.
#[test]
fn kubernetes_secret_mounts_are_followed() {
    let pg = Postgres::app(&[(1, true)]);
    let mount = temp_dir("secret-mount");
    let data = mount.join("..2026_11_26_00_00_00.000000001");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("gate-dsn"), pg.url("gate", "app", "")).expect("write");
    std::os::unix::fs::symlink("..2026_11_26_00_00_00.000000001", mount.join("..data"))
        .expect("ln ..data");
    std::os::unix::fs::symlink("..data/gate-dsn", mount.join("gate-dsn")).expect("ln key");
    let r = run(
        gate(&["check"])
            .env("GATE_EXPECT_VERSION", "1")
            .env("DATABASE_URL_FILE", mount.join("gate-dsn")),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
}

// Item 10: a termination-message FIFO without a reader does not block.
#[test]
fn termination_log_fifo_does_not_block() {
    let pg = Postgres::app(&[(1, true)]);
    let dir = temp_dir("termination-fifo");
    let fifo = dir.join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let r = run(
        gate_for("check", pg.url("gate", "app", ""), "2").env("GATE_TERMINATION_LOG", &fifo),
        LIMIT,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("termination message"), "{r:?}");
}

// Item 11: each host gets its own connect timeout.
#[test]
fn a_silent_first_host_fails_over_to_the_second() {
    let pg = Postgres::app(&[(1, true)]);
    let silent = FakeServer::start(Fault::Silent);
    let url = format!(
        "postgres://gate:{PASSWORD}@127.0.0.1:{},127.0.0.1:{}/app",
        silent.port, pg.port
    );
    let r = run(
        gate_for("check", &url, "1").env("GATE_CONNECT_TIMEOUT", "2s"),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
}

/// Runs `cmd` while `pg`'s goose table is locked (by the caller), and checks that once the
/// gate has given up no backend of its is left waiting on the lock.
fn gives_up_without_leaving_a_waiter(pg: &Postgres, mut cmd: Command, code: i32) {
    let (mut child, started) = spawn(&mut cmd);
    eventually(DEADLINE, "the gate waits on the lock", || {
        (pg.lock_waiters("schema-gate") > 0).then_some(())
    });
    let r = finish(&mut child, started, LIMIT);
    assert_eq!(r.code, Some(code), "{r:?}");
    eventually(DEADLINE, "no backend of the gate waits any more", || {
        (pg.lock_waiters("schema-gate") == 0).then_some(())
    });
}

// Item 12: GATE_QUERY_TIMEOUT wins over the DSN, and abandoned queries are cancelled.
#[test]
fn abandoned_queries_are_cancelled_on_the_server() {
    let pg = Postgres::app(&[(1, true)]);
    let mut holder = pg.hold_lock("app", "goose_db_version", 600);
    // A DSN that tries to lift the statement timeout: the gate's own timeout still applies.
    let mut check = gate_for("check", pg.url("gate", "app", "statement_timeout=0"), "1");
    check.env("GATE_QUERY_TIMEOUT", "2s");
    gives_up_without_leaving_a_waiter(&pg, check, 3);
    // wait gives up at GATE_TIMEOUT while its query still waits: the query is cancelled.
    let mut wait = gate_for("wait", pg.url("gate", "app", ""), "1");
    wait.env("GATE_QUERY_TIMEOUT", "10m")
        .env("GATE_TIMEOUT", "2s");
    gives_up_without_leaving_a_waiter(&pg, wait, 124);
    // The same through PgBouncer in transaction mode (whose 1.18 drops a cancel request whose
    // connection closes too early: the gate waits for the server to close it, as libpq does).
    let bouncer = Bouncer::start(&pg, &["gate"]);
    let mut wait = gate_for("wait", bouncer.url("gate", "app", ""), "1");
    wait.env("GATE_QUERY_TIMEOUT", "10m")
        .env("GATE_TIMEOUT", "2s");
    gives_up_without_leaving_a_waiter(&pg, wait, 124);
    // SIGTERM in the middle of check's query cancels it too.
    let (mut child, _) = spawn(gate_for("check", bouncer.url("gate", "app", ""), "1"));
    eventually(DEADLINE, "check waits on the lock", || {
        (pg.lock_waiters("schema-gate") > 0).then_some(())
    });
    support::signal(&child, "TERM");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(143));
    eventually(DEADLINE, "no backend of the gate waits any more", || {
        (pg.lock_waiters("schema-gate") == 0).then_some(())
    });
    let _ = holder.kill();
    let _ = holder.wait();
}

// Item 13: a reserved word as the table name is refused at start-up.
#[test]
fn reserved_table_names_are_refused() {
    let r = run(
        gate_for("wait", "postgres://gate@db/app", "1").env("GOOSE_TABLE", "order"),
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains("GOOSE_TABLE") && r.stderr.contains("reserved"),
        "{r:?}"
    );
}

// Item 14: memory stays flat as the version table grows.
#[test]
fn a_million_rows_fit_in_the_container_limit() {
    let pg = Postgres::app_applied_through(1_000_000);
    let dir = migrations_dir(&[1, 1_000_000]);
    let url = pg.url("gate", "app", "");
    let mut check = gate(&["check"]);
    check
        .env("DATABASE_URL", &url)
        .env("GATE_MIGRATIONS_DIR", &dir)
        .env("GATE_QUERY_TIMEOUT", "2m")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (code, peak_kib) = exit_and_peak_rss(&mut check, Duration::from_secs(120));
    assert_eq!(code, Some(0));
    eprintln!("check, 1,000,000 rows: peak RSS {} KiB", peak_kib);
    assert!(peak_kib < 32 * 1024, "check peaked at {peak_kib} KiB");

    let sidecar = Sidecar::start(
        &url,
        &[
            ("GATE_EXPECT_VERSION", "1000000"),
            ("GATE_QUERY_TIMEOUT", "2m"),
            ("GATE_RECHECK_INTERVAL", "200ms"),
        ],
    );
    sidecar.until_ready_is(200, Duration::from_secs(120));
    // Several re-checks, each streaming the whole table.
    eventually(Duration::from_secs(120), "three more checks", || {
        let (_, metrics) = sidecar.get("/metrics");
        metrics
            .lines()
            .find(|l| l.starts_with("schema_gate_checks_total{result=\"ready\"}"))
            .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok())
            .filter(|n| *n >= 4.0)
    });
    let peak = sidecar.peak_rss_kib();
    eprintln!("serve, 1,000,000 rows: peak RSS {peak} KiB");
    assert!(peak > 0 && peak < 32 * 1024, "serve peaked at {peak} KiB");
}

// Item 16: an odd ~/.pgpass is skipped with a warning, as libpq does.
#[test]
fn odd_default_pgpass_is_ignored_with_a_warning() {
    let pg = Postgres::app(&[(1, true)]);
    let home = temp_dir("home");
    std::fs::create_dir(home.join(".pgpass")).expect("mkdir");
    // No password anywhere: the password file is consulted, skipped, and the server says no.
    let url = format!("postgres://gate@127.0.0.1:{}/app", pg.port);
    let r = run(gate_for("check", &url, "1").env("HOME", &home), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stderr.contains("~/.pgpass ignored"), "{r:?}");
}

// Items 17 and 18: serve says which port it bound, and that GATE_TIMEOUT is not for it.
#[test]
fn serve_logs_its_real_port_and_ignored_timeout() {
    let pg = Postgres::app(&[(1, true)]);
    let log = temp_dir("serve-log").join("stderr");
    let mut child = gate_for("serve", pg.url("gate", "app", ""), "1")
        .env("GATE_LISTEN", "127.0.0.1:0")
        .env("GATE_TIMEOUT", "5s")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn");
    let port: u16 = eventually(DEADLINE, "serve logs its address", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let at = text.find("listen=127.0.0.1:")? + "listen=127.0.0.1:".len();
        text[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    });
    assert_ne!(port, 0);
    assert_eq!(support::http(port, "GET", "/livez").0, 200);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("GATE_TIMEOUT applies to wait only"), "{text}");
    let _ = child.kill();
    let _ = child.wait();
}

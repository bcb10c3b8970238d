//! `schema-gate wait` against a real PostgreSQL (and PgBouncer): opening when the migration row
//! lands, retrying what waiting can fix, failing fast on what it cannot, timeouts, signals, exec.

mod support;

use std::time::Duration;
use support::{
    Bouncer, FakeServer, Fault, Logged, PASSWORD, PgOptions, Postgres, STATE, eventually, finish,
    gate, gate_for, run, signalled, spawn,
};

const LIMIT: Duration = Duration::from_secs(60);

/// Blocks while behind (five polls, counted as the server's committed transactions); exits 0
/// once the migration row commits.
fn opens_when_row_lands(url: String, pg: &Postgres) {
    let before = pg.xact_commit("app");
    let mut waiter = Logged::spawn(gate_for("wait", url, "2").env("GATE_INTERVAL", "300ms"));
    waiter.keeps_running_after("not ready");
    eventually(STATE, "five polls", || {
        (pg.xact_commit("app") >= before + 5).then_some(())
    });
    assert!(
        waiter.child.try_wait().expect("poll").is_none(),
        "wait must block while behind"
    );
    pg.apply("app", "goose_db_version", 2);
    // It opens (how fast is BENCHMARKS.md's detection latency, not a test's bound).
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
    // Logs: the first verdict and the change, not one line per poll (5 polls happened).
    let lines = r.stderr.lines().count();
    assert!(lines <= 4, "too chatty ({lines} lines):\n{}", r.stderr);
    assert!(r.stderr.contains("not ready"), "{}", r.stderr);
    assert!(
        r.stderr.contains("ready: goose_db_version at version 2"),
        "{}",
        r.stderr
    );
    assert!(!r.all_output().contains(PASSWORD));
}

#[test]
fn opens_within_one_interval_direct() {
    let pg = Postgres::app(&[(1, true)]);
    opens_when_row_lands(pg.url("gate", "app", ""), &pg);
}

#[test]
fn opens_within_one_interval_through_pgbouncer() {
    let pg = Postgres::app(&[(1, true)]);
    let bouncer = Bouncer::start(&pg, &["gate"]);
    opens_when_row_lands(bouncer.url("gate", "app", ""), &pg);
}

#[test]
fn waits_for_the_table_to_appear() {
    let pg = Postgres::start();
    pg.create_db_and_role("app", "gate");
    let bouncer = Bouncer::start(&pg, &["gate"]);
    let mut waiter = Logged::spawn(
        gate_for("wait", bouncer.url("gate", "app", ""), "1").env("GATE_INTERVAL", "200ms"),
    );
    // No table: it says so and keeps waiting.
    waiter.keeps_running_after("does not exist");
    // The gate's grant takes effect with the table: goose creates it, and a GRANT after goose
    // would leave a moment in which a poll reads "permission denied" (which waiting cannot fix).
    pg.sql(
        "app",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO gate",
    );
    pg.goose_table("app", "goose_db_version", &[(1, true)], Some("gate"));
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
}

#[test]
fn retries_until_the_database_comes_up() {
    // Prepare the cluster, stop it, start the gate against the dead port, then boot it again:
    // the roles exist before the first connection can succeed (a missing role is not transient).
    let mut pg = Postgres::app(&[(1, true)]);
    pg.stop();
    let mut waiter = Logged::spawn(
        gate_for("wait", pg.url("gate", "app", ""), "1").env("GATE_INTERVAL", "200ms"),
    );
    // Connection refused is transient: it says so and keeps waiting.
    waiter.keeps_running_after("onnection refused");
    pg.boot();
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.to_lowercase().contains("connection refused"),
        "{}",
        r.stderr
    );
}

#[test]
fn fails_fast_on_what_waiting_cannot_fix() {
    let pg = Postgres::app(&[(1, true)]);
    pg.create_role("stranger");
    let wrong = format!("postgres://gate:wrong-{PASSWORD}@127.0.0.1:{}/app", pg.port);
    for (url, expect, what) in [
        (wrong, "password authentication failed", "bad password"),
        (
            pg.url("gate", "nodb", ""),
            "does not exist",
            "unknown database",
        ),
        (
            pg.url("stranger", "app", ""),
            "permission denied",
            "no SELECT",
        ),
    ] {
        let r = run(gate_for("wait", url, "1").env("GATE_TIMEOUT", "30s"), LIMIT);
        assert_eq!(r.code, Some(3), "{what}: {r:?}");
        assert!(
            r.elapsed < Duration::from_secs(10),
            "{what}: took {:?}",
            r.elapsed
        );
        assert!(r.stderr.contains(expect), "{what}: {}", r.stderr);
        assert!(!r.all_output().contains(PASSWORD), "{what}");
    }
    // ahead under exact: waiting cannot change it either.
    pg.apply("app", "goose_db_version", 5);
    let r = run(
        gate_for("wait", pg.url("gate", "app", ""), "1").env("GATE_POLICY", "exact"),
        LIMIT,
    );
    assert_eq!(r.code, Some(4), "{r:?}");
}

#[test]
fn wrong_ca_fails_fast() {
    let dir = support::temp_dir("wait-tls");
    let certs = support::make_certs(&dir);
    let pg = Postgres::start_with(PgOptions::tls(&certs));
    pg.create_db_and_role("app", "gate");
    let url = format!(
        "postgres://gate:{PASSWORD}@localhost:{}/app?sslmode=verify-full&sslrootcert={}",
        pg.port,
        certs.other_ca.display()
    );
    let r = run(gate_for("wait", url, "1"), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn gives_up_at_the_timeout_with_124() {
    let pg = Postgres::app(&[(1, true)]);
    let dir = support::temp_dir("wait-timeout");
    let term = dir.join("termination-log");
    let r = run(
        gate_for("wait", pg.url("gate", "app", ""), "7")
            .env("GATE_INTERVAL", "200ms")
            .env("GATE_TIMEOUT", "1s")
            .env("GATE_TERMINATION_LOG", &term),
        LIMIT,
    );
    assert_eq!(r.code, Some(124), "{r:?}");
    assert!(r.elapsed >= Duration::from_secs(1), "{:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    let message = std::fs::read_to_string(&term).expect("termination message");
    assert!(message.starts_with("gave up after 1s"), "{message}");
    assert!(message.contains("expected 7"), "{message}");
    assert!(r.stderr.contains("gave up after 1s"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn timeout_also_bounds_a_hanging_connection() {
    // A port that accepts and never answers: the first check itself hangs.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let r = run(
        gate_for(
            "wait",
            format!("postgres://gate:{PASSWORD}@127.0.0.1:{port}/app"),
            "1",
        )
        .env("GATE_CONNECT_TIMEOUT", "30s")
        .env("GATE_TIMEOUT", "1s"),
        LIMIT,
    );
    assert_eq!(r.code, Some(124), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    assert!(
        r.stderr.contains("before the first check completed"),
        "{}",
        r.stderr
    );
    drop(listener);
}

#[test]
fn sigterm_and_sigint_stop_within_a_second() {
    let pg = Postgres::app(&[(1, true)]);
    for (sig, code) in [("TERM", 143), ("INT", 130)] {
        // While sleeping between polls: after the first verdict is logged.
        let (r, took) = signalled(
            gate_for("wait", pg.url("gate", "app", ""), "9").env("GATE_INTERVAL", "10s"),
            "the first verdict",
            |log| log.contains("not ready"),
            sig,
        );
        assert_eq!(r.code, Some(code), "SIG{sig}: {r:?}");
        assert!(took < Duration::from_secs(1), "SIG{sig} took {took:?}");
    }
    // While connecting to a server that accepts and never answers.
    let silent = FakeServer::start(Fault::Silent);
    let (r, took) = signalled(
        gate_for(
            "wait",
            format!("postgres://gate:{PASSWORD}@127.0.0.1:{}/app", silent.port),
            "1",
        ),
        "the connection attempt",
        |_| silent.accepted() > 0,
        "TERM",
    );
    assert_eq!(r.code, Some(143), "{r:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn execs_the_command_once_ready() {
    let pg = Postgres::app(&[(1, true)]);
    let r = run(
        gate(&[
            "wait",
            "--",
            "sh",
            "-c",
            "echo started as $$ with $1; exit 7",
            "sh",
            "arg1",
        ])
        .env("DATABASE_URL", pg.url("gate", "app", ""))
        .env("GATE_EXPECT_VERSION", "1"),
        LIMIT,
    );
    // The command's own exit code and output: the gate became the command.
    assert_eq!(r.code, Some(7), "{r:?}");
    assert!(
        r.stdout.starts_with("started as ") && r.stdout.trim_end().ends_with("with arg1"),
        "{r:?}"
    );
    // exec keeps the PID: $$ in the shell is the PID the gate was started with.
    let r = run(
        gate(&["wait", "--", "/nonexistent/app"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_EXPECT_VERSION", "1"),
        LIMIT,
    );
    assert_eq!(r.code, Some(127), "{r:?}");
    let r = run(
        gate(&["wait", "--", "sh", "-c", "exit 5"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_EXPECT_VERSION", "2")
            .env("GATE_TIMEOUT", "500ms"),
        LIMIT,
    );
    assert_eq!(
        r.code,
        Some(124),
        "not ready: the command never runs: {r:?}"
    );
}

#[test]
fn exec_keeps_the_pid() {
    let pg = Postgres::app(&[(1, true)]);
    let (mut child, started) = spawn(
        gate(&["wait", "--", "sh", "-c", "echo $$"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_EXPECT_VERSION", "1"),
    );
    let pid = child.id();
    let r = finish(&mut child, started, LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout.trim(), pid.to_string(), "exec, not spawn");
}

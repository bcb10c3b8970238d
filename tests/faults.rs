//! Database faults against `check`, `wait` and `serve`, with real PostgreSQL and PgBouncer
//! (and a fake server only for network faults a real one does not produce on demand): the gate
//! never opens on a stale schema, never wedges on a transient blip, and stops promptly.

mod support;

use std::time::Duration;
use support::{
    Bouncer, FakeServer, Fault, Logged, PASSWORD, Postgres, STATE, Sidecar, eventually, finish,
    gate, gate_for, run, signal, signalled, spawn,
};

const LIMIT: Duration = Duration::from_secs(60);

fn fake_url(port: u16) -> String {
    format!("postgres://gate:{PASSWORD}@127.0.0.1:{port}/app")
}

/// `wait` against a fake server is still retrying once it has made `attempts` attempts.
fn still_retrying(waiter: &mut Logged, fake: &FakeServer, attempts: usize) {
    eventually(STATE, &format!("{attempts} attempts"), || {
        (fake.accepted() >= attempts).then_some(())
    });
    assert!(
        waiter.child.try_wait().expect("poll").is_none(),
        "wait gave up on a transient fault: {}",
        waiter.log()
    );
}

#[test]
fn silent_server_ends_check_at_the_connect_timeout() {
    let fake = FakeServer::start(Fault::Silent);
    let r = run(
        gate_for("check", fake_url(fake.port), "1").env("GATE_CONNECT_TIMEOUT", "1s"),
        LIMIT,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(
        r.elapsed >= Duration::from_secs(1) && r.elapsed < Duration::from_secs(4),
        "{:?}",
        r.elapsed
    );
    assert!(r.stdout.contains("timed out after 1s connecting"), "{r:?}");
    assert!(!r.all_output().contains(PASSWORD));
}

#[test]
fn server_closing_at_once_is_exit_3_for_check_and_transient_for_wait() {
    let fake = FakeServer::start(Fault::CloseAtOnce);
    let r = run(gate_for("check", fake_url(fake.port), "1"), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
    let mut waiter =
        Logged::spawn(gate_for("wait", fake_url(fake.port), "1").env("GATE_INTERVAL", "100ms"));
    still_retrying(&mut waiter, &fake, 11);
    signal(&waiter.child, "TERM");
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(143), "{r:?}");
    // Logged once and on change, not once per poll (ten polls happened).
    assert!(r.stderr.lines().count() <= 3, "{}", r.stderr);
}

#[test]
fn starting_up_is_transient() {
    let fake = FakeServer::start(Fault::StartingUp);
    let r = run(gate_for("check", fake_url(fake.port), "1"), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(
        r.stdout
            .contains("the database system is starting up (SQLSTATE 57P03)"),
        "{r:?}"
    );
    let mut waiter =
        Logged::spawn(gate_for("wait", fake_url(fake.port), "1").env("GATE_INTERVAL", "100ms"));
    still_retrying(&mut waiter, &fake, 5);
    signal(&waiter.child, "INT");
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(130), "{r:?}");
    assert!(r.stderr.contains("starting up"), "{}", r.stderr);
}

#[test]
fn too_many_connections_is_transient() {
    let pg = Postgres::app(&[(1, true)]);
    pg.sql("postgres", "ALTER ROLE gate CONNECTION LIMIT 0");
    let r = run(gate_for("check", pg.url("gate", "app", ""), "1"), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("too many connections"), "{r:?}");
    let mut waiter = Logged::spawn(
        gate_for("wait", pg.url("gate", "app", ""), "1").env("GATE_INTERVAL", "200ms"),
    );
    waiter.keeps_running_after("too many connections");
    pg.sql("postgres", "ALTER ROLE gate CONNECTION LIMIT -1");
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
}

#[test]
fn postgres_restarted_during_wait() {
    let mut pg = Postgres::app(&[(1, true)]);
    let mut waiter = Logged::spawn(
        gate_for("wait", pg.url("gate", "app", ""), "2").env("GATE_INTERVAL", "200ms"),
    );
    waiter.keeps_running_after("not ready: goose_db_version at version 1");
    pg.stop(); // the connection wait keeps open between polls breaks
    waiter.keeps_running_after("database error");
    pg.boot();
    // Back: the verdict changes from the error to behind again (a second "at version 1").
    eventually(STATE, "the verdict after the restart", || {
        (waiter.log().matches("at version 1").count() >= 2).then_some(())
    });
    pg.apply("app", "goose_db_version", 2);
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
}

#[test]
fn pgbouncer_restarted_during_wait_and_serve() {
    let pg = Postgres::app(&[(1, true)]);
    let mut bouncer = Bouncer::start(&pg, &["gate"]);
    let port = bouncer.port;
    let url = bouncer.url("gate", "app", "");
    let mut waiter = Logged::spawn(gate_for("wait", &url, "2").env("GATE_INTERVAL", "200ms"));
    let sidecar = Sidecar::start(&url, &[("GATE_RECHECK_INTERVAL", "200ms")]);
    waiter.keeps_running_after("not ready: goose_db_version at version 1");
    bouncer.stop();
    waiter.keeps_running_after("database error");
    drop(bouncer);
    let _bouncer = Bouncer::start_on(&pg, &["gate"], port);
    pg.apply("app", "goose_db_version", 2);
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
    // serve recovers through the restarted PgBouncer.
    sidecar.until_ready_is(200, Duration::from_secs(10));
}

#[test]
fn table_dropped_and_recreated() {
    let pg = Postgres::app(&[(1, true), (2, true)]);
    let sidecar = Sidecar::start(
        &pg.url("gate", "app", ""),
        &[("GATE_RECHECK_INTERVAL", "200ms")],
    );
    sidecar.until_ready_is(200, Duration::from_secs(10));
    pg.sql("app", "DROP TABLE goose_db_version");
    // A dropped table fails readiness.
    sidecar.until_ready_is(503, Duration::from_secs(5));
    let mut waiter = Logged::spawn(
        gate_for("wait", pg.url("gate", "app", ""), "2").env("GATE_INTERVAL", "200ms"),
    );
    waiter.keeps_running_after("does not exist");
    pg.goose_table("app", "goose_db_version", &[(1, true)], Some("gate"));
    waiter.keeps_running_after("at version 1");
    pg.apply("app", "goose_db_version", 2);
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    // serve recovers.
    sidecar.until_ready_is(200, Duration::from_secs(5));
}

#[test]
fn slow_query_hits_the_statement_timeout() {
    let pg = Postgres::app(&[(1, true)]);
    let mut lock = pg.hold_lock("app", "goose_db_version", 4);
    let r = run(
        gate_for("check", pg.url("gate", "app", ""), "1").env("GATE_QUERY_TIMEOUT", "1s"),
        LIMIT,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("statement timeout"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
    // wait treats it as transient and opens once the lock is gone.
    let r = run(
        gate_for("wait", pg.url("gate", "app", ""), "1")
            .env("GATE_QUERY_TIMEOUT", "500ms")
            .env("GATE_INTERVAL", "200ms"),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let _ = lock.kill();
    let _ = lock.wait();
}

#[test]
fn signals_while_querying_stop_within_a_second() {
    let pg = Postgres::app(&[(1, true)]);
    let mut lock = pg.hold_lock("app", "goose_db_version", 6);
    for (mode, sig, code) in [
        ("check", "TERM", 143),
        ("wait", "INT", 130),
        ("wait", "TERM", 143),
    ] {
        let mut cmd = gate(&[mode]);
        cmd.env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_EXPECT_VERSION", "1")
            .env("GATE_QUERY_TIMEOUT", "30s");
        let (mut child, started) = spawn(&mut cmd);
        // Observed, not assumed: the gate's query waits on the lock.
        eventually(
            Duration::from_secs(30),
            "the query blocks on the lock",
            || (pg.lock_waiters("schema-gate") > 0).then_some(()),
        );
        let sent = std::time::Instant::now();
        signal(&child, sig);
        let r = finish(&mut child, started, LIMIT);
        let took = sent.elapsed();
        assert_eq!(r.code, Some(code), "{mode} SIG{sig}: {r:?}");
        assert!(
            took < Duration::from_secs(1),
            "{mode} SIG{sig} took {took:?}"
        );
    }
    let _ = lock.kill();
    let _ = lock.wait();
}

#[test]
fn signal_while_check_connects() {
    let fake = FakeServer::start(Fault::Silent);
    let (r, took) = signalled(
        gate_for("check", fake_url(fake.port), "1").env("GATE_CONNECT_TIMEOUT", "30s"),
        "the connection attempt",
        |_| fake.accepted() > 0,
        "TERM",
    );
    assert_eq!(r.code, Some(143), "{r:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn serve_stops_within_a_second_at_every_stage() {
    // While its checker is blocked connecting (silent server) and while it sleeps between checks.
    let fake = FakeServer::start(Fault::Silent);
    let pg = Postgres::app(&[(1, true)]);
    for (url, silent) in [
        (fake_url(fake.port), true),
        (pg.url("gate", "app", ""), false),
    ] {
        let mut sidecar = Sidecar::start(
            &url,
            &[
                ("GATE_EXPECT_VERSION", "1"),
                ("GATE_CONNECT_TIMEOUT", "30s"),
            ],
        );
        // Blocked connecting (the fake accepted it), or sleeping after a completed check.
        eventually(STATE, "the stage to interrupt", || {
            let reached = if silent {
                fake.accepted() > 0
            } else {
                sidecar.status()["checked_at"].is_string()
            };
            reached.then_some(())
        });
        let (code, took, log) = sidecar.stop_with("TERM");
        assert_eq!(code, Some(0), "{log}");
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }
}

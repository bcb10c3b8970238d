//! Cancelling on the way out: SIGTERM, and `GATE_TIMEOUT` in `wait`, end the gate within a
//! second (the tests allow two, for a busy machine), a query in flight included. The cancel
//! request goes out at once and its connection stays open for what is left of that second
//! (PgBouncer 1.18 mishandles a cancel whose client hangs up first). Against a server that
//! stalls the query and never answers the cancel (a fake: no real server does that on demand),
//! a real PgBouncer frozen with SIGSTOP, and a real lock.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::{
    Bouncer, Logged, PgWire, Postgres, STATE, Script, Sidecar, eventually, gate_for, signal,
};

const LIMIT: Duration = Duration::from_secs(60);
/// The exit promise is one second; a busy machine gets two.
const EXIT: Duration = Duration::from_secs(2);

/// `mode` against a server that stalls the query: started, and seen to have sent its query.
fn stalled(mode: &str, server: &PgWire, extra: &str, vars: &[(&str, &str)]) -> Logged {
    let mut cmd = gate_for(mode, server.url(extra), "1");
    cmd.env("GATE_QUERY_TIMEOUT", "30s");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let logged = Logged::spawn(cmd);
    eventually(STATE, "the query reaches the server", || {
        (server.queries.load(std::sync::atomic::Ordering::SeqCst) > 0).then_some(())
    });
    logged
}

fn cancels(server: &PgWire) -> usize {
    server.cancels.load(std::sync::atomic::Ordering::SeqCst)
}

#[test]
fn sigterm_ends_a_stalled_query_within_the_second_cancel_included() {
    for (mode, extra, code) in [
        ("wait", "", 143),
        ("wait", "connect_timeout=20", 143),
        ("check", "", 143),
        ("status", "", 143),
    ] {
        let server = PgWire::start(Script::Stall);
        let gate = stalled(mode, &server, extra, &[]);
        let sent = Instant::now();
        signal(&gate.child, "TERM");
        let r = gate.finish(LIMIT);
        let took = sent.elapsed();
        eprintln!("{mode} {extra}: SIGTERM to exit {took:?}");
        assert_eq!(r.code, Some(code), "{mode} {extra}: {r:?}");
        assert!(took < EXIT, "{mode} {extra}: exit took {took:?}");
        assert_eq!(cancels(&server), 1, "{mode} {extra}: the cancel was sent");
    }
}

#[test]
fn gate_timeout_ends_a_stalled_query_within_the_second_cancel_included() {
    for extra in ["", "connect_timeout=20"] {
        let server = PgWire::start(Script::Stall);
        let gate = stalled("wait", &server, extra, &[("GATE_TIMEOUT", "1s")]);
        let r = gate.finish(LIMIT);
        eprintln!("wait {extra}: GATE_TIMEOUT=1s, exit after {:?}", r.elapsed);
        assert_eq!(r.code, Some(124), "{extra}: {r:?}");
        assert!(
            r.elapsed < Duration::from_secs(1) + EXIT,
            "{extra}: {:?}",
            r.elapsed
        );
        assert_eq!(cancels(&server), 1, "{extra}: the cancel was sent");
    }
}

#[test]
fn serve_cancels_its_check_in_flight_on_sigterm() {
    // A stalled server: the cancel is sent, and serve still exits within the second.
    let server = PgWire::start(Script::Stall);
    let mut sidecar = Sidecar::start(&server.url(""), &[("GATE_QUERY_TIMEOUT", "30s")]);
    eventually(STATE, "serve's check reaches the server", || {
        (server.queries.load(std::sync::atomic::Ordering::SeqCst) > 0).then_some(())
    });
    let (code, took, log) = sidecar.stop_with("TERM");
    assert_eq!(code, Some(0), "{log}");
    assert!(took < EXIT, "took {took:?}");
    assert_eq!(cancels(&server), 1, "{log}");
    // A real check waiting on a lock: no backend of the gate is left waiting once it is gone.
    let pg = Postgres::app(&[(1, true)]);
    let mut holder = pg.hold_lock("app", "goose_db_version", 600);
    let mut sidecar = Sidecar::start(
        &pg.url("gate", "app", ""),
        &[("GATE_EXPECT_VERSION", "1"), ("GATE_QUERY_TIMEOUT", "30s")],
    );
    eventually(STATE, "serve's check waits on the lock", || {
        (pg.lock_waiters("schema-gate") > 0).then_some(())
    });
    let (code, took, log) = sidecar.stop_with("TERM");
    assert_eq!(code, Some(0), "{log}");
    assert!(took < EXIT, "took {took:?}");
    // Well before the query's own 30 s timeout could end it.
    eventually(
        Duration::from_secs(10),
        "no backend of serve waits any more",
        || (pg.lock_waiters("schema-gate") == 0).then_some(()),
    );
    let _ = holder.kill();
    let _ = holder.wait();
}

/// `wait` through a real PgBouncer, its query on a lock; PgBouncer is frozen (SIGSTOP) for
/// `freeze`, and the gate gets SIGTERM as the freeze starts. Returns the gate's run, the time
/// from the signal to its exit, and the pieces for more checks.
fn frozen_pgbouncer(freeze: Duration) -> (support::Run, Duration, Postgres, Bouncer) {
    let pg = Postgres::app(&[(1, true)]);
    let bouncer = Bouncer::start(&pg, &["gate"]);
    let mut holder = pg.hold_lock("app", "goose_db_version", 600);
    let mut cmd = gate_for("wait", bouncer.url("gate", "app", ""), "1");
    cmd.env("GATE_QUERY_TIMEOUT", "60s")
        .env("GATE_LOG", "info,schema_gate=debug");
    let gate = Logged::spawn(cmd);
    eventually(STATE, "the gate's query waits on the lock", || {
        (pg.lock_waiters("schema-gate") > 0).then_some(())
    });
    let pid = bouncer.pid().to_string();
    let kill = move |sig: &str| {
        let status = Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {sig} {pid}");
    };
    kill("-STOP");
    let frozen = Instant::now();
    signal(&gate.child, "TERM");
    // The gate either exits on its own (frozen for longer than its second) or once PgBouncer
    // answers; a separate thread thaws PgBouncer when the freeze is over.
    let thaw = std::thread::spawn(move || {
        std::thread::sleep(freeze);
        kill("-CONT");
    });
    let r = gate.finish(LIMIT);
    let took = frozen.elapsed();
    eprintln!("PgBouncer frozen for {freeze:?}: SIGTERM to exit {took:?}");
    thaw.join().expect("thaw");
    let _ = holder.kill();
    let _ = holder.wait();
    // The holder's backend sleeps on without its psql: end it, so the lock goes.
    pg.sql(
        "postgres",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE%'",
    );
    (r, took, pg, bouncer)
}

#[test]
fn a_pgbouncer_frozen_for_half_a_second_answers_the_cancel_and_survives() {
    let (r, took, pg, mut bouncer) = frozen_pgbouncer(Duration::from_millis(500));
    assert_eq!(r.code, Some(143), "{r:?}");
    assert!(took < EXIT, "exit took {took:?}");
    // It waited for the cancelled query's answer, which came once PgBouncer was back.
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(
        r.stderr.contains("the cancelled query ended"),
        "{}",
        r.stderr
    );
    eventually(STATE, "no backend of the gate waits any more", || {
        (pg.lock_waiters("schema-gate") == 0).then_some(())
    });
    assert!(bouncer.alive(), "PgBouncer died");
    let check = support::run(
        gate_for("check", bouncer.url("gate", "app", ""), "1"),
        LIMIT,
    );
    assert_eq!(check.code, Some(0), "PgBouncer still serves: {check:?}");
    assert!(bouncer.alive(), "PgBouncer died");
}

#[test]
fn a_pgbouncer_frozen_for_five_seconds_does_not_hold_the_exit() {
    let (r, took, _pg, mut bouncer) = frozen_pgbouncer(Duration::from_secs(5));
    assert_eq!(r.code, Some(143), "{r:?}");
    // It gave up waiting for the answer while PgBouncer was still frozen.
    assert!(took < EXIT, "exit took {took:?}");
    assert!(r.stderr.contains("time is up"), "{}", r.stderr);
    // PgBouncer 1.18 may crash once thawed (pgbouncer#801: the client's side of the cancel
    // connection closed before it forwarded the request; fixed upstream): the gate cannot
    // prevent that, it only promises its own exit. Reported, not asserted.
    std::thread::sleep(Duration::from_millis(500));
    eprintln!("PgBouncer after a 5 s freeze: alive = {}", bouncer.alive());
}

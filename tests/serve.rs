//! `schema-gate serve` against a real PostgreSQL (and PgBouncer): readiness follows the schema,
//! outages keep it, staleness fails it, probes never reach the database, metrics parse.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;
use support::{Bouncer, PASSWORD, Postgres, Sidecar, eventually, gate_for};

/// Generous: these are states on a possibly busy CI host; latencies are benchmarked.
const DEADLINE: Duration = Duration::from_secs(30);

fn app_at_1() -> Postgres {
    Postgres::app(&[(1, true)])
}

fn opens_when_the_row_lands(url: &str, pg: &Postgres) {
    let sidecar = Sidecar::start(url, &[]);
    // A check has reached the database and found it behind.
    eventually(DEADLINE, "a check finds the schema behind", || {
        (sidecar.status()["state"] == "behind").then_some(())
    });
    let (status, body) = sidecar.get("/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("not ready: goose_db_version at version 1, expected 2"),
        "{body}"
    );
    pg.apply("app", "goose_db_version", 2);
    // How fast is a benchmark's question (BENCHMARKS.md, detection latency); here: it opens.
    sidecar.until_ready_is(200, DEADLINE);
    assert_eq!(sidecar.get("/readyz").1, "ok\n");
}

#[test]
fn ready_within_one_interval_direct() {
    let pg = app_at_1();
    opens_when_the_row_lands(&pg.url("gate", "app", ""), &pg);
}

#[test]
fn ready_within_one_interval_through_pgbouncer() {
    let pg = app_at_1();
    let bouncer = Bouncer::start(&pg, &["gate"]);
    opens_when_the_row_lands(&bouncer.url("gate", "app", ""), &pg);
}

#[test]
fn outage_keeps_readiness_and_stale_after_fails_it_then_recovers() {
    let mut pg = Postgres::app(&[(1, true), (2, true)]);
    let url = pg.url("gate", "app", "");
    let keeps = Sidecar::start(&url, &[("GATE_RECHECK_INTERVAL", "200ms")]);
    let stales = Sidecar::start(
        &url,
        &[
            ("GATE_RECHECK_INTERVAL", "200ms"),
            ("GATE_STALE_AFTER", "1s"),
        ],
    );
    keeps.until_ready_is(200, Duration::from_secs(5));
    stales.until_ready_is(200, Duration::from_secs(5));

    pg.stop();
    // Without GATE_STALE_AFTER: errors are reported, readiness stays.
    let status = eventually(DEADLINE, "a failed check is reported", || {
        let status = keeps.status();
        (status["consecutive_errors"].as_u64().unwrap_or(0) >= 1).then_some(status)
    });
    assert_eq!(keeps.get("/readyz").0, 200);
    assert!(
        status["consecutive_errors"].as_u64().unwrap_or(0) >= 1,
        "{status}"
    );
    assert!(
        status["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{status}"
    );
    assert_eq!(status["state"], "ready");
    let verbose = keeps.get("/readyz?verbose").1;
    assert!(
        verbose.contains("last error (connectivity, since "),
        "{verbose}"
    );
    // With GATE_STALE_AFTER=1s: 503 once a second has passed without a successful check, and
    // for that reason (not for another).
    stales.until_ready_is(503, DEADLINE);
    let (_, body) = stales.get("/readyz");
    assert!(body.contains("stale"), "{body}");
    assert_eq!(stales.status()["stale"], true);
    assert_eq!(
        keeps.get("/readyz").0,
        200,
        "still no staleness limit on this one"
    );
    let metrics = keeps.get("/metrics").1;
    assert!(metrics.contains("schema_gate_ready 1"), "{metrics}");
    assert!(
        !metrics.contains("schema_gate_checks_total{result=\"error\"} 0"),
        "{metrics}"
    );

    pg.boot();
    stales.until_ready_is(200, Duration::from_secs(5));
    let status = stales.status();
    assert_eq!(status["consecutive_errors"], 0, "{status}");
    assert_eq!(status["error"], serde_json::Value::Null, "{status}");
}

#[test]
fn a_rollback_fails_readiness_at_once() {
    let pg = app_at_1();
    pg.apply("app", "goose_db_version", 2);
    let bouncer = Bouncer::start(&pg, &["gate"]);
    let sidecar = Sidecar::start(
        &bouncer.url("gate", "app", ""),
        &[("GATE_RECHECK_INTERVAL", "300ms")],
    );
    sidecar.until_ready_is(200, Duration::from_secs(5));
    pg.goose_down("app", "goose_db_version"); // the real goose rolls 2 back
    // At the next re-check (how soon is BENCHMARKS.md's detection latency).
    sidecar.until_ready_is(503, DEADLINE);
    assert!(sidecar.get("/readyz").1.contains("at version 1"));
}

#[test]
fn probes_never_touch_the_database_and_no_connection_is_held() {
    let pg = app_at_1();
    pg.apply("app", "goose_db_version", 2);
    pg.sql("postgres", "ALTER SYSTEM SET log_connections = on");
    pg.sql("postgres", "SELECT pg_reload_conf()");
    let sidecar = Sidecar::start(
        &pg.url("gate", "app", ""),
        &[("GATE_RECHECK_INTERVAL", "1h")],
    );
    sidecar.until_ready_is(200, Duration::from_secs(5));
    let connections = || {
        std::fs::read_to_string(pg.dir.join("postgres.log"))
            .unwrap_or_default()
            .matches("connection authorized: user=gate")
            .count()
    };
    let before = (connections(), pg.xact_commit("app"));
    assert!(before.0 >= 1, "the gate's check was logged");
    let requests = 3000;
    for i in 0..requests {
        let path = [
            "/readyz",
            "/status",
            "/metrics",
            "/livez",
            "/readyz?verbose",
        ][i % 5];
        assert_eq!(sidecar.get(path).0, 200, "{path}");
    }
    let after = (connections(), pg.xact_commit("app"));
    eprintln!(
        "{requests} probes: {} new connections, {} transactions in the app database",
        after.0 - before.0,
        after.1 - before.1
    );
    assert_eq!(after.0, before.0, "a probe opened a database connection");
    assert!(
        after.1 - before.1 <= 2,
        "transactions grew by {}",
        after.1 - before.1
    );
    // serve holds no idle connection between checks.
    let held = pg.sql(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'gate'",
    );
    assert_eq!(held, "0");
    let checks = sidecar.get("/metrics").1;
    assert!(
        checks.contains("schema_gate_checks_total{result=\"ready\"} 1\n"),
        "{checks}"
    );
}

#[test]
fn recheck_zero_latches_so_the_database_can_sleep() {
    let mut pg = app_at_1();
    pg.apply("app", "goose_db_version", 2);
    let sidecar = Sidecar::start(
        &pg.url("gate", "app", ""),
        &[("GATE_RECHECK_INTERVAL", "0")],
    );
    sidecar.until_ready_is(200, Duration::from_secs(5));
    // The checker has returned: no check can come any more.
    eventually(DEADLINE, "readiness latched", || {
        sidecar.log().contains("readiness latched").then_some(())
    });
    pg.stop();
    assert_eq!(sidecar.get("/readyz").0, 200);
    let status = sidecar.status();
    assert_eq!(
        status["consecutive_errors"], 0,
        "no check after latching: {status}"
    );
}

#[test]
fn metrics_parse_with_the_prometheus_parser() {
    let pg = app_at_1();
    let sidecar = Sidecar::start(&pg.url("gate", "app", ""), &[]);
    sidecar.until_ready_is(503, Duration::from_secs(5));
    // The not_ready counter has moved once a check found the schema behind.
    eventually(DEADLINE, "a check finds the schema behind", || {
        (sidecar.status()["state"] == "behind").then_some(())
    });
    let (status, text) = sidecar.get("/metrics");
    assert_eq!(status, 200);
    let script = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
text = sys.stdin.read()
seen = {}
for family in text_string_to_metric_families(text):
    for s in family.samples:
        seen[s.name + "".join("{%s=%s}" % kv for kv in sorted(s.labels.items()))] = s.value
for k in sorted(seen):
    print(k, float(seen[k]))
"#;
    let mut python = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    python
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = python.wait_with_output().expect("parser ran");
    let parsed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "parser rejected /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "schema_gate_ready 0.0",
        "schema_gate_version 1.0",
        "schema_gate_expected_version 2.0",
        "schema_gate_pending_migrations 0.0",
        "schema_gate_check_duration_seconds_count",
        "schema_gate_last_success_timestamp_seconds",
    ] {
        assert!(
            parsed.contains(expected),
            "missing {expected:?} in:\n{parsed}"
        );
    }
    assert!(
        parsed.lines().any(
            |l| l.starts_with("schema_gate_checks_total{result=not_ready} ")
                && !l.ends_with(" 0.0")
        ),
        "{parsed}"
    );
}

#[test]
fn sigterm_exits_0_within_a_second_with_an_idle_connection_open() {
    let pg = app_at_1();
    // One check, then none for an hour: no check connection comes or goes while fds are counted.
    let mut sidecar = Sidecar::start(&pg.url("gate", "app", ""), &[("GATE_INTERVAL", "1h")]);
    eventually(DEADLINE, "the first check completes", || {
        (sidecar.status()["state"] == "behind").then_some(())
    });
    // The count once it holds still (a closed connection's fd may linger for a moment).
    let mut seen = (0, 0);
    let before = eventually(DEADLINE, "the open files settle", || {
        let now = sidecar.open_fds();
        seen = if now == seen.0 {
            (now, seen.1 + 1)
        } else {
            (now, 0)
        };
        (seen.1 >= 5).then_some(now)
    });
    // An idle keep-alive connection and a half-sent request must not hold the exit.
    let mut idle = TcpStream::connect(("127.0.0.1", sidecar.port)).expect("connect");
    write!(idle, "GET /livez HTTP/1.1\r\nHost: t\r\n\r\n").expect("send");
    let mut half = TcpStream::connect(("127.0.0.1", sidecar.port)).expect("connect");
    write!(half, "GET /readyz HTTP/1.1\r\nHost:").expect("send");
    // Both are accepted and held by the gate.
    eventually(DEADLINE, "the gate holds both connections", || {
        (sidecar.open_fds() >= before + 2).then_some(())
    });
    let (code, took, output) = sidecar.stop_with("TERM");
    assert_eq!(code, Some(0), "{output}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(!output.contains(PASSWORD));
}

#[test]
fn http_semantics_over_the_socket() {
    let pg = app_at_1();
    let sidecar = Sidecar::start(&pg.url("gate", "app", ""), &[]);
    assert_eq!(sidecar.get("/livez"), (200, "ok\n".to_string()));
    assert_eq!(sidecar.request("HEAD", "/livez"), (200, String::new()));
    assert_eq!(sidecar.request("POST", "/readyz").0, 405);
    assert_eq!(sidecar.get("/nope").0, 404);
}

#[test]
fn listen_address_in_use_is_exit_2() {
    let pg = app_at_1();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let r = support::run(
        gate_for("serve", pg.url("gate", "app", ""), "1")
            .env("GATE_LISTEN", format!("127.0.0.1:{port}")),
        Duration::from_secs(10),
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("GATE_LISTEN"), "{r:?}");
}

//! No round trip is spent on anything but connecting, authenticating and the one query: counted
//! by a proxy between the gate and a real PostgreSQL (`support::flights`), which also reads what
//! the gate sends. `wait` keeps its connection between polls, and the check query is its only
//! traffic: one round trip per poll. (The WAN benchmark measures what these cost in time.)

mod support;

use std::time::Duration;
use support::{
    Bouncer, FlightCounter, Logged, Major, PASSWORD, PG13, PG17, Postgres, STATE, eventually,
    gate_for, make_certs, run, temp_dir,
};

const LIMIT: Duration = Duration::from_secs(60);

fn url(port: u16, extra: &str) -> String {
    url_at("127.0.0.1", port, extra)
}

fn url_at(host: &str, port: u16, extra: &str) -> String {
    format!("postgres://gate:{PASSWORD}@{host}:{port}/app?{extra}")
}

/// A cold `check` through the counting proxy: the round trips, and what the gate sent.
fn cold_check(upstream: u16, extra: &str) -> support::Flights {
    let proxy = FlightCounter::start(upstream);
    let r = run(
        gate_for("check", url_at("localhost", proxy.port, extra), "1"),
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{extra}: {r:?}");
    let seen = proxy.seen();
    eprintln!("cold check, {extra}: {seen:?}");
    seen
}

#[test]
fn a_cold_check_is_startup_scram_and_one_query() {
    let pg = Postgres::app(&[(1, true)]);
    // Startup, SCRAM's two client messages, the query: four round trips, nothing else sent.
    let seen = cold_check(pg.port, "sslmode=disable");
    assert_eq!(seen.round_trips, 4, "{seen:?}");
    assert_eq!(seen.sent[..4], ["startup", "p", "p", "Q"], "{seen:?}");
    assert!(seen.sent[4..].iter().all(|m| m == "X"), "{seen:?}");
    // target_session_attrs=read-write costs nothing: the server reported in_hot_standby and
    // default_transaction_read_only at startup (tokio-postgres's own connect sent a SHOW).
    let seen = cold_check(pg.port, "sslmode=disable&target_session_attrs=read-write");
    assert_eq!(seen.round_trips, 4, "{seen:?}");
    assert_eq!(seen.count("Q"), 1, "{seen:?}");
    // Through PgBouncer 1.18 too.
    let bouncer = Bouncer::start(&pg, &["gate"]);
    let seen = cold_check(
        bouncer.port,
        "sslmode=disable&target_session_attrs=read-write",
    );
    assert_eq!(
        seen.round_trips, 4,
        "PgBouncer passes the parameters on: {seen:?}"
    );
    // sslmode=prefer (the default) against a server without TLS: one more, the SSLRequest.
    let seen = cold_check(pg.port, "");
    assert_eq!(seen.round_trips, 5, "{seen:?}");
    assert_eq!(seen.sent[..2], ["SSLRequest", "startup"], "{seen:?}");
}

#[test]
fn wait_polls_with_one_round_trip_on_one_connection() {
    let pg = Postgres::app(&[(1, true)]);
    for upstream in [pg.port, Bouncer::start(&pg, &["gate"]).port] {
        let proxy = FlightCounter::start(upstream);
        let mut waiter = Logged::spawn(
            gate_for("wait", url(proxy.port, "sslmode=disable"), "2").env("GATE_INTERVAL", "100ms"),
        );
        // Five polls answered: the round trips are the login's three plus one per query.
        let seen = eventually(STATE, "five polls", || {
            let seen = proxy.seen();
            (seen.count("Q") >= 5 && seen.round_trips == 3 + seen.count("Q")).then_some(seen)
        });
        let _ = waiter.child.kill();
        let _ = waiter.child.wait();
        eprintln!("wait, {} polls: {seen:?}", seen.count("Q"));
        assert_eq!(seen.connections, 1, "{seen:?}");
        assert_eq!(seen.sent[..3], ["startup", "p", "p"], "{seen:?}");
        assert!(seen.sent[3..].iter().all(|m| m == "Q"), "{seen:?}");
    }
}

/// Over TLS the proxy counts by direction, and TLS 1.3's handshake ends with a flight the
/// client does not wait for (the counts below are one higher than the round trips a WAN pays:
/// 6 for a cold `require` check on PostgreSQL 17, 5 with direct TLS). So these compare.
#[test]
fn over_tls_direct_saves_one_and_read_write_costs_one_only_where_unreported() {
    let dir = temp_dir("round-trips-tls");
    let certs = make_certs(&dir);
    let pg17 = Major::start(PG17, &certs, &[(1, true)]);
    let negotiated = cold_check(pg17.port, "sslmode=require").round_trips;
    let direct = cold_check(pg17.port, "sslmode=require&sslnegotiation=direct").round_trips;
    assert_eq!(direct + 1, negotiated, "direct TLS: no SSLRequest");
    let read_write = cold_check(pg17.port, "sslmode=require&target_session_attrs=read-write");
    assert_eq!(
        read_write.round_trips, negotiated,
        "reported at startup: {read_write:?}"
    );
    // PostgreSQL 13 reports neither parameter: read-write asks (SHOW transaction_read_only).
    let pg13 = Major::start(PG13, &certs, &[(1, true)]);
    let any = cold_check(pg13.port, "sslmode=require").round_trips;
    let read_write = cold_check(pg13.port, "sslmode=require&target_session_attrs=read-write");
    assert_eq!(read_write.round_trips, any + 1, "one SHOW: {read_write:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// PostgreSQL up to 17 accepts only P-256 for TLS 1.3's key exchange (`ssl_ecdh_curve` defaults
/// to `prime256v1`). A client that sends its key share for X25519 first (rustls's default) is
/// answered with a HelloRetryRequest and must send a second ClientHello: a whole round trip more
/// on every cold TLS check. The gate offers P-256 first: one ClientHello, against Debian's 15 and
/// PostgreSQL 17 alike (and 18, whose default groups accept both).
#[test]
fn tls_against_postgresql_needs_no_hello_retry() {
    let dir = temp_dir("round-trips-hello");
    let certs = make_certs(&dir);
    let pg15 = Postgres::app_with(support::PgOptions::tls(&certs), &[(1, true)]);
    let pg17 = Major::start(PG17, &certs, &[(1, true)]);
    for port in [pg15.port, pg17.port] {
        let seen = cold_check(port, "sslmode=require");
        let hellos = seen.client_hellos(0);
        assert_eq!(hellos, 1, "{hellos} ClientHellos: a HelloRetryRequest");
    }
    let _ = std::fs::remove_dir_all(dir);
}

//! Direct TLS (`sslnegotiation=direct`, PostgreSQL 17+): TLS from the first byte, no SSLRequest
//! round trip. Opt-in; refused at start-up with an `sslmode` that could fall back to plaintext
//! (as libpq refuses it); ALPN `postgresql` offered (PostgreSQL 18 drops a direct connection
//! without it); never a fallback: against Debian's PostgreSQL 15 and PgBouncer 1.18 it is exit 3
//! naming direct TLS. PostgreSQL 17 and 18 come from npm (`support::majors`).

mod support;

use std::time::Duration;
use support::{
    Bouncer, Major, PASSWORD, PG17, PG18, PgOptions, Postgres, gate_for, make_certs, run, temp_dir,
};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn direct_tls_with_an_sslmode_that_may_fall_back_is_refused_at_start_up() {
    for mode in ["disable", "allow", "prefer"] {
        let url = format!("postgres://gate@127.0.0.1:1/app?sslmode={mode}&sslnegotiation=direct");
        let r = run(gate_for("check", &url, "1"), LIMIT);
        assert_eq!(r.code, Some(2), "{mode}: {r:?}");
        assert!(
            r.stderr
                .contains("sslnegotiation=direct needs sslmode require"),
            "{mode}: {r:?}"
        );
    }
    // sslnegotiation=postgres is libpq's default, and accepted; other values are refused.
    let r = run(
        gate_for(
            "check",
            "postgres://gate@127.0.0.1:1/app?sslnegotiation=postgres",
            "1",
        ),
        LIMIT,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    let r = run(
        gate_for(
            "check",
            "postgres://gate@127.0.0.1:1/app?sslnegotiation=fast",
            "1",
        ),
        LIMIT,
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("postgres, direct"), "{r:?}");
}

#[test]
fn direct_tls_against_postgres_15_and_pgbouncer_is_a_clear_error_without_fallback() {
    let dir = temp_dir("direct-15");
    let certs = make_certs(&dir);
    let pg = Postgres::app_with(PgOptions::tls(&certs), &[(1, true)]);
    let bouncer = Bouncer::start(&pg, &["gate"]);
    for (what, port) in [("PostgreSQL 15", pg.port), ("PgBouncer 1.18", bouncer.port)] {
        let url = format!(
            "postgres://gate:{PASSWORD}@localhost:{port}/app?sslmode=require&sslnegotiation=direct"
        );
        for mode in ["check", "wait"] {
            let r = run(gate_for(mode, &url, "1").env("GATE_TIMEOUT", "30s"), LIMIT);
            assert_eq!(r.code, Some(3), "{what} {mode}: {r:?}");
            assert!(r.elapsed < Duration::from_secs(10), "{what} {mode}: {r:?}");
            assert!(
                r.all_output()
                    .contains("direct TLS (sslnegotiation=direct) failed"),
                "{what} {mode}: {r:?}"
            );
        }
        // The same DSN without direct TLS works (PgBouncer here has no TLS: prefer): the
        // refusal is about direct TLS alone.
        let plain = url.replace("sslmode=require&sslnegotiation=direct", "sslmode=prefer");
        assert_eq!(
            run(gate_for("check", &plain, "1"), LIMIT).code,
            Some(0),
            "{what}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn direct_tls_works_on_postgres_17_and_18() {
    let dir = temp_dir("direct-17-18");
    let certs = make_certs(&dir);
    for version in [PG17, PG18] {
        let pg = Major::start(version, &certs, &[(1, true)]);
        let base = format!("postgres://gate:{PASSWORD}@localhost:{}/app", pg.port);
        for query in [
            "sslmode=require&sslnegotiation=direct".to_string(),
            format!(
                "sslmode=verify-full&sslrootcert={}&sslnegotiation=direct",
                certs.ca.display()
            ),
            "sslmode=require&sslnegotiation=postgres".to_string(),
        ] {
            let r = run(gate_for("check", format!("{base}?{query}"), "1"), LIMIT);
            assert_eq!(r.code, Some(0), "{version} {query}: {r:?}\n{}", pg.log());
        }
        let r = run(
            gate_for(
                "wait",
                format!("{base}?sslmode=require&sslnegotiation=direct"),
                "1",
            ),
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{version} wait: {r:?}");
        assert!(!pg.log().contains("without ALPN"), "{}", pg.log());
    }
    let _ = std::fs::remove_dir_all(dir);
}

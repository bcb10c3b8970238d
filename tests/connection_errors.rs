//! Connection errors an operator reads at 3 a.m.: each names the host **and port** it comes from
//! (libpq's wording: `connection to server at "…", port … failed: …`), and a PgBouncer whose
//! server is down says that it is the pooler that has no server.

mod support;

use std::time::Duration;
use support::{Bouncer, PASSWORD, Postgres, free_port, gate_for, run};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn connection_refused_names_host_and_port() {
    let port = free_port();
    let url = format!("postgres://gate:{PASSWORD}@127.0.0.1:{port}/app");
    let r = run(gate_for("check", &url, "1"), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "connection to server at \"127.0.0.1\", port {port} failed: Connection refused"
        )),
        "{r:?}"
    );
    // A host name is shown with the address it resolved to.
    let url = format!("postgres://gate:{PASSWORD}@localhost:{port}/app?sslmode=disable");
    let r = run(gate_for("check", &url, "1"), LIMIT);
    assert!(
        r.stdout.contains(&format!(
            "server at \"localhost\" (127.0.0.1), port {port} failed"
        )),
        "{r:?}"
    );
}

#[test]
fn two_hosts_that_differ_by_port_are_told_apart() {
    let (a, b) = (free_port(), free_port());
    let url = format!("postgres://gate:{PASSWORD}@127.0.0.1:{a},127.0.0.1:{b}/app");
    let r = run(gate_for("check", &url, "1"), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    for port in [a, b] {
        assert!(
            r.stdout
                .contains(&format!("\"127.0.0.1\", port {port} failed")),
            "{port}: {r:?}"
        );
    }
}

#[test]
fn a_pgbouncer_without_its_server_says_it_is_the_pooler() {
    let mut pg = Postgres::app(&[(1, true)]);
    let bouncer = Bouncer::start(&pg, &["gate"]);
    pg.stop();
    // PgBouncer 1.18 takes the login, then waits for a server that never comes.
    let r = run(
        gate_for("check", bouncer.url("gate", "app", ""), "1"),
        LIMIT,
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "the pooler at \"127.0.0.1\", port {} has no server",
            bouncer.port
        )),
        "{r:?}"
    );
    // Connectivity, not a rejection: wait keeps waiting, and opens once the server is back.
    let mut waiter = support::Logged::spawn(
        gate_for("wait", bouncer.url("gate", "app", ""), "1").env("GATE_INTERVAL", "200ms"),
    );
    waiter.keeps_running_after("has no server");
    pg.boot();
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
}

//! The smoke set run against every PostgreSQL major (`scripts/test.sh --pg-matrix` sets
//! `SCHEMA_GATE_PG_BIN`; without it, Debian's server): the server is the major it claims, and the
//! gate authenticates with SCRAM and with md5 (13 to 18 all still allow MD5 passwords; 18 warns
//! when one is set), in plain text and over TLS, directly and through PgBouncer in transaction
//! mode; `check`, `wait` and `serve` see what the real goose applies.

mod support;

use std::time::Duration;
use support::{
    Bouncer, Goose, Logged, PgOptions, Postgres, STATE, Sidecar, gate_for, migrations_dir, run,
    server_version, temp_dir,
};

const LIMIT: Duration = Duration::from_secs(60);

/// A TLS-capable cluster with database `app`, role `gate` (SCRAM) and `gate_md5` (an MD5
/// password, `md5` in pg_hba.conf), the goose table at version 1 written by the real goose.
fn cluster(dir: &std::path::Path) -> (Postgres, support::Certs) {
    let certs = support::make_certs(dir);
    let pg = Postgres::start_with(PgOptions::tls(&certs));
    pg.create_db_and_role("app", "gate");
    pg.create_md5_role("gate_md5");
    pg.set_hba(
        "host all gate_md5 127.0.0.1/32 md5\n\
         host all all 127.0.0.1/32 scram-sha-256",
    );
    (pg, certs)
}

fn check(url: &str, expect: &str) -> support::Run {
    run(gate_for("check", url, expect), LIMIT)
}

#[test]
fn the_server_is_the_major_it_claims() {
    let pg = Postgres::start();
    let shown = pg.sql("postgres", "SHOW server_version");
    let claimed = server_version();
    eprintln!("server: {claimed}; SHOW server_version: {shown}");
    assert!(
        claimed.contains(&format!("PostgreSQL) {shown}"))
            || claimed.contains(shown.split_whitespace().next().unwrap_or("?")),
        "{claimed} vs {shown}"
    );
    if let Some(dir) = std::env::var("SCHEMA_GATE_PG_BIN")
        .ok()
        .filter(|d| !d.is_empty())
    {
        let major = shown.split('.').next().unwrap_or("?");
        assert!(
            dir.contains(&format!("/{major}.")),
            "{dir} is not major {major}"
        );
    }
}

#[test]
fn scram_md5_and_tls_direct_and_through_pgbouncer() {
    let dir = temp_dir("smoke");
    let (pg, certs) = cluster(&dir);
    let migrations = migrations_dir(&[1]);
    Goose::up(&pg, &migrations);
    pg.sql("app", "GRANT SELECT ON goose_db_version TO gate, gate_md5");
    let md5_stored = pg.sql(
        "postgres",
        "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'gate_md5'",
    );
    assert_eq!(md5_stored, "md5", "gate_md5's password is stored as MD5");
    let ca = certs.ca.display().to_string();
    let scram_bouncer = Bouncer::start(&pg, &["gate", "gate_md5"]);
    let md5_bouncer =
        Bouncer::start_with_auth(&pg, &["gate", "gate_md5"], support::free_port(), "md5");
    let verify = format!("sslmode=verify-full&sslrootcert={ca}");
    for user in ["gate", "gate_md5"] {
        for (route, url) in [
            ("direct, plain", pg.url(user, "app", "sslmode=disable")),
            (
                "direct, TLS",
                pg.url(user, "app", &verify)
                    .replace("127.0.0.1", "localhost"),
            ),
            ("PgBouncer (SCRAM)", scram_bouncer.url(user, "app", "")),
            ("PgBouncer (md5)", md5_bouncer.url(user, "app", "")),
        ] {
            let r = check(&url, "1");
            assert_eq!(
                r.code,
                Some(0),
                "{user}, {route}, {}: {r:?}",
                server_version()
            );
        }
    }
    // SCRAM with channel binding over TLS (SCRAM-SHA-256-PLUS), straight to the server.
    let r = check(
        &pg.url("gate", "app", "sslmode=require&channel_binding=require"),
        "1",
    );
    assert_eq!(r.code, Some(0), "channel binding: {r:?}");
    // A wrong password is refused by both methods, named, exit 3.
    for user in ["gate", "gate_md5"] {
        let url = format!("postgres://{user}:wrong@127.0.0.1:{}/app", pg.port);
        let r = check(&url, "1");
        assert_eq!(r.code, Some(3), "{user}: {r:?}");
        assert!(r.stdout.contains("password authentication failed"), "{r:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_wait_and_serve_see_what_goose_applies() {
    let pg = Postgres::start();
    pg.create_db_and_role("app", "gate");
    let migrations = migrations_dir(&[1, 2]);
    Goose::up_to(&pg, &migrations, 1);
    pg.sql("app", "GRANT SELECT ON goose_db_version TO gate");
    let bouncer = Bouncer::start(&pg, &["gate"]);
    let dir = migrations.display().to_string();
    let with_dir = |mode: &str, url: String| {
        let mut cmd = gate_for(mode, url, "2");
        cmd.env_remove("GATE_EXPECT_VERSION")
            .env("GATE_MIGRATIONS_DIR", &dir)
            .env("GATE_INTERVAL", "200ms");
        cmd
    };
    let r = run(with_dir("check", bouncer.url("gate", "app", "")), LIMIT);
    assert_eq!(r.code, Some(1), "{r:?}");
    let mut waiter = Logged::spawn(with_dir("wait", pg.url("gate", "app", "")));
    waiter.keeps_running_after("not ready");
    let sidecar = Sidecar::start(
        &bouncer.url("gate", "app", ""),
        &[
            ("GATE_MIGRATIONS_DIR", &dir),
            ("GATE_RECHECK_INTERVAL", "200ms"),
        ],
    );
    sidecar.until_ready_is(503, STATE);
    Goose::up(&pg, &migrations);
    let r = waiter.finish(LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
    sidecar.until_ready_is(200, STATE);
    let r = run(with_dir("check", bouncer.url("gate", "app", "")), LIMIT);
    assert_eq!(r.code, Some(0), "{r:?}");
    // goose down: serve fails readiness at once, check says behind.
    Goose::down(&pg, &migrations);
    sidecar.until_ready_is(503, STATE);
    let r = run(with_dir("check", pg.url("gate", "app", "")), LIMIT);
    assert_eq!(r.code, Some(1), "{r:?}");
}

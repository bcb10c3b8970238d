//! `target_session_attrs` against a real hot standby (`pg_basebackup -R` of a private cluster),
//! listed first and paused so that it lags: after a rollback on the primary, `read-write` must
//! read the primary, on the plaintext path and on the TLS path alike. tokio-postgres checks it
//! only in its own `connect`; the gate connects with `connect_raw` and checks it itself.

mod support;

use std::time::Duration;
use support::{PASSWORD, PgOptions, Postgres, STATE, eventually, gate_for, make_certs, run};

const LIMIT: Duration = Duration::from_secs(60);

/// A primary at version 2, a standby of it paused at version 2, and the primary rolled back to
/// version 1: the standby now serves a stale schema.
fn lagging_standby(options: PgOptions) -> (Postgres, Postgres) {
    let primary = Postgres::app_with(options, &[(1, true), (2, true)]);
    let standby = primary.standby();
    let newest = "SELECT max(version_id) FROM goose_db_version";
    eventually(STATE, "the standby serves version 2", || {
        (standby.sql("app", newest) == "2").then_some(())
    });
    standby.sql("postgres", "SELECT pg_wal_replay_pause()");
    eventually(STATE, "the standby's replay is paused", || {
        (standby.sql("postgres", "SELECT pg_get_wal_replay_pause_state()") == "paused")
            .then_some(())
    });
    // goose down: the row of version 2 goes.
    primary.sql("app", "DELETE FROM goose_db_version WHERE version_id = 2");
    assert_eq!(primary.sql("app", newest), "1");
    assert_eq!(standby.sql("app", newest), "2", "the standby must lag");
    (primary, standby)
}

/// The standby first, then the primary; `extra` adds to the query string.
fn both(standby: &Postgres, primary: &Postgres, host: &str, extra: &str) -> String {
    format!(
        "postgres://gate:{PASSWORD}@{host}:{},{host}:{}/app?{extra}",
        standby.port, primary.port
    )
}

fn reads_the_primary(primary: &Postgres, standby: &Postgres, host: &str, tls: &str) {
    // Any server will do: the standby answers, and is stale.
    let any = both(
        standby,
        primary,
        host,
        &format!("{tls}target_session_attrs=any"),
    );
    let r = run(gate_for("check", &any, "2"), LIMIT);
    assert_eq!(
        r.code,
        Some(0),
        "the setup: the standby must look ready: {r:?}"
    );
    // read-write: the standby is skipped, the primary read: not ready.
    let rw = both(
        standby,
        primary,
        host,
        &format!("{tls}target_session_attrs=read-write"),
    );
    let r = run(gate_for("check", &rw, "2"), LIMIT);
    assert_eq!(r.code, Some(1), "read-write must read the primary: {r:?}");
    assert!(r.stdout.contains("at version 1"), "{r:?}");
    // read-only: the other way round.
    let ro = both(
        primary,
        standby,
        host,
        &format!("{tls}target_session_attrs=read-only"),
    );
    let r = run(gate_for("check", &ro, "2"), LIMIT);
    assert_eq!(r.code, Some(0), "read-only must read the standby: {r:?}");
    // Only a standby: read-write finds no server, and says why.
    let only = format!(
        "postgres://gate:{PASSWORD}@{host}:{}/app?{tls}target_session_attrs=read-write",
        standby.port
    );
    let r = run(gate_for("check", &only, "2"), LIMIT);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("read-only (a standby?)"), "{r:?}");
}

#[test]
fn read_write_skips_a_lagging_standby_in_plaintext() {
    let (primary, standby) = lagging_standby(PgOptions::default());
    reads_the_primary(&primary, &standby, "127.0.0.1", "sslmode=disable&");
}

#[test]
fn read_write_skips_a_lagging_standby_over_tls() {
    let dir = support::temp_dir("standby-tls");
    let certs = make_certs(&dir);
    let (primary, standby) = lagging_standby(PgOptions::tls_only(&certs));
    let tls = format!("sslmode=verify-full&sslrootcert={}&", certs.ca.display());
    reads_the_primary(&primary, &standby, "localhost", &tls);
    let _ = std::fs::remove_dir_all(dir);
}

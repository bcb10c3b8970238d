//! `schema-gate status`: every migration as `goose status` lists it, from SELECT alone.

mod support;

use std::time::Duration;
use support::{Bouncer, Postgres, gate, run, temp_dir};

const LIMIT: Duration = Duration::from_secs(30);

fn migrations() -> std::path::PathBuf {
    let dir = temp_dir("status-migrations");
    for name in ["00001_init.sql", "00002_add.sql", "00003_more.sql"] {
        std::fs::write(dir.join(name), "").expect("write");
    }
    dir
}

#[test]
fn lists_applied_pending_and_versions_without_a_file() {
    let pg = Postgres::app(&[(1, true), (3, true), (9, true)]);
    pg.sql(
        "app",
        "UPDATE goose_db_version SET tstamp = '2026-04-27 03:43:55' WHERE version_id = 1",
    );
    let dir = migrations();
    for url in [
        pg.url("gate", "app", ""),
        Bouncer::start(&pg, &["gate"]).url("gate", "app", ""),
    ] {
        let r = run(
            gate(&["status"])
                .env("DATABASE_URL", &url)
                .env("GATE_MIGRATIONS_DIR", &dir),
            LIMIT,
        );
        assert_eq!(r.code, Some(1), "{r:?}");
        let out = &r.stdout;
        assert!(
            out.contains("    Applied At                  Migration"),
            "{out}"
        );
        assert!(
            out.contains("    Mon Apr 27 03:43:55 2026 -- 00001_init.sql"),
            "{out}"
        );
        assert!(
            out.contains("    Pending                  -- 00002_add.sql"),
            "{out}"
        );
        assert!(
            out.contains(" -- 00003_more.sql")
                && !out.contains("Pending                  -- 00003"),
            "{out}"
        );
        assert!(
            out.contains("without a file") && out.contains("-- version 9"),
            "{out}"
        );
        assert!(
            out.trim_end()
                .ends_with("pending: 2; resolved to public.goose_db_version"),
            "{out}"
        );
    }
    let r = run(
        gate(&["status", "--json"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_MIGRATIONS_DIR", &dir),
        LIMIT,
    );
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(
        json["migrations"][0]["applied_at"], "2026-04-27 03:43:55",
        "{json}"
    );
    assert_eq!(json["migrations"][1]["applied"], false, "{json}");
    assert_eq!(json["without_file"][0]["version"], 9, "{json}");
    assert_eq!(json["verdict"]["state"], "behind", "{json}");
}

#[test]
fn never_creates_the_table() {
    let pg = Postgres::start();
    pg.create_db_and_role("app", "gate");
    let r = run(
        gate(&["status"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_MIGRATIONS_DIR", migrations()),
        LIMIT,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stdout.contains("does not exist"), "{r:?}");
    let exists = pg.sql(
        "app",
        "SELECT count(*) FROM pg_tables WHERE tablename = 'goose_db_version'",
    );
    assert_eq!(exists, "0");
}

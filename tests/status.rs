//! `schema-gate status`: every migration as `goose status` lists it, from SELECT alone.

mod support;

use std::io::BufRead;
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;
use std::time::Duration;
use support::{Bouncer, Postgres, exit_and_peak_rss, gate, migrations_dir, run, temp_dir};

const LIMIT: Duration = Duration::from_secs(30);

fn migrations() -> std::path::PathBuf {
    let dir = temp_dir("status-migrations");
    for name in ["00001_init.sql", "00002_add.sql", "00003_more.sql"] {
        std::fs::write(dir.join(name), "").expect("write");
    }
    dir
}

/// What goose v3.22.1's `goose status` prints for [`migrations`] against the table of
/// [`lists_applied_pending_and_versions_without_a_file`] (its own layout: header, then each
/// file, the time in Go's `time.ANSIC`).
const GOOSE_STATUS: &str = "    Applied At                  Migration
    =======================================
    Mon Apr 27 03:43:55 2026 -- 00001_init.sql
    Pending                  -- 00002_add.sql
    Tue Apr 28 10:00:00 2026 -- 00003_more.sql
";

#[test]
fn lists_applied_pending_and_versions_without_a_file() {
    let pg = Postgres::app(&[(1, true), (3, true), (9, true)]);
    pg.sql(
        "app",
        "UPDATE goose_db_version SET tstamp = CASE version_id \
         WHEN 0 THEN '2026-04-27 03:40:00' WHEN 1 THEN '2026-04-27 03:43:55.25' \
         WHEN 3 THEN '2026-04-28 10:00:00' ELSE '2026-04-30 09:00:00' END::timestamp",
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
        // The versions without a file first (they stream as the rows are read), then goose's
        // own block, exactly as goose prints it, then the verdict.
        assert_eq!(
            r.stdout,
            format!(
                "    Applied in goose_db_version without a file in the migrations directory:\n\
                 \x20   Thu Apr 30 09:00:00 2026 -- version 9\n\
                 \n\
                 {GOOSE_STATUS}\
                 not ready: goose_db_version at version 9, expected 3 (at-least); pending: 2; \
                 resolved to public.goose_db_version\n"
            ),
            "{r:?}"
        );
    }
    let r = run(
        gate(&["status", "--json"])
            .env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_MIGRATIONS_DIR", &dir),
        LIMIT,
    );
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    let keys: Vec<&String> = json.as_object().expect("an object").keys().collect();
    assert_eq!(
        keys,
        ["migrations", "table", "verdict", "without_file"],
        "{json}"
    );
    // Times as /status writes them: RFC 3339, UTC (goose's tstamp has no zone: read as UTC).
    assert_eq!(
        json["migrations"][0],
        serde_json::json!({"version": 1, "file": "00001_init.sql", "applied": true,
                           "applied_at": "2026-04-27T03:43:55.000Z"}),
        "{json}"
    );
    assert_eq!(json["migrations"][1]["applied"], false, "{json}");
    assert_eq!(json["migrations"][1]["applied_at"], serde_json::Value::Null);
    assert_eq!(
        json["without_file"],
        serde_json::json!([{"version": 9, "file": null, "applied": true,
                            "applied_at": "2026-04-30T09:00:00.000Z"}]),
        "{json}"
    );
    assert_eq!(json["table"], "goose_db_version", "{json}");
    assert_eq!(json["verdict"]["state"], "behind", "{json}");
}

/// `status` (`--json` if `json`) against `pg`'s database `app` with the migrations in `dir`.
fn status_of(pg: &Postgres, dir: &std::path::Path, json: bool) -> support::Run {
    let mut cmd = gate(&["status"]);
    if json {
        cmd.arg("--json");
    }
    cmd.env("DATABASE_URL", pg.url("gate", "app", ""))
        .env("GATE_MIGRATIONS_DIR", dir);
    run(cmd, LIMIT)
}

#[test]
fn a_missing_table_lists_every_file_as_pending() {
    let pg = Postgres::start();
    pg.create_db_and_role("app", "gate");
    let dir = migrations();
    let status = |json| status_of(&pg, &dir, json);
    let r = status(false);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(
        r.stdout,
        "    Applied At                  Migration
    =======================================
    Pending                  -- 00001_init.sql
    Pending                  -- 00002_add.sql
    Pending                  -- 00003_more.sql
not ready: table goose_db_version does not exist, expected 3; pending: 1, 2, 3
",
        "{r:?}"
    );
    let r = status(true);
    assert_eq!(r.code, Some(1), "{r:?}");
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    let pending: Vec<(i64, bool)> = json["migrations"]
        .as_array()
        .expect("every file")
        .iter()
        .map(|e| (e["version"].as_i64().unwrap_or(-1), e["applied"] == true))
        .collect();
    assert_eq!(pending, [(1, false), (2, false), (3, false)], "{json}");
    assert_eq!(json["without_file"], serde_json::json!([]), "{json}");
    assert_eq!(json["verdict"]["state"], "no_table", "{json}");
}

#[test]
fn file_names_that_are_not_utf8_are_escaped() {
    let pg = Postgres::app(&[(1, true)]);
    let dir = temp_dir("status-bytes");
    for name in [
        &b"00001_init.sql"[..],
        b"00002_caf\xc3\xa9.sql",
        b"00003_\xff\xfe.sql",
    ] {
        std::fs::write(dir.join(std::ffi::OsStr::from_bytes(name)), "").expect("write");
    }
    let status = |json| status_of(&pg, &dir, json);
    let r = status(false);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(!r.stdout.contains('\u{fffd}'), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("    Pending                  -- 00002_café.sql\n")
            && r.stdout
                .contains("    Pending                  -- 00003_\\xff\\xfe.sql\n"),
        "{}",
        r.stdout
    );
    let r = status(true);
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(json["migrations"][1]["file"], "00002_café.sql", "{json}");
    assert_eq!(
        json["migrations"][2]["file"], "00003_\\xff\\xfe.sql",
        "{json}"
    );
}

/// `status --json`'s shape, read without holding a million entries in the test's memory.
#[derive(serde::Deserialize)]
struct Document {
    table: String,
    without_file: Vec<serde::de::IgnoredAny>,
    migrations: Vec<serde::de::IgnoredAny>,
    verdict: serde_json::Value,
}

#[test]
fn a_million_rows_stream_in_flat_memory() {
    // goose's initial row and 1,000,000 applied versions: 1,000,001 rows.
    let pg = Postgres::app_applied_through(1_000_000);
    let dir = migrations_dir(&[1, 1_000_000]);
    let out = temp_dir("status-million-out").join("stdout");
    let mut peaks = Vec::new();
    // Without a directory every applied version is a migration; with two files, 999,998 of
    // them are versions without a file. Both stream, as text and as JSON.
    for (json, with_dir) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut cmd = gate(&["status"]);
        if json {
            cmd.arg("--json");
        }
        if with_dir {
            cmd.env("GATE_MIGRATIONS_DIR", &dir);
        } else {
            cmd.env("GATE_EXPECT_VERSION", "1000000");
        }
        cmd.env("DATABASE_URL", pg.url("gate", "app", ""))
            .env("GATE_QUERY_TIMEOUT", "5m")
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(Stdio::null());
        let (code, peak) = exit_and_peak_rss(&mut cmd, Duration::from_secs(600));
        let what = format!("status json={json} directory={with_dir}");
        eprintln!("{what}, 1,000,001 rows: peak RSS {peak} KiB");
        assert_eq!(code, Some(0), "{what}");
        let file = std::io::BufReader::new(std::fs::File::open(&out).expect("stdout"));
        // Everything was listed: one entry per applied version (0 is never listed).
        let (without_file, migrations) = if json {
            let doc: Document = serde_json::from_reader(file).expect("one JSON document");
            assert_eq!(doc.table, "goose_db_version");
            assert_eq!(doc.verdict["state"], "ready", "{what}");
            (doc.without_file.len(), doc.migrations.len())
        } else {
            let (mut without_file, mut migrations, mut last) = (0, 0, String::new());
            for line in file.lines() {
                let line = line.expect("a line");
                if line.ends_with(".sql") {
                    migrations += 1;
                } else if line.contains(" -- version ") {
                    if with_dir {
                        without_file += 1
                    } else {
                        migrations += 1
                    }
                }
                last = line;
            }
            assert!(last.starts_with("ready: "), "{what}: {last}");
            (without_file, migrations)
        };
        let want = if with_dir {
            (999_998, 2)
        } else {
            (0, 1_000_000)
        };
        assert_eq!((without_file, migrations), want, "{what}");
        peaks.push((what, peak));
    }
    for (what, peak) in peaks {
        assert!(peak < 32 * 1024, "{what} peaked at {peak} KiB");
    }
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

#[test]
fn a_signal_mid_read_still_ends_one_json_document() {
    let pg = Postgres::app(&[(1, true)]);
    let mut lock = pg.hold_lock("app", "goose_db_version", 60);
    let mut cmd = gate(&["status", "--json"]);
    cmd.env("DATABASE_URL", pg.url("gate", "app", ""))
        .env("GATE_EXPECT_VERSION", "1")
        .env("GATE_QUERY_TIMEOUT", "1m");
    let (mut child, started) = support::spawn(cmd);
    support::eventually(LIMIT, "status waits on the lock", || {
        (pg.lock_waiters("schema-gate") == 1).then_some(())
    });
    support::signal(&child, "TERM");
    let r = support::finish(&mut child, started, LIMIT);
    let _ = lock.kill();
    let _ = lock.wait();
    assert_eq!(r.code, Some(143), "{r:?}");
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("one document");
    assert_eq!(json["table"], "goose_db_version", "{json}");
    assert_eq!(json["verdict"], serde_json::Value::Null, "{json}");
}

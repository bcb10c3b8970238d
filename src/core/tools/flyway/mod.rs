//! Flyway (13, open-source edition): `flyway_schema_history`, one row per applied migration,
//! baseline, repair. Pure: no I/O.
//!
//! `docs/tools/flyway.md` names the source of each rule and the runs of Flyway 13.12.0 that
//! confirmed it (`scripts/tools/characterise-flyway.sh`). In short:
//!
//! - **Names** (`ResourceNameParser.parse`): the suffix `.sql` in any case is stripped, then the
//!   prefix `V` (versioned), `R` (repeatable) or `B` (baseline migration), case-sensitive; the
//!   rest splits at the first `__` into version and description. A name that does not parse is
//!   skipped (`validateMigrationNaming` is off by default). Locations are scanned recursively.
//! - **Versions** (`MigrationVersion`): `_` reads as `.`, parts split at a `.` followed by a
//!   digit, each part a `BigInteger` (a sign is allowed on the first), trailing zero parts
//!   dropped: `1_2` = `1.2`, `1.0` = `1`, `01.3` = `1.3`, `1.10` > `1.9`. Two files with one
//!   version are refused. The history stores the version as written, `_` turned to `.`.
//! - **Checksums** (`ChecksumCalculator`): CRC-32 over the script's lines read as UTF-8, without
//!   their line terminators, a leading byte-order mark dropped; stored as a signed 32-bit int.
//! - **Rows** (`MigrationInfoServiceImpl`, `MigrationInfoImpl.getState`): a versioned migration
//!   is applied when its latest row succeeded; a `BASELINE` row (the `baseline` command) or a
//!   `SQL_BASELINE` row (a `B` script on an empty database) covers every version at or below it;
//!   a `DELETE` row (`repair` of a missing migration) cancels the version's earlier rows; a row
//!   with `success = false` is failed. A pending version below the highest applied one is
//!   *ignored*: `migrate` refuses it unless `outOfOrder`. A repeatable is applied when the latest
//!   row with its description carries the file's checksum, else *outdated* (re-applied by the
//!   next `migrate`).
//! - Flyway 13.12.0 on PostgreSQL never left a `success = false` row in our runs, not even for a
//!   script with `executeInTransaction=false`: `DbMigrate.applyMigrations` inserts it, and the
//!   schema-history transaction then rolls it back. The rule still handles such rows (older
//!   Flyway releases, other editions, rows written by hand).

mod history;
mod scripts;
mod version;

pub use history::{HistoryRow, read_rows};
pub use scripts::{Expected, FileName, Kind, Script, classify_file_name};
pub use version::{Version, checksum, crc32};

use super::lines::{Line, LineState, Lines};
use super::{Facts, Id, Read, Row, RowError};
use crate::core::status::AppliedAt;
use history::{History, VersionKey, fold};

/// The table Flyway creates (`flyway.table` overrides it), in its default schema.
pub const DEFAULT_TABLE: &str = "flyway_schema_history";

/// The check's `SELECT`, in rank order; `status` adds `installed_on`.
pub const READ: Read = Read {
    columns: "installed_rank, version, description, type, script, checksum, success",
    status_columns: "installed_rank, version, description, type, script, checksum, success, \
                     to_char(installed_on, 'YYYY-MM-DD HH24:MI:SS')",
    tail: "ORDER BY installed_rank LIMIT 100001",
};

/// Flyway scans every file under its locations; the directory rule hashes `.sql` scripts.
pub fn wants_contents(path: &[u8]) -> bool {
    path.len() >= 4 && path[path.len() - 4..].eq_ignore_ascii_case(b".sql")
}

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    let history = fold(read_rows(rows)?)?;
    let mut facts = Facts {
        empty: rows.is_empty(),
        ..Facts::default()
    };
    current_and_failed(&history, &mut facts);
    if !expected.listed {
        version_only(&history, expected, &mut facts);
        return Ok(facts);
    }
    versioned(&history, expected, &mut facts);
    missing(&history, expected, &mut facts);
    repeatables(&history, expected, &mut facts);
    facts.reached = facts.pending.is_empty();
    Ok(facts)
}

/// What `flyway info` calls current: the highest version with a row, a failed one too
/// (`MigrationState.FAILED` counts as applied there), or the baseline; and the failed rows.
fn current_and_failed(history: &History, facts: &mut Facts) {
    let recorded_max = history.versions.keys().map(|k| k.0.clone()).next_back();
    if let Some(c) = recorded_max.max(history.baseline.clone()) {
        facts.current.push(c.id());
    }
    for (key, row) in &history.versions {
        if !row.success {
            facts.failed.push(key.0.id());
        }
    }
    if !facts.failed.is_empty() {
        facts.hints.push(
            "Flyway recorded a migration with success = false (on PostgreSQL a failed \
             transactional migration is rolled back and recorded nowhere): flyway migrate \
             refuses until flyway repair removes the row and the schema is fixed by hand"
                .to_string(),
        );
    }
}

/// The highest successfully applied version.
fn applied_max(history: &History) -> Option<Version> {
    history
        .versions
        .iter()
        .filter(|(_, r)| r.success)
        .map(|(k, _)| k.0.clone())
        .next_back()
}

/// Only `GATE_EXPECT_VERSION`: reached when the current version is at or above it.
fn version_only(history: &History, expected: &Expected, facts: &mut Facts) {
    let current = applied_max(history).max(history.baseline.clone());
    let target = expected.version.clone();
    facts.reached = match (&current, &target) {
        (Some(c), Some(t)) => c >= t,
        _ => false,
    };
    if let Some(t) = &target {
        facts.ahead = history
            .versions
            .iter()
            .filter(|(k, r)| r.success && k.0 > *t)
            .map(|(k, _)| k.0.id())
            .collect();
    }
}

/// The `V` scripts (and a `B` script on an empty history): applied, covered by a baseline,
/// pending (ignored when below the highest applied), or applied with another checksum.
fn versioned(history: &History, expected: &Expected, facts: &mut Facts) {
    // A `B` script stands in for every version at or below it, on an empty history only.
    let fresh = history.versions.is_empty() && history.baseline.is_none();
    let baseline_script = if fresh {
        expected.baseline.last()
    } else {
        None
    };
    let baseline = history
        .baseline
        .clone()
        .or_else(|| baseline_script.and_then(|s| s.version.clone()));
    if let Some(script) = baseline_script {
        facts.pending.push(script.id());
    }
    let applied_max = applied_max(history);
    let mut ignored = Vec::new();
    for script in &expected.versioned {
        let Some(version) = &script.version else {
            continue;
        };
        match history.versions.get(&VersionKey(version.clone())) {
            Some(row) if row.success => {
                if let (Some(recorded), Some(shipped)) = (row.checksum, script.checksum)
                    && recorded != shipped
                {
                    facts.checksum_mismatch.push(version.id());
                }
            }
            Some(_) => {}
            None if baseline.as_ref().is_some_and(|b| version <= b) => {}
            None => {
                facts.pending.push(version.id());
                if applied_max.as_ref().is_some_and(|max| version < max) {
                    ignored.push(version.text().to_string());
                }
            }
        }
    }
    if !ignored.is_empty() {
        facts.hints.push(format!(
            "version(s) {} are below the highest applied version and were never applied: \
             Flyway calls them ignored, and flyway migrate refuses to run (validate: \"Detected \
             resolved migration not applied to database\") unless -outOfOrder=true",
            ignored.join(", ")
        ));
    }
}

/// Versions applied without a script in the build: ahead (missing, below the newest script).
fn missing(history: &History, expected: &Expected, facts: &mut Facts) {
    let newest_file = expected.newest();
    let mut missing = Vec::new();
    for (key, row) in &history.versions {
        let known = expected
            .versioned
            .iter()
            .any(|s| s.version.as_ref() == Some(&key.0));
        if row.success && !known {
            facts.ahead.push(key.0.id());
            if newest_file.as_ref().is_some_and(|n| key.0 < *n) {
                missing.push(key.0.text().to_string());
            }
        }
    }
    if !missing.is_empty() {
        facts.hints.push(format!(
            "version(s) {} are applied without a script in this build, below its newest: \
             Flyway calls them missing, and flyway validate and migrate fail (\"Detected applied \
             migration not resolved locally\") until flyway repair marks them deleted",
            missing.join(", ")
        ));
    }
}

/// The `R` scripts, by their latest row's checksum; repeatables applied that the build lacks.
fn repeatables(history: &History, expected: &Expected, facts: &mut Facts) {
    for script in &expected.repeatable {
        let rows = history.repeatables.get(&script.description);
        let latest = rows.and_then(|r| r.last());
        match latest {
            None => facts.pending.push(script.id()),
            Some(row) if !row.success => facts.failed.push(script.id()),
            Some(row) if script.checksum.is_none() || row.checksum == script.checksum => {}
            Some(_) => {
                let earlier = rows
                    .is_some_and(|r| r.iter().any(|x| x.success && x.checksum == script.checksum));
                if earlier {
                    // This build's definition was applied, then replaced by another one: a
                    // newer release's (or a rollback that flyway migrate would undo).
                    facts.ahead.push(script.id());
                } else {
                    facts.pending.push(script.id());
                }
            }
        }
    }
    for (description, rows) in &history.repeatables {
        let known = expected
            .repeatable
            .iter()
            .any(|s| s.description == *description);
        if let Some(latest) = rows.last()
            && !known
        {
            if latest.success {
                facts.ahead.push(Id::Text(latest.script.clone()));
            } else {
                facts.failed.push(Id::Text(latest.script.clone()));
            }
        }
    }
}

/// `status`'s listing, as `flyway info` lists it: every `V` script by version (covered by a
/// baseline: applied, without a time), a `B` script while it is pending, every `R` script; each
/// applied, failed or pending by the row rule, with its `installed_on`; then (first) what is
/// applied without a script.
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let facts = facts(rows, expected)?;
    let history = fold(read_rows(rows)?)?;
    let state = |id: &Id| {
        if facts.failed.contains(id) {
            LineState::Failed
        } else if facts.pending.contains(id) {
            LineState::Pending
        } else {
            LineState::Applied
        }
    };
    let when = |id: &Id| -> Option<AppliedAt> {
        let text = id.to_string();
        match Version::parse(&text) {
            Ok(v) => history
                .versions
                .get(&VersionKey(v))
                .and_then(|r| r.installed_on),
            Err(_) => history
                .repeatables
                .values()
                .filter_map(|rows| rows.last())
                .find(|r| r.script == text)
                .and_then(|r| r.installed_on),
        }
    };
    let mut out = Lines::default();
    if !expected.listed {
        // Only a version: what the history holds.
        for (key, row) in &history.versions {
            let id = key.0.id();
            let state = if row.success {
                LineState::Applied
            } else {
                LineState::Failed
            };
            out.migrations
                .push(Line::new(id, None, state, row.installed_on));
        }
        return Ok(out);
    }
    let baselines = expected
        .baseline
        .iter()
        .filter(|s| facts.pending.contains(&s.id()));
    let scripts: Vec<&Script> = expected
        .versioned
        .iter()
        .chain(baselines)
        .chain(&expected.repeatable)
        .collect();
    for script in &scripts {
        let id = script.id();
        let file = script
            .script
            .to_ascii_lowercase()
            .ends_with(".sql")
            .then(|| script.script.clone());
        out.migrations
            .push(Line::new(id.clone(), file, state(&id), when(&id)));
    }
    for id in facts.ahead.iter().chain(facts.failed.iter()) {
        if !scripts.iter().any(|s| s.id() == *id) {
            out.without_file
                .push(Line::new(id.clone(), None, state(id), when(id)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tools::{Entry, Listing, Sources};
    use crate::core::tools::{Outcome, decide};
    use crate::core::verdict::Policy::{AtLeast, Exact};

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    /// A history row: (rank, version, type, script, checksum, success).
    fn row(
        rank: i64,
        version: Option<&str>,
        kind: &str,
        script: &str,
        checksum: Option<i32>,
        success: bool,
    ) -> Row {
        vec![
            Some(rank.to_string()),
            version.map(str::to_string),
            Some(script.trim_end_matches(".sql").to_string()),
            Some(kind.to_string()),
            Some(script.to_string()),
            checksum.map(|c| c.to_string()),
            Some(if success { "t" } else { "f" }.to_string()),
        ]
    }

    /// A scripted row `V<version>__x.sql` that succeeded with `checksum`.
    fn ok(rank: i64, version: &str, checksum: i32) -> Row {
        row(
            rank,
            Some(version),
            "SQL",
            &format!("V{version}__x.sql"),
            Some(checksum),
            true,
        )
    }

    fn build(files: &[(&str, &str)]) -> Expected {
        let listing = Listing {
            dir: "db/migration".into(),
            entries: files
                .iter()
                .map(|(name, body)| Entry::with_contents(name, body))
                .collect(),
        };
        Expected::build(Sources {
            listings: Some(&[listing]),
            ..Sources::default()
        })
        .unwrap()
    }

    fn texts(ids: &[Id]) -> Vec<String> {
        ids.iter().map(Id::to_string).collect()
    }

    const SELECT_1: i32 = 78787420;

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("public.flyway_schema_history", "", false),
            "SELECT installed_rank, version, description, type, script, checksum, success \
             FROM public.flyway_schema_history ORDER BY installed_rank LIMIT 100001"
        );
        assert!(
            READ.status_columns
                .ends_with("to_char(installed_on, 'YYYY-MM-DD HH24:MI:SS')")
        );
    }

    #[test]
    fn the_listing_follows_flyway_info() {
        let e = build(&[
            ("V1__a.sql", "SELECT 1;\n"),
            ("V2__b.sql", "SELECT 1;\n"),
            ("R__v.sql", "SELECT 1;\n"),
        ]);
        let mut first = ok(1, "1", SELECT_1);
        first.push(Some("2026-04-27 03:43:55".into()));
        let rows = [first, ok(2, "7", SELECT_1)];
        let l = lines(&rows, &e).unwrap();
        let shown: Vec<(String, LineState, bool)> = l
            .migrations
            .iter()
            .map(|l| (l.version.to_string(), l.state, l.applied_at.is_some()))
            .collect();
        use LineState::*;
        assert_eq!(
            shown,
            [
                ("1".into(), Applied, true),
                ("2".into(), Pending, false),
                ("R__v.sql".into(), Pending, false)
            ]
        );
        assert_eq!(l.migrations[0].file.as_deref(), Some("V1__a.sql"));
        assert_eq!(l.without_file.len(), 1);
        assert_eq!(l.without_file[0].version, Id::from("7"));
    }

    /// The checksums Flyway 13.12.0 recorded in characterise-flyway.sh ("migrate", "info").
    #[test]
    fn checksums_match_flyway() {
        assert_eq!(checksum(b"CREATE TABLE a (id int);\n"), -623083431);
        assert_eq!(
            checksum(b"CREATE TABLE b (id int);\r\nINSERT INTO b VALUES (1);\r\n"),
            914031549
        );
        assert_eq!(
            checksum(b"\xef\xbb\xbfCREATE TABLE c (id int);\n"),
            -2102380136
        );
        assert_eq!(
            checksum(b"CREATE TABLE d (id int);\nSELECT 1/0;\n"),
            1458861281
        );
        assert_eq!(checksum(b"CREATE TABLE d (id int);\n"), -1416942565);
        assert_eq!(checksum(b"SELECT 1;\n"), SELECT_1);
        assert_eq!(checksum(b""), 0);
        // Terminators never count: \n, \r\n, \r and none at all hash alike.
        assert_eq!(checksum(b"SELECT 1;"), SELECT_1);
        assert_eq!(checksum(b"SELECT 1;\r"), SELECT_1);
        // The standard check value of CRC-32.
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
    }

    /// "versions: migrate": the order Flyway applied 1.2, 01.3, 1.9, 1.10, 2.0, 8, 10 in.
    #[test]
    fn versions_compare_as_flyway_compares_them() {
        let order = ["-3", "1", "1.2", "01.3", "1.9", "1.10", "+2", "8", "10"];
        for pair in order.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1_2"), v("1.2"));
        assert_eq!(v("1_2").text(), "1.2");
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("2.0.0"), v("2"));
        assert_eq!(v("01.3"), v("1.3"));
        assert_eq!(v("01.3").text(), "01.3");
        assert_eq!(v("-0"), v("0"));
        for bad in [
            "1.", "1..2", ".1", "", "1.-2", "1x", "latest", "Current", "1 2",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
    }

    /// "versions: info" and "names: …": which names are migrations.
    #[test]
    fn file_names_follow_the_resource_name_parser() {
        use Kind::*;
        let c = |n: &str| classify_file_name(n.as_bytes());
        let m = |kind, version: Option<&str>, description: &str| FileName::Migration {
            kind,
            version: version.map(str::to_string),
            description: description.to_string(),
        };
        assert_eq!(c("V1__a.sql"), m(Versioned, Some("1"), "a"));
        assert_eq!(c("V1.1__b_crlf.sql"), m(Versioned, Some("1.1"), "b crlf"));
        assert_eq!(c("V1_2__c.sql"), m(Versioned, Some("1_2"), "c"));
        assert_eq!(
            c("V8__upper_suffix.SQL"),
            m(Versioned, Some("8"), "upper suffix")
        );
        assert_eq!(c("V4__.sql"), m(Versioned, Some("4"), ""));
        assert_eq!(c("V+2__b.sql"), m(Versioned, Some("+2"), "b"));
        assert_eq!(c("V-3__c.sql"), m(Versioned, Some("-3"), "c"));
        assert_eq!(c("R__v.sql"), m(Repeatable, None, "v"));
        assert_eq!(c("B6__base.sql"), m(Baseline, Some("6"), "base"));
        // Not UTF-8: still a migration, never silently skipped.
        assert_eq!(
            classify_file_name(b"V5__caf\xe9.sql"),
            m(Versioned, Some("5"), "caf\u{fffd}")
        );
        for skipped in [
            "v7__lower.sql",
            "V9_no_separator.sql",
            "V1x__bad.sql",
            "V1.__d.sql",
            "V__e.sql",
            "R1__bad.sql",
            "notes.txt",
            "V3__d_fails.sql.conf",
            "beforeMigrate.sql",
            "U1__undo.sql",
        ] {
            assert_eq!(c(skipped), FileName::Ignored, "{skipped}");
        }
    }

    /// "versions: V1.2 beside V1_2": "Found more than one migration with version 1.2".
    #[test]
    fn duplicate_versions_are_refused() {
        let listing = [Listing {
            dir: "sql".into(),
            entries: vec![Entry::file("V1_2__c.sql"), Entry::file("V1.2__dup.sql")],
        }];
        let err = Expected::build(Sources {
            listings: Some(&listing),
            ..Sources::default()
        })
        .unwrap_err();
        assert!(
            err.message
                .contains("more than one migration with version 1.2"),
            "{err}"
        );
        let listing = [Listing {
            dir: "sql".into(),
            entries: vec![Entry::file("V2__a.sql"), Entry::file("V2.0__b.sql")],
        }];
        assert!(
            Expected::build(Sources {
                listings: Some(&listing),
                ..Sources::default()
            })
            .is_err()
        );
    }

    /// "migrate" then "info after migrate": all three SUCCESS; "validate" passes.
    #[test]
    fn applied_scripts_are_ready() {
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V2__b.sql", "SELECT 1;\n")]);
        let f = facts(&[ok(1, "1", SELECT_1), ok(2, "2", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["2"]);
        let f = facts(&[ok(1, "1", SELECT_1)], &e).unwrap();
        assert_eq!(texts(&f.pending), ["2"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    /// "migrate: V3 fails half-way (transactional)": nothing recorded, V3 PENDING.
    #[test]
    fn a_failed_transactional_migration_is_just_pending() {
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V3__d.sql", "SELECT 1;\n")]);
        let f = facts(&[ok(1, "1", SELECT_1)], &e).unwrap();
        assert_eq!(texts(&f.pending), ["3"]);
        assert!(f.failed.is_empty());
    }

    /// A `success = false` row (hand-written: Flyway 13.12.0 rolled its own back).
    #[test]
    fn success_false_is_failed() {
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V2__b.sql", "SELECT 1;\n")]);
        let rows = [
            ok(1, "1", SELECT_1),
            row(2, Some("2"), "SQL", "V2__b.sql", Some(SELECT_1), false),
        ];
        let f = facts(&rows, &e).unwrap();
        assert_eq!(texts(&f.failed), ["2"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Failed);
        // A failed row of a version the build does not have is failed too.
        let e = build(&[("V1__a.sql", "SELECT 1;\n")]);
        let f = facts(&rows, &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Failed);
    }

    /// "out of order: V4 added below 5": IGNORED, validate and migrate fail; with outOfOrder
    /// it is applied at rank 6 and shows OUT_OF_ORDER, validate passes.
    #[test]
    fn a_version_below_the_highest_is_ignored_then_out_of_order() {
        let files = [
            ("V1__a.sql", "SELECT 1;\n"),
            ("V4__e.sql", "SELECT 1;\n"),
            ("V5__f.sql", "SELECT 1;\n"),
        ];
        let e = build(&files);
        let rows = [ok(1, "1", SELECT_1), ok(2, "5", SELECT_1)];
        let f = facts(&rows, &e).unwrap();
        assert_eq!(texts(&f.pending), ["4"]);
        assert!(
            f.hints.iter().any(|h| h.contains("outOfOrder")),
            "{:?}",
            f.hints
        );
        let rows = [rows[0].clone(), rows[1].clone(), ok(3, "4", SELECT_1)];
        let f = facts(&rows, &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["5"]);
    }

    /// "missing: V3's file deleted (below 5)": MISSING_SUCCESS, validate fails; "missing: V5's
    /// file deleted" (above every file): FUTURE_SUCCESS, validate passes. Both are ahead here.
    #[test]
    fn applied_without_a_file_is_ahead() {
        let rows = [
            ok(1, "1", SELECT_1),
            ok(2, "3", SELECT_1),
            ok(3, "5", SELECT_1),
        ];
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V5__f.sql", "SELECT 1;\n")]);
        let f = facts(&rows, &e).unwrap();
        assert_eq!(texts(&f.ahead), ["3"]);
        assert!(
            f.hints.iter().any(|h| h.contains("missing")),
            "{:?}",
            f.hints
        );
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V3__d.sql", "SELECT 1;\n")]);
        let f = facts(&rows, &e).unwrap();
        assert_eq!(texts(&f.ahead), ["5"]);
        assert!(f.hints.is_empty(), "{:?}", f.hints);
    }

    /// "missing: repair" writes a DELETE row; "deleted, file back": IGNORED (not applied).
    #[test]
    fn a_delete_row_cancels_the_version() {
        let rows = [
            ok(1, "1", SELECT_1),
            ok(2, "2", SELECT_1),
            ok(3, "3", SELECT_1),
            row(4, Some("2"), "DELETE", "V2__x.sql", Some(SELECT_1), true),
        ];
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V3__c.sql", "SELECT 1;\n")]);
        let f = facts(&rows, &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        let e = build(&[
            ("V1__a.sql", "SELECT 1;\n"),
            ("V2__b.sql", "SELECT 1;\n"),
            ("V3__c.sql", "SELECT 1;\n"),
        ]);
        let f = facts(&rows, &e).unwrap();
        assert_eq!(texts(&f.pending), ["2"]);
    }

    /// "checksum: V1 edited": info still SUCCESS, validate fails "Migration checksum mismatch".
    #[test]
    fn checksum_mismatch() {
        let e = build(&[("V1__a.sql", "CREATE TABLE a2 (id int);\n")]);
        let f = facts(&[ok(1, "1", -623083431)], &e).unwrap();
        assert_eq!(texts(&f.checksum_mismatch), ["1"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        // After "checksum: repair" the row carries the new checksum.
        let f = facts(&[ok(1, "1", -809328633)], &e).unwrap();
        assert!(f.checksum_mismatch.is_empty());
    }

    /// "baseline at 2": a BASELINE row; V1 BELOW_BASELINE, V2 BASELINE_IGNORED, V3 PENDING.
    #[test]
    fn a_baseline_covers_what_is_below_it() {
        let e = build(&[
            ("V1__t1.sql", "SELECT 1;\n"),
            ("V2__t2.sql", "SELECT 1;\n"),
            ("V3__t3.sql", "SELECT 1;\n"),
        ]);
        let base = row(
            1,
            Some("2"),
            "BASELINE",
            "<< Flyway Baseline >>",
            None,
            true,
        );
        let f = facts(std::slice::from_ref(&base), &e).unwrap();
        assert_eq!(texts(&f.pending), ["3"]);
        assert_eq!(texts(&f.current), ["2"]);
        assert!(f.ahead.is_empty());
        let f = facts(&[base, ok(2, "3", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }

    /// "baseline migration: migrate on an empty database": only B6 and V7 run; V1..V5 are
    /// BELOW_BASELINE.
    #[test]
    fn a_baseline_script_on_an_empty_database() {
        let e = build(&[
            ("V1__a.sql", "SELECT 1;\n"),
            ("V5__e.sql", "SELECT 1;\n"),
            ("B6__base.sql", "SELECT 1;\n"),
            ("V7__after.sql", "SELECT 1;\n"),
        ]);
        let f = facts(&[], &e).unwrap();
        assert_eq!(texts(&f.pending), ["6", "7"]);
        let rows = [
            row(
                1,
                Some("6"),
                "SQL_BASELINE",
                "B6__base.sql",
                Some(SELECT_1),
                true,
            ),
            ok(2, "7", SELECT_1),
        ];
        let f = facts(&rows, &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        // On a history that V scripts made, a B script is not needed.
        let rows: Vec<Row> = ["1", "5", "7"]
            .iter()
            .enumerate()
            .map(|(i, v)| ok(i as i64 + 1, v, SELECT_1))
            .collect();
        let f = facts(&rows, &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }

    /// "repeatable: …": PENDING, SUCCESS; changed: OUTDATED + PENDING (validate fails);
    /// re-applied: SUPERSEDED + SUCCESS; deleted: MISSING_SUCCESS.
    #[test]
    fn repeatables_follow_their_latest_checksum() {
        let v1 = "CREATE OR REPLACE VIEW v AS SELECT 1 AS x;\n";
        let v2 = "CREATE OR REPLACE VIEW v AS SELECT 2 AS x;\n";
        let (c1, c2) = (checksum(v1.as_bytes()), checksum(v2.as_bytes()));
        assert_eq!((c1, c2), (-861875769, -45560998));
        let rep = |rank, c| {
            let mut r = row(rank, None, "SQL", "R__v.sql", Some(c), true);
            r[2] = Some("v".to_string());
            r
        };
        let old = build(&[("R__v.sql", v1)]);
        let new = build(&[("R__v.sql", v2)]);
        assert_eq!(texts(&facts(&[], &old).unwrap().pending), ["R__v.sql"]);
        assert_eq!(
            decide(&facts(&[rep(1, c1)], &old).unwrap(), Exact),
            Outcome::Ready
        );
        // Changed file, old row: outdated, pending.
        let f = facts(&[rep(1, c1)], &new).unwrap();
        assert_eq!(texts(&f.pending), ["R__v.sql"]);
        // Re-applied: ready for the new build; the old build's definition was superseded.
        let both = [rep(1, c1), rep(2, c2)];
        assert_eq!(decide(&facts(&both, &new).unwrap(), Exact), Outcome::Ready);
        let f = facts(&both, &old).unwrap();
        assert_eq!(texts(&f.ahead), ["R__v.sql"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        // Deleted from the build: ahead.
        let none = build(&[("V1__a.sql", "SELECT 1;\n")]);
        let f = facts(&[ok(1, "1", SELECT_1), rep(2, c2)], &none).unwrap();
        assert_eq!(texts(&f.ahead), ["R__v.sql"]);
    }

    #[test]
    fn expected_version_only() {
        let e = Expected::build(Sources {
            version: Some("1.10"),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&[ok(1, "1.9", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        let f = facts(&[ok(1, "1.9", SELECT_1), ok(2, "1.10", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        let f = facts(&[ok(1, "1.10", SELECT_1), ok(2, "2", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        let base = row(
            1,
            Some("5"),
            "BASELINE",
            "<< Flyway Baseline >>",
            None,
            true,
        );
        assert_eq!(
            decide(&facts(&[base], &e).unwrap(), AtLeast),
            Outcome::Ready
        );
        assert!(
            Expected::build(Sources {
                version: Some("latest"),
                ..Sources::default()
            })
            .is_err()
        );
    }

    #[test]
    fn sources_must_agree() {
        let listing = [Listing {
            dir: "sql".into(),
            entries: vec![Entry::file("V1__a.sql"), Entry::file("sub/V1_1__b.sql")],
        }];
        assert!(
            Expected::build(Sources {
                listings: Some(&listing),
                version: Some("1.1"),
                manifest: Some("1\n1.1\n"),
            })
            .is_ok()
        );
        assert!(
            Expected::build(Sources {
                listings: Some(&listing),
                version: Some("1"),
                manifest: None,
            })
            .is_err()
        );
        assert!(
            Expected::build(Sources {
                listings: Some(&listing),
                version: None,
                manifest: Some("1\n"),
            })
            .is_err()
        );
        assert!(
            Expected::build(Sources {
                manifest: Some("1.0\n1\n"),
                ..Sources::default()
            })
            .is_err()
        );
    }

    #[test]
    fn nested_scripts_keep_their_path() {
        let e = build(&[("sub/V10__nested.sql", "SELECT 1;\n")]);
        assert_eq!(e.versioned[0].script, "sub/V10__nested.sql");
        assert_eq!(e.target(), Some(Id::from("10")));
    }

    #[test]
    fn rows_that_are_not_flyways() {
        let e = build(&[("V1__a.sql", "SELECT 1;\n")]);
        let mut bad = ok(1, "1", SELECT_1);
        bad[5] = Some("x".into());
        assert!(facts(&[bad], &e).is_err());
        let mut bad = ok(1, "1", SELECT_1);
        bad[1] = Some("one".into());
        assert!(facts(&[bad], &e).is_err());
        let schema = row(
            1,
            Some("0"),
            "SCHEMA",
            "<< Flyway Schema Creation >>",
            None,
            true,
        );
        let f = facts(&[schema, ok(2, "1", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }
}

//! Prisma Migrate: `_prisma_migrations(id, checksum, finished_at, migration_name, logs,
//! rolled_back_at, started_at, applied_steps_count)`, one row per attempt. Pure: no I/O.
//!
//! `docs/tools/prisma.md` names the source of each rule and the runs of Prisma 6.19.3 (its
//! WebAssembly schema engine) that confirmed it (`scripts/tools/characterise-prisma.sh`). In
//! short:
//!
//! - `migrate deploy` inserts a row **before** running a migration (`record_migration_started`)
//!   and sets `finished_at` after it; a failure leaves the row unfinished (with `logs`) and
//!   whatever the script did before the error. A row neither finished nor rolled back is
//!   `failed` (failed **or still running**); `deploy` refuses while one exists (P3009).
//! - Applied: a row with `finished_at` set and `rolled_back_at` NULL (`apply_migrations`'
//!   unapplied filter, `diagnose_migration_history`'s drift list). A migration whose rows are
//!   all rolled back (`migrate resolve --rolled-back`) is pending: `deploy` runs it again.
//! - Files: every subdirectory of the migrations directory is a migration named after it,
//!   whose script is its `migration.sql` (`listMigrations` in the CLI); a directory without it
//!   makes `deploy` fail (P3015). The checksum is the SHA-256 of the script, compared with its
//!   line endings as they are, as LF and as CRLF (`script_matches_checksum`).
//! - Rows without a directory are `ahead`; `migrate status` and `deploy` ignore them.

use super::lines::{Line, LineState, Lines};
use super::{
    DIR_VAR, ExpectError, FILE_VAR, Facts, Id, Listing, Read, Row, RowError, Sources, VERSION_VAR,
    bool_cell, cell, manifest_lines, show,
};
use crate::core::status::AppliedAt;
use std::collections::{BTreeMap, BTreeSet};

/// The table Prisma creates (not configurable).
pub const DEFAULT_TABLE: &str = "_prisma_migrations";

/// The check's `SELECT`, in the order the attempts started; `status` adds `finished_at` (UTC).
pub const READ: Read = Read {
    columns: "migration_name, checksum, finished_at IS NOT NULL, rolled_back_at IS NOT NULL",
    status_columns: "migration_name, checksum, finished_at IS NOT NULL, \
                     rolled_back_at IS NOT NULL, \
                     to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
    tail: "ORDER BY started_at, id LIMIT 100001",
};

/// The script of a migration directory, relative to the migrations directory.
const SCRIPT: &[u8] = b"/migration.sql";

/// The directory rule reads each `<migration>/migration.sql`.
pub fn wants_contents(path: &[u8]) -> bool {
    path.ends_with(SCRIPT) && path.iter().filter(|&&b| b == b'/').count() == 1
}

fn sha256_hex(text: &str, padded: bool) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| {
            if padded {
                format!("{b:02x}")
            } else {
                format!("{b:x}")
            }
        })
        .collect()
}

/// Whether a recorded checksum is a script's (`script_matches_checksum`): the script as is,
/// with CRLF turned into LF, or LF into CRLF; a recorded value that is not 64 characters long
/// is compared with the old, unpadded hex form (prisma-engines#1887).
pub fn script_matches_checksum(script: &str, recorded: &str) -> bool {
    let padded = recorded.is_empty() || recorded.len() == 64;
    [
        script.to_string(),
        script.replace("\r\n", "\n"),
        script.replace('\n', "\r\n"),
    ]
    .iter()
    .any(|s| sha256_hex(s, padded) == recorded)
}

/// What the build expects from Prisma: migration names, with their scripts when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    migrations: BTreeMap<String, Option<String>>,
}

impl Expected {
    /// From the migrations directory (`prisma/migrations`), or a manifest of names (an image
    /// without the directory), or both, which must agree.
    pub fn build(sources: Sources<'_>) -> Result<Expected, ExpectError> {
        if sources.version.is_some() {
            return Err(ExpectError::new(
                VERSION_VAR,
                "Prisma migrations are directory names, not versions: give the migrations \
                 directory or GATE_EXPECT_FILE (one migration name a line)",
            ));
        }
        let mut migrations = None;
        if let Some(listings) = sources.listings {
            migrations = Some(from_listings(listings)?);
        }
        if let Some(text) = sources.manifest {
            let mut listed = BTreeMap::new();
            for (line, name) in manifest_lines(text)? {
                if name.contains('/') {
                    return Err(ExpectError::new(
                        FILE_VAR,
                        format!(
                            "line {}: {name:?} is not a migration directory name",
                            line + 1
                        ),
                    ));
                }
                listed.insert(name.to_string(), None);
            }
            if let Some(dir) = &migrations
                && !dir.keys().eq(listed.keys())
            {
                return Err(ExpectError::new(
                    FILE_VAR,
                    "lists other migrations than the migrations directory holds",
                ));
            }
            migrations = migrations.or(Some(listed));
        }
        migrations
            .map(|migrations| Expected { migrations })
            .ok_or_else(|| ExpectError::new(DIR_VAR, "no Prisma migrations given"))
    }

    /// The newest migration by name (Prisma applies them in name order).
    pub fn target(&self) -> Option<Id> {
        self.migrations
            .keys()
            .next_back()
            .map(|n| Id::Text(n.clone()))
    }
}

fn from_listings(listings: &[Listing]) -> Result<BTreeMap<String, Option<String>>, ExpectError> {
    let [listing] = listings else {
        return Err(ExpectError::new(
            DIR_VAR,
            "Prisma reads one migrations directory: name one",
        ));
    };
    let mut dirs = BTreeSet::new();
    let mut scripts = BTreeMap::new();
    for entry in &listing.entries {
        let path = &entry.path;
        if entry.dir && !path.contains(&b'/') {
            dirs.insert(String::from_utf8_lossy(path).into_owned());
        } else if !entry.dir && wants_contents(path) {
            let name = String::from_utf8_lossy(&path[..path.len() - SCRIPT.len()]).into_owned();
            let script = match &entry.contents {
                Some(bytes) => Some(String::from_utf8(bytes.clone()).map_err(|_| {
                    ExpectError::new(
                        DIR_VAR,
                        format!("{}/{} is not UTF-8", listing.dir, show(path)),
                    )
                })?),
                None => None,
            };
            scripts.insert(name, script);
        }
    }
    let mut migrations = BTreeMap::new();
    for dir in dirs {
        let Some(script) = scripts.remove(&dir) else {
            return Err(ExpectError::new(
                DIR_VAR,
                format!(
                    "{}/{dir}: Could not find the migration file at migration.sql (prisma \
                     migrate deploy fails with P3015)",
                    listing.dir
                ),
            ));
        };
        migrations.insert(dir, script);
    }
    if migrations.is_empty() {
        return Err(ExpectError::new(
            DIR_VAR,
            format!(
                "no Prisma migrations (<name>/migration.sql) in {}",
                listing.dir
            ),
        ));
    }
    Ok(migrations)
}

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    // name → the checksum of its applied row; names with an unfinished attempt.
    let mut applied: BTreeMap<String, String> = BTreeMap::new();
    let mut unfinished: BTreeSet<String> = BTreeSet::new();
    let mut last = None;
    for row in rows {
        let name = cell(row, 0, "migration_name")?.to_string();
        let checksum = cell(row, 1, "checksum")?;
        let finished = bool_cell(row, 2, "finished_at IS NOT NULL")?;
        if bool_cell(row, 3, "rolled_back_at IS NOT NULL")? {
            continue;
        }
        if finished {
            last = Some(name.clone());
            applied.insert(name, checksum.to_string());
        } else {
            unfinished.insert(name);
        }
    }
    let text = |n: &String| Id::Text(n.clone());
    let mut facts = Facts {
        empty: rows.is_empty(),
        current: last.as_ref().map(text).into_iter().collect(),
        failed: unfinished.iter().map(text).collect(),
        ..Facts::default()
    };
    if let Some(name) = unfinished.first() {
        facts.hints.push(format!(
            "the `{name}` migration started and did not finish (failed, or still running: \
             they cannot be told apart); prisma migrate deploy refuses (P3009) until prisma \
             migrate resolve --rolled-back or --applied"
        ));
    }
    for (name, script) in &expected.migrations {
        match applied.get(name) {
            Some(recorded)
                if script
                    .as_ref()
                    .is_some_and(|s| !script_matches_checksum(s, recorded)) =>
            {
                facts.checksum_mismatch.push(text(name));
            }
            Some(_) => {}
            None if !unfinished.contains(name) => facts.pending.push(text(name)),
            None => {}
        }
    }
    facts.ahead = applied
        .keys()
        .filter(|n| !expected.migrations.contains_key(*n))
        .map(text)
        .collect();
    facts.reached = facts.pending.is_empty();
    Ok(facts)
}

/// `status`'s listing: every migration directory by name, applied (with `finished_at`),
/// failed (an unfinished attempt) or pending (no row, or only rolled-back ones); first, under
/// their own heading, the applied or unfinished rows without a directory.
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let mut seen: BTreeMap<String, (LineState, Option<AppliedAt>)> = BTreeMap::new();
    for row in rows {
        let name = cell(row, 0, "migration_name")?.to_string();
        if bool_cell(row, 3, "rolled_back_at IS NOT NULL")? {
            continue;
        }
        let entry = seen.entry(name).or_insert((LineState::Applied, None));
        if bool_cell(row, 2, "finished_at IS NOT NULL")? {
            let at = row.get(4).cloned().flatten();
            entry.1 = entry.1.or(at.and_then(|t| AppliedAt::parse(&t)));
        } else {
            entry.0 = LineState::Failed;
        }
    }
    let line = |name: &String, file: bool, (state, at): (LineState, Option<AppliedAt>)| {
        Line::new(
            Id::Text(name.clone()),
            file.then(|| name.clone()),
            state,
            at,
        )
    };
    let mut out = Lines::default();
    for name in expected.migrations.keys() {
        let state = seen.get(name).copied();
        out.migrations.push(line(
            name,
            true,
            state.unwrap_or((LineState::Pending, None)),
        ));
    }
    for (name, state) in seen
        .iter()
        .filter(|(n, _)| !expected.migrations.contains_key(*n))
    {
        out.without_file.push(line(name, false, *state));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tools::{Entry, Outcome, decide};
    use crate::core::verdict::Policy::{AtLeast, Exact};

    const A: &str = "CREATE TABLE a (id int);\n";
    const B: &str = "CREATE TABLE b (id int);\n";

    fn row(name: &str, script: &str, finished: bool, rolled_back: bool) -> Row {
        let b = |v: bool| Some(if v { "t" } else { "f" }.to_string());
        vec![
            Some(name.to_string()),
            Some(sha256_hex(script, true)),
            b(finished),
            b(rolled_back),
        ]
    }

    fn dir(migrations: &[(&str, &str)]) -> Expected {
        let mut entries = vec![Entry::file("migration_lock.toml")];
        for (name, script) in migrations {
            entries.push(Entry::directory(name));
            entries.push(Entry::with_contents(
                &format!("{name}/migration.sql"),
                script,
            ));
        }
        Expected::build(Sources {
            listings: Some(&[Listing {
                dir: "prisma/migrations".into(),
                entries,
            }]),
            ..Sources::default()
        })
        .unwrap()
    }

    fn texts(ids: &[Id]) -> Vec<String> {
        ids.iter().map(Id::to_string).collect()
    }

    fn ab() -> Expected {
        dir(&[("20240101000001_a", A), ("20240101000002_b", B)])
    }

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("_prisma_migrations", "", false),
            "SELECT migration_name, checksum, finished_at IS NOT NULL, rolled_back_at IS NOT \
             NULL FROM _prisma_migrations ORDER BY started_at, id LIMIT 100001"
        );
        assert!(wants_contents(b"20240101000001_a/migration.sql"));
        assert!(!wants_contents(b"migration.sql"));
        assert!(!wants_contents(b"a/b/migration.sql"));
    }

    #[test]
    fn the_listing() {
        let e = dir(&[("20240101000001_a", A), ("20240101000002_b", B), ("c", "x")]);
        let mut applied = row("20240101000001_a", A, true, false);
        applied.push(Some("2024-01-01 00:00:01".into()));
        let l = lines(
            &[
                applied,
                row("20240101000002_b", B, false, false),
                row("c", "x", true, true),
                row("gone", "", true, false),
            ],
            &e,
        )
        .unwrap();
        let shown: Vec<(String, LineState, bool)> = l
            .migrations
            .iter()
            .map(|l| (l.version.to_string(), l.state, l.applied_at.is_some()))
            .collect();
        assert_eq!(
            shown,
            [
                ("20240101000001_a".to_string(), LineState::Applied, true),
                ("20240101000002_b".to_string(), LineState::Failed, false),
                ("c".to_string(), LineState::Pending, false)
            ]
        );
        assert_eq!(l.without_file[0].version, Id::from("gone"));
    }

    /// "migrate deploy": the recorded checksum starts c2de7559380e, sha256sum's; "1 with CRLF
    /// line endings": still matches; the old unpadded form too.
    #[test]
    fn checksums_are_sha256_of_the_script() {
        assert!(sha256_hex(A, true).starts_with("c2de7559380e"));
        assert!(script_matches_checksum(A, &sha256_hex(A, true)));
        assert!(script_matches_checksum(
            "CREATE TABLE a (id int);\r\n",
            &sha256_hex(A, true)
        ));
        assert!(script_matches_checksum(
            "hello",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        ));
        assert!(!script_matches_checksum("abc\n", &sha256_hex("abc", true)));
        let old = sha256_hex(A, false);
        if old.len() != 64 {
            assert!(script_matches_checksum(A, &old));
        }
    }

    /// "no table: migrate status" (exit 1, nothing created: the database layer says
    /// no_table), "migrate deploy", "all applied" (up to date, exit 0).
    #[test]
    fn pending_until_every_directory_has_a_finished_row() {
        let e = ab();
        let f = facts(&[row("20240101000001_a", A, true, false)], &e).unwrap();
        assert_eq!(texts(&f.pending), ["20240101000002_b"]);
        let f = facts(
            &[
                row("20240101000001_a", A, true, false),
                row("20240101000002_b", B, true, false),
            ],
            &e,
        )
        .unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["20240101000002_b"]);
    }

    /// "migrate deploy: 3 fails half-way" (a row, finished_at NULL; table c stays), "failed:
    /// migrate status" (exit 1), "failed: migrate deploy again" (P3009); "while 6_slow runs":
    /// the same row, seen from another session.
    #[test]
    fn an_unfinished_row_is_failed() {
        let e = dir(&[("20240101000001_a", A), ("20240101000003_c", "x")]);
        let f = facts(
            &[
                row("20240101000001_a", A, true, false),
                row("20240101000003_c", "x", false, false),
            ],
            &e,
        )
        .unwrap();
        assert_eq!(texts(&f.failed), ["20240101000003_c"]);
        assert!(f.pending.is_empty());
        assert_eq!(decide(&f, AtLeast), Outcome::Failed);
        assert!(f.hints[0].contains("P3009"), "{:?}", f.hints);
    }

    /// "rolled back: migrate status" (up to date, exit 0!) and "migrate deploy after fix"
    /// (applies it again: a second row); "migrate resolve --applied …" (the failed row rolled
    /// back, a finished one added): applied.
    #[test]
    fn rolled_back_rows_do_not_count() {
        let e = dir(&[("20240101000003_c", "fixed")]);
        let f = facts(&[row("20240101000003_c", "x", false, true)], &e).unwrap();
        assert_eq!(texts(&f.pending), ["20240101000003_c"]);
        assert!(f.failed.is_empty());
        let f = facts(
            &[
                row("20240101000003_c", "x", false, true),
                row("20240101000003_c", "fixed", true, false),
            ],
            &e,
        )
        .unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }

    /// "1 edited: migrate status": up to date, exit 0 (the CLI ignores editedMigrationNames);
    /// the gate: a checksum mismatch, not ready under exact only.
    #[test]
    fn an_edited_script_is_a_checksum_mismatch() {
        let e = dir(&[("20240101000001_a", "CREATE TABLE a (id int); -- edited\n")]);
        let f = facts(&[row("20240101000001_a", A, true, false)], &e).unwrap();
        assert_eq!(texts(&f.checksum_mismatch), ["20240101000001_a"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
    }

    /// "out of order: a directory sorting first": pending (deploy applies it); "a row without
    /// a directory": status up to date, deploy applies nothing; the gate: ahead.
    #[test]
    fn out_of_order_and_rows_without_directories() {
        let e = dir(&[
            ("20231231000000_early", "SELECT 1;\n"),
            ("20240101000001_a", A),
        ]);
        let f = facts(&[row("20240101000001_a", A, true, false)], &e).unwrap();
        assert_eq!(texts(&f.pending), ["20231231000000_early"]);
        let e = dir(&[("20240101000001_a", A)]);
        let f = facts(
            &[
                row("20240101000001_a", A, true, false),
                row("20991231000000_gone", "", true, false),
            ],
            &e,
        )
        .unwrap();
        assert_eq!(texts(&f.ahead), ["20991231000000_gone"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
    }

    /// "a directory without migration.sql": status lists it pending, deploy fails (P3015):
    /// the gate refuses the directory; files beside the directories are not migrations.
    #[test]
    fn directories_are_migrations() {
        let listing = [Listing {
            dir: "prisma/migrations".into(),
            entries: vec![
                Entry::file("README.md"),
                Entry::directory("20240101000001_a"),
                Entry::with_contents("20240101000001_a/migration.sql", A),
                Entry::directory("20240101000005_nofile"),
            ],
        }];
        let err = Expected::build(Sources {
            listings: Some(&listing),
            ..Sources::default()
        })
        .unwrap_err();
        assert!(err.message.contains("P3015"), "{err}");
        let m = Expected::build(Sources {
            manifest: Some("20240101000001_a\n20240101000002_b\n"),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&[row("20240101000001_a", "other", true, false)], &m).unwrap();
        assert_eq!(texts(&f.pending), ["20240101000002_b"]);
        assert!(f.checksum_mismatch.is_empty());
        assert!(
            Expected::build(Sources {
                version: Some("20240101000001"),
                ..Sources::default()
            })
            .is_err()
        );
    }
}

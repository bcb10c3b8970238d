//! amacneil/dbmate (v2): `schema_migrations(version varchar)`, one row per applied file.
//! Pure: no I/O.
//!
//! `docs/tools/dbmate.md` names the source of each rule and the CLI runs that confirmed it
//! (`scripts/tools/characterise-dbmate.sh`). In short:
//!
//! - Versions are **strings**: the leading digits of the file name (`migrationFileRegexp`,
//!   `^(\d+).*\.sql$`), so `001_a.sql` and `1_a.sql` are two migrations. A file is applied when
//!   its version has a row (`FindMigrations`); rows without a file are never shown.
//! - Several directories (`--migrations-dir` given more than once; `DBMATE_MIGRATIONS_DIR`
//!   comma-separated) are read one level deep each, directories skipped; files are sorted by
//!   file name (not by version) across all of them. Two files with one version are not
//!   refused: one row makes both applied.
//! - A failed migration leaves nothing (its transaction rolls back; a `transaction:false` file
//!   is still one multi-statement query, which PostgreSQL runs as one implicit transaction):
//!   dbmate has no failed state. Out-of-order files are applied unless `--strict`.

use super::lines::{Line, LineState, Lines};
use super::{
    DIR_VAR, Entry, ExpectError, FILE_VAR, Facts, Id, Listing, Read, Row, RowError, Sources,
    VERSION_VAR, cell, manifest_lines,
};
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// The table dbmate creates (`--migrations-table` overrides it).
pub const DEFAULT_TABLE: &str = "schema_migrations";

/// The check's `SELECT`. dbmate records no time.
pub const READ: Read = Read {
    columns: "version",
    status_columns: "version",
    tail: "ORDER BY version LIMIT 100001",
};

/// The version of a file name by `migrationFileRegexp` (`^(\d+).*\.sql$` on a Go string: `\d`
/// is ASCII, `.` matches any character but a newline, `.sql` is case-sensitive), or `None`.
pub fn file_version(name: &[u8]) -> Option<String> {
    let digits = name.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || !name.ends_with(b".sql") || name.contains(&b'\n') {
        return None;
    }
    // The digits and `.sql` may not overlap: `1.sql` is version 1, `12.sql` too has `.sql`
    // after its digits, but a name of digits alone cannot end in `.sql`.
    if digits + ".sql".len() > name.len() {
        return None;
    }
    Some(String::from_utf8_lossy(&name[..digits]).into_owned())
}

/// dbmate versions in the order the gate compares them: by number (leading zeros aside), then
/// as strings, so `9 < 10` and `001 < 01 < 1`. dbmate itself sorts files by name and compares
/// versions as strings under `--strict`; for versions of one width (timestamps) all agree.
pub fn compare(a: &str, b: &str) -> Ordering {
    let strip = |s: &str| s.trim_start_matches('0').len();
    let (ta, tb) = (&a[a.len() - strip(a)..], &b[b.len() - strip(b)..]);
    ta.len()
        .cmp(&tb.len())
        .then_with(|| ta.cmp(tb))
        .then_with(|| a.cmp(b))
}

fn is_version(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// What the build expects from dbmate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Every version with a file (or a manifest line).
    versions: Option<BTreeSet<String>>,
    /// `GATE_EXPECT_VERSION`, digits as dbmate writes them.
    version: Option<String>,
    /// Every file `(version, name)`, sorted by name across the directories as dbmate sorts
    /// them (for `status`).
    files: Vec<(String, String)>,
}

impl Expected {
    /// From directories, a version, a manifest of versions, or several, which must agree.
    pub fn build(sources: Sources<'_>) -> Result<Expected, ExpectError> {
        let mut versions = None;
        let mut files = Vec::new();
        if let Some(listings) = sources.listings {
            files = from_listings(listings)?;
            versions = Some(files.iter().map(|(v, _)| v.clone()).collect());
        }
        if let Some(text) = sources.manifest {
            let mut listed = BTreeSet::new();
            for (line, id) in manifest_lines(text)? {
                if !is_version(id) {
                    return Err(ExpectError::new(
                        FILE_VAR,
                        format!("line {}: {id:?} is not a dbmate version (digits)", line + 1),
                    ));
                }
                listed.insert(id.to_string());
            }
            if versions.as_ref().is_some_and(|v| *v != listed) {
                return Err(ExpectError::new(
                    FILE_VAR,
                    "lists other versions than the migrations directories hold",
                ));
            }
            versions = Some(listed);
        }
        let version = match sources.version {
            Some(text) if is_version(text) => Some(text.to_string()),
            Some(text) => {
                return Err(ExpectError::new(
                    VERSION_VAR,
                    format!(
                        "{text:?} is not a dbmate version: the digits a migration file name \
                         starts with, as written (001 is not 1)"
                    ),
                ));
            }
            None => None,
        };
        let expected = Expected {
            versions,
            version,
            files,
        };
        if let (Some(v), Some(newest)) = (&expected.version, expected.newest_file())
            && v != newest
        {
            return Err(ExpectError::new(
                VERSION_VAR,
                format!("is {v}, but the newest migration file is {newest}: make them agree"),
            ));
        }
        Ok(expected)
    }

    fn newest_file(&self) -> Option<&String> {
        self.versions
            .as_ref()
            .and_then(|v| v.iter().max_by(|a, b| compare(a, b)))
    }

    /// The expected version: `GATE_EXPECT_VERSION`, or the newest file's.
    pub fn target(&self) -> Option<Id> {
        self.version
            .as_ref()
            .or_else(|| self.newest_file())
            .map(|v| Id::Text(v.clone()))
    }
}

fn from_listings(listings: &[Listing]) -> Result<Vec<(String, String)>, ExpectError> {
    let mut files: Vec<(String, String)> = Vec::new();
    for listing in listings {
        for entry in listing.entries.iter().filter(|e| !e.dir) {
            if let Some(version) = file_version(&entry.path) {
                files.push((version, crate::core::status::display_name(&entry.path)));
            }
        }
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    if files.is_empty() {
        let dirs: Vec<&str> = listings.iter().map(|l| l.dir.as_str()).collect();
        return Err(ExpectError::new(
            DIR_VAR,
            format!(
                "no dbmate migration files (NNN_name.sql) in {}",
                dirs.join(", ")
            ),
        ));
    }
    Ok(files)
}

/// The versions of one directory's files (directories skipped, non-matching names skipped).
pub fn directory_versions(entries: &[Entry]) -> BTreeSet<String> {
    entries
        .iter()
        .filter(|e| !e.dir)
        .filter_map(|e| file_version(&e.path))
        .collect()
}

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    let mut applied = BTreeSet::new();
    for row in rows {
        applied.insert(cell(row, 0, "version")?.to_string());
    }
    let mut facts = Facts {
        empty: rows.is_empty(),
        ..Facts::default()
    };
    let sorted = |set: &mut Vec<String>| set.sort_by(|a, b| compare(a, b));
    let highest = applied.iter().max_by(|a, b| compare(a, b)).cloned();
    if let Some(h) = &highest {
        facts.current.push(Id::Text(h.clone()));
    }
    match &expected.versions {
        Some(files) => {
            let mut pending: Vec<String> = files.difference(&applied).cloned().collect();
            let mut ahead: Vec<String> = applied.difference(files).cloned().collect();
            sorted(&mut pending);
            sorted(&mut ahead);
            if let (Some(first), Some(h)) = (pending.first(), &highest)
                && compare(first, h) == Ordering::Less
            {
                facts.hints.push(format!(
                    "{first} is pending below the applied {h}: dbmate migrate applies it out of \
                     order (migrate --strict refuses)"
                ));
            }
            facts.reached = pending.is_empty();
            facts.pending = pending.into_iter().map(Id::Text).collect();
            facts.ahead = ahead.into_iter().map(Id::Text).collect();
        }
        None => {
            let target = expected.version.clone().unwrap_or_default();
            facts.reached = highest
                .as_ref()
                .is_some_and(|h| compare(h, &target) != Ordering::Less);
            let mut ahead: Vec<String> = applied
                .iter()
                .filter(|v| compare(v, &target) == Ordering::Greater)
                .cloned()
                .collect();
            sorted(&mut ahead);
            facts.ahead = ahead.into_iter().map(Id::Text).collect();
        }
    }
    Ok(facts)
}

/// `status`'s listing, as `dbmate status` lists it: every file, by file name, applied when its
/// version has a row; then (first, under their own heading) the rows without a file, which
/// dbmate never shows. Without a directory: the applied versions. dbmate records no time.
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let mut applied = BTreeSet::new();
    for row in rows {
        applied.insert(cell(row, 0, "version")?.to_string());
    }
    let state = |v: &String| match applied.contains(v) {
        true => LineState::Applied,
        false => LineState::Pending,
    };
    let mut out = Lines::default();
    let known: BTreeSet<&String> = match &expected.versions {
        Some(versions) => versions.iter().collect(),
        None => BTreeSet::new(),
    };
    if expected.files.is_empty()
        && let Some(versions) = &expected.versions
    {
        for v in versions {
            out.migrations
                .push(Line::new(Id::Text(v.clone()), None, state(v), None));
        }
    }
    for (v, name) in &expected.files {
        let line = Line::new(Id::Text(v.clone()), Some(name.clone()), state(v), None);
        out.migrations.push(line);
    }
    let mut without: Vec<&String> = applied.iter().filter(|v| !known.contains(v)).collect();
    without.sort_by(|a, b| compare(a, b));
    let list = match expected.versions {
        Some(_) => &mut out.without_file,
        None => &mut out.migrations,
    };
    for v in without {
        list.push(Line::new(
            Id::Text(v.clone()),
            None,
            LineState::Applied,
            None,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tools::{Outcome, decide};
    use crate::core::verdict::Policy::{AtLeast, Exact};

    fn rows(versions: &[&str]) -> Vec<Row> {
        versions.iter().map(|v| vec![Some(v.to_string())]).collect()
    }

    fn files(names: &[&str]) -> Expected {
        let listing = Listing {
            dir: "db/migrations".into(),
            entries: names.iter().map(|n| Entry::file(n)).collect(),
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

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("schema_migrations", "", false),
            "SELECT version FROM schema_migrations ORDER BY version LIMIT 100001"
        );
    }

    #[test]
    fn the_listing_follows_dbmate_status() {
        let e = files(&["002_b.sql", "001_a.sql", "003_dup.sql", "003_c.sql"]);
        let l = lines(&rows(&["001", "003", "999"]), &e).unwrap();
        let shown: Vec<(&str, LineState)> = l
            .migrations
            .iter()
            .map(|l| (l.file.as_deref().unwrap_or(""), l.state))
            .collect();
        use LineState::*;
        assert_eq!(
            shown,
            [
                ("001_a.sql", Applied),
                ("002_b.sql", Pending),
                ("003_c.sql", Applied),
                ("003_dup.sql", Applied)
            ]
        );
        assert_eq!(l.without_file.len(), 1);
        assert_eq!(l.without_file[0].version, Id::from("999"));
        let only = Expected::build(Sources {
            version: Some("2"),
            ..Sources::default()
        })
        .unwrap();
        let l = lines(&rows(&["10", "9"]), &only).unwrap();
        let order: Vec<String> = l.migrations.iter().map(|l| l.version.to_string()).collect();
        assert_eq!(order, ["9", "10"]);
    }

    /// characterise-dbmate.sh, "names: README.md x7_y.sql 8_h.SQL 9_dir.sql/ 10.sql 11a.sql":
    /// status lists 10.sql and 11a.sql, not the others.
    #[test]
    fn file_names_follow_migration_file_regexp() {
        assert_eq!(file_version(b"001_a.sql").as_deref(), Some("001"));
        assert_eq!(file_version(b"10.sql").as_deref(), Some("10"));
        assert_eq!(file_version(b"11a.sql").as_deref(), Some("11"));
        assert_eq!(
            file_version(b"20240101120000_x.sql").as_deref(),
            Some("20240101120000")
        );
        for skipped in [
            "README.md",
            "x7_y.sql",
            "8_h.SQL",
            "1_a.sql.bak",
            "123",
            "1_a\n.sql",
        ] {
            assert_eq!(file_version(skipped.as_bytes()), None, "{skipped}");
        }
        let entries = [Entry::file("1_a.sql"), Entry::directory("9_dir.sql")];
        assert_eq!(directory_versions(&entries).len(), 1);
    }

    #[test]
    fn order_is_numeric_then_textual() {
        assert_eq!(compare("9", "10"), Ordering::Less);
        assert_eq!(compare("001", "1"), Ordering::Less);
        assert_eq!(compare("001", "01"), Ordering::Less);
        assert_eq!(compare("0005", "004"), Ordering::Greater);
        assert_eq!(compare("0", "00"), Ordering::Less);
        assert_eq!(compare("20240101", "20240101"), Ordering::Equal);
    }

    /// "status --exit-code, 003 pending" (exit 1) and "all applied" (exit 0).
    #[test]
    fn pending_files_and_ready() {
        let e = files(&["001_a.sql", "002_b.sql", "003_c.sql"]);
        let f = facts(&rows(&["001", "002"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["003"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        let f = facts(&rows(&["001", "002", "003"]), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["003"]);
    }

    /// "status --exit-code, no table": exit 1 (the database layer says no_table); an empty
    /// table is behind.
    #[test]
    fn empty_table() {
        let f = facts(&[], &files(&["001_a.sql"])).unwrap();
        assert!(f.empty);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    /// "1_one.sql beside 001_a.sql": two migrations; "migrate applies 1 out of order".
    #[test]
    fn versions_are_strings_and_out_of_order_is_pending() {
        let e = files(&["001_a.sql", "002_b.sql", "003_c.sql", "1_one.sql"]);
        let f = facts(&rows(&["001", "002", "003"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["1"]);
        let e = files(&[
            "001_a.sql",
            "002_b.sql",
            "003_c.sql",
            "004_d.sql",
            "0005_e.sql",
        ]);
        let f = facts(&rows(&["001", "002", "003", "0005"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["004"]);
        assert!(f.hints[0].contains("out of order"), "{:?}", f.hints);
    }

    /// "two files with version 003": both [X]; the gate expects version 003 once.
    #[test]
    fn two_files_one_version() {
        let e = files(&["003_c.sql", "003_dup.sql"]);
        let f = facts(&rows(&["003"]), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }

    /// "two directories (-d twice)": 006_f.sql in the second directory is pending.
    #[test]
    fn several_directories() {
        let a = Listing {
            dir: "a".into(),
            entries: vec![Entry::file("001_a.sql")],
        };
        let b = Listing {
            dir: "b".into(),
            entries: vec![Entry::file("006_f.sql")],
        };
        let e = Expected::build(Sources {
            listings: Some(&[a, b]),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&rows(&["001"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["006"]);
        assert_eq!(e.target(), Some(Id::from("006")));
    }

    /// "a row without a file: status": dbmate does not show it; the gate calls it ahead.
    #[test]
    fn rows_without_files_are_ahead() {
        let e = files(&["001_a.sql"]);
        let f = facts(&rows(&["001", "999"]), &e).unwrap();
        assert_eq!(texts(&f.ahead), ["999"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
    }

    #[test]
    fn expected_version_only() {
        let e = Expected::build(Sources {
            version: Some("20240102000000"),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&rows(&["20240101000000"]), &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        let f = facts(&rows(&["20240101000000", "20240102000000"]), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        let f = facts(&rows(&["20240102000000", "20240103000000"]), &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        for bad in ["", "v1", "1.2", " 1"] {
            assert!(
                Expected::build(Sources {
                    version: Some(bad),
                    ..Sources::default()
                })
                .is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn version_and_directory_must_agree() {
        let listing = [Listing {
            dir: "m".into(),
            entries: vec![Entry::file("001_a.sql"), Entry::file("002_b.sql")],
        }];
        assert!(
            Expected::build(Sources {
                listings: Some(&listing),
                version: Some("002"),
                manifest: None,
            })
            .is_ok()
        );
        let err = Expected::build(Sources {
            listings: Some(&listing),
            version: Some("2"),
            manifest: None,
        })
        .unwrap_err();
        assert_eq!(err.variable, "GATE_EXPECT_VERSION");
        let e = Expected::build(Sources {
            manifest: Some("001\n002\n"),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(e.target(), Some(Id::from("002")));
        assert!(
            Expected::build(Sources {
                manifest: Some("001_a.sql\n"),
                ..Sources::default()
            })
            .is_err()
        );
    }

    #[test]
    fn a_null_version_is_not_dbmates() {
        assert!(facts(&[vec![None]], &files(&["1_a.sql"])).is_err());
    }
}

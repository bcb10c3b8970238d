//! launchbadge/sqlx migrations (`sqlx migrate run`, or `sqlx::migrate!()` embedded in the
//! application): `_sqlx_migrations(version, description, installed_on, success, checksum,
//! execution_time)`. Pure: no I/O.
//!
//! `docs/tools/sqlx.md` names the source of each rule and the runs of sqlx-cli 0.9.0 that
//! confirmed it (`scripts/tools/characterise-sqlx.sh`). In short:
//!
//! - A row is an applied migration; `success = false` makes `run` and `revert` refuse
//!   (`dirty_version`: "migration N is partially applied"), so it is `failed`, although sqlx on
//!   PostgreSQL only ever inserts `TRUE` (after the body, in its transaction: a failure leaves
//!   no row), and `migrate info` ignores the flag.
//! - The checksum is the SHA-384 of the file's text (`migration::checksum`); a row whose
//!   checksum differs from its file is `checksum_mismatch` (`run` refuses: "previously applied
//!   but has been modified").
//! - Files (`resolve_blocking`): regular files at the top level whose name splits at the first
//!   `_` into a version (`i64` as Rust parses it: a name that does not parse refuses the whole
//!   directory) and a rest ending in `.sql`; `.down.sql` files are reverts, not expected.
//!   Pending: file versions without a row, in any order (`run` applies older ones too). Rows
//!   without a file are `ahead` (`run` refuses them unless `--ignore-missing`).

use super::lines::{Line, LineState, Lines};
use super::{
    DIR_VAR, ExpectError, FILE_VAR, Facts, Id, Listing, Read, Row, RowError, Sources, VERSION_VAR,
    bool_cell, cell, manifest_lines, show,
};
use crate::core::status::AppliedAt;
use std::collections::{BTreeMap, BTreeSet};

/// The table sqlx creates (`migrate.table-name` in `sqlx.toml` overrides it).
pub const DEFAULT_TABLE: &str = "_sqlx_migrations";

/// The check's `SELECT`. The checksum as hex through `encode`, whatever the server's
/// `bytea_output`; `status` adds `installed_on` (UTC).
pub const READ: Read = Read {
    columns: "version, success, encode(checksum, 'hex')",
    status_columns: "version, success, encode(checksum, 'hex'), \
                     to_char(installed_on AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
    tail: "ORDER BY version LIMIT 100001",
};

/// What sqlx makes of one file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    /// A migration to apply (`<v>_<d>.sql` or `<v>_<d>.up.sql`).
    Up(i64),
    /// A revert (`.down.sql`): not part of what `run` applies.
    Down(i64),
    /// Skipped: no `_`, or not ending in `.sql`.
    Ignored,
    /// The version before the first `_` is not an `i64`: sqlx refuses the directory.
    Invalid,
}

/// Classifies a file name as `resolve_blocking` does (`splitn(2, '_')`, `ends_with(".sql")`,
/// `parse::<i64>()`, `MigrationType::from_filename`).
pub fn classify_file_name(name: &[u8]) -> FileName {
    let name = String::from_utf8_lossy(name);
    let Some((version, rest)) = name.split_once('_') else {
        return FileName::Ignored;
    };
    if !rest.ends_with(".sql") {
        return FileName::Ignored;
    }
    match version.parse::<i64>() {
        Ok(v) if rest.ends_with(".down.sql") => FileName::Down(v),
        Ok(v) => FileName::Up(v),
        Err(_) => FileName::Invalid,
    }
}

/// The directory rule hashes every migration file.
pub fn wants_contents(path: &[u8]) -> bool {
    matches!(classify_file_name(path), FileName::Up(_))
}

/// sqlx's checksum of a migration (`migration::checksum`: SHA-384 of the text), as hex.
pub fn checksum(contents: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA384, contents)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the build expects from sqlx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Every version with an up (or simple) file, with the checksums of its files (several
    /// files may share a version: sqlx does not refuse them), or from a manifest (none).
    versions: Option<BTreeMap<i64, Vec<String>>>,
    /// `GATE_EXPECT_VERSION` (migrations embedded with `migrate!()`).
    version: Option<i64>,
}

impl Expected {
    /// From the migrations directory, a version, a manifest of versions, or several of them,
    /// which must agree.
    pub fn build(sources: Sources<'_>) -> Result<Expected, ExpectError> {
        let mut versions = None;
        if let Some(listings) = sources.listings {
            versions = Some(from_listings(listings)?);
        }
        if let Some(text) = sources.manifest {
            let mut listed = BTreeMap::new();
            for (line, id) in manifest_lines(text)? {
                let v = parse_version(id).map_err(|why| {
                    ExpectError::new(FILE_VAR, format!("line {}: {why}", line + 1))
                })?;
                listed.insert(v, Vec::new());
            }
            if let Some(dir) = &versions
                && !dir.keys().eq(listed.keys())
            {
                return Err(ExpectError::new(
                    FILE_VAR,
                    "lists other versions than the migrations directory holds",
                ));
            }
            versions = versions.or(Some(listed));
        }
        let version = match sources.version {
            Some(text) => Some(parse_version(text).map_err(|w| ExpectError::new(VERSION_VAR, w))?),
            None => None,
        };
        let newest = versions
            .as_ref()
            .and_then(|v| v.keys().next_back().copied());
        if let (Some(v), Some(newest)) = (version, newest)
            && v != newest
        {
            return Err(ExpectError::new(
                VERSION_VAR,
                format!("is {v}, but the newest migration is {newest}: make them agree"),
            ));
        }
        Ok(Expected { versions, version })
    }

    /// The expected version: `GATE_EXPECT_VERSION`, or the newest migration's.
    pub fn target(&self) -> Option<Id> {
        self.version
            .or_else(|| {
                self.versions
                    .as_ref()
                    .and_then(|v| v.keys().next_back().copied())
            })
            .map(|v| Id::Text(v.to_string()))
    }
}

fn parse_version(text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .map_err(|_| format!("{text:?} is not an sqlx migration version (an integer)"))
}

fn from_listings(listings: &[Listing]) -> Result<BTreeMap<i64, Vec<String>>, ExpectError> {
    let [listing] = listings else {
        return Err(ExpectError::new(
            DIR_VAR,
            "sqlx reads one migrations directory: name one",
        ));
    };
    let mut versions: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for entry in listing.entries.iter().filter(|e| !e.dir) {
        let name = show(&entry.path);
        match classify_file_name(&entry.path) {
            FileName::Up(v) => {
                let sums = versions.entry(v).or_default();
                if let Some(contents) = &entry.contents {
                    if std::str::from_utf8(contents).is_err() {
                        return Err(ExpectError::new(
                            DIR_VAR,
                            format!("{}/{name} is not UTF-8; sqlx cannot read it", listing.dir),
                        ));
                    }
                    sums.push(checksum(contents));
                }
            }
            FileName::Down(_) | FileName::Ignored => {}
            FileName::Invalid => {
                return Err(ExpectError::new(
                    DIR_VAR,
                    format!(
                        "{}: error parsing migration filename {name}; expected integer version \
                         prefix (e.g. `01_foo.sql`): sqlx refuses the directory",
                        listing.dir
                    ),
                ));
            }
        }
    }
    if versions.is_empty() {
        return Err(ExpectError::new(
            DIR_VAR,
            format!("no sqlx migration files (N_name.sql) in {}", listing.dir),
        ));
    }
    Ok(versions)
}

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    let mut applied: BTreeMap<i64, String> = BTreeMap::new();
    let mut failed = BTreeSet::new();
    for row in rows {
        let text = cell(row, 0, "version")?;
        let version: i64 = text
            .parse()
            .map_err(|_| RowError(format!("column version is {text:?}, not a bigint")))?;
        if !bool_cell(row, 1, "success")? {
            failed.insert(version);
        }
        applied.insert(version, cell(row, 2, "checksum")?.to_ascii_lowercase());
    }
    let text = |v: &i64| Id::Text(v.to_string());
    let mut facts = Facts {
        empty: rows.is_empty(),
        current: applied.keys().next_back().map(text).into_iter().collect(),
        failed: failed.iter().map(text).collect(),
        ..Facts::default()
    };
    if let Some(v) = failed.first() {
        facts.hints.push(format!(
            "sqlx migrate run refuses: migration {v} is partially applied; fix and remove row \
             from the table (failed and still running cannot be told apart)"
        ));
    }
    match &expected.versions {
        Some(files) => {
            facts.pending = files
                .keys()
                .filter(|v| !applied.contains_key(v))
                .map(text)
                .collect();
            facts.ahead = applied
                .keys()
                .filter(|v| !files.contains_key(v))
                .map(text)
                .collect();
            facts.checksum_mismatch = applied
                .iter()
                .filter(|(v, sum)| files.get(v).is_some_and(|s| s.iter().any(|f| f != *sum)))
                .map(|(v, _)| text(v))
                .collect();
            facts.reached = facts.pending.is_empty();
            if let Some(v) = facts.ahead.first() {
                facts.hints.push(format!(
                    "sqlx migrate run refuses while migration {v} is applied without a file \
                     (unless --ignore-missing)"
                ));
            }
            if let Some(v) = facts.checksum_mismatch.first() {
                facts.hints.push(format!(
                    "sqlx migrate run refuses: migration {v} was previously applied but has \
                     been modified"
                ));
            }
        }
        None => {
            let target = expected.version.unwrap_or(i64::MIN);
            facts.reached = applied.keys().next_back().is_some_and(|h| *h >= target);
            facts.ahead = applied.keys().filter(|v| **v > target).map(text).collect();
        }
    }
    Ok(facts)
}

/// `status`'s listing, as `sqlx migrate info` lists it: every version of the build, in order,
/// applied (with `installed_on`), failed (`success = false`) or pending; first, under their own
/// heading, the rows without a file (which `info` does not show). Without a directory or
/// manifest: the rows.
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let mut applied: BTreeMap<i64, (LineState, Option<AppliedAt>)> = BTreeMap::new();
    for row in rows {
        let text = cell(row, 0, "version")?;
        let version: i64 = text
            .parse()
            .map_err(|_| RowError(format!("column version is {text:?}, not a bigint")))?;
        let state = match bool_cell(row, 1, "success")? {
            true => LineState::Applied,
            false => LineState::Failed,
        };
        let at = row
            .get(3)
            .cloned()
            .flatten()
            .and_then(|t| AppliedAt::parse(&t));
        applied.insert(version, (state, at));
    }
    let line = |v: i64, state: LineState, at: Option<AppliedAt>| {
        Line::new(Id::Text(v.to_string()), None, state, at)
    };
    let mut out = Lines::default();
    match &expected.versions {
        Some(files) => {
            for v in files.keys() {
                let (state, at) = applied
                    .get(v)
                    .copied()
                    .unwrap_or((LineState::Pending, None));
                out.migrations.push(line(*v, state, at));
            }
            for (v, (state, at)) in applied.iter().filter(|(v, _)| !files.contains_key(v)) {
                out.without_file.push(line(*v, *state, *at));
            }
        }
        None => {
            for (v, (state, at)) in &applied {
                out.migrations.push(line(*v, *state, *at));
            }
        }
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
    const C: &str = "CREATE TABLE c (id int);\n";

    fn row(version: i64, success: bool, contents: &str) -> Row {
        vec![
            Some(version.to_string()),
            Some(if success { "t" } else { "f" }.to_string()),
            Some(checksum(contents.as_bytes())),
        ]
    }

    fn dir(files: &[(&str, &str)]) -> Expected {
        let listing = Listing {
            dir: "migrations".into(),
            entries: files
                .iter()
                .map(|(n, c)| Entry::with_contents(n, c))
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

    fn three() -> Expected {
        dir(&[
            ("1_create_a.sql", A),
            ("2_create_b.up.sql", B),
            ("2_create_b.down.sql", "DROP TABLE b;\n"),
            ("3_create_c.sql", C),
        ])
    }

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("_sqlx_migrations", "", false),
            "SELECT version, success, encode(checksum, 'hex') FROM _sqlx_migrations ORDER BY \
             version LIMIT 100001"
        );
    }

    #[test]
    fn the_listing_follows_migrate_info() {
        let e = dir(&[("1_a.sql", A), ("2_b.sql", B), ("3_c.sql", C)]);
        let l = lines(&[row(1, true, A), row(3, false, C), row(9, true, A)], &e).unwrap();
        let shown: Vec<(String, LineState)> = l
            .migrations
            .iter()
            .map(|l| (l.version.to_string(), l.state))
            .collect();
        assert_eq!(
            shown,
            [
                ("1".to_string(), LineState::Applied),
                ("2".to_string(), LineState::Pending),
                ("3".to_string(), LineState::Failed)
            ]
        );
        assert_eq!(l.without_file[0].version, Id::from("9"));
    }

    /// "run": the recorded checksums start 52dcffb424aeb77c and dae284ff0ef19c76, as
    /// sha384sum of the files does.
    #[test]
    fn checksums_are_sha384_of_the_file() {
        assert!(checksum(A.as_bytes()).starts_with("52dcffb424aeb77c"));
        assert!(checksum(B.as_bytes()).starts_with("dae284ff0ef19c76"));
        assert_eq!(checksum(b"SELECT 1;\n").len(), 96);
    }

    /// "names: README.md 4.sql 5_x.SQL 6_dir.sql/ 007_padded.sql" (only 007 counts, as 7),
    /// "a name sqlx refuses (x8_bad.sql)", "a negative version (-9_negative.sql)": pending.
    #[test]
    fn file_names_follow_resolve_blocking() {
        assert_eq!(classify_file_name(b"1_create_a.sql"), FileName::Up(1));
        assert_eq!(classify_file_name(b"2_create_b.up.sql"), FileName::Up(2));
        assert_eq!(
            classify_file_name(b"2_create_b.down.sql"),
            FileName::Down(2)
        );
        assert_eq!(classify_file_name(b"007_padded.sql"), FileName::Up(7));
        assert_eq!(classify_file_name(b"-9_negative.sql"), FileName::Up(-9));
        for ignored in ["README.md", "4.sql", "5_x.SQL", "1_a.sql.bak"] {
            assert_eq!(classify_file_name(ignored.as_bytes()), FileName::Ignored);
        }
        assert_eq!(classify_file_name(b"x8_bad.sql"), FileName::Invalid);
        let listing = [Listing {
            dir: "m".into(),
            entries: vec![Entry::file("1_a.sql"), Entry::file("x8_bad.sql")],
        }];
        let err = Expected::build(Sources {
            listings: Some(&listing),
            ..Sources::default()
        })
        .unwrap_err();
        assert!(err.message.contains("x8_bad.sql"), "{err}");
    }

    /// "info, all applied", "run: 3 fails half-way" (both ways: no row), "revert (2 is
    /// reversible)": info "2/pending".
    #[test]
    fn pending_is_up_files_without_rows() {
        let e = three();
        let f = facts(&[row(1, true, A), row(2, true, B), row(3, true, C)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["3"]);
        let f = facts(&[row(1, true, A), row(2, true, B)], &e).unwrap();
        assert_eq!(texts(&f.pending), ["3"]);
        let f = facts(&[row(1, true, A), row(3, true, C)], &e).unwrap();
        assert_eq!(texts(&f.pending), ["2"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    /// "out of order: 0 added below the applied ones": info "0/pending", run applies it.
    #[test]
    fn out_of_order_is_pending() {
        let e = dir(&[("0_early.sql", "SELECT 1;\n"), ("1_create_a.sql", A)]);
        let f = facts(&[row(1, true, A)], &e).unwrap();
        assert_eq!(texts(&f.pending), ["0"]);
    }

    /// "1 edited": info "installed (different checksum)", run refuses; the gate: a mismatch,
    /// ready under at-least only.
    #[test]
    fn an_edited_file_is_a_checksum_mismatch() {
        let e = dir(&[("1_create_a.sql", "CREATE TABLE a (id int); -- edited\n")]);
        let f = facts(&[row(1, true, A)], &e).unwrap();
        assert_eq!(texts(&f.checksum_mismatch), ["1"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        assert!(f.hints[0].contains("modified"), "{:?}", f.hints);
    }

    /// "a row without a file (99)": info does not show it, run refuses ("missing in the
    /// resolved migrations"), run --ignore-missing succeeds.
    #[test]
    fn a_row_without_a_file_is_ahead() {
        let e = dir(&[("1_create_a.sql", A)]);
        let f = facts(&[row(1, true, A), row(99, true, "")], &e).unwrap();
        assert_eq!(texts(&f.ahead), ["99"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert!(f.hints[0].contains("--ignore-missing"), "{:?}", f.hints);
    }

    /// "success = false at 3" (a row made by hand: sqlx 0.9 never writes one on PostgreSQL):
    /// info "3/installed", run and revert refuse ("partially applied"). The gate: failed.
    #[test]
    fn success_false_is_failed() {
        let e = three();
        let f = facts(&[row(1, true, A), row(2, true, B), row(3, false, C)], &e).unwrap();
        assert_eq!(texts(&f.failed), ["3"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Failed);
        assert!(f.hints[0].contains("partially applied"), "{:?}", f.hints);
    }

    /// "two files with version 7 (007_padded.sql, 7_again.sql)": both "installed" when their
    /// text is the same; one version for the gate, a mismatch if either differs.
    #[test]
    fn two_files_with_one_version() {
        let same = dir(&[
            ("007_padded.sql", "SELECT 1;\n"),
            ("7_again.sql", "SELECT 1;\n"),
        ]);
        let f = facts(&[row(7, true, "SELECT 1;\n")], &same).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        let other = dir(&[
            ("007_padded.sql", "SELECT 1;\n"),
            ("7_again.sql", "SELECT 2;\n"),
        ]);
        let f = facts(&[row(7, true, "SELECT 1;\n")], &other).unwrap();
        assert_eq!(texts(&f.checksum_mismatch), ["7"]);
    }

    /// Migrations embedded with `migrate!()`: a version, or a manifest of versions (no
    /// checksums to compare).
    #[test]
    fn expected_version_and_manifest() {
        let e = Expected::build(Sources {
            version: Some("20240102000000"),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&[row(20240101000000, true, A)], &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        let f = facts(
            &[row(20240102000000, true, A), row(20240103000000, true, B)],
            &e,
        )
        .unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        let m = Expected::build(Sources {
            manifest: Some("1\n2\n3\n"),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&[row(1, true, "x"), row(2, true, B)], &m).unwrap();
        assert_eq!(texts(&f.pending), ["3"]);
        assert!(f.checksum_mismatch.is_empty());
        let listing = [Listing {
            dir: "m".into(),
            entries: vec![Entry::with_contents("1_a.sql", A)],
        }];
        let err = Expected::build(Sources {
            listings: Some(&listing),
            version: Some("2"),
            manifest: None,
        })
        .unwrap_err();
        assert_eq!(err.variable, "GATE_EXPECT_VERSION");
        assert!(parse_version("v1").is_err());
    }

    #[test]
    fn rows_that_are_not_sqlxs() {
        let e = three();
        assert!(
            facts(
                &[vec![Some("x".into()), Some("t".into()), Some("".into())]],
                &e
            )
            .is_err()
        );
        assert!(facts(&[vec![Some("1".into()), None, Some("".into())]], &e).is_err());
    }
}

//! golang-migrate/migrate (v4): one row, `version` and `dirty`. Pure: no I/O.
//!
//! `docs/tools/golang-migrate.md` names the source of each rule and the CLI runs that confirmed
//! it (`scripts/tools/characterise-golang-migrate.sh`). In short:
//!
//! - The table always holds exactly one row (`SetVersion`: `TRUNCATE`, then `INSERT`), or none
//!   after `force -1`. Every version up to the row's is applied, by golang-migrate's own
//!   reading: it keeps no list, so a file added below the current version is never applied and
//!   cannot be seen as missing (`readUp` starts at `Next(current)`).
//! - `dirty = true` is written *before* the body runs (`runMigrations`) and cleared after it, so
//!   a dirty row is a migration that failed **or is still running**. After a failed down
//!   migration the dirty version is the target (lower) one; after a failed down of the first
//!   migration it is `-1` (`SetVersion`, issue 330). `up` and `down` refuse until `force`.
//! - Files: `^([0-9]+)_(.*)\.(up|down)\.(.*)$` at the top level (`source.Parse`, iofs
//!   `Init`), directories skipped, names that do not match skipped, a version that does not
//!   fit `uint64` skipped, two files with one version and direction refused. A version that
//!   has only a `.down.` file still counts: `up` records it (`newMigration` makes an empty
//!   migration).

use super::lines::{Line, LineState, Lines};
use super::{
    DIR_VAR, Entry, ExpectError, FILE_VAR, Facts, Id, Listing, Read, Row, RowError, Sources,
    VERSION_VAR, bool_cell, cell, manifest_lines, show,
};
use std::collections::BTreeMap;

/// The table golang-migrate creates (`x-migrations-table` overrides it), in the connection's
/// `current_schema()`.
pub const DEFAULT_TABLE: &str = "schema_migrations";

/// The check's `SELECT`. `LIMIT 2`: one row is golang-migrate's, a second one means the table
/// was edited (golang-migrate itself reads `LIMIT 1`, an arbitrary row). golang-migrate records
/// no time.
pub const READ: Read = Read {
    columns: "version, dirty",
    status_columns: "version, dirty",
    tail: "LIMIT 2",
};

/// golang-migrate's `database.NilVersion`: no migration applied.
pub const NIL_VERSION: i64 = -1;

/// What golang-migrate makes of one file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    /// A migration file: its version, and whether it is the `up` direction.
    Migration {
        /// The number before the first `_`.
        version: i64,
        /// `.up.` (else `.down.`).
        up: bool,
    },
    /// Skipped silently (no match, or a number beyond `uint64`).
    Ignored,
    /// A name golang-migrate accepts but cannot run correctly: a version above `i64::MAX`
    /// (stored in a `bigint` through Go's `int`, it turns negative).
    Invalid(String),
}

/// Classifies a file name by `source.Regex` and `source.Parse`.
///
/// The regular expression is matched on the name as a Go string: `.` matches any character but
/// a newline, and `(.*)` is greedy, so the direction is the *last* `.up.` or `.down.` followed
/// by anything.
pub fn classify_file_name(name: &[u8]) -> FileName {
    let digits = name.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || name.get(digits) != Some(&b'_') || name.contains(&b'\n') {
        return FileName::Ignored;
    }
    let rest = &name[digits + 1..];
    let up = find_last(rest, b".up.");
    let down = find_last(rest, b".down.");
    let up = match (up, down) {
        (None, None) => return FileName::Ignored,
        (Some(u), Some(d)) => u > d,
        (Some(_), None) => true,
        (None, Some(_)) => false,
    };
    // strconv.ParseUint(s, 10, 64): an error (overflow) makes Parse fail, and iofs skips it.
    let mut value: u64 = 0;
    for &d in &name[..digits] {
        let Some(next) = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
        else {
            return FileName::Ignored;
        };
        value = next;
    }
    match i64::try_from(value) {
        Ok(version) => FileName::Migration { version, up },
        Err(_) => FileName::Invalid(format!(
            "{}: version {value} does not fit golang-migrate's int (it would be stored negative)",
            show(name)
        )),
    }
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The versions of one directory, ascending, with golang-migrate's refusals as errors.
pub fn directory_versions(entries: &[Entry]) -> Result<Vec<i64>, String> {
    Ok(directory_files(entries)?
        .into_iter()
        .map(|(v, _)| v)
        .collect())
}

/// Like [`directory_versions`], with each version's file (its `up` file when it has one), as
/// `status` shows it.
pub fn directory_files(entries: &[Entry]) -> Result<Vec<(i64, String)>, String> {
    let mut seen: BTreeMap<(i64, bool), &[u8]> = BTreeMap::new();
    for entry in entries {
        if entry.dir {
            continue;
        }
        match classify_file_name(&entry.path) {
            FileName::Migration { version, up } => {
                if let Some(first) = seen.insert((version, up), &entry.path) {
                    return Err(format!(
                        "duplicate migration file: {} and {} (version {version}, {})",
                        show(first),
                        show(&entry.path),
                        if up { "up" } else { "down" }
                    ));
                }
            }
            FileName::Ignored => {}
            FileName::Invalid(why) => return Err(why),
        }
    }
    let mut files: BTreeMap<i64, String> = BTreeMap::new();
    // Ascending by (version, direction): a version's up file comes after its down file.
    for ((version, _), name) in seen {
        files.insert(version, crate::core::status::display_name(name));
    }
    Ok(files.into_iter().collect())
}

/// What the build expects from golang-migrate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Every version with a file (or a manifest line), ascending.
    versions: Option<Vec<i64>>,
    /// `GATE_EXPECT_VERSION`.
    version: Option<i64>,
    /// Each version's file, when a directory was given (for `status`).
    files: BTreeMap<i64, String>,
}

impl Expected {
    /// From a directory, a version, a manifest of versions (migrations embedded in a binary
    /// with `iofs`), or several of them, which must agree.
    pub fn build(sources: Sources<'_>) -> Result<Expected, ExpectError> {
        let mut versions = None;
        let mut files = BTreeMap::new();
        if let Some(listings) = sources.listings {
            files = from_listings(listings)?;
            versions = Some(files.keys().copied().collect::<Vec<i64>>());
        }
        if let Some(text) = sources.manifest {
            let mut listed = Vec::new();
            for (line, id) in manifest_lines(text)? {
                listed.push(parse_version(id).map_err(|why| {
                    ExpectError::new(FILE_VAR, format!("line {}: {why}", line + 1))
                })?);
            }
            listed.sort_unstable();
            if versions.as_ref().is_some_and(|v| *v != listed) {
                return Err(ExpectError::new(
                    FILE_VAR,
                    "lists other versions than the migrations directory holds",
                ));
            }
            versions = Some(listed);
        }
        let version = match sources.version {
            Some(text) => Some(parse_version(text).map_err(|w| ExpectError::new(VERSION_VAR, w))?),
            None => None,
        };
        if let (Some(files), Some(v)) = (&versions, version)
            && files.last() != Some(&v)
        {
            return Err(ExpectError::new(
                VERSION_VAR,
                format!(
                    "is {v}, but the newest migration the build has is {}: give one or make them agree",
                    files.last().map_or("none".to_string(), i64::to_string)
                ),
            ));
        }
        Ok(Expected {
            versions,
            version,
            files,
        })
    }

    /// The expected version: `GATE_EXPECT_VERSION`, or the newest file.
    pub fn target(&self) -> Option<i64> {
        self.version
            .or_else(|| self.versions.as_ref().and_then(|v| v.last().copied()))
    }
}

fn from_listings(listings: &[Listing]) -> Result<BTreeMap<i64, String>, ExpectError> {
    let [listing] = listings else {
        return Err(ExpectError::new(
            DIR_VAR,
            "golang-migrate reads one source directory: name one",
        ));
    };
    let files = directory_files(&listing.entries)
        .map_err(|why| ExpectError::new(DIR_VAR, format!("{}: {why}", listing.dir)))?;
    if files.is_empty() {
        return Err(ExpectError::new(
            DIR_VAR,
            format!(
                "no golang-migrate migration files (NNN_name.up.sql) in {}",
                listing.dir
            ),
        ));
    }
    Ok(files.into_iter().collect())
}

/// A version as golang-migrate's CLI takes one: a base-10 integer, at least 0.
fn parse_version(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(v) if v >= 0 && !text.trim().starts_with('+') => Ok(v),
        _ => Err(format!(
            "{text:?} is not a golang-migrate version (an integer >= 0)"
        )),
    }
}

/// The one row, read: `(version, dirty)`, or `None` for an empty table.
pub fn read_row(rows: &[Row]) -> Result<Option<(i64, bool)>, RowError> {
    match rows {
        [] => Ok(None),
        [row] => {
            let version = cell(row, 0, "version")?;
            let version: i64 = version
                .parse()
                .map_err(|_| RowError(format!("column version is {version:?}, not a bigint")))?;
            if version < NIL_VERSION {
                return Err(RowError(format!(
                    "version {version} is below -1, which golang-migrate never writes"
                )));
            }
            Ok(Some((version, bool_cell(row, 1, "dirty")?)))
        }
        _ => Err(RowError(
            "the table holds more than one row; golang-migrate keeps exactly one (TRUNCATE, \
             then INSERT) and would read an arbitrary one: this is not golang-migrate's table, \
             or it was edited by hand"
                .to_string(),
        )),
    }
}

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    let row = read_row(rows)?;
    let mut facts = Facts {
        empty: rows.is_empty(),
        ..Facts::default()
    };
    // NilVersion (-1) means nothing applied; it survives only as a dirty row.
    let (current, dirty) = match row {
        Some((v, dirty)) => (v, dirty),
        None => (NIL_VERSION, false),
    };
    if current != NIL_VERSION {
        facts.current.push(Id::Number(current));
    }
    if dirty {
        facts.failed.push(Id::Number(current));
        facts.hints.push(if current == NIL_VERSION {
            "golang-migrate recorded version -1 as dirty: the down migration of the first \
             migration failed (or is still running); migrate version prints \"no migration\", \
             but migrate up refuses until migrate force"
                .to_string()
        } else {
            format!(
                "golang-migrate marks version {current} dirty before it runs a migration and \
                 clean after it: the migration failed or is still running (the table cannot \
                 tell which; after a failed down migration the dirty version is the lower one). \
                 migrate up refuses until someone fixes the schema and runs migrate force"
            )
        });
    }
    match &expected.versions {
        Some(files) => {
            facts.pending = files
                .iter()
                .filter(|v| **v > current)
                .map(|v| Id::Number(*v))
                .collect();
            if current > 0 && files.binary_search(&current).is_err() {
                facts.ahead.push(Id::Number(current));
                if files.last().is_some_and(|max| current < *max) {
                    facts.hints.push(format!(
                        "version {current} has no file in this build: migrate up will fail \
                         with \"no migration found for version {current}\""
                    ));
                }
            }
            facts.reached = !dirty && facts.pending.is_empty() && current != NIL_VERSION;
        }
        None => {
            let target = expected.version.unwrap_or(0);
            facts.reached = !dirty && current >= target && current != NIL_VERSION;
            if current > target {
                facts.ahead.push(Id::Number(current));
            }
        }
    }
    Ok(facts)
}

/// `status`'s listing: every version of the build, applied up to the row's version (the row's
/// own one failed when dirty), pending above it; the row's version itself when the build has no
/// file for it. golang-migrate records no time.
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let (current, dirty) = read_row(rows)?.unwrap_or((NIL_VERSION, false));
    let state = |v: i64| {
        if dirty && v == current {
            LineState::Failed
        } else if current != NIL_VERSION && v <= current {
            LineState::Applied
        } else {
            LineState::Pending
        }
    };
    let mut out = Lines::default();
    let known = match &expected.versions {
        Some(versions) => {
            for &v in versions {
                let file = expected.files.get(&v).cloned();
                out.migrations
                    .push(Line::new(Id::Number(v), file, state(v), None));
            }
            versions.binary_search(&current).is_ok()
        }
        None => false,
    };
    if !known && (current != NIL_VERSION || dirty) {
        let line = Line::new(Id::Number(current), None, state(current), None);
        match &expected.versions {
            Some(_) => out.without_file.push(line),
            None => out.migrations.push(line),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tools::{Outcome, decide};
    use crate::core::verdict::Policy::{AtLeast, Exact};

    fn row(version: i64, dirty: bool) -> Vec<Row> {
        vec![vec![
            Some(version.to_string()),
            Some(if dirty { "t" } else { "f" }.to_string()),
        ]]
    }

    fn files(versions: &[i64]) -> Expected {
        Expected {
            versions: Some(versions.to_vec()),
            version: None,
            files: versions
                .iter()
                .map(|v| (*v, format!("{v}_m.up.sql")))
                .collect(),
        }
    }

    fn version(v: i64) -> Expected {
        Expected {
            versions: None,
            version: Some(v),
            files: BTreeMap::new(),
        }
    }

    fn ids(v: &[i64]) -> Vec<Id> {
        v.iter().map(|v| Id::Number(*v)).collect()
    }

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("public.\"schema_migrations\"", "", false),
            "SELECT version, dirty FROM public.\"schema_migrations\" LIMIT 2"
        );
        assert_eq!(READ.first_column(), "version");
    }

    #[test]
    fn the_listing() {
        let states = |rows: &[Row], e: &Expected| -> Vec<(String, LineState)> {
            let l = lines(rows, e).unwrap();
            l.without_file
                .iter()
                .chain(&l.migrations)
                .map(|l| (l.version.to_string(), l.state))
                .collect()
        };
        use LineState::*;
        let e = files(&[1, 2, 3]);
        assert_eq!(
            states(&row(3, true), &e),
            [
                ("1".into(), Applied),
                ("2".into(), Applied),
                ("3".into(), Failed)
            ]
        );
        assert_eq!(
            states(&[], &e),
            [
                ("1".into(), Pending),
                ("2".into(), Pending),
                ("3".into(), Pending)
            ]
        );
        assert_eq!(
            states(&row(9, false), &e)[0],
            ("9".into(), Applied),
            "without a file, first"
        );
        assert_eq!(states(&row(-1, true), &e)[0], ("-1".into(), Failed));
        assert_eq!(states(&row(4, false), &version(4)), [("4".into(), Applied)]);
        assert_eq!(
            lines(&row(2, false), &e).unwrap().migrations[0]
                .file
                .as_deref(),
            Some("1_m.up.sql")
        );
    }

    /// characterise-golang-migrate.sh, "up 2" then "version at 2": row (2, f), files 1..3.
    #[test]
    fn clean_row_below_the_newest_file_is_behind() {
        let f = facts(&row(2, false), &files(&[1, 2, 3])).unwrap();
        assert_eq!(f.current, ids(&[2]));
        assert_eq!(f.pending, ids(&[3]));
        assert!(!f.reached);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        let f = facts(&row(3, false), &files(&[1, 2, 3])).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }

    /// "up: 3 fails half-way": row (3, t); `migrate version` prints "3 (dirty)", exit 0.
    #[test]
    fn dirty_is_failed_whatever_the_files() {
        let f = facts(&row(3, true), &files(&[1, 2, 3])).unwrap();
        assert_eq!(f.failed, ids(&[3]));
        assert!(f.pending.is_empty());
        assert_eq!(decide(&f, AtLeast), Outcome::Failed);
        assert!(
            f.hints[0].contains("failed or is still running"),
            "{:?}",
            f.hints
        );
        let f = facts(&row(3, true), &version(2)).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Failed);
    }

    /// "down 1: the down of 3 fails": row (2, t), the target version.
    #[test]
    fn failed_down_is_dirty_at_the_lower_version() {
        let f = facts(&row(2, true), &files(&[1, 2, 3])).unwrap();
        assert_eq!(f.failed, ids(&[2]));
        assert_eq!(f.pending, ids(&[3]));
        assert_eq!(decide(&f, AtLeast), Outcome::Failed);
    }

    /// "down of the first migration fails": row (-1, t); `migrate version` says "no migration"
    /// and exits 1, `migrate up` says "Dirty database version -1".
    #[test]
    fn dirty_nil_version() {
        let f = facts(&row(-1, true), &files(&[1])).unwrap();
        assert_eq!(f.failed, ids(&[-1]));
        assert!(f.current.is_empty());
        assert_eq!(decide(&f, AtLeast), Outcome::Failed);
        assert!(f.hints[0].contains("no migration"), "{:?}", f.hints);
    }

    /// "force -1": no row; `migrate version` prints "no migration", exit 1.
    #[test]
    fn empty_table_is_behind() {
        let f = facts(&[], &files(&[1, 2])).unwrap();
        assert!(f.empty);
        assert!(f.current.is_empty());
        assert_eq!(f.pending, ids(&[1, 2]));
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        let f = facts(&[], &version(0)).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    /// "out of order: 4 added below 5, up": migrate says "no change", the row stays 5 and table
    /// d is never made. golang-migrate counts 4 as applied; so does the gate.
    #[test]
    fn a_file_below_the_current_version_counts_as_applied() {
        let f = facts(&row(5, false), &files(&[1, 2, 3, 4, 5])).unwrap();
        assert!(f.pending.is_empty());
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }

    /// "force 9 (a version with no file)" then "up at an unknown version": migrate up fails
    /// "no migration found for version 9". Above the newest file: ahead.
    #[test]
    fn a_version_above_every_file_is_ahead() {
        let f = facts(&row(9, false), &files(&[1, 2, 3, 5, 7])).unwrap();
        assert_eq!(f.ahead, ids(&[9]));
        assert!(f.pending.is_empty());
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        let f = facts(&row(9, false), &version(7)).unwrap();
        assert_eq!(f.ahead, ids(&[9]));
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
    }

    /// "goto 4" after 4_d.up.sql was removed leaves the row at 4 with no file for it.
    #[test]
    fn a_version_without_a_file_below_the_newest_is_behind_and_stuck() {
        let f = facts(&row(4, false), &files(&[1, 2, 3, 5])).unwrap();
        assert_eq!(f.pending, ids(&[5]));
        assert_eq!(f.ahead, ids(&[4]));
        assert!(f.hints[0].contains("no migration found for version 4"));
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    #[test]
    fn expected_version_only() {
        let f = facts(&row(3, false), &version(3)).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        let f = facts(&row(2, false), &version(3)).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    #[test]
    fn rows_that_are_not_golang_migrates() {
        let two = [row(1, false), row(2, false)].concat();
        assert!(facts(&two, &version(1)).is_err());
        assert!(facts(&[vec![Some("x".into()), Some("f".into())]], &version(1)).is_err());
        assert!(facts(&[vec![Some("1".into()), None]], &version(1)).is_err());
        assert!(facts(&row(-2, false), &version(1)).is_err());
    }

    /// "names that do not match are skipped", "down-only file 7", "duplicate version".
    #[test]
    fn file_names_follow_source_parse() {
        use FileName::*;
        let c = |n: &str| classify_file_name(n.as_bytes());
        assert_eq!(
            c("1_a.up.sql"),
            Migration {
                version: 1,
                up: true
            }
        );
        assert_eq!(
            c("001_a.down.sql"),
            Migration {
                version: 1,
                up: false
            }
        );
        assert_eq!(
            c("7_g.down.sql"),
            Migration {
                version: 7,
                up: false
            }
        );
        assert_eq!(
            c("1_.up."),
            Migration {
                version: 1,
                up: true
            }
        );
        assert_eq!(
            c("1_a.down.up.sql"),
            Migration {
                version: 1,
                up: true
            }
        );
        assert_eq!(
            c("1_a.up.down.sql"),
            Migration {
                version: 1,
                up: false
            }
        );
        assert_eq!(
            c("20240101120000_x.up.sql"),
            Migration {
                version: 20240101120000,
                up: true
            }
        );
        for skipped in [
            "08_x.UP.sql",
            "x_9.up.sql",
            "1_a.sql",
            "1.up.sql",
            "+1_a.up.sql",
            "1_a.up",
            "README.md",
            "1_a\n.up.sql",
            "99999999999999999999_big.up.sql",
        ] {
            assert_eq!(c(skipped), Ignored, "{skipped}");
        }
        assert!(matches!(c("9223372036854775808_x.up.sql"), Invalid(_)));
        assert_eq!(
            c("9223372036854775807_x.up.sql"),
            Migration {
                version: i64::MAX,
                up: true
            }
        );
    }

    #[test]
    fn directories_and_duplicates() {
        let entries = [
            Entry::file("1_a.up.sql"),
            Entry::file("1_a.down.sql"),
            Entry::file("3_c.up.sql"),
            Entry::file("7_g.down.sql"),
            Entry::directory("10_dir.up.sql"),
            Entry::file("notes.txt"),
        ];
        assert_eq!(directory_versions(&entries), Ok(vec![1, 3, 7]));
        let dup = [Entry::file("1_a.down.sql"), Entry::file("01_dup.down.sql")];
        let err = directory_versions(&dup).unwrap_err();
        assert!(err.contains("duplicate migration file"), "{err}");
        let fine = [Entry::file("1_a.up.sql"), Entry::file("01_b.down.sql")];
        assert_eq!(directory_versions(&fine), Ok(vec![1]));
    }

    #[test]
    fn building_the_expectation() {
        let listing = Listing {
            dir: "/m".into(),
            entries: vec![Entry::file("1_a.up.sql"), Entry::file("2_b.up.sql")],
        };
        let listings = [listing.clone()];
        let e = Expected::build(Sources {
            listings: Some(&listings),
            version: Some("2"),
            manifest: None,
        })
        .unwrap();
        assert_eq!(e.target(), Some(2));
        let err = Expected::build(Sources {
            listings: Some(&listings),
            version: Some("3"),
            manifest: None,
        })
        .unwrap_err();
        assert_eq!(err.variable, "GATE_EXPECT_VERSION");
        let two = [listing.clone(), listing];
        assert!(
            Expected::build(Sources {
                listings: Some(&two),
                ..Sources::default()
            })
            .is_err()
        );
        let e = Expected::build(Sources {
            manifest: Some("# embedded\n2\n1\n"),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(e.target(), Some(2));
        for bad in ["-1", "x", "+2", "1.5"] {
            assert!(
                Expected::build(Sources {
                    version: Some(bad),
                    ..Sources::default()
                })
                .is_err(),
                "{bad}"
            );
        }
        let empty = [Listing {
            dir: "/m".into(),
            entries: vec![Entry::file("README.md")],
        }];
        let err = Expected::build(Sources {
            listings: Some(&empty),
            ..Sources::default()
        })
        .unwrap_err();
        assert!(err.message.contains("no golang-migrate migration files"));
    }
}

//! What goose wrote, read the way goose reads it. Pure: no I/O.
//!
//! Two inputs reach the gate from goose: the rows of its version table and the names of its
//! migration files (see `docs/goose.md` for the goose source each rule comes from).
//!
//! - Rows are folded by a [`Scan`] into [`TableFacts`]: goose's "current version", the highest
//!   applied version, and, against what the build expects, the versions still pending and the
//!   applied versions the build does not know. The scan sees each row once, in the order the
//!   database sorts them (`version_id` ascending, `id` descending), and keeps only what a verdict
//!   can report, so a million-row table costs no more memory than a ten-row one.
//! - File names are classified byte by byte ([`classify_file_name`]), exactly as goose's
//!   `collectMigrationsFS` and `NumericComponent` do.
//!
//! Deciding whether the facts are *enough* is [`crate::core::verdict`]'s job.

use std::collections::BTreeMap;

/// One row of the goose version table: `(id, version_id, is_applied)`.
///
/// `id` matters because goose's answer depends on row order, not on version order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The row's `id` (serial or identity): insertion order.
    pub id: i64,
    /// `version_id`: the migration's version (0 for the row goose writes on table creation).
    pub version: i64,
    /// `is_applied`: false only in rows written by goose <= v3.4.1 on rollback, or by hand.
    pub applied: bool,
}

/// At most this many versions are kept in each list of [`TableFacts`] that the table (not the
/// build) can make long; the totals are always exact.
pub const LIST_LIMIT: usize = 1000;

/// What the version table says, measured against the versions the build expects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableFacts {
    /// True when the table holds no rows at all (goose's `version` errors on this).
    pub empty: bool,
    /// What `goose version` prints: the *last applied* migration, i.e. the applied version whose
    /// newest row has the highest `id` (after out-of-order applies this is not the highest
    /// version). `None` when nothing is applied ("no next version found").
    pub goose_version: Option<i64>,
    /// The highest applied version (goose's Provider API reads `max(version_id)` instead, which
    /// counts rolled-back rows; we do not).
    pub max_applied: Option<i64>,
    /// Expected file versions that are not applied, ascending (empty without a file list).
    pub pending: Vec<i64>,
    /// Among `pending`, those that do have rows, the newest saying `is_applied = false` (a
    /// rollback written by goose <= v3.4.1, or a hand-written row). Today's `goose up` skips every
    /// version that has *any* row, so these stay pending until someone fixes them by hand.
    /// Without a file list: every version whose newest row is such a rollback (at most
    /// [`LIST_LIMIT`]).
    pub rolled_back: Vec<i64>,
    /// Applied versions the build does not know, ascending: with a file list, every applied
    /// version other than 0 without a file; without one, every applied version above the
    /// expected one. At most [`LIST_LIMIT`] are kept; see `unknown_total`.
    pub unknown: Vec<i64>,
    /// How many applied versions the build does not know (`unknown` may be cut short).
    pub unknown_total: u64,
}

impl TableFacts {
    /// The facts of rows in any order: sorts them, then scans. For tests and small inputs; the
    /// database path streams sorted rows through a [`Scan`] instead.
    pub fn from_rows(
        rows: impl IntoIterator<Item = Row>,
        expected_files: Option<&[i64]>,
        expected_version: i64,
    ) -> TableFacts {
        let mut rows: Vec<Row> = rows.into_iter().collect();
        rows.sort_unstable_by(|a, b| a.version.cmp(&b.version).then(b.id.cmp(&a.id)));
        let mut scan = Scan::new(expected_files, expected_version);
        for row in rows {
            // Sorted just above, so the order is always right.
            let _ = scan.push(row);
        }
        scan.finish()
    }
}

/// Rows arrived out of order: the scan's result would be wrong, so the read must fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfOrder;

/// A one-pass fold of the version table into [`TableFacts`].
///
/// Rows must arrive sorted by `version_id` ascending, then `id` descending (the check's
/// `ORDER BY`): the first row of each version is then its newest, the only one goose looks at.
#[derive(Debug)]
pub struct Scan<'a> {
    files: Option<&'a [i64]>,
    expected_version: i64,
    /// Index of the next expected file not yet matched against the rows.
    next_file: usize,
    /// The previous row's (version, id), to skip older rows and check the order.
    previous: Option<(i64, i64)>,
    /// (id, version) of the applied newest row with the highest id so far.
    last_applied: Option<(i64, i64)>,
    facts: TableFacts,
}

impl<'a> Scan<'a> {
    /// A scan against the build's file versions (ascending), or only an expected version.
    pub fn new(expected_files: Option<&'a [i64]>, expected_version: i64) -> Scan<'a> {
        Scan {
            files: expected_files,
            expected_version,
            next_file: 0,
            previous: None,
            last_applied: None,
            facts: TableFacts {
                empty: true,
                ..TableFacts::default()
            },
        }
    }

    /// Takes the next row.
    pub fn push(&mut self, row: Row) -> Result<(), OutOfOrder> {
        self.facts.empty = false;
        if let Some((version, id)) = self.previous {
            if row.version < version || (row.version == version && row.id >= id) {
                return Err(OutOfOrder);
            }
            if row.version == version {
                // An older row of a version already decided by its newest row.
                self.previous = Some((row.version, row.id));
                return Ok(());
            }
        }
        self.previous = Some((row.version, row.id));
        self.newest(row);
        Ok(())
    }

    /// The newest row of a version (each version's first row in scan order).
    fn newest(&mut self, row: Row) {
        if row.applied {
            self.facts.max_applied = Some(row.version);
            if self.last_applied.is_none_or(|(id, _)| row.id > id) {
                self.last_applied = Some((row.id, row.version));
            }
        }
        let Some(files) = self.files else {
            if row.applied && row.version > self.expected_version {
                self.unknown(row.version);
            }
            if !row.applied && self.facts.rolled_back.len() < LIST_LIMIT {
                self.facts.rolled_back.push(row.version);
            }
            return;
        };
        // Files below this version have no row at all: pending.
        while let Some(&file) = files.get(self.next_file)
            && file < row.version
        {
            self.facts.pending.push(file);
            self.next_file += 1;
        }
        if files.get(self.next_file) == Some(&row.version) {
            self.next_file += 1;
            if !row.applied {
                self.facts.pending.push(row.version);
                self.facts.rolled_back.push(row.version);
            }
        } else if row.applied && row.version != 0 {
            self.unknown(row.version);
        }
    }

    fn unknown(&mut self, version: i64) {
        self.facts.unknown_total += 1;
        if self.facts.unknown.len() < LIST_LIMIT {
            self.facts.unknown.push(version);
        }
    }

    /// The facts, once every row was pushed.
    pub fn finish(mut self) -> TableFacts {
        if let Some(files) = self.files {
            self.facts
                .pending
                .extend_from_slice(&files[self.next_file.min(files.len())..]);
        }
        self.facts.goose_version = self.last_applied.map(|(_, version)| version);
        self.facts
    }
}

/// What goose makes of one directory entry's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    /// A migration with this version.
    Migration(i64),
    /// Not a migration: goose skips it silently (README, `_test.go`, a `.go` helper, `.SQL`...).
    Ignored,
    /// A `.sql` name goose refuses to load ("could not parse SQL migration file").
    Invalid(String),
}

/// Classifies a directory entry's name (bytes: names need not be UTF-8) by goose's rules.
///
/// goose globs `*.sql` and `*.go` (case-sensitive, whatever the entry is: file, directory,
/// dangling symlink), then reads the version with `NumericComponent`: the text before the first
/// `_`, parsed by Go's `strconv.ParseInt(s, 10, 64)` (an optional sign, then decimal digits),
/// which must be > 0. A `.sql` name that fails is an error; a `.go` name that fails, and any
/// `*_test.go`, is skipped.
pub fn classify_file_name(name: &[u8]) -> FileName {
    let is_sql = name.ends_with(b".sql");
    let is_go = name.ends_with(b".go");
    if !(is_sql || is_go) || name.ends_with(b"_test.go") {
        return FileName::Ignored;
    }
    match numeric_component(name) {
        Ok(version) => FileName::Migration(version),
        Err(_) if is_go => FileName::Ignored,
        Err(why) => FileName::Invalid(format!(
            "could not parse SQL migration file {}: {why}",
            show_name(name)
        )),
    }
}

/// goose's `NumericComponent` on a base name that ends in `.sql` or `.go`.
fn numeric_component(name: &[u8]) -> Result<i64, &'static str> {
    let Some(separator) = name.iter().position(|&b| b == b'_') else {
        return Err("no filename separator '_' found");
    };
    let version = parse_int(&name[..separator])
        .ok_or("the text before the first '_' is not a 64-bit integer")?;
    if version < 1 {
        return Err("migration version must be greater than zero");
    }
    Ok(version)
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional `+` or `-`, then one or more ASCII digits,
/// within the range of an `i64`.
fn parse_int(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'+', rest)) => (false, rest),
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &digit in digits {
        let digit = i64::from(digit - b'0');
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(digit)?
        } else {
            value.checked_add(digit)?
        };
    }
    Some(value)
}

/// A name for a message: printable ASCII as is, every other byte as `\xNN`, quoted.
pub fn show_name(name: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in name {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Versions of a directory listing, ascending, with goose's refusals as errors: an unparsable
/// `.sql` name, or two entries with the same version ("duplicate version N").
pub fn migration_versions<'a>(
    names: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<i64>, String> {
    Ok(migration_files(names)?
        .into_iter()
        .map(|(version, _)| version)
        .collect())
}

/// Like [`migration_versions`], with each migration's name.
pub fn migration_files<'a>(
    names: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<(i64, &'a [u8])>, String> {
    let mut seen: BTreeMap<i64, &[u8]> = BTreeMap::new();
    for name in names {
        match classify_file_name(name) {
            FileName::Migration(version) => {
                if let Some(first) = seen.insert(version, name) {
                    return Err(format!(
                        "duplicate version {version}: {} and {}",
                        show_name(first),
                        show_name(name)
                    ));
                }
            }
            FileName::Ignored => {}
            FileName::Invalid(why) => return Err(why),
        }
    }
    Ok(seen.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: bool = true;
    const F: bool = false;

    fn rows(spec: &[(i64, i64, bool)]) -> Vec<Row> {
        spec.iter()
            .map(|&(id, version, applied)| Row {
                id,
                version,
                applied,
            })
            .collect()
    }

    fn with_files(spec: &[(i64, i64, bool)], files: &[i64]) -> TableFacts {
        TableFacts::from_rows(rows(spec), Some(files), files.last().copied().unwrap_or(0))
    }

    fn with_version(spec: &[(i64, i64, bool)], expected: i64) -> TableFacts {
        TableFacts::from_rows(rows(spec), None, expected)
    }

    #[test]
    fn goose_version_is_last_applied_not_highest() {
        // After an out-of-order apply (ids 0,1,3,2) goose says 2.
        let facts = with_files(&[(1, 0, T), (2, 1, T), (3, 3, T), (4, 2, T)], &[1, 2, 3]);
        assert_eq!(facts.goose_version, Some(2));
        assert_eq!(facts.max_applied, Some(3));
        assert!(facts.pending.is_empty());
    }

    #[test]
    fn rolled_back_rows_hide_their_version() {
        let facts = with_files(&[(1, 0, T), (2, 1, T), (3, 2, T), (4, 2, F)], &[1, 2]);
        assert_eq!(facts.goose_version, Some(1));
        assert_eq!(facts.max_applied, Some(1));
        assert_eq!(facts.pending, vec![2]);
        assert_eq!(facts.rolled_back, vec![2]);
    }

    #[test]
    fn reapplied_after_rollback_counts_again() {
        let facts = with_files(&[(1, 0, T), (2, 2, T), (3, 2, F), (4, 2, T)], &[2]);
        assert!(facts.pending.is_empty());
        assert!(facts.rolled_back.is_empty());
        assert_eq!(facts.goose_version, Some(2));
    }

    #[test]
    fn rows_arrive_in_any_order_for_from_rows() {
        let a = with_files(&[(4, 2, F), (1, 0, T), (3, 2, T), (2, 1, T)], &[1, 2]);
        let b = with_files(&[(1, 0, T), (2, 1, T), (3, 2, T), (4, 2, F)], &[1, 2]);
        assert_eq!(a, b);
    }

    #[test]
    fn the_scan_refuses_rows_out_of_order() {
        let mut scan = Scan::new(None, 1);
        assert_eq!(
            scan.push(Row {
                id: 2,
                version: 1,
                applied: T
            }),
            Ok(())
        );
        assert_eq!(
            scan.push(Row {
                id: 1,
                version: 1,
                applied: F
            }),
            Ok(())
        );
        assert_eq!(
            scan.push(Row {
                id: 5,
                version: 0,
                applied: T
            }),
            Err(OutOfOrder)
        );
        let mut scan = Scan::new(None, 1);
        assert_eq!(
            scan.push(Row {
                id: 1,
                version: 1,
                applied: T
            }),
            Ok(())
        );
        assert_eq!(
            scan.push(Row {
                id: 2,
                version: 1,
                applied: T
            }),
            Err(OutOfOrder)
        );
    }

    #[test]
    fn empty_and_version_zero_only() {
        let empty = with_files(&[], &[1]);
        assert!(empty.empty);
        assert_eq!(empty.goose_version, None);
        assert_eq!(empty.max_applied, None);
        assert_eq!(empty.pending, vec![1]);
        let zero = with_version(&[(1, 0, T)], 0);
        assert!(!zero.empty);
        assert_eq!(zero.goose_version, Some(0));
        assert_eq!(zero.max_applied, Some(0));
    }

    #[test]
    fn all_rolled_back_means_nothing_applied() {
        let facts = with_version(&[(1, 5, T), (2, 5, F)], 5);
        assert!(!facts.empty);
        assert_eq!(facts.goose_version, None);
        assert_eq!(facts.max_applied, None);
        assert_eq!(facts.rolled_back, vec![5]);
    }

    #[test]
    fn unknown_versions_against_files_and_against_a_version() {
        let spec = [
            (1, 0, T),
            (2, 1, T),
            (3, 2, T),
            (4, 5, T),
            (5, 6, T),
            (6, 6, F),
        ];
        // Files {2, 5}: 1 is applied without a file (below the newest), 6 is rolled back.
        let facts = with_files(&spec, &[2, 5]);
        assert_eq!(facts.unknown, vec![1]);
        assert_eq!(facts.unknown_total, 1);
        assert!(facts.pending.is_empty());
        // Only a version: what is applied above it.
        let facts = with_version(&spec, 2);
        assert_eq!(facts.unknown, vec![5]);
    }

    #[test]
    fn long_lists_are_cut_but_counted() {
        let spec: Vec<(i64, i64, bool)> = (1..=3000).map(|v| (v, v, T)).collect();
        let facts = with_files(&spec, &[1]);
        assert_eq!(facts.unknown.len(), LIST_LIMIT);
        assert_eq!(facts.unknown_total, 2999);
        assert_eq!(facts.unknown.first(), Some(&2));
        assert_eq!(facts.goose_version, Some(3000));
    }

    #[test]
    fn file_names_follow_goose() {
        use FileName::*;
        let classify = |name: &str| classify_file_name(name.as_bytes());
        assert_eq!(classify("00001_init.sql"), Migration(1));
        assert_eq!(classify("20240101120000_x.sql"), Migration(20240101120000));
        assert_eq!(classify("3_add.go"), Migration(3));
        // strconv.ParseInt takes a sign.
        assert_eq!(classify("+3_c.sql"), Migration(3));
        assert_eq!(classify("3_c.sql.sql"), Migration(3));
        assert_eq!(classify("3_add_test.go"), Ignored);
        assert_eq!(classify("helpers.go"), Ignored);
        assert_eq!(classify("2.go"), Ignored);
        assert_eq!(classify("README.md"), Ignored);
        assert_eq!(classify("0001_init.SQL"), Ignored);
        assert_eq!(classify("0001_init.sql.bak"), Ignored);
        for bad in [
            "2.sql",
            "init.sql",
            "0_zero.sql",
            "-1_neg.sql",
            "+0_x.sql",
            "+_x.sql",
            "1+_x.sql",
            " 1_x.sql",
            "99999999999999999999_big.sql",
            ".sql",
            "_x.sql",
        ] {
            assert!(matches!(classify(bad), Invalid(_)), "{bad} accepted");
        }
        assert!(matches!(classify("2.sql"), Invalid(why) if why.contains("no filename separator")));
        assert_eq!(classify_file_name(b"3_\xff.sql"), Migration(3));
        assert!(
            matches!(classify_file_name(b"\xff3_x.sql"), Invalid(why) if why.contains("\\xff3_x.sql"))
        );
        assert_eq!(classify("9223372036854775807_max.sql"), Migration(i64::MAX));
    }

    #[test]
    fn listing_sorted_and_duplicates_refused() {
        let names: [&[u8]; 5] = [
            b"3_c.sql",
            b"1_a.sql",
            b"2_b.go",
            b"notes.txt",
            b"2_b_test.go",
        ];
        assert_eq!(migration_versions(names), Ok(vec![1, 2, 3]));
        let dup = migration_versions([&b"1_a.sql"[..], b"001_b.sql"]).unwrap_err();
        assert!(dup.contains("duplicate version 1"), "{dup}");
        let dup = migration_versions([&b"+1_a.sql"[..], b"1_b.go"]).unwrap_err();
        assert!(dup.contains("duplicate version 1"), "{dup}");
        assert!(migration_versions([&b"x_a.sql"[..]]).is_err());
        assert_eq!(migration_versions([]), Ok(vec![]));
    }
}

//! What goose wrote, read the way goose reads it. Pure: no I/O.
//!
//! Two inputs reach the gate from goose: the rows of its version table and the names of its
//! migration files. This module turns rows into an [`AppliedSet`] (which versions are applied, and
//! the "current version" `goose version` would print) and file names into versions, following
//! `shared/GOOSE.md` exactly. Deciding whether that is *enough* is [`crate::verdict`]'s job.

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

/// The newest row of each version: what goose considers applied.
///
/// A version is applied when its newest row (highest `id`) has `is_applied = true`. Older rows
/// of the same version do not matter, so duplicates and legacy `false` rows are handled here once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedSet {
    /// One entry per version, ascending by version: (version, id of its newest row, is_applied
    /// of that row). A sorted vector: built with one sort, searched by bisection.
    newest: Vec<(i64, i64, bool)>,
}

impl AppliedSet {
    /// Builds the set from rows in any order.
    pub fn from_rows(rows: impl IntoIterator<Item = Row>) -> Self {
        let mut all: Vec<(i64, i64, bool)> = rows
            .into_iter()
            .map(|r| (r.version, r.id, r.applied))
            .collect();
        // By version, newest row first within a version; then keep each version's first entry.
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        all.dedup_by_key(|entry| entry.0);
        AppliedSet { newest: all }
    }

    /// True when the table holds no rows at all (goose's `version` errors on this).
    pub fn is_empty(&self) -> bool {
        self.newest.is_empty()
    }

    /// Whether `version`'s newest row says applied.
    pub fn is_applied(&self, version: i64) -> bool {
        self.newest
            .binary_search_by_key(&version, |entry| entry.0)
            .is_ok_and(|at| self.newest[at].2)
    }

    /// The version `goose version` prints: the *last applied* migration, i.e. the applied
    /// version whose newest row has the highest `id` (after out-of-order applies this is not the
    /// highest version). `None` when nothing is applied ("no next version found").
    pub fn goose_version(&self) -> Option<i64> {
        self.newest
            .iter()
            .filter(|entry| entry.2)
            .max_by_key(|entry| entry.1)
            .map(|entry| entry.0)
    }

    /// The highest applied version (goose's Provider API reads `max(version_id)` instead, which
    /// counts rolled-back rows; we do not).
    pub fn max_applied(&self) -> Option<i64> {
        self.newest
            .iter()
            .rev()
            .find(|entry| entry.2)
            .map(|entry| entry.0)
    }

    /// Applied versions above `ceiling`, ascending: what makes the database "ahead".
    pub fn applied_above(&self, ceiling: i64) -> Vec<i64> {
        let from = self.newest.partition_point(|entry| entry.0 <= ceiling);
        self.newest[from..]
            .iter()
            .filter(|entry| entry.2)
            .map(|entry| entry.0)
            .collect()
    }
}

/// What goose makes of one directory entry's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    /// A migration with this version.
    Migration(i64),
    /// Not a migration: goose skips it silently (README, `_test.go`, a `.go` helper, `.SQL`...).
    Ignored,
    /// A `.sql` file goose refuses to load ("could not parse SQL migration file").
    Invalid(String),
}

/// Classifies a file name by goose's rules: only names ending exactly in `.sql` or `.go` count,
/// `*_test.go` is skipped, the version is the text before the first `_` as a base-10 int64 >= 1
/// (leading zeros allowed), and a `.go` file without a numeric prefix is skipped.
pub fn classify_file_name(name: &str) -> FileName {
    let is_sql = name.ends_with(".sql");
    let is_go = name.ends_with(".go");
    if !(is_sql || is_go) || name.ends_with("_test.go") {
        return FileName::Ignored;
    }
    let stem = name
        .strip_suffix(".sql")
        .or_else(|| name.strip_suffix(".go"));
    let prefix = stem.unwrap_or(name).split('_').next().unwrap_or("");
    match parse_version(prefix) {
        Some(version) => FileName::Migration(version),
        None if is_go => FileName::Ignored,
        None => FileName::Invalid(format!(
            "could not parse a version from {name:?}: goose needs NNN_name.sql with NNN >= 1"
        )),
    }
}

/// Parses goose's version prefix: ASCII digits only (Go's `strconv.ParseInt(s, 10, 64)` also
/// takes a sign, but `-1` and `+1` fail goose's `>= 1` check or never occur), value >= 1.
fn parse_version(prefix: &str) -> Option<i64> {
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    prefix.parse::<i64>().ok().filter(|v| *v >= 1)
}

/// Versions of a directory listing, ascending, with goose's refusals as errors: an unparsable
/// `.sql` name, or two files with the same version ("duplicate version N").
pub fn migration_versions<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<i64>, String> {
    let mut seen: BTreeMap<i64, &str> = BTreeMap::new();
    for name in names {
        match classify_file_name(name) {
            FileName::Migration(version) => {
                if let Some(first) = seen.insert(version, name) {
                    return Err(format!(
                        "duplicate version {version}: {first:?} and {name:?}"
                    ));
                }
            }
            FileName::Ignored => {}
            FileName::Invalid(why) => return Err(why),
        }
    }
    Ok(seen.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rows!((1,0,t),(2,1,t))` in GOOSE.md's notation.
    fn rows(spec: &[(i64, i64, bool)]) -> AppliedSet {
        AppliedSet::from_rows(spec.iter().map(|&(id, version, applied)| Row {
            id,
            version,
            applied,
        }))
    }

    #[test]
    fn goose_version_is_last_applied_not_highest() {
        // GOOSE.md: after an out-of-order apply (ids 0,1,3,2) goose says 2.
        let set = rows(&[(1, 0, true), (2, 1, true), (3, 3, true), (4, 2, true)]);
        assert_eq!(set.goose_version(), Some(2));
        assert_eq!(set.max_applied(), Some(3));
    }

    #[test]
    fn rolled_back_rows_hide_their_version() {
        let set = rows(&[(1, 0, true), (2, 1, true), (3, 2, true), (4, 2, false)]);
        assert_eq!(set.goose_version(), Some(1));
        assert_eq!(set.max_applied(), Some(1));
        assert!(!set.is_applied(2));
        assert!(set.is_applied(1));
    }

    #[test]
    fn reapplied_after_rollback_counts_again() {
        let set = rows(&[(1, 0, true), (2, 2, true), (3, 2, false), (4, 2, true)]);
        assert!(set.is_applied(2));
        assert_eq!(set.goose_version(), Some(2));
    }

    #[test]
    fn rows_arrive_in_any_order() {
        let a = rows(&[(4, 2, false), (1, 0, true), (3, 2, true), (2, 1, true)]);
        let b = rows(&[(1, 0, true), (2, 1, true), (3, 2, true), (4, 2, false)]);
        assert_eq!(a, b);
    }

    #[test]
    fn empty_and_version_zero_only() {
        let empty = rows(&[]);
        assert!(empty.is_empty());
        assert_eq!(empty.goose_version(), None);
        assert_eq!(empty.max_applied(), None);
        let zero = rows(&[(1, 0, true)]);
        assert_eq!(zero.goose_version(), Some(0));
        assert_eq!(zero.max_applied(), Some(0));
    }

    #[test]
    fn all_rolled_back_means_nothing_applied() {
        let set = rows(&[(1, 5, true), (2, 5, false)]);
        assert!(!set.is_empty());
        assert_eq!(set.goose_version(), None);
        assert_eq!(set.max_applied(), None);
    }

    #[test]
    fn applied_above_lists_only_applied() {
        let set = rows(&[
            (1, 0, true),
            (2, 5, true),
            (3, 6, true),
            (4, 6, false),
            (5, 7, true),
        ]);
        assert_eq!(set.applied_above(4), vec![5, 7]);
        assert_eq!(set.applied_above(i64::MAX), Vec::<i64>::new());
    }

    #[test]
    fn file_names_follow_goose() {
        use FileName::*;
        assert_eq!(classify_file_name("00001_init.sql"), Migration(1));
        assert_eq!(
            classify_file_name("20240101120000_x.sql"),
            Migration(20240101120000)
        );
        assert_eq!(classify_file_name("3_add.go"), Migration(3));
        assert_eq!(classify_file_name("7.sql"), Migration(7));
        assert_eq!(classify_file_name("3_add_test.go"), Ignored);
        assert_eq!(classify_file_name("helpers.go"), Ignored);
        assert_eq!(classify_file_name("README.md"), Ignored);
        assert_eq!(classify_file_name("0001_init.SQL"), Ignored);
        assert_eq!(classify_file_name("0001_init.sql.bak"), Ignored);
        assert!(matches!(classify_file_name("init.sql"), Invalid(_)));
        assert!(matches!(classify_file_name("0_zero.sql"), Invalid(_)));
        assert!(matches!(classify_file_name("-1_neg.sql"), Invalid(_)));
        assert!(matches!(classify_file_name("+1_pos.sql"), Invalid(_)));
        assert!(matches!(
            classify_file_name("99999999999999999999_big.sql"),
            Invalid(_)
        ));
        assert!(matches!(classify_file_name(".sql"), Invalid(_)));
    }

    #[test]
    fn listing_sorted_and_duplicates_refused() {
        assert_eq!(
            migration_versions(["3_c.sql", "1_a.sql", "2_b.go", "notes.txt", "2_b_test.go"]),
            Ok(vec![1, 2, 3])
        );
        let dup = migration_versions(["1_a.sql", "001_b.sql"]).unwrap_err();
        assert!(dup.contains("duplicate version 1"), "{dup}");
        assert!(migration_versions(["x_a.sql"]).is_err());
        assert_eq!(migration_versions([]), Ok(vec![]));
    }
}

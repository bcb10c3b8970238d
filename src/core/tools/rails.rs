//! Rails' Active Record migrations: `schema_migrations(version varchar)`, one row per applied
//! migration, beside `ar_internal_metadata` (which the gate does not need). Pure: no I/O.
//!
//! `docs/tools/rails.md` names the source of each rule and the runs of Active Record 6.1.7
//! that confirmed it (`scripts/tools/characterise-rails.sh`). In short:
//!
//! - Versions are **integers**: the rows are strings, read with Ruby's `to_i`
//!   (`SchemaMigration.all_versions.map(&:to_i)`), the files' leading digits likewise, so
//!   `001_a.rb` is applied by a row `1` or `0001`. `db:migrate:status` prints them with
//!   `"%.3d"` (`normalize_migration_number`), and so does the gate: `001`, `042`,
//!   `20240101000001`.
//! - Files: every `[0-9]*_*.rb` under each migrations path, **recursively**
//!   (`migration_files`); each must match `MigrationFilenameRegexp`
//!   (`\A([0-9]+)_([_a-z0-9]*)\.?([_a-z0-9]*)?\.rb\z`), else Rails refuses the whole
//!   directory (`IllegalMigrationNameError`); two files with one version, or one camelized
//!   name, are refused by `db:migrate` (`Migrator#validate`).
//! - Pending: file versions without a row, whatever their order (`db:migrate` applies older
//!   ones too). Rows without a file are `ahead` (`db:migrate:status`: `NO FILE`). A failed
//!   migration leaves no row (the version is recorded in the migration's transaction, or after
//!   its body with `disable_ddl_transaction!`): Rails has no failed state.

use super::lines::{Line, LineState, Lines};
use super::{
    DIR_VAR, Entry, ExpectError, FILE_VAR, Facts, Id, Listing, Read, Row, RowError, Sources,
    VERSION_VAR, cell, manifest_lines, show,
};

/// The table Active Record creates (`schema_migrations_table_name` overrides it).
pub const DEFAULT_TABLE: &str = "schema_migrations";

/// The check's `SELECT` (Rails records no time: `status` reads the same).
pub const READ: Read = Read {
    columns: "version",
    status_columns: "version",
    tail: "ORDER BY version LIMIT 100001",
};

/// A Rails version: a non-negative integer (Ruby's are unbounded; a row beyond `u128` reads as
/// `u128::MAX`, a file beyond it is refused, so the two never meet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u128);

impl Version {
    /// Ruby's `String#to_i`: leading white space and a `+` skipped, then the digits (one `_`
    /// between two digits allowed), `0` when none. A negative number (`-5`, which Rails never
    /// writes) is read as `0`: ahead either way, only its label differs.
    pub fn to_i(text: &str) -> Version {
        let text = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
        let text = text.strip_prefix('+').unwrap_or(text).as_bytes();
        let mut v: u128 = 0;
        for (i, &b) in text.iter().enumerate() {
            match b {
                b'0'..=b'9' => v = v.saturating_mul(10).saturating_add(u128::from(b - b'0')),
                b'_' if i > 0
                    && text[i - 1].is_ascii_digit()
                    && text.get(i + 1).is_some_and(u8::is_ascii_digit) => {}
                _ => break,
            }
        }
        Version(v)
    }

    /// As `db:migrate:status` prints it (`"%.3d"`).
    pub fn id(self) -> Id {
        Id::Text(format!("{:03}", self.0))
    }
}

/// What Rails makes of one file name (its last path component).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    /// A migration: its version and its name (`create_a`), without the scope.
    Migration(Version, String),
    /// Not matched by the glob `[0-9]*_*.rb`: not looked at.
    Ignored,
    /// Matched by the glob but not by `MigrationFilenameRegexp`: Rails refuses the directory.
    Illegal,
}

/// Classifies a file name by `migration_files`' glob and `MigrationFilenameRegexp`.
pub fn classify_file_name(name: &[u8]) -> FileName {
    let glob = name.first().is_some_and(u8::is_ascii_digit)
        && name.ends_with(b".rb")
        && name[1..name.len() - 3].contains(&b'_');
    if !glob {
        return FileName::Ignored;
    }
    let digits = name.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = &name[digits..name.len() - 3];
    let word = |s: &[u8]| {
        s.iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
    };
    let Some(rest) = rest.strip_prefix(b"_") else {
        return FileName::Illegal;
    };
    // `([_a-z0-9]*)\.?([_a-z0-9]*)?`: at most one dot, words on both sides.
    let (base, scope) = match rest.iter().position(|&b| b == b'.') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b""[..]),
    };
    if !word(base) || !word(scope) {
        return FileName::Illegal;
    }
    let version = Version::to_i(&String::from_utf8_lossy(&name[..digits]));
    FileName::Migration(version, String::from_utf8_lossy(base).into_owned())
}

/// `String#camelize` on a migration name, as `Migrator#validate` compares names.
fn camelize(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The versions of the listed directories, sorted, each with its file (relative to its
/// directory), with Rails' refusals as errors. A directory whose name the glob matches counts:
/// Ruby's `Dir[]` returns it, Rails lists it, and `require` fails on it.
pub fn directory_versions(listings: &[Listing]) -> Result<Vec<(Version, String)>, ExpectError> {
    // (version or camelized name, file in full, relative file)
    let mut versions: Vec<(Version, String, String)> = Vec::new();
    let mut names: Vec<(String, String)> = Vec::new();
    for listing in listings {
        for entry in listing.entries.iter().filter(|e| !hidden(e)) {
            let path = format!("{}/{}", listing.dir, show(&entry.path));
            match classify_file_name(entry.file_name()) {
                FileName::Ignored => {}
                FileName::Illegal => {
                    return Err(ExpectError::new(
                        DIR_VAR,
                        format!(
                            "Illegal name for migration file: {path} (only lower case letters, \
                             numbers, and '_' allowed); Rails refuses the directory"
                        ),
                    ));
                }
                FileName::Migration(version, name) => {
                    if version.0 == u128::MAX {
                        return Err(ExpectError::new(
                            DIR_VAR,
                            format!("{path}: the version is too large"),
                        ));
                    }
                    names.push((camelize(&name), path.clone()));
                    let file = String::from_utf8_lossy(&entry.path).into_owned();
                    versions.push((version, path, file));
                }
            }
        }
    }
    versions.sort_unstable();
    names.sort_unstable();
    let dup = |what: String, first: &str, second: &str| {
        ExpectError::new(
            DIR_VAR,
            format!("{what}: {first} and {second}; db:migrate refuses them"),
        )
    };
    if let Some(w) = versions.windows(2).find(|w| w[0].0 == w[1].0) {
        let what = format!("Multiple migrations have the version number {}", w[0].0.0);
        return Err(dup(what, &w[0].1, &w[1].1));
    }
    if let Some(w) = names.windows(2).find(|w| w[0].0 == w[1].0) {
        let what = "Multiple migrations have the same name".to_string();
        return Err(dup(what, &w[0].1, &w[1].1));
    }
    Ok(versions.into_iter().map(|(v, _, f)| (v, f)).collect())
}

/// Ruby's `Dir.glob` does not descend into, or match, names starting with a dot.
fn hidden(entry: &Entry) -> bool {
    entry
        .path
        .split(|&b| b == b'/')
        .any(|c| c.first() == Some(&b'.'))
}

fn parse_version(text: &str, variable: &'static str) -> Result<Version, ExpectError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ExpectError::new(
            variable,
            format!("{text:?} is not a Rails migration version (digits, e.g. 20240101120000)"),
        ));
    }
    match Version::to_i(text) {
        Version(u128::MAX) => Err(ExpectError::new(variable, format!("{text} is too large"))),
        v => Ok(v),
    }
}

/// What the build expects from Rails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Every version with a file (its path, for `status`) or a manifest line (no path), sorted.
    versions: Option<Vec<(Version, Option<String>)>>,
    /// `GATE_EXPECT_VERSION`.
    version: Option<Version>,
}

impl Expected {
    /// From the migrations paths (`db/migrate`, several `:`-separated), a version, a manifest
    /// of versions, or several of them, which must agree.
    pub fn build(sources: Sources<'_>) -> Result<Expected, ExpectError> {
        let mut versions: Option<Vec<(Version, Option<String>)>> = None;
        if let Some(listings) = sources.listings {
            let found = directory_versions(listings)?;
            if found.is_empty() {
                let dirs: Vec<&str> = listings.iter().map(|l| l.dir.as_str()).collect();
                return Err(ExpectError::new(
                    DIR_VAR,
                    format!(
                        "no Rails migration files (NNN_name.rb) in {}",
                        dirs.join(", ")
                    ),
                ));
            }
            versions = Some(found.into_iter().map(|(v, f)| (v, Some(f))).collect());
        }
        if let Some(text) = sources.manifest {
            let mut listed = Vec::new();
            for (line, id) in manifest_lines(text)? {
                let v = parse_version(id, FILE_VAR).map_err(|e| {
                    ExpectError::new(FILE_VAR, format!("line {}: {}", line + 1, e.message))
                })?;
                listed.push((v, None));
            }
            listed.sort_unstable();
            listed.dedup_by_key(|(v, _)| *v);
            if versions
                .as_ref()
                .is_some_and(|v| !v.iter().map(|e| e.0).eq(listed.iter().map(|e| e.0)))
            {
                return Err(ExpectError::new(
                    FILE_VAR,
                    "lists other versions than the migrations directories hold",
                ));
            }
            versions = versions.or(Some(listed));
        }
        let version = match sources.version {
            Some(text) => Some(parse_version(text, VERSION_VAR)?),
            None => None,
        };
        if let (Some(v), Some((newest, _))) = (version, versions.as_ref().and_then(|s| s.last()))
            && v != *newest
        {
            return Err(ExpectError::new(
                VERSION_VAR,
                format!(
                    "is {}, but the newest migration file is {}: make them agree",
                    v.0, newest.0
                ),
            ));
        }
        Ok(Expected { versions, version })
    }

    /// The expected version: `GATE_EXPECT_VERSION`, or the newest file's.
    pub fn target(&self) -> Option<Id> {
        self.version
            .or_else(|| self.versions.as_ref().and_then(|v| v.last()).map(|e| e.0))
            .map(Version::id)
    }

    fn has(&self, v: Version) -> bool {
        self.versions
            .as_ref()
            .is_some_and(|files| files.binary_search_by_key(&v, |e| e.0).is_ok())
    }
}

/// The rows' versions, as `SchemaMigration.all_versions.map(&:to_i)` reads them, sorted.
fn applied(rows: &[Row]) -> Result<Vec<Version>, RowError> {
    let mut v = rows
        .iter()
        .map(|row| cell(row, 0, "version").map(Version::to_i))
        .collect::<Result<Vec<_>, _>>()?;
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    let applied = applied(rows)?;
    let mut facts = Facts {
        empty: rows.is_empty(),
        current: applied.last().map(|v| v.id()).into_iter().collect(),
        ..Facts::default()
    };
    let ids = |v: &mut dyn Iterator<Item = Version>| v.map(Version::id).collect();
    match &expected.versions {
        Some(files) => {
            facts.pending = ids(&mut files
                .iter()
                .map(|e| e.0)
                .filter(|v| applied.binary_search(v).is_err()));
            facts.ahead = ids(&mut applied.iter().copied().filter(|v| !expected.has(*v)));
            facts.reached = facts.pending.is_empty();
        }
        None => {
            let target = expected.version.unwrap_or(Version(0));
            facts.reached = applied.last().is_some_and(|h| *h >= target);
            facts.ahead = ids(&mut applied.iter().copied().filter(|v| *v > target));
        }
    }
    Ok(facts)
}

/// `status`'s listing, as `db:migrate:status` lists it: every version of the build, in
/// order, `up` (applied) or `down` (pending), with its file; first, under their own heading, the
/// rows without a file (its `NO FILE` lines). Without a directory or manifest: the rows.
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let applied = applied(rows)?;
    let line = |v: Version, file: Option<String>, up: bool| {
        let state = if up {
            LineState::Applied
        } else {
            LineState::Pending
        };
        Line::new(v.id(), file, state, None)
    };
    let mut out = Lines::default();
    let files = expected.versions.as_deref().unwrap_or_default();
    for (v, file) in files {
        let up = applied.binary_search(v).is_ok();
        out.migrations.push(line(*v, file.clone(), up));
    }
    let rows = applied.iter().filter(|v| !expected.has(**v));
    let rows = rows.map(|v| line(*v, None, true)).collect();
    match expected.versions {
        Some(_) => out.without_file = rows,
        None => out.migrations = rows,
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

    fn listing(names: &[&str]) -> Vec<Listing> {
        vec![Listing {
            dir: "db/migrate".into(),
            entries: names.iter().map(|n| Entry::file(n)).collect(),
        }]
    }

    fn files(names: &[&str]) -> Expected {
        Expected::build(Sources {
            listings: Some(&listing(names)),
            ..Sources::default()
        })
        .unwrap()
    }

    fn texts(ids: &[Id]) -> Vec<String> {
        ids.iter().map(Id::to_string).collect()
    }

    const FOUR: &[&str] = &[
        "20231231000000_create_early.rb",
        "20240101000001_create_a.rb",
        "20240101000002_create_b.rb",
        "20240101000003_create_c.rb",
    ];

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("schema_migrations", "", false),
            "SELECT version FROM schema_migrations ORDER BY version LIMIT 100001"
        );
    }

    /// "all applied" and "rows without files": the listing as `db:migrate:status` shows it.
    #[test]
    fn the_listing_follows_migrate_status() {
        let e = files(&FOUR[1..3]);
        let l = lines(&rows(&["20240101000001", "0042"]), &e).unwrap();
        let shown: Vec<(String, Option<String>, LineState)> = l
            .migrations
            .iter()
            .map(|l| (l.version.to_string(), l.file.clone(), l.state))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "20240101000001".to_string(),
                    Some(FOUR[1].to_string()),
                    LineState::Applied
                ),
                (
                    "20240101000002".to_string(),
                    Some(FOUR[2].to_string()),
                    LineState::Pending
                )
            ]
        );
        assert_eq!(l.without_file[0].version, Id::from("042"));
    }

    /// "names: 20240101000005_create_e.scoped.rb README.md helper.rb" (only the scoped file
    /// counts), "an illegal name: 20240101000006_CreateF.rb" (both tasks abort).
    #[test]
    fn file_names_follow_the_glob_and_the_regexp() {
        let v = |n: &str| match classify_file_name(n.as_bytes()) {
            FileName::Migration(v, name) => format!("{} {name}", v.id()),
            other => format!("{other:?}"),
        };
        assert_eq!(v("20240101000001_create_a.rb"), "20240101000001 create_a");
        assert_eq!(
            v("20240101000005_create_e.scoped.rb"),
            "20240101000005 create_e"
        );
        assert_eq!(v("001_leading.rb"), "001 leading");
        assert_eq!(v("1_x.rb"), "001 x");
        for ignored in ["README.md", "helper.rb", "1.rb", "x_1.rb", "1_a.rb.bak"] {
            assert_eq!(v(ignored), "Ignored", "{ignored}");
        }
        for illegal in [
            "20240101000006_CreateF.rb",
            "1a_b.rb",
            "1_a.b.c.rb",
            "1_a-b.rb",
        ] {
            assert_eq!(v(illegal), "Illegal", "{illegal}");
        }
        let err = Expected::build(Sources {
            listings: Some(&listing(&["1_a.rb", "2_B.rb"])),
            ..Sources::default()
        })
        .unwrap_err();
        assert!(err.message.contains("Illegal name"), "{err}");
    }

    /// "a duplicate version: 20240101000005 twice": db:abort_if_pending_migrations and
    /// db:migrate refuse (DuplicateMigrationVersionError); the gate refuses the build. Two
    /// files with one name are refused likewise (DuplicateMigrationNameError).
    #[test]
    fn duplicates_are_refused() {
        for pair in [
            ["5_create_e.scoped.rb", "5_create_e2.rb"],
            ["1_a.rb", "2_a.rb"],
        ] {
            assert!(
                Expected::build(Sources {
                    listings: Some(&listing(&pair)),
                    ..Sources::default()
                })
                .is_err(),
                "{pair:?}"
            );
        }
    }

    /// "a file in a subdirectory": db/migrate/sub/… is pending, then applied; hidden
    /// directories are not globbed.
    #[test]
    fn subdirectories_count() {
        let e = Expected::build(Sources {
            listings: Some(&[Listing {
                dir: "db/migrate".into(),
                entries: vec![
                    Entry::file("1_a.rb"),
                    Entry::directory("sub"),
                    Entry::file("sub/4_d.rb"),
                    Entry::file(".git/5_e.rb"),
                ],
            }]),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&rows(&["1"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["004"]);
        // A directory the glob matches is one for Rails too (listed, pending, never loadable).
        let e = Expected::build(Sources {
            listings: Some(&[Listing {
                dir: "db/migrate".into(),
                entries: vec![Entry::file("1_a.rb"), Entry::directory("2_b.rb")],
            }]),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(texts(&facts(&rows(&["1"]), &e).unwrap().pending), ["002"]);
    }

    /// "all applied" (abort_if_pending exit 0), "db:migrate: 3 fails half-way" (both ways: no
    /// row; status "down"), "rolled back".
    #[test]
    fn pending_is_files_without_rows() {
        let e = files(&FOUR[1..3]);
        let f = facts(&rows(&["20240101000001", "20240101000002"]), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["20240101000002"]);
        let e = files(&FOUR[1..]);
        let f = facts(&rows(&["20240101000001", "20240101000002"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["20240101000003"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        assert!(facts(&[], &e).unwrap().empty);
    }

    /// "out of order: a file older than the applied ones" and "a hole": both pending
    /// (abort_if_pending lists them; db:migrate applies them).
    #[test]
    fn out_of_order_files_are_pending() {
        let e = files(FOUR);
        let f = facts(
            &rows(&["20240101000001", "20240101000002", "20240101000003"]),
            &e,
        )
        .unwrap();
        assert_eq!(texts(&f.pending), ["20231231000000"]);
        let f = facts(
            &rows(&["20231231000000", "20240101000001", "20240101000003"]),
            &e,
        )
        .unwrap();
        assert_eq!(texts(&f.pending), ["20240101000002"]);
    }

    /// "rows without files (20991231000000, 0042)": status "up 042 NO FILE", abort_if_pending
    /// exit 0; the gate: ahead.
    #[test]
    fn rows_without_files_are_ahead() {
        let e = files(FOUR);
        let mut r = vec!["20231231000000", "20240101000001", "20240101000002"];
        r.extend(["20240101000003", "20991231000000", "0042"]);
        let f = facts(&rows(&r), &e).unwrap();
        assert_eq!(texts(&f.ahead), ["042", "20991231000000"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        assert_eq!(texts(&f.current), ["20991231000000"]);
    }

    /// "001_leading.rb with the row '1'" and "… '0001'": up both times.
    #[test]
    fn versions_are_integers() {
        let e = files(&["001_leading.rb"]);
        for row in ["1", "0001", "001"] {
            let f = facts(&rows(&[row]), &e).unwrap();
            assert_eq!(decide(&f, Exact), Outcome::Ready, "{row}");
        }
        assert_eq!(e.target(), Some(Id::from("001")));
        assert!(Version::to_i("9") < Version::to_i("10"));
        assert_eq!(Version::to_i("abc"), Version::to_i("0"));
        // Ruby: [" 5", "+5", "1_0", "1__0", "_1", "\t7x", "1 2"].map(&:to_i) = [5, 5, 10, 1, 0, 7, 1]
        let ruby = [" 5", "+5", "1_0", "1__0", "_1", "\t7x", "1 2"].map(|t| Version::to_i(t).0);
        assert_eq!(ruby, [5, 5, 10, 1, 0, 7, 1]);
        assert_eq!(Version::to_i(&"9".repeat(50)).0, u128::MAX);
    }

    #[test]
    fn expected_version_and_manifest() {
        let e = Expected::build(Sources {
            version: Some("20240101000002"),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&rows(&["20240101000001"]), &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        let f = facts(&rows(&["20240101000001", "20240101000003"]), &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        let listings = listing(&FOUR[1..3]);
        let both = |v: &str| {
            Expected::build(Sources {
                listings: Some(&listings),
                version: Some(v),
                manifest: None,
            })
        };
        assert!(both("20240101000002").is_ok());
        assert_eq!(
            both("20240101000001").unwrap_err().variable,
            "GATE_EXPECT_VERSION"
        );
        let m = Expected::build(Sources {
            manifest: Some("20240101000001\n20240101000002\n"),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(m.target(), Some(Id::from("20240101000002")));
        for bad in ["", "v1", "1_a.rb", &"9".repeat(40)] {
            assert!(parse_version(bad, VERSION_VAR).is_err(), "{bad:?}");
        }
    }
}

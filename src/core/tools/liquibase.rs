//! Liquibase (4.33, the last open-source line): `DATABASECHANGELOG`, one row per changeset run,
//! identified by `(ID, AUTHOR, FILENAME)`, and `DATABASECHANGELOGLOCK`. Pure: no I/O.
//!
//! `docs/tools/liquibase.md` names the source of each rule and the runs of Liquibase 4.33.0
//! that confirmed it (`scripts/tools/characterise-liquibase.sh`). In short:
//!
//! - A changeset is applied when a row has its id, author and normalised file path
//!   (`ShouldRunChangeSetFilter`, `RanChangeSet.toString`, `DatabaseChangeLog.normalizePath`),
//!   whatever its `EXECTYPE` (`EXECUTED`, `MARK_RAN`, `RERAN`). A failed changeset leaves no
//!   row (also with `failOnError="false"` or `runInTransaction="false"`): Liquibase has no
//!   failed state here.
//! - Which changesets exist comes from parsing the changelog (XML, YAML, JSON, formatted SQL,
//!   includes, contexts, labels, `dbms`): the expectation is a manifest the Liquibase CLI writes
//!   at build time without a database (`status --verbose` against `offline:postgresql`), one
//!   `id<TAB>author<TAB>file` a line.
//! - `LOCKED = true` in the lock table is written in its own transaction before `update` runs
//!   and stays if Liquibase dies: `behind`, "migration in progress" (SPEC).
//! - Rows the manifest does not name are `ahead`; Liquibase ignores them.

use super::lines::{Line, LineState, Lines};
use super::{
    DIR_VAR, ExpectError, FILE_VAR, Facts, Id, Read, Row, RowError, Sources, VERSION_VAR,
    bool_cell, cell, manifest_lines,
};
use crate::core::status::AppliedAt;
use std::collections::{BTreeMap, BTreeSet};

/// The table Liquibase creates, as PostgreSQL folds its unquoted `DATABASECHANGELOG`.
pub const DEFAULT_TABLE: &str = "databasechangelog";

/// The check's `SELECT`: both tables in one read (`DATABASECHANGELOGLOCK` named from the
/// configured table with `lock`, as Liquibase's defaults are; a renamed lock table needs
/// `GATE_TABLE` to follow suit), changesets in the order they ran, then the lock row
/// (`orderexecuted` NULL). `dateexecuted` is read by the check too: the lock's branch of the
/// `UNION ALL` must have the same columns for `check` and `status`.
pub const READ: Read = Read {
    columns: "orderexecuted, id, author, filename, NULL AS locked, \
              to_char(dateexecuted, 'YYYY-MM-DD HH24:MI:SS') AS at",
    status_columns: "orderexecuted, id, author, filename, NULL AS locked, \
                     to_char(dateexecuted, 'YYYY-MM-DD HH24:MI:SS') AS at",
    tail: "UNION ALL SELECT NULL, NULL, NULL, NULL, locked, NULL FROM {table:lock} {guard} \
           ORDER BY orderexecuted LIMIT 100001",
};

/// `DatabaseChangeLog.normalizePath`: `classpath:` dropped, `\` as `/`, a leading `/`
/// dropped, `.` and `..` segments resolved.
pub fn normalize_path(path: &str) -> String {
    let path = path
        .strip_prefix("classpath:")
        .unwrap_or(path)
        .replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// A changeset: `(normalised file, id, author)`, Liquibase's `file::id::author` key.
pub type Key = (String, String, String);

fn id(key: &Key) -> Id {
    Id::Text(format!("{}::{}::{}", key.0, key.1, key.2))
}

/// What the build expects from Liquibase: its changesets, from the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    changesets: BTreeSet<Key>,
    /// The last changeset of the manifest, in changelog order (what runs last).
    last: Option<Key>,
}

impl Expected {
    /// From the manifest only (`id<TAB>author<TAB>file`): only Liquibase parses changelogs.
    pub fn build(sources: Sources<'_>) -> Result<Expected, ExpectError> {
        if sources.version.is_some() {
            return Err(ExpectError::new(
                VERSION_VAR,
                "Liquibase changesets are not versioned: give GATE_EXPECT_FILE (written by \
                 liquibase status --verbose against offline:postgresql at image build)",
            ));
        }
        if sources.listings.is_some() {
            return Err(ExpectError::new(
                DIR_VAR,
                "Liquibase changelogs are parsed by Liquibase (XML, YAML, SQL, includes, \
                 contexts): give GATE_EXPECT_FILE instead (written by liquibase status \
                 --verbose against offline:postgresql at image build)",
            ));
        }
        let text = sources
            .manifest
            .ok_or_else(|| ExpectError::new(FILE_VAR, "the Liquibase manifest is required"))?;
        let mut changesets = BTreeSet::new();
        let mut last = None;
        for (line, content) in manifest_lines(text)? {
            let fields: Vec<&str> = content.split('\t').map(str::trim).collect();
            let [cs_id, author, file] = fields[..] else {
                return Err(ExpectError::new(
                    FILE_VAR,
                    format!("line {}: expected id<TAB>author<TAB>file", line + 1),
                ));
            };
            if cs_id.is_empty() || author.is_empty() || file.is_empty() {
                return Err(ExpectError::new(
                    FILE_VAR,
                    format!("line {}: an empty id, author or file", line + 1),
                ));
            }
            let key = (normalize_path(file), cs_id.to_string(), author.to_string());
            if !changesets.insert(key.clone()) {
                return Err(ExpectError::new(
                    FILE_VAR,
                    format!("line {}: {} is listed twice", line + 1, id(&key)),
                ));
            }
            last = Some(key);
        }
        Ok(Expected { changesets, last })
    }

    /// The last changeset the changelog runs.
    pub fn newest(&self) -> Vec<Id> {
        self.last.iter().map(id).collect()
    }

    /// What `expected` shows: the last changeset the changelog runs (`file::id::author`).
    pub fn target(&self) -> Option<Id> {
        self.last.as_ref().map(id)
    }
}

/// `status`'s listing: every changeset of the manifest (as `file::id::author`, sorted), applied
/// (with `dateexecuted`, as Liquibase wrote it) or pending; first, under their own heading, the
/// rows the manifest does not name (Liquibase ignores them).
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let mut applied: Vec<(Key, Option<AppliedAt>)> = Vec::new();
    for row in rows
        .iter()
        .filter(|r| r.first().is_some_and(Option::is_some))
    {
        let key = (
            normalize_path(cell(row, 3, "filename")?),
            cell(row, 1, "id")?.to_string(),
            cell(row, 2, "author")?.to_string(),
        );
        let at = row
            .get(5)
            .cloned()
            .flatten()
            .and_then(|t| AppliedAt::parse(&t));
        applied.push((key, at));
    }
    let when = |key: &Key| applied.iter().find(|(k, _)| k == key).map(|(_, at)| *at);
    let mut out = Lines::default();
    for key in &expected.changesets {
        let line = match when(key) {
            Some(at) => Line::new(id(key), None, LineState::Applied, at),
            None => Line::new(id(key), None, LineState::Pending, None),
        };
        out.migrations.push(line);
    }
    for (key, at) in applied
        .iter()
        .filter(|(k, _)| !expected.changesets.contains(k))
    {
        out.without_file
            .push(Line::new(id(key), None, LineState::Applied, *at));
    }
    Ok(out)
}

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    let mut applied: BTreeMap<Key, i64> = BTreeMap::new();
    let mut locked = false;
    for row in rows {
        match row.first() {
            Some(Some(order)) => {
                let order: i64 = order.parse().map_err(|_| {
                    RowError(format!("column orderexecuted is {order:?}, not an integer"))
                })?;
                let key = (
                    normalize_path(cell(row, 3, "filename")?),
                    cell(row, 1, "id")?.to_string(),
                    cell(row, 2, "author")?.to_string(),
                );
                applied.insert(key, order);
            }
            _ => locked |= bool_cell(row, 4, "locked")?,
        }
    }
    let mut facts = Facts {
        empty: applied.is_empty(),
        current: applied
            .iter()
            .max_by_key(|(_, order)| **order)
            .map(|(k, _)| id(k))
            .into_iter()
            .collect(),
        ..Facts::default()
    };
    facts.pending = expected
        .changesets
        .iter()
        .filter(|k| !applied.contains_key(*k))
        .map(id)
        .collect();
    facts.ahead = applied
        .keys()
        .filter(|k| !expected.changesets.contains(*k))
        .map(id)
        .collect();
    facts.reached = facts.pending.is_empty() && !locked;
    if locked {
        facts.hints.push(
            "migration in progress: DATABASECHANGELOGLOCK is locked (a Liquibase that died \
             leaves it so: liquibase release-locks frees it)"
                .to_string(),
        );
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tools::{Outcome, decide};
    use crate::core::verdict::Policy::{AtLeast, Exact};

    /// The manifest the offline `status --verbose` wrote in "three changesets".
    const THREE: &str = "1\talice\tdb/changelog.xml\n2\tbob\tdb/changelog.xml\n\
                         3\tcarol\tdb/more/more.sql\n";

    fn rows(changesets: &[(&str, &str, &str)], locked: bool) -> Vec<Row> {
        let mut rows: Vec<Row> = changesets
            .iter()
            .enumerate()
            .map(|(i, (cs, author, file))| {
                vec![
                    Some((i + 1).to_string()),
                    Some(cs.to_string()),
                    Some(author.to_string()),
                    Some(file.to_string()),
                    None,
                ]
            })
            .collect();
        rows.push(vec![
            None,
            None,
            None,
            None,
            Some(if locked { "t" } else { "f" }.into()),
        ]);
        rows
    }

    fn manifest(text: &str) -> Expected {
        Expected::build(Sources {
            manifest: Some(text),
            ..Sources::default()
        })
        .unwrap()
    }

    fn texts(ids: &[Id]) -> Vec<String> {
        ids.iter().map(Id::to_string).collect()
    }

    const A: (&str, &str, &str) = ("1", "alice", "db/changelog.xml");
    const B: (&str, &str, &str) = ("2", "bob", "db/changelog.xml");
    const C: (&str, &str, &str) = ("3", "carol", "db/more/more.sql");

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("\"databasechangelog\"", "WHERE g", false),
            "SELECT orderexecuted, id, author, filename, NULL AS locked, to_char(dateexecuted, \
             'YYYY-MM-DD HH24:MI:SS') AS at FROM \"databasechangelog\" WHERE g UNION ALL SELECT \
             NULL, NULL, NULL, NULL, locked, NULL FROM \"databasechangeloglock\" WHERE g ORDER \
             BY orderexecuted LIMIT 100001"
        );
        assert_eq!(READ.columns, READ.status_columns);
    }

    #[test]
    fn the_listing_names_file_id_author() {
        let e = manifest(THREE);
        let l = lines(&rows(&[A, ("9", "zed", "db/gone.xml")], false), &e).unwrap();
        let shown: Vec<(String, LineState)> = l
            .migrations
            .iter()
            .map(|l| (l.version.to_string(), l.state))
            .collect();
        assert_eq!(
            shown,
            [
                ("db/changelog.xml::1::alice".to_string(), LineState::Applied),
                ("db/changelog.xml::2::bob".to_string(), LineState::Pending),
                ("db/more/more.sql::3::carol".to_string(), LineState::Pending),
            ]
        );
        assert_eq!(l.without_file[0].version, Id::from("db/gone.xml::9::zed"));
        assert_eq!(e.target(), Some(Id::from("db/more/more.sql::3::carol")));
    }

    /// "no table: status --verbose" (it creates both tables; the lock row 1|f), "update",
    /// "all applied: … is up to date".
    #[test]
    fn pending_until_every_changeset_has_a_row() {
        let e = manifest(THREE);
        let f = facts(&rows(&[], false), &e).unwrap();
        assert!(f.empty);
        assert_eq!(
            texts(&f.pending),
            [
                "db/changelog.xml::1::alice",
                "db/changelog.xml::2::bob",
                "db/more/more.sql::3::carol"
            ]
        );
        let f = facts(&rows(&[A, B, C], false), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["db/more/more.sql::3::carol"]);
        assert_eq!(texts(&e.newest()), ["db/more/more.sql::3::carol"]);
    }

    /// "update: 4 fails half-way" (in a transaction, runInTransaction=false, failOnError=false:
    /// never a row), "rollback-count 1" (the row deleted): status lists 4.
    #[test]
    fn failed_and_rolled_back_changesets_are_pending() {
        let e = manifest(&format!("{THREE}4\tdave\tdb/changelog.xml\n"));
        let f = facts(&rows(&[A, B, C], false), &e).unwrap();
        assert_eq!(texts(&f.pending), ["db/changelog.xml::4::dave"]);
        assert!(f.failed.is_empty());
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    /// "a row whose changeset is gone (4, 5)": status "up to date"; the gate: ahead.
    #[test]
    fn rows_the_manifest_does_not_name_are_ahead() {
        let e = manifest(THREE);
        let f = facts(
            &rows(&[A, B, C, ("4", "dave", "db/changelog.xml")], false),
            &e,
        )
        .unwrap();
        assert_eq!(texts(&f.ahead), ["db/changelog.xml::4::dave"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
    }

    /// "while 7 runs (seen from another session)": lock 1|t; "Liquibase killed during 8": it
    /// stays; release-locks frees it.
    #[test]
    fn a_held_lock_is_a_migration_in_progress() {
        let e = manifest(THREE);
        let f = facts(&rows(&[A, B, C], true), &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        assert!(
            f.hints[0].contains("migration in progress"),
            "{:?}",
            f.hints
        );
        assert!(
            facts(&rows(&[A, B, C], false), &e)
                .unwrap()
                .hints
                .is_empty()
        );
    }

    /// The key is the normalised path (RanChangeSet.toString), id and author, compared as
    /// they are.
    #[test]
    fn paths_are_normalised_ids_are_exact() {
        assert_eq!(
            normalize_path("classpath:/db/./x/../changelog.xml"),
            "db/changelog.xml"
        );
        assert_eq!(normalize_path("db\\more\\more.sql"), "db/more/more.sql");
        let e = manifest("1\talice\t/db/changelog.xml\n");
        let f = facts(&rows(&[A], false), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        let f = facts(&rows(&[("1", "Alice", "db/changelog.xml")], false), &e).unwrap();
        assert_eq!(f.pending.len(), 1);
    }

    #[test]
    fn manifests_are_three_fields() {
        for bad in [
            "1\talice\n",
            "1 alice db/changelog.xml\n",
            "1\t\tdb/c.xml\n",
            "1\ta\tf\n1\ta\t./f\n",
        ] {
            assert!(
                Expected::build(Sources {
                    manifest: Some(bad),
                    ..Sources::default()
                })
                .is_err(),
                "{bad:?}"
            );
        }
        let dir = Expected::build(Sources {
            listings: Some(&[]),
            manifest: Some(THREE),
            ..Sources::default()
        });
        assert_eq!(dir.unwrap_err().variable, "GATE_MIGRATIONS_DIR");
    }

    #[test]
    fn rows_that_are_not_liquibases() {
        let e = manifest(THREE);
        let bad = vec![
            Some("x".into()),
            Some("1".into()),
            Some("a".into()),
            Some("f".into()),
            None,
        ];
        assert!(facts(&[bad], &e).is_err());
        assert!(facts(&[vec![None, None, None, None, None]], &e).is_err());
    }
}

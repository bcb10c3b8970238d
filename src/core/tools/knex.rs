//! knex's migrations: `knex_migrations(id, name, batch, migration_time)`, one row per applied
//! file **with its extension**, and `knex_migrations_lock(index, is_locked)`. Pure: no I/O.
//!
//! `docs/tools/knex.md` names the source of each rule and the runs of knex 3.3.0 that
//! confirmed it (`scripts/tools/characterise-knex.sh`). In short:
//!
//! - A migration is its file name (`FsMigrations.getMigrationName`: `20240101_a.js`); renaming
//!   `.cjs` to `.js` makes another migration. Files: every name in each configured directory
//!   (not recursive) whose `path.extname` is one of `loadExtensions` (default `.co .coffee .eg
//!   .iced .js .cjs .litcoffee .ls .ts`; `.mjs` is not, `.hidden.js` is).
//! - Pending: files without a row, in any order. A row without a file makes every knex command
//!   refuse ("The migration directory is corrupt"): the gate calls it `ahead`.
//! - The lock row is set (`is_locked = 1`) in its own committed transaction only when knex runs
//!   without its wrapping transaction (`config = { transaction: false }`, `--disable-transactions`);
//!   then it is visible while the migration runs, and stays set if the migrator dies. A held
//!   lock is `behind`, "migration in progress" (SPEC). A failed migration leaves no row (rows
//!   are inserted after each migration succeeds): knex has no failed state.

use super::lines::{Line, LineState, Lines};
use super::{
    DIR_VAR, ExpectError, FILE_VAR, Facts, Id, Listing, Read, Row, RowError, Sources, VERSION_VAR,
    cell, manifest_lines,
};
use crate::core::status::AppliedAt;
use std::collections::BTreeSet;

/// The table knex creates (`tableName` in the knexfile overrides it; the lock table is the
/// same name with `_lock`).
pub const DEFAULT_TABLE: &str = "knex_migrations";

/// The check's `SELECT`: both tables in one read (`knex_migrations_lock` named from the
/// configured table as `getLockTableName` names it, `<table>_lock`), migrations in the order
/// knex wrote them, then the lock row (`id` NULL). `migration_time` (UTC) is read by the check
/// too: the lock's branch of the `UNION ALL` must have the same columns for `check` and
/// `status`.
pub const READ: Read = Read {
    columns: "id, name, NULL AS is_locked, \
              to_char(migration_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS at",
    status_columns: "id, name, NULL AS is_locked, \
                     to_char(migration_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS at",
    tail: "UNION ALL SELECT NULL, NULL, is_locked, NULL FROM {table:_lock} {guard} \
           ORDER BY id LIMIT 100001",
};

/// knex's default `loadExtensions` (`DEFAULT_LOAD_EXTENSIONS` in `MigrationsLoader.js`).
pub const LOAD_EXTENSIONS: &[&str] = &[
    ".co",
    ".coffee",
    ".eg",
    ".iced",
    ".js",
    ".cjs",
    ".litcoffee",
    ".ls",
    ".ts",
];

/// Node's `path.extname` of a file name: from the last `.`, unless every `.` leads the name.
pub fn extname(name: &str) -> &str {
    match name.rfind('.') {
        Some(at) if !name[..at].chars().all(|c| c == '.') => &name[at..],
        _ => "",
    }
}

/// Whether knex loads a file of this name as a migration.
pub fn is_migration(name: &str) -> bool {
    LOAD_EXTENSIONS.contains(&extname(name))
}

/// What the build expects from knex: migration names, with extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    names: BTreeSet<String>,
}

impl Expected {
    /// From the migrations directories (several `:`-separated, as knex's `directory` may be an
    /// array), or a manifest of names (a custom `migrationSource`, a bundle), or both, which
    /// must agree. knex migrations have no version.
    pub fn build(sources: Sources<'_>) -> Result<Expected, ExpectError> {
        if sources.version.is_some() {
            return Err(ExpectError::new(
                VERSION_VAR,
                "knex migrations are file names, not versions: give the migrations directory \
                 or GATE_EXPECT_FILE (one file name a line)",
            ));
        }
        let mut names = None;
        if let Some(listings) = sources.listings {
            names = Some(from_listings(listings)?);
        }
        if let Some(text) = sources.manifest {
            let mut listed = BTreeSet::new();
            for (line, name) in manifest_lines(text)? {
                if name.contains('/') {
                    return Err(ExpectError::new(
                        FILE_VAR,
                        format!(
                            "line {}: {name:?}: knex records the file name only, no directory",
                            line + 1
                        ),
                    ));
                }
                listed.insert(name.to_string());
            }
            if names.as_ref().is_some_and(|n| *n != listed) {
                return Err(ExpectError::new(
                    FILE_VAR,
                    "lists other migrations than the migrations directories hold",
                ));
            }
            names = Some(listed);
        }
        names
            .map(|names| Expected { names })
            .ok_or_else(|| ExpectError::new(DIR_VAR, "no knex migrations given"))
    }

    /// The newest migration by name (knex runs them in name order).
    pub fn newest(&self) -> Vec<Id> {
        self.names
            .last()
            .map(|n| Id::Text(n.clone()))
            .into_iter()
            .collect()
    }

    /// What `expected` shows: the newest migration by name.
    pub fn target(&self) -> Option<Id> {
        self.names.last().map(|n| Id::Text(n.clone()))
    }
}

/// `status`'s listing, as `knex migrate:status` lists it: every file by name, applied (with
/// `migration_time`) or pending; first, under their own heading, the rows without a file (which
/// make every knex command refuse: "the migration directory is corrupt").
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let mut applied: Vec<(String, Option<AppliedAt>)> = Vec::new();
    for row in rows
        .iter()
        .filter(|r| r.first().is_some_and(Option::is_some))
    {
        let at = row
            .get(3)
            .cloned()
            .flatten()
            .and_then(|t| AppliedAt::parse(&t));
        applied.push((cell(row, 1, "name")?.to_string(), at));
    }
    let when = |name: &str| applied.iter().find(|(n, _)| n == name).map(|(_, at)| *at);
    let mut out = Lines::default();
    for name in &expected.names {
        let line = match when(name) {
            Some(at) => Line::new(
                Id::Text(name.clone()),
                Some(name.clone()),
                LineState::Applied,
                at,
            ),
            None => Line::new(
                Id::Text(name.clone()),
                Some(name.clone()),
                LineState::Pending,
                None,
            ),
        };
        out.migrations.push(line);
    }
    for (name, at) in applied.iter().filter(|(n, _)| !expected.names.contains(n)) {
        out.without_file.push(Line::new(
            Id::Text(name.clone()),
            None,
            LineState::Applied,
            *at,
        ));
    }
    Ok(out)
}

fn from_listings(listings: &[Listing]) -> Result<BTreeSet<String>, ExpectError> {
    let mut names = BTreeSet::new();
    for listing in listings {
        for entry in listing.entries.iter().filter(|e| !e.dir) {
            let name = String::from_utf8_lossy(entry.file_name());
            if is_migration(&name) {
                names.insert(name.into_owned());
            }
        }
    }
    if names.is_empty() {
        let dirs: Vec<&str> = listings.iter().map(|l| l.dir.as_str()).collect();
        return Err(ExpectError::new(
            DIR_VAR,
            format!(
                "no knex migration files ({}) in {}",
                LOAD_EXTENSIONS.join(" "),
                dirs.join(", ")
            ),
        ));
    }
    Ok(names)
}

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    let mut applied: BTreeSet<String> = BTreeSet::new();
    let mut last = None;
    let (mut lock_rows, mut free_rows) = (0, 0);
    for row in rows {
        if row.first().is_some_and(Option::is_some) {
            let name = cell(row, 1, "name")?.to_string();
            last = Some(name.clone());
            applied.insert(name);
        } else {
            lock_rows += 1;
            // `_lockMigrations`: UPDATE … SET is_locked = 1 WHERE is_locked = 0 must touch
            // exactly one row; NULL or any other value is not free.
            if row.get(2).and_then(Option::as_deref) == Some("0") {
                free_rows += 1;
            }
        }
    }
    let mut facts = Facts {
        empty: applied.is_empty(),
        current: last.map(Id::Text).into_iter().collect(),
        ..Facts::default()
    };
    facts.pending = expected
        .names
        .difference(&applied)
        .map(|n| Id::Text(n.clone()))
        .collect();
    facts.ahead = applied
        .difference(&expected.names)
        .map(|n| Id::Text(n.clone()))
        .collect();
    // ensureTable inserts a free lock row into an empty lock table before locking.
    let locked = lock_rows > 0 && free_rows != 1;
    facts.reached = facts.pending.is_empty() && !locked;
    if locked {
        facts.hints.push(
            "migration in progress: the knex_migrations_lock row is locked (a migrator that \
             died leaves it so: knex migrate:unlock frees it)"
                .to_string(),
        );
    }
    if let Some(name) = facts.ahead.first() {
        facts.hints.push(format!(
            "this build's knex refuses to migrate: the migration directory is corrupt, the \
             following files are missing: {name}…"
        ));
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tools::{Entry, Outcome, decide};
    use crate::core::verdict::Policy::{AtLeast, Exact};

    fn migrations(names: &[&str], locked: &[&str]) -> Vec<Row> {
        let mut rows: Vec<Row> = names
            .iter()
            .enumerate()
            .map(|(i, n)| vec![Some((i + 1).to_string()), Some(n.to_string()), None])
            .collect();
        rows.extend(locked.iter().map(|l| vec![None, None, Some(l.to_string())]));
        rows
    }

    fn dir(names: &[&str]) -> Expected {
        let listing = Listing {
            dir: "migrations".into(),
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

    const AB: &[&str] = &["20240101000001_a.js", "20240101000002_b.js"];

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("\"knex_migrations\"", "WHERE g", false),
            "SELECT id, name, NULL AS is_locked, to_char(migration_time AT TIME ZONE 'UTC', \
             'YYYY-MM-DD HH24:MI:SS') AS at FROM \"knex_migrations\" WHERE g UNION ALL SELECT \
             NULL, NULL, is_locked, NULL FROM \"knex_migrations_lock\" WHERE g ORDER BY id \
             LIMIT 100001"
        );
        assert_eq!(
            crate::core::tools::beside("\"app\".\"Knex\"", "_lock"),
            "\"app\".\"Knex_lock\""
        );
        assert_eq!(READ.columns, READ.status_columns);
    }

    #[test]
    fn the_listing_follows_migrate_status() {
        let e = dir(AB);
        let mut r = migrations(&["20240101000001_a.js", "gone.js"], &["0"]);
        r[0].push(Some("2026-12-01 13:00:00".into()));
        let l = lines(&r, &e).unwrap();
        let shown: Vec<(String, LineState)> = l
            .migrations
            .iter()
            .map(|l| (l.version.to_string(), l.state))
            .collect();
        assert_eq!(
            shown,
            [
                ("20240101000001_a.js".to_string(), LineState::Applied),
                ("20240101000002_b.js".to_string(), LineState::Pending)
            ]
        );
        assert!(l.migrations[0].applied_at.is_some());
        assert_eq!(l.without_file[0].version, Id::from("gone.js"));
        assert_eq!(e.target(), Some(Id::from("20240101000002_b.js")));
    }

    /// "names: 4_d.ts 5_e.cjs 6_f.mjs README.md .hidden.js": pending .hidden.js, 4_d.ts,
    /// 5_e.cjs; not .mjs, not README.md.
    #[test]
    fn file_names_follow_load_extensions() {
        assert_eq!(extname(".hidden.js"), ".js");
        assert_eq!(extname(".js"), "");
        assert_eq!(extname("a.d.ts"), ".ts");
        assert_eq!(extname("README"), "");
        let e = dir(&[
            "20240101000004_d.ts",
            "20240101000005_e.cjs",
            "20240101000006_f.mjs",
            "README.md",
            ".hidden.js",
        ]);
        let f = facts(&[], &e).unwrap();
        assert_eq!(
            texts(&f.pending),
            [".hidden.js", "20240101000004_d.ts", "20240101000005_e.cjs"]
        );
    }

    /// "no table: migrate:status" (it creates both tables and the lock row 1|0),
    /// "migrate:latest", "… 3 fails half-way" (both ways: no row), "migrate:rollback".
    #[test]
    fn pending_is_files_without_rows() {
        let e = dir(AB);
        let f = facts(&migrations(&[], &["0"]), &e).unwrap();
        assert!(f.empty);
        assert_eq!(texts(&f.pending), AB);
        let f = facts(&migrations(AB, &["0"]), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["20240101000002_b.js"]);
        let e = dir(&[AB[0], AB[1], "20240101000003_c.js"]);
        let f = facts(&migrations(AB, &["0"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["20240101000003_c.js"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    /// "out of order: a file sorting first": pending, and migrate:latest runs it.
    #[test]
    fn out_of_order_is_pending() {
        let e = dir(&["20231231000000_early.js", AB[0], AB[1]]);
        let f = facts(&migrations(AB, &["0"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["20231231000000_early.js"]);
    }

    /// "a row without a file" and "5_e.cjs renamed to 5_e.js": knex refuses ("corrupt"),
    /// exit 1; the gate: ahead (and the renamed file pending).
    #[test]
    fn rows_without_files_are_ahead() {
        let e = dir(AB);
        let f = facts(
            &migrations(&[AB[0], AB[1], "20991231000000_gone.js"], &["0"]),
            &e,
        )
        .unwrap();
        assert_eq!(texts(&f.ahead), ["20991231000000_gone.js"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        assert!(f.hints[0].contains("corrupt"), "{:?}", f.hints);
        let e = dir(&[AB[0], "20240101000005_e.js"]);
        let f = facts(&migrations(&[AB[0], "20240101000005_e.cjs"], &["0"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["20240101000005_e.js"]);
        assert_eq!(texts(&f.ahead), ["20240101000005_e.cjs"]);
    }

    /// "while 8_slow runs with transaction: false" (lock 1|1 from another session) and
    /// "migrator killed during 8_slow" (1|1 stays; migrate:latest "Migration table is already
    /// locked"; migrate:status exits 0 and does not say). The gate: behind, in progress, even
    /// with nothing pending. "while 8_slow runs in knex's transaction": 1|0 outside, no row:
    /// plain behind.
    #[test]
    fn a_held_lock_is_a_migration_in_progress() {
        let e = dir(AB);
        let f = facts(&migrations(AB, &["1"]), &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        assert!(f.pending.is_empty());
        assert!(
            f.hints[0].contains("migration in progress"),
            "{:?}",
            f.hints
        );
        let f = facts(&migrations(&AB[..1], &["0"]), &e).unwrap();
        assert!(f.hints.is_empty());
        // "migrate:unlock" deletes the row and inserts a new free one (2|0).
        assert!(facts(&migrations(AB, &["0"]), &e).unwrap().reached);
        // Two free rows, or a NULL: knex's UPDATE does not touch exactly one row.
        assert!(!facts(&migrations(AB, &["0", "0"]), &e).unwrap().reached);
        assert!(!facts(&[vec![None, None, None]], &dir(AB)).unwrap().reached);
        // No lock row at all: knex inserts a free one before locking.
        assert!(facts(&migrations(AB, &[]), &e).unwrap().reached);
    }

    /// "two directories": 20240101000007_g.js in ./more is pending.
    #[test]
    fn several_directories_and_manifests() {
        let a = Listing {
            dir: "migrations".into(),
            entries: vec![Entry::file(AB[0])],
        };
        let b = Listing {
            dir: "more".into(),
            entries: vec![Entry::file("20240101000007_g.js")],
        };
        let e = Expected::build(Sources {
            listings: Some(&[a, b]),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&migrations(&AB[..1], &["0"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["20240101000007_g.js"]);
        assert_eq!(texts(&e.newest()), ["20240101000007_g.js"]);
        let m = Expected::build(Sources {
            manifest: Some("20240101000001_a.js\n20240101000007_g.js\n"),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(m, e);
        for (version, manifest) in [(Some("1"), None), (None, Some("migrations/1_a.js"))] {
            assert!(
                Expected::build(Sources {
                    version,
                    manifest,
                    ..Sources::default()
                })
                .is_err()
            );
        }
    }

    #[test]
    fn a_migration_row_needs_a_name() {
        assert!(facts(&[vec![Some("1".into()), None, None]], &dir(AB)).is_err());
    }
}

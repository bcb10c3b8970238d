//! Django's migrations: `django_migrations(id, app, name, applied)`, one row per applied
//! migration. Pure: no I/O.
//!
//! `docs/tools/django.md` names the source of each rule and the runs of Django 5.2.19 that
//! confirmed it (`scripts/tools/characterise-django.sh`). In short:
//!
//! - A row `(app, name)` means applied (`MigrationRecorder`: unapplying deletes the row). A
//!   failed migration leaves no row (the row is written after the body, `record_migration`),
//!   even with `atomic = False`, where what ran before the error stays in the schema.
//! - A squashed migration (`replaces = […]`) counts as applied exactly when every migration it
//!   replaces has a row (`MigrationLoader.build_graph`); its own row does not count, and is
//!   only written by `migrate` once the replaced rows are all there (`check_replacements`).
//!   Partly applied, the graph holds the replaced migrations instead: the ones without a row
//!   are pending.
//! - Which migrations exist comes from importing every installed app's `migrations` package:
//!   the expectation is a manifest written at build time without a database
//!   (`scripts/manifests/django-manifest.py`, `MigrationLoader(None, ignore_no_migrations=True)`),
//!   one `app.name` a line, a squash followed by what it replaces (`app.name: app.a app.b`).
//! - Rows the build does not know (a newer release's, or a deleted file's) are `ahead`.

use super::lines::{Line, LineState, Lines};
use super::{
    DIR_VAR, ExpectError, FILE_VAR, Facts, Id, Read, Row, RowError, Sources, VERSION_VAR, cell,
    manifest_lines,
};
use crate::core::status::AppliedAt;
use std::collections::{BTreeMap, BTreeSet};

/// The table Django creates (not configurable in Django; `GATE_TABLE` may still name a
/// schema-qualified one).
pub const DEFAULT_TABLE: &str = "django_migrations";

/// The check's `SELECT`: in the order Django wrote the rows (`id` is an identity column), so
/// the last row of each app is its newest; `status` adds when (`applied`, in UTC).
pub const READ: Read = Read {
    columns: "app, name",
    status_columns: "app, name, to_char(applied AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
    tail: "ORDER BY id LIMIT 100001",
};

/// A migration: `(app label, migration name)`, as the table holds it.
pub type Key = (String, String);

fn id(key: &Key) -> Id {
    Id::Text(format!("{}.{}", key.0, key.1))
}

/// An `app.name` of the manifest. App labels and migration names are Python identifiers (the
/// name is a module's), so neither holds a dot or white space.
fn parse_key(text: &str) -> Result<Key, String> {
    let valid = |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == ':');
    match text.split_once('.') {
        Some((app, name)) if valid(app) && valid(name) && !name.contains('.') => {
            Ok((app.to_string(), name.to_string()))
        }
        _ => Err(format!("{text:?} is not a Django migration (app.name)")),
    }
}

/// What the build expects from Django: every migration of the graph, each squash with what it
/// replaces (empty for an ordinary migration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    migrations: BTreeMap<Key, Vec<Key>>,
}

impl Expected {
    /// From the manifest only: Django finds its migrations by importing the installed apps,
    /// which only Django can do.
    pub fn build(sources: Sources<'_>) -> Result<Expected, ExpectError> {
        if sources.version.is_some() {
            return Err(ExpectError::new(
                VERSION_VAR,
                "Django migrations are not ordered across apps: give GATE_EXPECT_FILE (written \
                 by scripts/manifests/django-manifest.py at image build)",
            ));
        }
        if sources.listings.is_some() {
            return Err(ExpectError::new(
                DIR_VAR,
                "Django finds its migrations by importing each installed app's migrations \
                 package: give GATE_EXPECT_FILE instead (written by \
                 scripts/manifests/django-manifest.py at image build)",
            ));
        }
        let text = sources
            .manifest
            .ok_or_else(|| ExpectError::new(FILE_VAR, "the Django manifest is required"))?;
        let mut migrations = BTreeMap::new();
        for (line, content) in manifest_lines(text)? {
            let bad = |why: String| ExpectError::new(FILE_VAR, format!("line {}: {why}", line + 1));
            let (head, replaces) = content.split_once(':').unwrap_or((content, ""));
            let key = parse_key(head.trim()).map_err(bad)?;
            let replaces = replaces
                .split_whitespace()
                .map(parse_key)
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?;
            if content.contains(':') && replaces.is_empty() {
                return Err(bad(format!(
                    "{head:?} is followed by a colon but replaces nothing"
                )));
            }
            if migrations.insert(key.clone(), replaces).is_some() {
                return Err(bad(format!("{} is listed twice", id(&key))));
            }
        }
        Ok(Expected { migrations })
    }

    /// Per app, its newest migration by name (Django numbers them `0001_…`, `0002_…`): what
    /// the output shows as expected.
    pub fn newest(&self) -> Vec<Id> {
        let mut newest: BTreeMap<&str, &Key> = BTreeMap::new();
        for key in self.migrations.keys() {
            newest.insert(&key.0, key);
        }
        newest.values().map(|k| id(k)).collect()
    }

    /// What `expected` shows: per app its newest migration, `,`-separated.
    pub fn expected_id(&self) -> Id {
        Id::Text(
            self.newest()
                .iter()
                .map(Id::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
    }
}

/// `status`'s listing, as `showmigrations` shows it: every migration of the manifest (by
/// `app.name`), a squash as one line when all or none of what it replaces has a row, else the
/// migrations it replaces, each applied or pending (the graph Django builds then); first, under
/// their own heading, the rows the manifest does not know (Django never shows them).
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let mut applied: BTreeMap<Key, Option<AppliedAt>> = BTreeMap::new();
    let mut order: Vec<Key> = Vec::new();
    for row in rows {
        let key = (
            cell(row, 0, "app")?.to_string(),
            cell(row, 1, "name")?.to_string(),
        );
        let at = row
            .get(2)
            .cloned()
            .flatten()
            .and_then(|t| AppliedAt::parse(&t));
        if applied.insert(key.clone(), at).is_none() {
            order.push(key);
        }
    }
    let line =
        |key: &Key, state: LineState, at: Option<AppliedAt>| Line::new(id(key), None, state, at);
    let mut out = Lines::default();
    let mut known: BTreeSet<&Key> = BTreeSet::new();
    for (key, replaces) in &expected.migrations {
        known.insert(key);
        known.extend(replaces);
        let have = |k: &Key| applied.get(k).copied();
        if replaces.is_empty() {
            let at = have(key);
            let state = if at.is_some() {
                LineState::Applied
            } else {
                LineState::Pending
            };
            out.migrations.push(line(key, state, at.flatten()));
            continue;
        }
        let found: Vec<Option<Option<AppliedAt>>> = replaces.iter().map(have).collect();
        if found.iter().all(Option::is_some) {
            let at = found.iter().flatten().flatten().last().copied();
            out.migrations.push(line(key, LineState::Applied, at));
        } else if found.iter().all(Option::is_none) {
            out.migrations.push(line(key, LineState::Pending, None));
        } else {
            for (r, at) in replaces.iter().zip(found) {
                let state = if at.is_some() {
                    LineState::Applied
                } else {
                    LineState::Pending
                };
                out.migrations.push(line(r, state, at.flatten()));
            }
        }
    }
    for key in order.iter().filter(|k| !known.contains(k)) {
        out.without_file
            .push(line(key, LineState::Applied, applied[key]));
    }
    Ok(out)
}

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    let mut applied: BTreeSet<Key> = BTreeSet::new();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for row in rows {
        let app = cell(row, 0, "app")?.to_string();
        let name = cell(row, 1, "name")?.to_string();
        last.insert(app.clone(), name.clone());
        applied.insert((app, name));
    }
    let mut facts = Facts {
        empty: rows.is_empty(),
        current: last.into_iter().map(|k| id(&k)).collect(),
        ..Facts::default()
    };
    let mut pending: BTreeSet<Key> = BTreeSet::new();
    let mut known: BTreeSet<&Key> = BTreeSet::new();
    for (key, replaces) in &expected.migrations {
        known.insert(key);
        known.extend(replaces);
        if replaces.is_empty() {
            if !applied.contains(key) {
                pending.insert(key.clone());
            }
            continue;
        }
        let missing: Vec<&Key> = replaces.iter().filter(|r| !applied.contains(*r)).collect();
        if missing.is_empty() {
            continue;
        }
        if missing.len() == replaces.len() {
            // None applied: the graph holds the squash, and migrate runs it.
            pending.insert(key.clone());
        } else {
            // Partly applied: the graph holds the replaced migrations instead (#25945).
            pending.extend(missing.iter().map(|k| (*k).clone()));
            let shown: Vec<String> = missing.iter().map(|k| id(k).to_string()).collect();
            facts.hints.push(format!(
                "{} is partly applied: {} of the migrations it replaces have no row ({}); \
                 Django counts the squash applied only when all of them have one",
                id(key),
                missing.len(),
                shown.join(", ")
            ));
        }
    }
    facts.reached = pending.is_empty();
    facts.pending = pending.iter().map(id).collect();
    facts.ahead = applied
        .iter()
        .filter(|k| !known.contains(k))
        .map(id)
        .collect();
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tools::{Outcome, decide};
    use crate::core::verdict::Policy::{AtLeast, Exact};

    fn rows(keys: &[&str]) -> Vec<Row> {
        keys.iter()
            .map(|k| {
                let (app, name) = k.split_once('.').unwrap();
                vec![Some(app.to_string()), Some(name.to_string())]
            })
            .collect()
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

    /// The manifest django-manifest.py wrote in "two apps" and "0004 added".
    const PLAIN: &str = "# schema-gate expectation: Django migrations\nblog.0001_initial\n\
        blog.0002_b\nblog.0003_c\nblog.0004_fails\nshop.0001_initial\n";
    /// … and in "squashed, replaced files kept" (and "replaced files deleted": the same).
    const SQUASHED: &str = "blog.0001_initial_squashed_0003_c: blog.0001_initial blog.0002_b \
        blog.0003_c\nblog.0004_fails\nshop.0001_initial\n";

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("django_migrations", "", false),
            "SELECT app, name FROM django_migrations ORDER BY id LIMIT 100001"
        );
        assert!(READ.status_columns.starts_with(READ.columns));
    }

    /// "squash partly applied (0001 of 0001..0003)": showmigrations lists `[X] 0001_initial`,
    /// `[ ] 0002_b`, `[ ] 0003_c`; rows without files come first, under their own heading.
    #[test]
    fn the_listing_follows_showmigrations() {
        let e = manifest(SQUASHED);
        let mut r = rows(&["blog.0001_initial", "gone.0001_initial"]);
        r[0].push(Some("2026-12-01 13:00:00".into()));
        let l = lines(&r, &e).unwrap();
        let shown: Vec<(String, LineState)> = l
            .migrations
            .iter()
            .map(|l| (l.version.to_string(), l.state))
            .collect();
        use LineState::*;
        assert_eq!(
            shown,
            [
                ("blog.0001_initial".to_string(), Applied),
                ("blog.0002_b".to_string(), Pending),
                ("blog.0003_c".to_string(), Pending),
                ("blog.0004_fails".to_string(), Pending),
                ("shop.0001_initial".to_string(), Pending),
            ]
        );
        assert!(l.migrations[0].applied_at.is_some());
        assert_eq!(l.without_file.len(), 1);
        assert_eq!(l.without_file[0].version, Id::from("gone.0001_initial"));
        let all = rows(&["blog.0001_initial", "blog.0002_b", "blog.0003_c"]);
        let l = lines(&all, &e).unwrap();
        assert_eq!(l.migrations[0].state, Applied);
        assert_eq!(
            l.migrations[0].version,
            Id::from("blog.0001_initial_squashed_0003_c")
        );
        let l = lines(&[], &e).unwrap();
        assert_eq!(l.migrations.len(), 3);
        assert_eq!(
            e.expected_id(),
            Id::from("blog.0004_fails,shop.0001_initial")
        );
    }

    /// "no table" (the database layer says no_table), "blog at 0001" (migrate --check exits 1,
    /// showmigrations [ ] for the rest), "all applied" (exit 0).
    #[test]
    fn pending_until_every_migration_has_a_row() {
        let e = manifest(PLAIN);
        let f = facts(&[], &e).unwrap();
        assert!(f.empty);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        let f = facts(&rows(&["blog.0001_initial"]), &e).unwrap();
        assert_eq!(
            texts(&f.pending),
            [
                "blog.0002_b",
                "blog.0003_c",
                "blog.0004_fails",
                "shop.0001_initial"
            ]
        );
        let all = [
            "blog.0001_initial",
            "blog.0002_b",
            "blog.0003_c",
            "shop.0001_initial",
            "blog.0004_fails",
        ];
        let f = facts(&rows(&all), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["blog.0004_fails", "shop.0001_initial"]);
        assert_eq!(texts(&e.newest()), ["blog.0004_fails", "shop.0001_initial"]);
    }

    /// "migrate: 0004 fails half-way" (atomic and atomic = False): no row, 0004 pending;
    /// "blog rolled back to 0002": the rows of 0003 and 0004 are deleted.
    #[test]
    fn failed_and_rolled_back_migrations_are_pending() {
        let e = manifest(PLAIN);
        let rolled_back = ["blog.0001_initial", "blog.0002_b", "shop.0001_initial"];
        let f = facts(&rows(&rolled_back), &e).unwrap();
        assert_eq!(texts(&f.pending), ["blog.0003_c", "blog.0004_fails"]);
        assert!(f.failed.is_empty());
    }

    /// "out of order: 0002 unrecorded below 0003": migrate --check and migrate fail with
    /// InconsistentMigrationHistory; showmigrations [ ] 0002_b. The gate: pending.
    #[test]
    fn a_hole_below_applied_migrations_is_pending() {
        let e = manifest(PLAIN);
        let holed = [
            "blog.0001_initial",
            "blog.0003_c",
            "blog.0004_fails",
            "shop.0001_initial",
        ];
        let f = facts(&rows(&holed), &e).unwrap();
        assert_eq!(texts(&f.pending), ["blog.0002_b"]);
    }

    /// "rows without files (blog.0099_gone, app gone)": migrate --check exits 0 and
    /// showmigrations does not list them; the gate calls them ahead.
    #[test]
    fn rows_without_a_migration_are_ahead() {
        let e = manifest(PLAIN);
        let mut all = rows(&[
            "blog.0001_initial",
            "blog.0002_b",
            "blog.0003_c",
            "blog.0004_fails",
            "shop.0001_initial",
        ]);
        all.extend(rows(&["blog.0099_gone", "gone.0001_initial"]));
        let f = facts(&all, &e).unwrap();
        assert_eq!(texts(&f.ahead), ["blog.0099_gone", "gone.0001_initial"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
    }

    /// "squashed, every replaced migration applied, no row for the squash": showmigrations
    /// "[-] … Run 'manage.py migrate' to finish recording", migrate --check exits 0; then
    /// "squash recorded": its row is known, not ahead.
    #[test]
    fn a_squash_is_applied_when_everything_it_replaces_is() {
        let e = manifest(SQUASHED);
        let mut r = vec![
            "blog.0001_initial",
            "blog.0003_c",
            "blog.0004_fails",
            "shop.0001_initial",
            "blog.0002_b",
        ];
        let f = facts(&rows(&r), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        r.push("blog.0001_initial_squashed_0003_c");
        let f = facts(&rows(&r), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert!(f.ahead.is_empty());
    }

    /// "fresh database: migrate with the squash" wrote rows for the three replaced
    /// migrations and then the squash's own; before it, the squash alone is pending.
    #[test]
    fn nothing_applied_the_squash_is_pending() {
        let e = manifest(SQUASHED);
        let f = facts(&[], &e).unwrap();
        assert_eq!(
            texts(&f.pending),
            [
                "blog.0001_initial_squashed_0003_c",
                "blog.0004_fails",
                "shop.0001_initial"
            ]
        );
        assert!(f.hints.is_empty());
    }

    /// "squash partly applied (0001 of 0001..0003)" and "rolled back into the squash (its row
    /// stays)": showmigrations lists the replaced migrations, the missing ones [ ]; migrate
    /// --check exits 1; migrate applies exactly those.
    #[test]
    fn partly_applied_the_replaced_migrations_are_pending() {
        let e = manifest(SQUASHED);
        let f = facts(&rows(&["blog.0001_initial"]), &e).unwrap();
        assert_eq!(
            texts(&f.pending),
            [
                "blog.0002_b",
                "blog.0003_c",
                "blog.0004_fails",
                "shop.0001_initial"
            ]
        );
        assert!(f.hints[0].contains("partly applied"), "{:?}", f.hints);
        let rolled = [
            "blog.0001_initial",
            "blog.0002_b",
            "shop.0001_initial",
            "blog.0001_initial_squashed_0003_c",
        ];
        let f = facts(&rows(&rolled), &e).unwrap();
        assert_eq!(texts(&f.pending), ["blog.0003_c", "blog.0004_fails"]);
    }

    /// "only the squash's own row (no replaced rows)": showmigrations "[ ] 0001_initial_
    /// squashed_0003_c", while migrate --check exits 0 (it only looks at the leaves, which
    /// are applied) and migrate does nothing. The gate takes the loader's side: pending.
    /// Likewise "replaced files deleted, 0002's row gone".
    #[test]
    fn the_squash_row_alone_does_not_count() {
        let e = manifest(SQUASHED);
        let only = [
            "blog.0004_fails",
            "shop.0001_initial",
            "blog.0001_initial_squashed_0003_c",
        ];
        let f = facts(&rows(&only), &e).unwrap();
        assert_eq!(texts(&f.pending), ["blog.0001_initial_squashed_0003_c"]);
        let gone = [
            "blog.0001_initial",
            "shop.0001_initial",
            "blog.0001_initial_squashed_0003_c",
            "blog.0003_c",
            "blog.0004_fails",
        ];
        let f = facts(&rows(&gone), &e).unwrap();
        assert_eq!(texts(&f.pending), ["blog.0002_b"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    #[test]
    fn manifests_are_app_dot_name() {
        for bad in [
            "0001_initial",
            "blog.",
            ".0001",
            "blog.0001.x",
            "blog.a: ",
            "blog.a: b",
            "blog.a\nblog.a",
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
        let e = manifest("blog.s:blog.a  blog.b\n");
        assert!(facts(&rows(&["blog.a", "blog.b"]), &e).unwrap().reached);
        let dir = Expected::build(Sources {
            listings: Some(&[]),
            manifest: Some(PLAIN),
            ..Sources::default()
        });
        assert_eq!(dir.unwrap_err().variable, "GATE_MIGRATIONS_DIR");
        let version = Expected::build(Sources {
            version: Some("0004"),
            manifest: Some(PLAIN),
            ..Sources::default()
        });
        assert_eq!(version.unwrap_err().variable, "GATE_EXPECT_VERSION");
    }

    #[test]
    fn a_null_cell_is_not_djangos() {
        assert!(facts(&[vec![Some("blog".into()), None]], &manifest(PLAIN)).is_err());
    }
}

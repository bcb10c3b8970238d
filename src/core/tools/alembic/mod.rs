//! SQLAlchemy's Alembic: `alembic_version(version_num)`, one row per database head. Pure: no
//! I/O.
//!
//! `docs/tools/alembic.md` names the source of each rule and the runs of Alembic 1.20.1 that
//! confirmed it (`scripts/tools/characterise-alembic.sh`). In short:
//!
//! - The table holds the heads of what is applied, not a history: applying a revision replaces
//!   its parents' rows (`HeadMaintainer`), a merge replaces several rows with one. What is
//!   applied is the rows and everything they descend from, through `down_revision` and
//!   `depends_on` alike (a dependency runs first, and its row goes when its dependent's comes).
//! - The scripts' heads (`RevisionMap.heads`) are the revisions no script names as its
//!   `down_revision`; a revision only depended upon stays a head (alembic prints "effective
//!   head"). `alembic current --check-heads` (1.17.1+) is ready only when the rows equal those
//!   heads exactly, so it fails for ever once a dependency-only head is applied through its
//!   dependent, and fails whenever a newer release's revision is in the table.
//! - The gate's rule (the SPEC's "at least" for graph tools): every script head must be applied.
//!   A row the scripts do not know is a newer release's (`ahead`); it is taken to descend from
//!   this build's heads unless a known row proves otherwise (a head is surely not applied when
//!   a row is one of its ancestors through `down_revision`: applying the head would have
//!   removed that row).
//! - Revisions come from executing each `*.py` file of the versions directory
//!   (`Script._from_path`); the gate reads them statically from the form `alembic revision`
//!   generates (`revision = '…'`, `down_revision = …`, `depends_on = …`, each on one line) and
//!   refuses any other form: then a manifest made by the tool at build time names them.

mod revision;

pub use revision::{Graph, Revision, parse_revision_file};

use super::lines::{Line, LineState, Lines};
use super::{
    DIR_VAR, ExpectError, FILE_VAR, Facts, Id, Listing, Read, Row, RowError, Sources, VERSION_VAR,
    cell, manifest_lines, show,
};
use std::collections::{BTreeMap, BTreeSet};

/// The table Alembic creates (`version_table` in `env.py` overrides it).
pub const DEFAULT_TABLE: &str = "alembic_version";

/// The check's `SELECT`. Alembic records no time.
pub const READ: Read = Read {
    columns: "version_num",
    status_columns: "version_num",
    tail: "ORDER BY version_num LIMIT 100001",
};

/// Which files Alembic loads as revisions (`_only_source_rev_file`,
/// `(?!\.\#|__init__)(.*\.py)$`): every `.py` file but editor locks and `__init__`.
pub fn is_revision_file(name: &[u8]) -> bool {
    name.ends_with(b".py")
        && !name.starts_with(b".#")
        && !name.starts_with(b"__init__")
        && !name.contains(&b'\n')
}

/// The directory rule reads every revision file.
pub fn wants_contents(path: &[u8]) -> bool {
    is_revision_file(path)
}

/// What the build expects from Alembic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The whole revision graph (from the files, or a graph manifest), or only the heads (a
    /// manifest of bare ids, as `alembic heads` prints them).
    graph: Option<Graph>,
    /// The script heads, sorted.
    heads: Vec<String>,
    /// Each revision's file, when read from the versions directory (for `status`).
    files: BTreeMap<String, String>,
}

impl Expected {
    /// From the versions directory (generated files), or a manifest: bare ids are the heads
    /// (`alembic heads`, ` (head)` stripped); lines `rev: down… | depends…` give the whole
    /// graph. Both must agree when both are given. There is no expected version: revisions are
    /// not ordered.
    pub fn build(sources: Sources<'_>) -> Result<Expected, ExpectError> {
        if sources.version.is_some() {
            return Err(ExpectError::new(
                VERSION_VAR,
                "Alembic revisions are not ordered: give the versions directory or \
                 GATE_EXPECT_FILE (the output of alembic heads)",
            ));
        }
        let mut expected = None;
        if let Some(listings) = sources.listings {
            let (graph, files) = from_listings(listings)?;
            let mut from_dir = Expected::from_graph(graph, DIR_VAR)?;
            from_dir.files = files;
            expected = Some(from_dir);
        }
        if let Some(text) = sources.manifest {
            let from_manifest = from_manifest(text)?;
            if let Some(dir) = &expected {
                let agree = match &from_manifest.graph {
                    Some(g) => dir.graph.as_ref() == Some(g),
                    None => dir.heads == from_manifest.heads,
                };
                if !agree {
                    return Err(ExpectError::new(
                        FILE_VAR,
                        "names other revisions than the versions directory holds",
                    ));
                }
            } else {
                expected = Some(from_manifest);
            }
        }
        expected.ok_or_else(|| ExpectError::new(DIR_VAR, "no Alembic revisions given"))
    }

    fn from_graph(graph: Graph, variable: &'static str) -> Result<Expected, ExpectError> {
        let mut named = BTreeSet::new();
        for (id, rev) in &graph {
            for parent in rev.down.iter().chain(&rev.depends) {
                if !graph.contains_key(parent) {
                    return Err(ExpectError::new(
                        variable,
                        format!("Revision {parent} referenced from {id} is not present"),
                    ));
                }
            }
            named.extend(rev.down.iter().cloned());
        }
        let heads: Vec<String> = graph
            .keys()
            .filter(|id| !named.contains(*id))
            .cloned()
            .collect();
        if heads.is_empty() {
            return Err(ExpectError::new(
                variable,
                "the revisions have no head (a cycle)",
            ));
        }
        Ok(Expected {
            graph: Some(graph),
            heads,
            files: BTreeMap::new(),
        })
    }

    /// The script heads, as `alembic heads` lists them.
    pub fn heads(&self) -> Vec<Id> {
        self.heads.iter().map(|h| Id::Text(h.clone())).collect()
    }
}

fn from_listings(listings: &[Listing]) -> Result<(Graph, BTreeMap<String, String>), ExpectError> {
    let mut graph = Graph::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for listing in listings {
        for entry in &listing.entries {
            if entry.dir || !is_revision_file(&entry.path) {
                continue;
            }
            let name = show(&entry.path);
            let fail = |why: String| {
                ExpectError::new(
                    DIR_VAR,
                    format!(
                        "{}/{name}: {why}; Alembic executes its scripts, and the gate reads only \
                         the form alembic revision generates: give GATE_EXPECT_FILE instead (the \
                         output of alembic heads)",
                        listing.dir
                    ),
                )
            };
            let contents = entry
                .contents
                .as_deref()
                .ok_or_else(|| fail("contents not read".to_string()))?;
            let text = std::str::from_utf8(contents).map_err(|_| fail("not UTF-8".into()))?;
            let (id, rev) = parse_revision_file(text).map_err(fail)?;
            if let Some(first) = seen.insert(id.clone(), name.clone()) {
                return Err(ExpectError::new(
                    DIR_VAR,
                    format!("Revision {id} is present more than once: {first} and {name}"),
                ));
            }
            graph.insert(id, rev);
        }
    }
    let files = seen
        .into_iter()
        .map(|(id, name)| (id, name.trim_matches('"').to_string()))
        .collect();
    if graph.is_empty() {
        let dirs: Vec<&str> = listings.iter().map(|l| l.dir.as_str()).collect();
        return Err(ExpectError::new(
            DIR_VAR,
            format!("no Alembic revision files (*.py) in {}", dirs.join(", ")),
        ));
    }
    Ok((graph, files))
}

fn from_manifest(text: &str) -> Result<Expected, ExpectError> {
    let lines = manifest_lines(text)?;
    let graph_form = lines.iter().any(|(_, l)| l.contains(':'));
    let valid = |id: &str| !id.is_empty() && !id.contains(char::is_whitespace) && id != "|";
    if !graph_form {
        let mut heads = Vec::new();
        for (line, id) in lines {
            // `alembic heads` prints "<rev> (head)" or "<rev> (effective head)": the first
            // word is the revision, so its output serves unchanged as well as stripped.
            let id = id.split_whitespace().next().unwrap_or_default();
            if !valid(id) {
                return Err(ExpectError::new(
                    FILE_VAR,
                    format!("line {}: {id:?} is not a revision id", line + 1),
                ));
            }
            heads.push(id.to_string());
        }
        heads.sort();
        heads.dedup();
        return Ok(Expected {
            graph: None,
            heads,
            files: BTreeMap::new(),
        });
    }
    let mut graph = Graph::new();
    for (line, text) in lines {
        let bad = |why: &str| ExpectError::new(FILE_VAR, format!("line {}: {why}", line + 1));
        let (id, rest) = text
            .split_once(':')
            .ok_or_else(|| bad("expected `rev: down… | depends…`"))?;
        let id = id.trim();
        if !valid(id) {
            return Err(bad("not a revision id before the colon"));
        }
        let (down, depends) = rest.split_once('|').unwrap_or((rest, ""));
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        if graph
            .insert(
                id.to_string(),
                Revision {
                    down: words(down),
                    depends: words(depends),
                },
            )
            .is_some()
        {
            return Err(bad("the revision is listed twice"));
        }
    }
    Expected::from_graph(graph, FILE_VAR)
}

/// Every revision `start` descends from (itself excluded), through the chosen edges.
fn ancestors(graph: &Graph, start: &str, with_depends: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![start.to_string()];
    while let Some(id) = stack.pop() {
        let Some(rev) = graph.get(&id) else { continue };
        let parents = rev
            .down
            .iter()
            .chain(rev.depends.iter().filter(|_| with_depends));
        for parent in parents {
            if out.insert(parent.clone()) {
                stack.push(parent.clone());
            }
        }
    }
    out
}

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    let mut db: Vec<String> = Vec::with_capacity(rows.len());
    for row in rows {
        db.push(cell(row, 0, "version_num")?.to_string());
    }
    db.sort();
    db.dedup();
    let mut facts = Facts {
        empty: db.is_empty(),
        current: db.iter().map(|r| Id::Text(r.clone())).collect(),
        ..Facts::default()
    };
    let known = |id: &String| match &expected.graph {
        Some(g) => g.contains_key(id),
        None => expected.heads.contains(id),
    };
    let unknown: Vec<&String> = db.iter().filter(|r| !known(r)).collect();
    facts.ahead = unknown.iter().map(|r| Id::Text((*r).clone())).collect();
    let mut assumed = Vec::new();
    for head in &expected.heads {
        if db.contains(head) {
            continue;
        }
        let applied_through_row = expected.graph.as_ref().is_some_and(|g| {
            db.iter()
                .filter(|r| known(r))
                .any(|r| ancestors(g, r, true).contains(head))
        });
        if applied_through_row {
            continue;
        }
        // Not applied for sure when a known row is an ancestor of it; without the graph any
        // known row other than the heads could be one.
        let surely_behind = match &expected.graph {
            Some(g) => {
                let below = ancestors(g, head, false);
                db.iter().any(|r| below.contains(r))
            }
            None => true,
        };
        if unknown.is_empty() || surely_behind {
            facts.pending.push(Id::Text(head.clone()));
        } else {
            assumed.push(head.clone());
        }
    }
    if !assumed.is_empty() {
        facts.hints.push(format!(
            "head(s) {} are not in the table, which holds revision(s) this build does not know \
             ({}): taken as a newer release's descendants (alembic current --check-heads fails \
             here; it accepts only the build's exact heads)",
            assumed.join(", "),
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if expected.graph.is_none() && !facts.pending.is_empty() && !db.is_empty() {
        facts.hints.push(
            "GATE_EXPECT_FILE lists only heads, so the gate cannot tell an older database from a \
             newer one: list the whole graph (rev: down… | depends…) to let old pods stay ready \
             after a newer release migrated"
                .to_string(),
        );
    }
    facts.reached = !db.is_empty() && facts.pending.is_empty();
    Ok(facts)
}

/// `status`'s listing: every revision of the build, bases first (then by id), applied when it
/// is a row or an ancestor of one (or of a head the row rule took as a newer release's), else
/// pending; with only heads known, the heads. Rows the build does not know come first. Alembic
/// records no time.
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let facts = facts(rows, expected)?;
    let mut db = BTreeSet::new();
    for row in rows {
        db.insert(cell(row, 0, "version_num")?.to_string());
    }
    let pending: BTreeSet<String> = facts.pending.iter().map(Id::to_string).collect();
    let mut applied: BTreeSet<String> = db.clone();
    if let Some(graph) = &expected.graph {
        for r in db.iter().filter(|r| graph.contains_key(*r)) {
            applied.extend(ancestors(graph, r, true));
        }
        for head in expected.heads.iter().filter(|h| !pending.contains(*h)) {
            applied.insert(head.clone());
            applied.extend(ancestors(graph, head, true));
        }
    }
    let order: Vec<String> = match &expected.graph {
        Some(graph) => topological(graph),
        None => expected.heads.clone(),
    };
    let mut out = Lines::default();
    for id in &order {
        let state = match applied.contains(id) {
            true => LineState::Applied,
            false => LineState::Pending,
        };
        let file = expected.files.get(id).cloned();
        out.migrations
            .push(Line::new(Id::Text(id.clone()), file, state, None));
    }
    for id in db.iter().filter(|r| !order.contains(r)) {
        out.without_file.push(Line::new(
            Id::Text(id.clone()),
            None,
            LineState::Applied,
            None,
        ));
    }
    Ok(out)
}

/// The revisions, each after everything it descends from (`down_revision` and `depends_on`),
/// ties broken by id: the order `alembic upgrade` could apply them in.
fn topological(graph: &Graph) -> Vec<String> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::with_capacity(graph.len());
    while out.len() < graph.len() {
        let before = out.len();
        for (id, rev) in graph {
            let ready = rev
                .down
                .iter()
                .chain(&rev.depends)
                .all(|p| done.contains(p.as_str()) || !graph.contains_key(p));
            if !done.contains(id.as_str()) && ready {
                done.insert(id);
                out.push(id.clone());
            }
        }
        if out.len() == before {
            break; // a cycle: from_graph refuses those
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tools::{Entry, Outcome, decide};
    use crate::core::verdict::Policy::{AtLeast, Exact};

    /// A generated revision file, as Alembic 1.20.1's template writes it.
    fn generated(id: &str, down: &str, depends: &str) -> String {
        format!(
            "\"\"\"r{id}\n\nRevision ID: {id}\nRevises: \nCreate Date: 2026-12-01\n\n\"\"\"\n\
             from typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n\n\
             # revision identifiers, used by Alembic.\n\
             revision: str = '{id}'\n\
             down_revision: Union[str, Sequence[str], None] = {down}\n\
             branch_labels: Union[str, Sequence[str], None] = None\n\
             depends_on: Union[str, Sequence[str], None] = {depends}\n\n\n\
             def upgrade() -> None:\n    \"\"\"Upgrade schema.\"\"\"\n    op.execute('CREATE TABLE t (id int)')\n"
        )
    }

    /// The characterisation's scripts: a1 <- b2 <- {c3, d4} <- m5 (merge).
    fn scripts(extra: &[(&str, &str, &str)]) -> Expected {
        let mut files = vec![
            ("a1", "None", "None"),
            ("b2", "'a1'", "None"),
            ("c3", "'b2'", "None"),
            ("d4", "'b2'", "None"),
            ("m5", "('c3', 'd4')", "None"),
        ];
        files.extend_from_slice(extra);
        let listing = Listing {
            dir: "migrations/versions".into(),
            entries: files
                .iter()
                .map(|(id, down, dep)| {
                    Entry::with_contents(&format!("{id}_r{id}.py"), &generated(id, down, dep))
                })
                .collect(),
        };
        Expected::build(Sources {
            listings: Some(&[listing]),
            ..Sources::default()
        })
        .unwrap()
    }

    fn rows(ids: &[&str]) -> Vec<Row> {
        ids.iter().map(|v| vec![Some(v.to_string())]).collect()
    }

    fn texts(ids: &[Id]) -> Vec<String> {
        ids.iter().map(Id::to_string).collect()
    }

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("alembic_version", "", false),
            "SELECT version_num FROM alembic_version ORDER BY version_num LIMIT 100001"
        );
    }

    #[test]
    fn the_listing_walks_the_graph() {
        let e = scripts(&[]);
        let l = lines(&rows(&["c3", "d4"]), &e).unwrap();
        let shown: Vec<(String, LineState)> = l
            .migrations
            .iter()
            .map(|l| (l.version.to_string(), l.state))
            .collect();
        use LineState::*;
        assert_eq!(
            shown,
            [
                ("a1".into(), Applied),
                ("b2".into(), Applied),
                ("c3".into(), Applied),
                ("d4".into(), Applied),
                ("m5".into(), Pending)
            ]
        );
        assert_eq!(l.migrations[0].file.as_deref(), Some("a1_ra1.py"));
        // A newer release's head: everything taken as applied, the unknown row first.
        let l = lines(&rows(&["e6"]), &e).unwrap();
        assert!(l.migrations.iter().all(|l| l.applied), "{l:?}");
        assert_eq!(l.without_file[0].version, Id::from("e6"));
    }

    #[test]
    fn generated_files_parse() {
        let (id, rev) = parse_revision_file(&generated("m5", "('c3', 'd4')", "None")).unwrap();
        assert_eq!(id, "m5");
        assert_eq!(rev.down, ["c3", "d4"]);
        assert!(rev.depends.is_empty());
        let old = "revision = 'ae1027a6acf'\ndown_revision = None\n";
        let (id, rev) = parse_revision_file(old).unwrap();
        assert_eq!((id.as_str(), rev.down.len()), ("ae1027a6acf", 0));
        let deps = "revision = \"f7\"\ndown_revision = None\ndepends_on = ['a1']  # x\n";
        assert_eq!(parse_revision_file(deps).unwrap().1.depends, ["a1"]);
        for bad in [
            "revision = make_id()\ndown_revision = None\n",
            "down_revision = None\n",
            "revision = 'a'\n",
            "revision = 'a'\nrevision = 'b'\ndown_revision = None\n",
            "revision = f'{x}'\ndown_revision = None\n",
            "revision = 'a'\ndown_revision = (\n    'b',\n)\n",
        ] {
            assert!(parse_revision_file(bad).is_err(), "{bad:?}");
        }
        // Names that only start like the three are not them.
        let other = "revision_x = 1\nrevision = 'a'\ndown_revisions = 2\ndown_revision = None\n";
        assert_eq!(parse_revision_file(other).unwrap().0, "a");
        assert!(is_revision_file(b"a1_ra1.py"));
        assert!(is_revision_file(b"_helper.py"));
        assert!(!is_revision_file(b"__init__.py"));
        assert!(!is_revision_file(b".#a1_ra1.py"));
        assert!(!is_revision_file(b"a1_ra1.pyc"));
    }

    /// "branch: … heads" and "merge m5 …: heads": the heads alembic prints.
    #[test]
    fn heads_are_revisions_no_down_revision_names() {
        assert_eq!(texts(&scripts(&[]).heads()), ["m5"]);
        let listing = [Listing {
            dir: "v".into(),
            entries: vec![
                Entry::with_contents("a.py", &generated("a1", "None", "None")),
                Entry::with_contents("c.py", &generated("c3", "'a1'", "None")),
                Entry::with_contents("d.py", &generated("d4", "'a1'", "None")),
            ],
        }];
        let e = Expected::build(Sources {
            listings: Some(&listing),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(texts(&e.heads()), ["c3", "d4"]);
    }

    /// "current --check-heads at a1 (b2 is the head)": exit 255; the gate: behind.
    #[test]
    fn below_the_head_is_behind() {
        let e = scripts(&[]);
        let f = facts(&rows(&["b2"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["m5"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        // "branch: upgrade heads" leaves c3 and d4 before the merge is applied.
        let f = facts(&rows(&["c3", "d4"]), &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        let f = facts(&rows(&["m5"]), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }

    /// "current --check-heads, no table" exits 255; an empty table (after "stamp base") is
    /// behind.
    #[test]
    fn empty_table_is_behind() {
        let f = facts(&[], &scripts(&[])).unwrap();
        assert!(f.empty);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    /// "branch: d4 beside c3": heads c3 and d4; rows {c3} → d4 pending.
    #[test]
    fn unmerged_branches() {
        let listing = [Listing {
            dir: "v".into(),
            entries: vec![
                Entry::with_contents("a.py", &generated("b2", "None", "None")),
                Entry::with_contents("c.py", &generated("c3", "'b2'", "None")),
                Entry::with_contents("d.py", &generated("d4", "'b2'", "None")),
            ],
        }];
        let e = Expected::build(Sources {
            listings: Some(&listing),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&rows(&["c3"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["d4"]);
        let f = facts(&rows(&["c3", "d4"]), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }

    /// "old scripts, database at e6": `current --check-heads` exits 255; the gate: ready under
    /// at-least (ahead), not under exact.
    #[test]
    fn a_newer_release_is_ahead() {
        let e = scripts(&[]);
        let f = facts(&rows(&["e6"]), &e).unwrap();
        assert_eq!(texts(&f.ahead), ["e6"]);
        assert!(f.pending.is_empty());
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        assert!(f.hints[0].contains("--check-heads"), "{:?}", f.hints);
        // But a known row below the head proves the head is not applied.
        let f = facts(&rows(&["c3", "e6"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["m5"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    /// The dependency case (Alembic 1.20.1): y1 depends_on x1, both bases. `alembic heads`
    /// lists x1 (effective head) and y1; `upgrade y1` runs x1 then y1 and leaves the one row
    /// y1; `current --check-heads` then fails even after `upgrade heads`. The gate: ready.
    #[test]
    fn a_dependency_is_applied_through_its_dependent() {
        let listing = [Listing {
            dir: "v".into(),
            entries: vec![
                Entry::with_contents("x.py", &generated("x1", "None", "None")),
                Entry::with_contents("y.py", &generated("y1", "None", "'x1'")),
            ],
        }];
        let e = Expected::build(Sources {
            listings: Some(&listing),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(texts(&e.heads()), ["x1", "y1"]);
        let f = facts(&rows(&["y1"]), &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        let f = facts(&rows(&["x1"]), &e).unwrap();
        assert_eq!(texts(&f.pending), ["y1"]);
    }

    #[test]
    fn heads_only_manifest() {
        let e = Expected::build(Sources {
            manifest: Some("m5 (head)\n"),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(texts(&e.heads()), ["m5"]);
        assert_eq!(
            decide(&facts(&rows(&["m5"]), &e).unwrap(), Exact),
            Outcome::Ready
        );
        // Unknown row, head missing: cannot tell older from newer: behind, with the reason.
        let f = facts(&rows(&["c3"]), &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        assert!(
            f.hints.iter().any(|h| h.contains("only heads")),
            "{:?}",
            f.hints
        );
        // Every head applied, another row besides: ahead.
        let f = facts(&rows(&["m5", "f7"]), &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
    }

    #[test]
    fn graph_manifest_matches_the_files() {
        // As the Python lines of docs/tools/alembic.md print it.
        let text = "m5: c3 d4 |\nc3: b2 |\nd4: b2 |\nb2: a1 |\na1: |\n";
        let e = Expected::build(Sources {
            manifest: Some(text),
            ..Sources::default()
        })
        .unwrap();
        let from_files = scripts(&[]);
        assert_eq!((&e.graph, &e.heads), (&from_files.graph, &from_files.heads));
        let f = facts(&rows(&["e6"]), &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        let dep = Expected::build(Sources {
            manifest: Some("x1:\ny1: | x1\n"),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(texts(&dep.heads()), ["x1", "y1"]);
        for bad in ["a1:\nb2: zz\n", "a1:\na1:\n", "a1: b2\nb2: a1\n"] {
            assert!(
                Expected::build(Sources {
                    manifest: Some(bad),
                    ..Sources::default()
                })
                .is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn files_that_are_not_generated_are_refused() {
        let listing = [Listing {
            dir: "v".into(),
            entries: vec![Entry::with_contents("a.py", "REV = 'a1'\nrevision = REV\n")],
        }];
        let err = Expected::build(Sources {
            listings: Some(&listing),
            ..Sources::default()
        })
        .unwrap_err();
        assert!(err.message.contains("GATE_EXPECT_FILE"), "{err}");
        let dup = [Listing {
            dir: "v".into(),
            entries: vec![
                Entry::with_contents("a.py", &generated("a1", "None", "None")),
                Entry::with_contents("b.py", &generated("a1", "None", "None")),
            ],
        }];
        assert!(
            Expected::build(Sources {
                listings: Some(&dup),
                ..Sources::default()
            })
            .is_err()
        );
        assert!(
            Expected::build(Sources {
                version: Some("m5"),
                ..Sources::default()
            })
            .is_err()
        );
    }
}

//! Every migration tool's bookkeeping, read the way that tool reads it. Pure: no I/O.
//!
//! One module per tool ([`golang_migrate`], [`flyway`], [`alembic`], [`dbmate`]; [`django`],
//! [`rails`], [`sqlx`], [`knex`], [`liquibase`], [`prisma`]), each with the same four parts, so
//! that adding a tool is adding a file:
//!
//! 1. **the read**: the columns of its one `SELECT`, in order (`COLUMNS`), and the SQL text for
//!    a table name the configuration already validated and quoted (`select`);
//! 2. **the row rule**: rows, as text cells the simple query protocol delivers, folded into
//!    [`Facts`] against what the build expects (applied, pending, failed, ahead, checksums);
//! 3. **the directory rule**: file names (and, where the tool hashes or executes them, file
//!    contents) → what the build expects, by the tool's own naming rules;
//! 4. **the expectation file** (`GATE_EXPECT_FILE`): the ids a build expects where names cannot
//!    tell (migrations embedded in a binary, Alembic scripts that are not in the generated form).
//!
//! The edges stay tool-agnostic: the database layer runs [`Expected::select`] and hands the rows
//! to [`Expected::facts`]; the verdict layer turns [`Facts`] into a state with [`decide`]. Where
//! each rule comes from in the tool's source, and what the real CLI did when it was checked, is
//! in `docs/tools/<tool>.md`.

use crate::core::verdict::Policy;
use serde::Serialize;
use std::fmt;

pub mod alembic;
pub mod dbmate;
pub mod django;
pub mod flyway;
pub mod golang_migrate;
pub mod goose;
pub mod knex;
pub mod liquibase;
pub mod prisma;
pub mod rails;
pub mod sqlx;

/// A migration tool the gate knows (`GATE_TOOL`). Never guessed from the tables present: four
/// tools call their table `schema_migrations`, each with its own shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    /// pressly/goose (the default; its rules live in [`crate::core::goose`]).
    Goose,
    /// golang-migrate/migrate.
    GolangMigrate,
    /// Flyway (open-source edition).
    Flyway,
    /// SQLAlchemy's Alembic.
    Alembic,
    /// amacneil/dbmate.
    Dbmate,
    /// Django's migrations (`manage.py migrate`).
    Django,
    /// Rails' Active Record migrations (`rails db:migrate`).
    Rails,
    /// launchbadge/sqlx (`sqlx migrate run`, `sqlx::migrate!()`).
    Sqlx,
    /// knex/knex (`knex migrate:latest`).
    Knex,
    /// Liquibase (open-source 4.x: `liquibase update`).
    Liquibase,
    /// Prisma Migrate (`prisma migrate deploy`).
    Prisma,
}

impl Tool {
    /// Every tool, in the order the documentation lists them.
    pub const ALL: &'static [Tool] = &[
        Tool::Goose,
        Tool::GolangMigrate,
        Tool::Flyway,
        Tool::Alembic,
        Tool::Dbmate,
        Tool::Django,
        Tool::Rails,
        Tool::Sqlx,
        Tool::Knex,
        Tool::Liquibase,
        Tool::Prisma,
    ];

    /// The `GATE_TOOL` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Goose => "goose",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Flyway => "flyway",
            Tool::Alembic => "alembic",
            Tool::Dbmate => "dbmate",
            Tool::Django => "django",
            Tool::Rails => "rails",
            Tool::Sqlx => "sqlx",
            Tool::Knex => "knex",
            Tool::Liquibase => "liquibase",
            Tool::Prisma => "prisma",
        }
    }

    /// The tool named by `GATE_TOOL` (exact, lower case: a typo must not pick another tool).
    pub fn parse(name: &str) -> Option<Tool> {
        Tool::ALL.iter().copied().find(|t| t.as_str() == name)
    }

    /// The table the tool writes unless told otherwise (`GATE_TABLE` overrides it).
    pub fn default_table(self) -> &'static str {
        match self {
            Tool::Goose => "goose_db_version",
            Tool::GolangMigrate => golang_migrate::DEFAULT_TABLE,
            Tool::Flyway => flyway::DEFAULT_TABLE,
            Tool::Alembic => alembic::DEFAULT_TABLE,
            Tool::Dbmate => dbmate::DEFAULT_TABLE,
            Tool::Django => django::DEFAULT_TABLE,
            Tool::Rails => rails::DEFAULT_TABLE,
            Tool::Sqlx => sqlx::DEFAULT_TABLE,
            Tool::Knex => knex::DEFAULT_TABLE,
            Tool::Liquibase => liquibase::DEFAULT_TABLE,
            Tool::Prisma => prisma::DEFAULT_TABLE,
        }
    }

    /// Whether ids are integers (JSON numbers, `schema_gate_version` exported) rather than the
    /// tool's own strings.
    pub fn numeric_ids(self) -> bool {
        matches!(self, Tool::Goose | Tool::GolangMigrate)
    }

    /// How the edge must list a migrations directory for this tool: whether to descend into
    /// subdirectories, and which files' contents the directory rule needs (Flyway hashes every
    /// script, Alembic reads the revision identifiers out of generated scripts).
    pub fn scan(self) -> Scan {
        match self {
            Tool::Goose
            | Tool::GolangMigrate
            | Tool::Dbmate
            | Tool::Django
            | Tool::Knex
            | Tool::Liquibase => Scan {
                recursive: false,
                wants_contents: never,
            },
            Tool::Flyway => Scan {
                recursive: true,
                wants_contents: flyway::wants_contents,
            },
            Tool::Prisma => Scan {
                recursive: true,
                wants_contents: prisma::wants_contents,
            },
            Tool::Rails => Scan {
                recursive: true,
                wants_contents: never,
            },
            Tool::Alembic => Scan {
                recursive: false,
                wants_contents: alembic::wants_contents,
            },
            Tool::Sqlx => Scan {
                recursive: false,
                wants_contents: sqlx::wants_contents,
            },
        }
    }
}

fn never(_: &[u8]) -> bool {
    false
}

/// How to list a directory for a tool (see [`Tool::scan`]).
#[derive(Debug, Clone, Copy)]
pub struct Scan {
    /// Descend into subdirectories (Flyway's filesystem scanner does; the others read one level).
    pub recursive: bool,
    /// Given an entry's path relative to its directory, whether the directory rule needs the
    /// file's contents.
    pub wants_contents: fn(&[u8]) -> bool,
}

/// A migration id as the tool spells it: an integer for goose and golang-migrate, the tool's
/// own text for every other tool (dbmate's `001` is not `1`; Flyway's `1.10` is not `1.1`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum Id {
    /// goose and golang-migrate versions.
    Number(i64),
    /// Everything else (Flyway versions and repeatable descriptions, Alembic revisions, dbmate
    /// versions).
    Text(String),
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::Text(s) => f.write_str(s),
        }
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Id {
        Id::Text(s.to_string())
    }
}

/// One entry of a migrations directory as the edge found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path relative to the listed directory, `/`-separated (only Flyway's recursive scan
    /// makes nested paths). Bytes: names need not be UTF-8.
    pub path: Vec<u8>,
    /// A directory (every tool here skips those by name; goose does not, see `core::goose`).
    pub dir: bool,
    /// The file's bytes, when [`Scan::wants_contents`] asked for them.
    pub contents: Option<Vec<u8>>,
}

impl Entry {
    /// A regular file without contents (for tests and name-only tools).
    pub fn file(path: &str) -> Entry {
        Entry {
            path: path.as_bytes().to_vec(),
            dir: false,
            contents: None,
        }
    }

    /// A regular file with contents.
    pub fn with_contents(path: &str, contents: &str) -> Entry {
        Entry {
            path: path.as_bytes().to_vec(),
            dir: false,
            contents: Some(contents.as_bytes().to_vec()),
        }
    }

    /// A directory.
    pub fn directory(path: &str) -> Entry {
        Entry {
            path: path.as_bytes().to_vec(),
            dir: true,
            contents: None,
        }
    }

    /// The last path component.
    pub fn file_name(&self) -> &[u8] {
        match self.path.iter().rposition(|&b| b == b'/') {
            Some(at) => &self.path[at + 1..],
            None => &self.path,
        }
    }
}

/// One configured directory (`GATE_MIGRATIONS_DIR` may name several, `:`-separated, for tools
/// that read several: dbmate, Flyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The directory as configured (for messages).
    pub dir: String,
    /// Its entries, in any order.
    pub entries: Vec<Entry>,
}

/// A row as the simple query protocol delivers it: one text cell per column of the tool's
/// `COLUMNS`, `None` for SQL NULL.
pub type Row = Vec<Option<String>>;

/// A row the tool would not have written: the table is not this tool's (wrong `GATE_TOOL` or
/// `GATE_TABLE`), or someone edited it. A rejection, not a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError(pub String);

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the tool's table says, measured against what the build expects. Every list is sorted
/// in the tool's own order and cut to [`LIST_LIMIT`]; the verdict layer renders them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// The table holds no rows at all.
    pub empty: bool,
    /// The expectation is met (every expected migration applied, or the expected version
    /// reached), leaving aside `failed`, `ahead` and `checksum_mismatch`.
    pub reached: bool,
    /// What the tool's own status command calls the current version (golang-migrate's
    /// `version`, Flyway's `info` current, dbmate's newest applied file, Alembic's heads: one
    /// entry per row).
    pub current: Vec<Id>,
    /// Expected migrations not applied.
    pub pending: Vec<Id>,
    /// Migrations the tool recorded as started and not finished (golang-migrate `dirty`,
    /// Flyway `success = false`): failed, or still running; the tool cannot tell which.
    pub failed: Vec<Id>,
    /// Applied migrations this build does not know (a newer release migrated).
    pub ahead: Vec<Id>,
    /// Applied migrations whose recorded checksum differs from the shipped file.
    pub checksum_mismatch: Vec<Id>,
    /// What an operator should know that the lists do not say (why waiting will not help,
    /// which of the tool's own commands refuses and why, "migration in progress").
    pub hints: Vec<String>,
}

/// At most this many ids are kept in each list of [`Facts`] that the table can make long.
pub const LIST_LIMIT: usize = 1000;

impl Facts {
    pub(crate) fn cut(&mut self) {
        for list in [
            &mut self.pending,
            &mut self.failed,
            &mut self.ahead,
            &mut self.checksum_mismatch,
        ] {
            list.truncate(LIST_LIMIT);
        }
    }
}

/// The state [`Facts`] leave under a policy. `no_table` and `db_error` are decided before any
/// row is read, by the database layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The expected schema is applied.
    Ready,
    /// Pending migrations, a lower version, an empty table.
    Behind,
    /// A migration was recorded as started and not finished: never ready.
    Failed,
    /// Under `exact`: applied migrations the build does not know, or a checksum mismatch.
    Ahead,
}

/// The one rule every tool shares: failed beats everything, then behind, then (under `exact`
/// only) ahead or a checksum mismatch.
pub fn decide(facts: &Facts, policy: Policy) -> Outcome {
    if !facts.failed.is_empty() {
        Outcome::Failed
    } else if !facts.reached || !facts.pending.is_empty() {
        Outcome::Behind
    } else if policy == Policy::Exact
        && (!facts.ahead.is_empty() || !facts.checksum_mismatch.is_empty())
    {
        Outcome::Ahead
    } else {
        Outcome::Ready
    }
}

/// Where the expectation comes from: any of `GATE_MIGRATIONS_DIR` (listed by the edge),
/// `GATE_EXPECT_VERSION`, `GATE_EXPECT_FILE` (its text). When several are given they must
/// agree, as for goose.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// The listed directories, in the configured order.
    pub listings: Option<&'a [Listing]>,
    /// `GATE_EXPECT_VERSION`, in the tool's own syntax.
    pub version: Option<&'a str>,
    /// The text of the `GATE_EXPECT_FILE` manifest.
    pub manifest: Option<&'a str>,
}

/// Why no expectation could be built; names the variable, as every configuration error does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectError {
    /// `GATE_MIGRATIONS_DIR`, `GATE_EXPECT_VERSION` or `GATE_EXPECT_FILE`.
    pub variable: &'static str,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl ExpectError {
    pub(crate) fn new(variable: &'static str, message: impl Into<String>) -> ExpectError {
        ExpectError {
            variable,
            message: message.into(),
        }
    }
}

impl fmt::Display for ExpectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

/// The variable names, once.
pub(crate) const DIR_VAR: &str = "GATE_MIGRATIONS_DIR";
pub(crate) const VERSION_VAR: &str = "GATE_EXPECT_VERSION";
pub(crate) const FILE_VAR: &str = "GATE_EXPECT_FILE";

/// What this build expects, for one tool: the handle the database and verdict layers hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// See [`golang_migrate::Expected`].
    GolangMigrate(golang_migrate::Expected),
    /// See [`flyway::Expected`].
    Flyway(flyway::Expected),
    /// See [`alembic::Expected`].
    Alembic(alembic::Expected),
    /// See [`dbmate::Expected`].
    Dbmate(dbmate::Expected),
    /// See [`django::Expected`].
    Django(django::Expected),
    /// See [`rails::Expected`].
    Rails(rails::Expected),
    /// See [`sqlx::Expected`].
    Sqlx(sqlx::Expected),
    /// See [`knex::Expected`].
    Knex(knex::Expected),
    /// See [`liquibase::Expected`].
    Liquibase(liquibase::Expected),
    /// See [`prisma::Expected`].
    Prisma(prisma::Expected),
}

impl Expected {
    /// Builds the expectation of `tool` from its sources. goose keeps its own path
    /// (`core::goose`, `core::verdict`) until it moves here through [`goose`]'s adapter.
    pub fn build(tool: Tool, sources: Sources<'_>) -> Result<Expected, ExpectError> {
        if sources.listings.is_none() && sources.version.is_none() && sources.manifest.is_none() {
            return Err(ExpectError::new(
                DIR_VAR,
                "an expectation is required: a migrations directory, GATE_EXPECT_VERSION or \
                 GATE_EXPECT_FILE",
            ));
        }
        match tool {
            Tool::Goose => Err(ExpectError::new(
                DIR_VAR,
                "goose expectations are built by core::goose",
            )),
            Tool::GolangMigrate => {
                golang_migrate::Expected::build(sources).map(Expected::GolangMigrate)
            }
            Tool::Flyway => flyway::Expected::build(sources).map(Expected::Flyway),
            Tool::Alembic => alembic::Expected::build(sources).map(Expected::Alembic),
            Tool::Dbmate => dbmate::Expected::build(sources).map(Expected::Dbmate),
            Tool::Django => django::Expected::build(sources).map(Expected::Django),
            Tool::Rails => rails::Expected::build(sources).map(Expected::Rails),
            Tool::Sqlx => sqlx::Expected::build(sources).map(Expected::Sqlx),
            Tool::Knex => knex::Expected::build(sources).map(Expected::Knex),
            Tool::Liquibase => liquibase::Expected::build(sources).map(Expected::Liquibase),
            Tool::Prisma => prisma::Expected::build(sources).map(Expected::Prisma),
        }
    }

    /// The tool.
    pub fn tool(&self) -> Tool {
        match self {
            Expected::GolangMigrate(_) => Tool::GolangMigrate,
            Expected::Flyway(_) => Tool::Flyway,
            Expected::Alembic(_) => Tool::Alembic,
            Expected::Dbmate(_) => Tool::Dbmate,
            Expected::Django(_) => Tool::Django,
            Expected::Rails(_) => Tool::Rails,
            Expected::Sqlx(_) => Tool::Sqlx,
            Expected::Knex(_) => Tool::Knex,
            Expected::Liquibase(_) => Tool::Liquibase,
            Expected::Prisma(_) => Tool::Prisma,
        }
    }

    /// The check's one `SELECT`, for a table name the configuration validated and quoted.
    pub fn select(&self, table: &str) -> String {
        match self {
            Expected::GolangMigrate(_) => golang_migrate::select(table),
            Expected::Flyway(_) => flyway::select(table),
            Expected::Alembic(_) => alembic::select(table),
            Expected::Dbmate(_) => dbmate::select(table),
            Expected::Django(_) => django::select(table),
            Expected::Rails(_) => rails::select(table),
            Expected::Sqlx(_) => sqlx::select(table),
            Expected::Knex(_) => knex::select(table),
            Expected::Liquibase(_) => liquibase::select(table),
            Expected::Prisma(_) => prisma::select(table),
        }
    }

    /// The rows of that `SELECT`, judged against this expectation.
    pub fn facts(&self, rows: &[Row]) -> Result<Facts, RowError> {
        let mut facts = match self {
            Expected::GolangMigrate(e) => golang_migrate::facts(rows, e),
            Expected::Flyway(e) => flyway::facts(rows, e),
            Expected::Alembic(e) => alembic::facts(rows, e),
            Expected::Dbmate(e) => dbmate::facts(rows, e),
            Expected::Django(e) => django::facts(rows, e),
            Expected::Rails(e) => rails::facts(rows, e),
            Expected::Sqlx(e) => sqlx::facts(rows, e),
            Expected::Knex(e) => knex::facts(rows, e),
            Expected::Liquibase(e) => liquibase::facts(rows, e),
            Expected::Prisma(e) => prisma::facts(rows, e),
        }?;
        facts.cut();
        Ok(facts)
    }

    /// What `expected` shows in the output: the expected version, or the build's newest ids.
    pub fn expected_ids(&self) -> Vec<Id> {
        match self {
            Expected::GolangMigrate(e) => e.target().map(Id::Number).into_iter().collect(),
            Expected::Flyway(e) => e.target().into_iter().collect(),
            Expected::Alembic(e) => e.heads(),
            Expected::Dbmate(e) => e.target().into_iter().collect(),
            Expected::Django(e) => e.newest(),
            Expected::Rails(e) => e.target().into_iter().collect(),
            Expected::Sqlx(e) => e.target().into_iter().collect(),
            Expected::Knex(e) => e.newest(),
            Expected::Liquibase(e) => e.newest(),
            Expected::Prisma(e) => e.newest(),
        }
    }
}

/// The ids of a `GATE_EXPECT_FILE` manifest: UTF-8, one id a line, surrounding white space
/// ignored, blank lines and lines starting with `#` skipped. Duplicates are refused (a manifest
/// made by a tool never repeats an id; a repeated one is a mistake worth naming).
pub fn manifest_lines(text: &str) -> Result<Vec<(usize, &str)>, ExpectError> {
    let mut out: Vec<(usize, &str)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((first, _)) = out.iter().find(|(_, seen)| *seen == line) {
            return Err(ExpectError::new(
                FILE_VAR,
                format!(
                    "line {} repeats {line:?} from line {}",
                    index + 1,
                    first + 1
                ),
            ));
        }
        out.push((index, line));
    }
    if out.is_empty() {
        return Err(ExpectError::new(
            FILE_VAR,
            "the manifest lists no migration",
        ));
    }
    Ok(out)
}

/// A cell that must hold a value.
pub(crate) fn cell<'a>(row: &'a Row, index: usize, column: &str) -> Result<&'a str, RowError> {
    match row.get(index) {
        Some(Some(value)) => Ok(value),
        Some(None) => Err(RowError(format!("column {column} is NULL"))),
        None => Err(RowError(format!("column {column} is missing"))),
    }
}

/// A boolean cell in the simple query protocol's text form (`t` / `f`).
pub(crate) fn bool_cell(row: &Row, index: usize, column: &str) -> Result<bool, RowError> {
    match cell(row, index, column)? {
        "t" => Ok(true),
        "f" => Ok(false),
        other => Err(RowError(format!(
            "column {column} is {other:?}, not a boolean"
        ))),
    }
}

/// Quotes one identifier for SQL (`"…"`, `"` doubled): for tests and for tools that name
/// their table in parts.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A name for a message: printable ASCII as is, every other byte as `\xNN`, quoted.
pub(crate) fn show(name: &[u8]) -> String {
    crate::core::goose::show_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            reached: true,
            ..Facts::default()
        }
    }

    #[test]
    fn names_and_tables() {
        for tool in Tool::ALL {
            assert_eq!(Tool::parse(tool.as_str()), Some(*tool));
        }
        assert_eq!(Tool::parse("Flyway"), None);
        assert_eq!(Tool::parse("migrate"), None);
        assert_eq!(Tool::GolangMigrate.default_table(), "schema_migrations");
        assert_eq!(Tool::Dbmate.default_table(), "schema_migrations");
        assert_eq!(Tool::Flyway.default_table(), "flyway_schema_history");
        assert_eq!(Tool::Alembic.default_table(), "alembic_version");
        assert!(Tool::GolangMigrate.numeric_ids());
        assert!(!Tool::Dbmate.numeric_ids());
        assert!(Tool::Flyway.scan().recursive);
        assert!(!Tool::Dbmate.scan().recursive);
    }

    #[test]
    fn issue_19_tools() {
        let tables: Vec<&str> = [
            Tool::Django,
            Tool::Rails,
            Tool::Sqlx,
            Tool::Knex,
            Tool::Liquibase,
            Tool::Prisma,
        ]
        .iter()
        .map(|t| t.default_table())
        .collect();
        assert_eq!(
            tables,
            [
                "django_migrations",
                "schema_migrations",
                "_sqlx_migrations",
                "knex_migrations",
                "databasechangelog",
                "_prisma_migrations"
            ]
        );
        assert!(Tool::Rails.scan().recursive && Tool::Prisma.scan().recursive);
        assert!((Tool::Sqlx.scan().wants_contents)(b"1_a.sql"));
        assert!(!Tool::Rails.numeric_ids() && !Tool::Sqlx.numeric_ids());
        let e = Expected::build(
            Tool::Knex,
            Sources {
                manifest: Some("1_a.js\n"),
                ..Sources::default()
            },
        )
        .unwrap();
        assert_eq!(e.tool(), Tool::Knex);
        assert!(e.select("knex_migrations").contains("knex_migrations_lock"));
    }

    #[test]
    fn ids_serialise_as_numbers_or_strings() {
        let ids = vec![Id::Number(3), Id::from("1.10")];
        assert_eq!(serde_json::to_string(&ids).unwrap(), r#"[3,"1.10"]"#);
        assert_eq!(Id::from("001").to_string(), "001");
    }

    #[test]
    fn failed_beats_behind_beats_ahead() {
        let mut f = facts();
        assert_eq!(decide(&f, Policy::Exact), Outcome::Ready);
        f.ahead.push(Id::Number(9));
        assert_eq!(decide(&f, Policy::AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Policy::Exact), Outcome::Ahead);
        f.pending.push(Id::Number(3));
        assert_eq!(decide(&f, Policy::Exact), Outcome::Behind);
        f.failed.push(Id::Number(3));
        assert_eq!(decide(&f, Policy::AtLeast), Outcome::Failed);
        let mut g = facts();
        g.reached = false;
        assert_eq!(decide(&g, Policy::AtLeast), Outcome::Behind);
        let mut h = facts();
        h.checksum_mismatch.push(Id::from("1"));
        assert_eq!(decide(&h, Policy::AtLeast), Outcome::Ready);
        assert_eq!(decide(&h, Policy::Exact), Outcome::Ahead);
    }

    #[test]
    fn manifests_skip_comments_and_refuse_repeats() {
        let lines = manifest_lines("# made by alembic heads\n\n  ae1027a6acf \r\nb2\n").unwrap();
        assert_eq!(lines, vec![(2, "ae1027a6acf"), (3, "b2")]);
        let err = manifest_lines("a\nb\na\n").unwrap_err();
        assert_eq!(err.variable, "GATE_EXPECT_FILE");
        assert!(
            err.message.contains("line 3 repeats \"a\" from line 1"),
            "{err}"
        );
        assert!(manifest_lines("# nothing\n").is_err());
    }

    #[test]
    fn no_source_is_an_error() {
        let err = Expected::build(Tool::Dbmate, Sources::default()).unwrap_err();
        assert!(err.message.contains("expectation is required"), "{err}");
    }

    #[test]
    fn entries_know_their_file_name() {
        assert_eq!(Entry::file("sub/V1__a.sql").file_name(), b"V1__a.sql");
        assert_eq!(Entry::file("V1__a.sql").file_name(), b"V1__a.sql");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}

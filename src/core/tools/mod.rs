//! Every migration tool's bookkeeping, read the way that tool reads it. Pure: no I/O.
//!
//! One module per tool ([`golang_migrate`], [`flyway`], [`alembic`], [`dbmate`]; [`goose`] is
//! goose's read and its adapter onto [`Facts`]), each with the same parts, so that adding a tool
//! is adding a file. [`django`], [`rails`], [`sqlx`], [`knex`], [`liquibase`] and [`prisma`]
//! hold rules characterised against each tool's real CLI (issue 19) that `GATE_TOOL` accepts
//! only once the tool's real-CLI differential (`tests/tools_<tool>.rs`) is green and the tool
//! is in [`Tool::ALL`]:
//!
//! 1. **the read** (`READ`, a [`Read`]): the columns of its one `SELECT`, in order, and its
//!    order and bound;
//! 2. **the row rule** (`facts`): rows, as the text cells the simple query protocol delivers,
//!    folded into [`Facts`] against what the build expects (applied, pending, failed, ahead,
//!    checksums), or a [`RowError`] when the rows are not the tool's;
//! 3. **the directory rule**: file names (and, where the tool hashes or executes them, file
//!    contents) → what the build expects, by the tool's own naming rules ([`Tool::scan`] tells
//!    the edge how to list);
//! 4. **the expectation file** (`GATE_EXPECT_FILE`): the ids a build expects where names cannot
//!    tell (migrations embedded in a binary, Alembic scripts that are not in the generated form);
//! 5. **the listing** (`lines`): `status`'s per-migration view ([`lines`]).
//!
//! The edges stay tool-agnostic: the database layer runs [`Read`] inside its guarded
//! transaction and hands the rows to [`Expected::facts`]; the verdict layer turns [`Facts`] into
//! a state with [`decide`]. Where each rule comes from in the tool's source, and what the real
//! CLI did when it was checked, is in `docs/tools/<tool>.md`.

use crate::core::verdict::Policy;
use serde::Serialize;
use std::fmt;

pub mod alembic;
pub mod dbmate;
pub mod django;
mod expect;
pub mod flyway;
pub mod golang_migrate;
pub mod goose;
pub mod knex;
pub mod lines;
pub mod liquibase;
pub mod prisma;
pub mod rails;
pub mod sqlx;

pub(crate) use expect::{DIR_VAR, FILE_VAR, VERSION_VAR};
pub use expect::{Entry, ExpectError, Expected, Listing, Sources, manifest_lines};

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
    /// knex/knex (`knex migrate:latest`).
    Knex,
    /// Liquibase (open-source 4.x: `liquibase update`).
    Liquibase,
    /// launchbadge/sqlx (`sqlx migrate run`, `sqlx::migrate!()`).
    Sqlx,
    /// Rails' Active Record (`rails db:migrate`).
    Rails,
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
        Tool::Knex,
        Tool::Liquibase,
        Tool::Sqlx,
        Tool::Rails,
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
            Tool::Knex => "knex",
            Tool::Liquibase => "liquibase",
            Tool::Sqlx => "sqlx",
            Tool::Rails => "rails",
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
            Tool::Knex => knex::DEFAULT_TABLE,
            Tool::Liquibase => liquibase::DEFAULT_TABLE,
            Tool::Sqlx => sqlx::DEFAULT_TABLE,
            Tool::Rails => rails::DEFAULT_TABLE,
            Tool::Prisma => prisma::DEFAULT_TABLE,
        }
    }

    /// The check's one `SELECT`, in parts (see [`Read`]).
    pub fn read(self) -> Read {
        match self {
            Tool::Goose => goose::READ,
            Tool::GolangMigrate => golang_migrate::READ,
            Tool::Flyway => flyway::READ,
            Tool::Alembic => alembic::READ,
            Tool::Dbmate => dbmate::READ,
            Tool::Django => django::READ,
            Tool::Knex => knex::READ,
            Tool::Liquibase => liquibase::READ,
            Tool::Sqlx => sqlx::READ,
            Tool::Rails => rails::READ,
            Tool::Prisma => prisma::READ,
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
            Tool::Alembic => Scan {
                recursive: false,
                wants_contents: alembic::wants_contents,
            },
            Tool::Sqlx => Scan {
                recursive: false,
                wants_contents: sqlx::wants_contents,
            },
            Tool::Rails => Scan {
                recursive: true,
                wants_contents: never,
            },
            Tool::Prisma => Scan {
                recursive: true,
                wants_contents: prisma::wants_contents,
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

/// A number id equals that number (goose's and golang-migrate's versions).
impl PartialEq<i64> for Id {
    fn eq(&self, other: &i64) -> bool {
        *self == Id::Number(*other)
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Id {
        Id::Text(s.to_string())
    }
}

/// The check's one `SELECT`, in parts, so that the database layer (which knows no tool) can put
/// its guard between the table and the rest: `SELECT {columns} FROM <table> <guard> {tail}`.
/// Read-only, one statement, nothing but the tool's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// The columns, in the order the row rule reads them. The first one's name tells the
    /// table's rows apart from the rest of the check's answer.
    pub columns: &'static str,
    /// The same, plus (where the tool records it) when each migration was applied: `status`.
    pub status_columns: &'static str,
    /// `ORDER BY …` and `LIMIT …` (every table but goose's is read up to [`ROW_LIMIT`] rows plus
    /// one, so that a table that is not the tool's cannot grow the gate without bound). A tool
    /// that keeps a second table beside its own (knex's lock) reads it here, in the same
    /// statement: `UNION ALL SELECT … FROM {table:SUFFIX} {guard}`, where `{table:SUFFIX}` is
    /// the configured table's name with SUFFIX appended (as the tool names it) and `{guard}`
    /// the same guard, so a rejected resolution reads neither table.
    pub tail: &'static str,
}

impl Read {
    /// The name of the first column: the one a row of the table is recognised by.
    pub fn first_column(&self) -> &'static str {
        self.columns.split(',').next().unwrap_or_default().trim()
    }

    /// The `SELECT` on `table` (validated and quoted), with `guard` after the table.
    pub fn select(&self, table: &str, guard: &str, status: bool) -> String {
        let columns = if status {
            self.status_columns
        } else {
            self.columns
        };
        let guard = if guard.is_empty() {
            String::new()
        } else {
            format!(" {guard}")
        };
        let mut tail = self.tail.replace("{guard}", guard.trim_start());
        if let Some(at) = tail.find("{table:")
            && let Some(len) = tail[at..].find('}')
        {
            let suffix = tail[at + "{table:".len()..at + len].to_string();
            tail.replace_range(at..at + len + 1, &beside(table, &suffix));
        }
        format!("SELECT {columns} FROM {table}{guard} {tail}")
    }
}

/// The name of a tool's second table: the (validated, quoted) `table` with `suffix` appended
/// to its last part, in the same schema (knex's `getLockTableName`: `<table>_lock`).
pub fn beside(table: &str, suffix: &str) -> String {
    match table.strip_suffix('"') {
        Some(open) => format!("{open}{suffix}\""),
        None => format!("{table}{suffix}"),
    }
}

/// At most this many rows are read from a tool's table (goose's streams without a bound): more
/// than any real project has migrations, few enough that a table that is not the tool's cannot
/// exhaust a sidecar's memory. One row more is a rejection.
pub const ROW_LIMIT: usize = 100_000;

/// A row as the simple query protocol delivers it: one text cell per column of the tool's
/// [`Read::columns`], `None` for SQL NULL.
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
    fn reads_put_the_guard_after_the_table() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        let read = Tool::Dbmate.read();
        assert_eq!(read.first_column(), "version");
        assert_eq!(
            read.select("\"schema_migrations\"", "WHERE true", false),
            "SELECT version FROM \"schema_migrations\" WHERE true ORDER BY version LIMIT 100001"
        );
        assert_eq!(Tool::Flyway.read().first_column(), "installed_rank");
        for tool in Tool::ALL {
            let read = tool.read();
            assert!(read.status_columns.starts_with(read.columns), "{tool:?}");
        }
    }
}

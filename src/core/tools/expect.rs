//! What a build expects, for every tool but goose: the sources it comes from (directories as
//! the edge listed them, `GATE_EXPECT_VERSION`, the `GATE_EXPECT_FILE` manifest), the errors
//! that name their variable, and [`Expected`], the one handle the database and verdict layers
//! hold: its read, its row rule, its status listing. Pure: no I/O.

use super::{
    Facts, Id, Read, Row, RowError, Tool, alembic, dbmate, django, flyway, golang_migrate, knex,
    lines::Lines, liquibase, prisma, rails, sqlx,
};
use std::fmt;

/// One entry of a migrations directory as the edge found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path relative to the listed directory, `/`-separated (only Flyway's recursive scan
    /// makes nested paths). Bytes: names need not be UTF-8.
    pub path: Vec<u8>,
    /// A directory (every tool here skips those by name; goose does not, see `core::goose`).
    pub dir: bool,
    /// The file's bytes, when [`super::Scan::wants_contents`] asked for them.
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
    /// See [`knex::Expected`].
    Knex(knex::Expected),
    /// See [`liquibase::Expected`].
    Liquibase(liquibase::Expected),
    /// See [`sqlx::Expected`].
    Sqlx(sqlx::Expected),
    /// See [`rails::Expected`].
    Rails(rails::Expected),
    /// See [`prisma::Expected`].
    Prisma(prisma::Expected),
}

impl Expected {
    /// Builds the expectation of `tool` from its sources. goose keeps its own path
    /// (`core::goose`, `core::verdict`), whose rows are folded as they stream.
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
            Tool::Knex => knex::Expected::build(sources).map(Expected::Knex),
            Tool::Liquibase => liquibase::Expected::build(sources).map(Expected::Liquibase),
            Tool::Sqlx => sqlx::Expected::build(sources).map(Expected::Sqlx),
            Tool::Rails => rails::Expected::build(sources).map(Expected::Rails),
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
            Expected::Knex(_) => Tool::Knex,
            Expected::Liquibase(_) => Tool::Liquibase,
            Expected::Sqlx(_) => Tool::Sqlx,
            Expected::Rails(_) => Tool::Rails,
            Expected::Prisma(_) => Tool::Prisma,
        }
    }

    /// The check's one `SELECT`, in parts (see [`Read`]).
    pub fn read(&self) -> Read {
        self.tool().read()
    }

    /// The rows of that `SELECT`, judged against this expectation (lists cut to
    /// [`super::LIST_LIMIT`]).
    pub fn facts(&self, rows: &[Row]) -> Result<Facts, RowError> {
        let mut facts = match self {
            Expected::GolangMigrate(e) => golang_migrate::facts(rows, e),
            Expected::Flyway(e) => flyway::facts(rows, e),
            Expected::Alembic(e) => alembic::facts(rows, e),
            Expected::Dbmate(e) => dbmate::facts(rows, e),
            Expected::Django(e) => django::facts(rows, e),
            Expected::Knex(e) => knex::facts(rows, e),
            Expected::Liquibase(e) => liquibase::facts(rows, e),
            Expected::Sqlx(e) => sqlx::facts(rows, e),
            Expected::Rails(e) => rails::facts(rows, e),
            Expected::Prisma(e) => prisma::facts(rows, e),
        }?;
        facts.cut();
        Ok(facts)
    }

    /// `status`'s listing of the rows (those of [`Read::status_columns`]): every migration the
    /// build has, applied, failed or pending (with when, where the tool records it), and the
    /// applied ones it does not have.
    pub fn lines(&self, rows: &[Row]) -> Result<Lines, RowError> {
        match self {
            Expected::GolangMigrate(e) => golang_migrate::lines(rows, e),
            Expected::Flyway(e) => flyway::lines(rows, e),
            Expected::Alembic(e) => alembic::lines(rows, e),
            Expected::Dbmate(e) => dbmate::lines(rows, e),
            Expected::Django(e) => django::lines(rows, e),
            Expected::Knex(e) => knex::lines(rows, e),
            Expected::Liquibase(e) => liquibase::lines(rows, e),
            Expected::Sqlx(e) => sqlx::lines(rows, e),
            Expected::Rails(e) => rails::lines(rows, e),
            Expected::Prisma(e) => prisma::lines(rows, e),
        }
    }

    /// What `expected` shows in the output: the expected version (golang-migrate, Flyway,
    /// dbmate), or the script heads, `,`-separated (Alembic). `None`: a Flyway build of
    /// repeatable scripts only.
    pub fn expected_id(&self) -> Option<Id> {
        match self {
            Expected::GolangMigrate(e) => e.target().map(Id::Number),
            Expected::Flyway(e) => e.target(),
            Expected::Alembic(e) => Some(Id::Text(
                e.heads()
                    .iter()
                    .map(Id::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            Expected::Dbmate(e) => e.target(),
            Expected::Django(e) => Some(e.expected_id()),
            Expected::Knex(e) => e.target(),
            Expected::Liquibase(e) => e.target(),
            Expected::Sqlx(e) => e.target(),
            Expected::Rails(e) => e.target(),
            Expected::Prisma(e) => e.target(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}

//! The pure core: every tool's semantics and the verdict, free of I/O, so every rule is a fast
//! unit test (`docs/goose.md` and `docs/tools/<tool>.md` list the rules and the source they come
//! from).
//!
//! - [`goose`]: rows of the version table → [`goose::TableFacts`] (one streaming pass); migration
//!   file names → versions.
//! - [`tools`]: every other tool, one module each (the read, the row rule, the directory rule,
//!   the expectation file, the listing), and the shared [`tools::Facts`] and [`tools::decide`].
//! - [`read`]: one read of the configured tool's table, folded as its rows stream in
//!   ([`read::Fold`]); what the database layer hands its rows to.
//! - [`verdict`]: [`verdict::Expect`] (goose's [`verdict::Expectation`] or a tool's) + facts →
//!   [`verdict::Verdict`]; its text, JSON and exit code.
//! - [`status`]: `schema-gate status`'s listing: one streaming merge of the table's versions and
//!   the files, framed as goose's text or as one JSON document.
//! - [`table`]: the version table's name as goose takes it (quoted or folded parts) and as the
//!   gate's SQL names it.

pub mod goose;
pub mod read;
pub mod status;
pub mod table;
pub mod tools;
pub mod verdict;

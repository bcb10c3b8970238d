//! The pure core: goose's semantics and the verdict, free of I/O, so every rule is a fast unit
//! test (`docs/goose.md` lists the rules and the goose source they come from).
//!
//! - [`goose`]: rows of the version table → [`goose::TableFacts`] (one streaming pass); migration
//!   file names → versions.
//! - [`verdict`]: [`verdict::Expectation`] + facts → [`verdict::Verdict`]; its text, JSON and exit
//!   code.
//! - [`status`]: `schema-gate status`'s listing: one streaming merge of the table's versions and
//!   the files, framed as goose's text or as one JSON document.
//! - [`table`]: the version table's name as goose takes it (quoted or folded parts) and as the
//!   gate's SQL names it.

pub mod goose;
pub mod status;
pub mod table;
pub mod tools;
pub mod verdict;

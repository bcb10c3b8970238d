//! schema-gate keeps Kubernetes pods from running against a stale database schema: it reads the
//! migration tool's table (goose's by default; golang-migrate's, Flyway's, Alembic's, dbmate's
//! with `GATE_TOOL`) and answers one question, *is the schema this build expects applied?*, in
//! four ways: `wait` (init container), `serve` (sidecar), `check` (deploy scripts) and `status`
//! (operators).
//!
//! Modules, from the pure core outwards:
//!
//! - [`core`]: each tool's semantics (rows and file names → facts; one module per tool under
//!   [`core::tools`]), the fold a read's rows go through, the verdict, the status listing. Pure:
//!   no I/O, no clock.
//! - [`config`]: environment and flags → validated [`config::Settings`], from one table of
//!   variables; every mistake names its variable.
//! - [`postgres`]: DSNs, TLS, and the only code that talks to the database (tool-agnostic: it
//!   runs the tool's one `SELECT` and hands the rows to the core).
//! - [`modes`]: `check`, `status`, `wait`, `serve` (with its cached readiness, routes, listener
//!   and metrics), and [`modes::Finish`], how a mode ends.
//! - [`cli`]: argv → mode and flag values.
//! - The thin edges: `files` (reading what a user names: capped, regular files, never
//!   blocking), [`signals`], [`termination`] (the Kubernetes termination message), [`logging`],
//!   `jitter` (randomness without a crate), [`time`] (durations and times for people).
//!
//! Errors and exit codes: [`exit`] holds every exit code of `docs/contract.md` and imports
//! nothing; each error type gives its own code ([`config::ConfigError::exit_code`], 2;
//! [`postgres::db::CheckError::exit_code`], 3), and a verdict's code is
//! [`core::verdict::State::exit_code`]. Lower modules never import higher ones.

// Output goes through writes that ignore failure (`logging::stderr_line`, `modes::print_line`,
// the log's writer): `println!`/`eprintln!` panic when stdout or stderr fails.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod config;
pub mod core;
pub mod exit;
pub(crate) mod files;
pub(crate) mod jitter;
pub mod logging;
pub mod modes;
pub mod postgres;
pub mod signals;
pub mod termination;
pub mod time;

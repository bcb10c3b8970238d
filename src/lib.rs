//! schema-gate keeps Kubernetes pods from running against a stale database schema: it reads the
//! goose version table and answers one question, *is the schema this build expects applied?*,
//! in three ways: `wait` (init container), `serve` (sidecar), `check` (deploy scripts).
//!
//! Modules, from the pure core outwards:
//!
//! - [`goose`]: what goose wrote, read the way goose reads it (rows → [`goose::AppliedSet`],
//!   migration file names → versions). Pure.
//! - [`verdict`]: [`verdict::Expectation`] + table → [`verdict::Verdict`]; its text, JSON and exit
//!   code. Pure.
//! - [`config`]: environment and flags → validated [`config::Settings`]; every mistake names its
//!   variable.
//! - [`dsn`]: libpq connection strings, `PG*` variables and the password file → [`dsn::Target`].
//! - [`tls`]: libpq's `sslmode` certificate rules on rustls.
//! - [`db`]: the only code that talks to Postgres: connect, one read-only transaction, error
//!   classification (transient or fatal).
//! - [`cli`]: argv → mode and flag values.
//! - [`check`], [`wait`], [`serve`]: the modes, and [`check::Finish`], how a mode ends;
//!   `check` also runs `status`.
//! - [`status`]: `schema-gate status`'s listing, like `goose status` but read-only. Pure.
//! - [`files`]: reading the files a user names: capped, regular files only, never blocking.
//! - [`readiness`]: `serve`'s cached verdict and its rules (outage keeps, staleness fails). Pure.
//! - [`http`]: `serve`'s endpoints, routed by one `match`, and the hardened listener.
//! - [`metrics`]: `serve`'s Prometheus metrics.
//! - [`signals`], [`jitter`], [`logging`], [`termination`]: the thin edges.

pub mod check;
pub mod cli;
pub mod config;
pub mod db;
pub mod dsn;
pub mod files;
pub mod goose;
pub mod http;
pub mod jitter;
pub mod logging;
pub mod metrics;
pub mod readiness;
pub mod serve;
pub mod signals;
pub mod status;
pub mod termination;
pub mod time;
pub mod tls;
pub mod verdict;
pub mod wait;

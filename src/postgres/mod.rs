//! Everything about reaching Postgres, at the edge of the pure core.
//!
//! - [`dsn`]: libpq connection strings, `PG*` variables and the password file → [`dsn::Target`].
//! - `tls`: libpq's `sslmode` certificate rules on rustls.
//! - [`db`]: the only code that talks to Postgres: connect (host by host), one read-only
//!   transaction streamed through the core's scan, cancel what it abandons, classify errors.

pub mod db;
pub mod dsn;
pub(crate) mod tls;

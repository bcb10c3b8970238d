//! What a failed check means: the message an operator reads (with the causes tokio-postgres's
//! `Display` hides) and whether it is a rejection (the database answered and refused: waiting
//! cannot fix it) or a connectivity error (retried).

use std::error::Error as _;
use tokio_postgres::error::SqlState;

/// A failed check: what to tell the operator, and whether waiting could change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    /// Human-readable cause (server message and SQLSTATE, or the I/O error); never a secret.
    pub message: String,
    /// True when the database (or the pooler, or TLS) answered and refused: authentication,
    /// unknown database, permission denied, rejected certificate, a table that is not goose's,
    /// a syntax error. Waiting cannot fix these: `wait` exits 3 at once, `serve` counts them as
    /// `rejected`. False for connectivity errors (refused, reset, timeout, DNS, starting up, too
    /// many connections, pooler without a server), which are retried.
    pub rejected: bool,
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CheckError {}

/// How a host is named in a connection error (never with a password: hosts carry none).
pub(super) fn host_name(config: &tokio_postgres::Config) -> String {
    match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => String::new(),
    }
}

/// One error for a failed connection attempt over every host: the single host's error as is;
/// for several, each host's, and rejected only when every host rejected.
pub(super) fn combine(failures: Vec<(String, CheckError)>) -> CheckError {
    if failures.len() == 1 {
        if let Some((_, only)) = failures.into_iter().next() {
            return only;
        }
        unreachable!("one element");
    }
    let rejected = !failures.is_empty() && failures.iter().all(|(_, e)| e.rejected);
    let message = failures
        .iter()
        .map(|(host, e)| format!("host {host}: {}", e.message))
        .collect::<Vec<_>>()
        .join("; ");
    CheckError {
        message: if message.is_empty() {
            "no host to connect to".to_string()
        } else {
            message
        },
        rejected,
    }
}

/// Turns a driver error into a message (with the causes tokio-postgres's `Display` hides) and
/// decides whether waiting could help.
pub fn classify(error: &tokio_postgres::Error) -> CheckError {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    if let Some(db) = error.as_db_error() {
        message = format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    CheckError {
        rejected: is_rejection(error, &message),
        message,
    }
}

/// Whether the other side answered and refused (see [`CheckError::rejected`]).
fn is_rejection(error: &tokio_postgres::Error, message: &str) -> bool {
    if crate::postgres::tls::is_certificate_rejection(error) {
        return true;
    }
    if let Some(db) = error.as_db_error() {
        let code = db.code();
        if [
            SqlState::INVALID_PASSWORD,
            SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            SqlState::INVALID_CATALOG_NAME,
            SqlState::INSUFFICIENT_PRIVILEGE,
            SqlState::UNDEFINED_COLUMN,
            SqlState::UNDEFINED_OBJECT,
            SqlState::DATATYPE_MISMATCH,
            SqlState::CANT_CHANGE_RUNTIME_PARAM,
            SqlState::INVALID_PARAMETER_VALUE,
            SqlState::SYNTAX_ERROR,
            SqlState::WRONG_OBJECT_TYPE,
            SqlState::UNDEFINED_FUNCTION,
        ]
        .contains(code)
        {
            return true;
        }
        // PgBouncer before 1.21 reports its own refusals as 08P01; tell them apart by text.
        let text = db.message();
        return text.contains("password authentication failed")
            || text.starts_with("no such user")
            || text.starts_with("no such database")
            || text.contains("SASL authentication failed");
    }
    // Client-side refusals that a retry repeats identically.
    message.contains("server does not support TLS")
        || message.contains("password missing")
        || message.contains("channel binding")
}

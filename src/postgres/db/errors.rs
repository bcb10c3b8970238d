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

impl CheckError {
    /// A database error exits 3 (`db_error`), whichever kind it is.
    pub fn exit_code(&self) -> u8 {
        crate::exit::DATABASE
    }
}

/// A connection error as libpq words it, naming the host and port (or socket) it comes from:
/// `connection to server at "db" (10.0.0.5), port 5432 failed: …`. A pooler that answered but
/// has no server behind it says so.
pub(super) fn in_place(place: &super::socket::Place, error: CheckError) -> CheckError {
    let pooler = POOLER_WITHOUT_SERVER
        .iter()
        .any(|text| error.message.contains(text));
    let message = if pooler {
        format!(
            "the pooler {} has no server to pass the connection to (is the database behind it down?): {}",
            place.locate(),
            error.message
        )
    } else {
        format!(
            "connection to {} failed: {}",
            place.describe(),
            error.message
        )
    };
    CheckError {
        message,
        rejected: error.rejected,
    }
}

/// What PgBouncer answers when it cannot reach the server behind it.
const POOLER_WITHOUT_SERVER: &[&str] = &[
    "pgbouncer cannot connect to server",
    "server login has been failing",
    "server conn crashed?",
];

/// One error for a failed connection attempt over every host (each already names its host):
/// rejected only when every host rejected.
pub(super) fn combine(failures: Vec<CheckError>) -> CheckError {
    let rejected = !failures.is_empty() && failures.iter().all(|e| e.rejected);
    let message = failures
        .iter()
        .map(|e| e.message.as_str())
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

/// A failed direct TLS connection (`sslnegotiation=direct`): unless the certificate was
/// rejected, most likely the server does not speak it (PostgreSQL before 17, PgBouncer up to at
/// least 1.18 read the TLS hello as a bad startup packet and hang up). The gate never falls back
/// to the SSLRequest: waiting cannot fix it, so it is a rejection.
pub(super) fn direct_tls(error: CheckError) -> CheckError {
    if error.rejected {
        return error;
    }
    CheckError {
        message: format!(
            "direct TLS (sslnegotiation=direct) failed: {}; the server may not support direct TLS (PostgreSQL 17 or later does; older ones and PgBouncer do not): use sslnegotiation=postgres",
            error.message
        ),
        rejected: true,
    }
}

/// The most of a server's message that reaches a log line or the termination message.
pub const MAX_ERROR_TEXT: usize = 1024;

/// `text` made safe for a log line: control characters (newlines, ANSI escapes, bidi
/// overrides) escaped as `\n` / `\u{1b}`, and at most [`MAX_ERROR_TEXT`] bytes of it kept, so a
/// server cannot forge log lines, colour a terminal or flood the logs.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_ERROR_TEXT) + 32);
    for c in text.chars() {
        if out.len() >= MAX_ERROR_TEXT {
            out.push_str(&format!(
                "… (cut at {MAX_ERROR_TEXT} of {} bytes)",
                text.len()
            ));
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
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
    let rejected = is_rejection(error, &message);
    if super::frame::is_too_large(error) {
        // A wrong endpoint or a hostile server: waiting will not change what it sends.
        message = format!("{message} (the connection was closed at once)");
    }
    CheckError {
        rejected: rejected
            || super::frame::is_too_large(error)
            || super::frame::is_auth_refusal(error),
        message: printable(&message),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_cannot_forge_lines_or_escape_the_terminal() {
        assert_eq!(
            printable("bad\nINFO ready: forged\r\t\u{1b}[31mred\u{7f}\u{202e}"),
            "bad\\nINFO ready: forged\\r\\t\\u{1b}[31mred\\u{7f}\\u{202e}"
        );
        assert_eq!(printable("déjà vu"), "déjà vu");
        let long = printable(&"é".repeat(5000));
        assert!(long.len() < MAX_ERROR_TEXT + 64, "{}", long.len());
        assert!(long.ends_with("… (cut at 1024 of 10000 bytes)"), "{long}");
    }

    #[test]
    fn several_hosts_make_one_error() {
        let refused = |port: u16, rejected| {
            let place = crate::postgres::db::socket::Place::Tcp {
                host: "a".into(),
                port,
                addr: None,
            };
            let error = CheckError {
                message: "connection refused".into(),
                rejected,
            };
            in_place(&place, error)
        };
        let both = combine(vec![refused(1, false), refused(2, true)]);
        assert_eq!(
            both.message,
            "connection to server at \"a\", port 1 failed: connection refused; connection to server at \"a\", port 2 failed: connection refused"
        );
        assert!(!both.rejected);
        assert!(combine(vec![refused(1, true), refused(2, true)]).rejected);
        let pooler = in_place(
            &crate::postgres::db::socket::Place::Unix {
                path: "/s/.s.PGSQL.6432".into(),
            },
            CheckError {
                message: "pgbouncer cannot connect to server (SQLSTATE 08P01)".into(),
                rejected: false,
            },
        );
        assert!(
            pooler
                .message
                .starts_with("the pooler on socket \"/s/.s.PGSQL.6432\" has no server"),
            "{}",
            pooler.message
        );
    }
}

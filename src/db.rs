//! The only code that talks to Postgres: connect, read the version table, classify failures.
//!
//! One check is one short read-only transaction sent as a single simple-protocol query:
//!
//! ```sql
//! BEGIN READ ONLY; SET LOCAL statement_timeout = '5000ms';
//! SELECT set_config('search_path', '…', true);          -- only for runtime parameters in the DSN
//! SELECT array_agg(id), array_agg(version_id), array_agg(is_applied) FROM goose_db_version; COMMIT
//! ```
//!
//! The rows (`id`, `version_id`, `is_applied`: what goose reads) arrive as three text arrays in
//! one row: order does not matter to [`AppliedSet`], and one row instead of a row per migration
//! keeps the check cheap as the table grows (BENCHMARKS.md, "Cost as the version table grows").
//!
//! No named prepared statement, no session state, no startup parameter beyond user, database and
//! `application_name`: it works unchanged through PgBouncer (and Neon's pooler) in transaction mode.

use crate::dsn::{SslMode, Target};
use crate::goose::{AppliedSet, Row};
use std::error::Error as _;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A failed check: what to tell the operator, and whether waiting could change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    /// Human-readable cause (server message and SQLSTATE, or the I/O error); never a secret.
    pub message: String,
    /// True for errors waiting cannot fix: authentication, unknown database, permission denied,
    /// rejected certificate, a table that is not goose's. `wait` exits 3 at once on these.
    pub fatal: bool,
}

/// How to reach the database and what to read there. Built once at start-up.
pub struct Database {
    target: Target,
    tls: MakeRustlsConnect,
    connect_timeout: Duration,
    query_timeout: Duration,
    /// The whole check transaction, built once (the table name is validated by `config`).
    sql: String,
}

/// An open connection. Dropping it closes the connection.
pub struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Database {
    /// Prepares the connector and the check's SQL. `table` must already be validated.
    pub fn new(
        target: Target,
        table: &str,
        connect_timeout: Duration,
        query_timeout: Duration,
    ) -> Result<Database, String> {
        let tls = crate::tls::connector(&target.tls)?;
        let mut sql = format!(
            "BEGIN READ ONLY; SET LOCAL statement_timeout = '{}ms'; ",
            query_timeout.as_millis().max(1)
        );
        for (name, value) in &target.runtime_params {
            // Names are validated identifiers; values are literal-quoted and backslash-free.
            sql.push_str(&format!(
                "SELECT set_config('{name}', '{}', true); ",
                value.replace('\'', "''")
            ));
        }
        sql.push_str(&format!(
            "SELECT array_agg(id), array_agg(version_id), array_agg(is_applied) FROM {table}; COMMIT"
        ));
        Ok(Database {
            target,
            tls,
            connect_timeout,
            query_timeout,
            sql,
        })
    }

    /// Opens a connection within the connect timeout, honouring all six `sslmode`s.
    pub async fn connect(&self) -> Result<Session, CheckError> {
        let attempt = async {
            match self.target.tls.mode {
                SslMode::Disable => {
                    self.connect_with(tokio_postgres::config::SslMode::Disable)
                        .await
                }
                SslMode::Allow => {
                    // libpq: plain first; TLS only when the server turns a plain connection away.
                    match self
                        .connect_with(tokio_postgres::config::SslMode::Disable)
                        .await
                    {
                        Err(e) if e.as_db_error().is_some() => {
                            self.connect_with(tokio_postgres::config::SslMode::Require)
                                .await
                        }
                        other => other,
                    }
                }
                SslMode::Prefer => {
                    self.connect_with(tokio_postgres::config::SslMode::Prefer)
                        .await
                }
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                    self.connect_with(tokio_postgres::config::SslMode::Require)
                        .await
                }
            }
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(session)) => Ok(session),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(CheckError {
                message: format!(
                    "timed out after {} connecting to the database",
                    crate::config::show_duration(self.connect_timeout)
                ),
                fatal: false,
            }),
        }
    }

    async fn connect_with(
        &self,
        mode: tokio_postgres::config::SslMode,
    ) -> Result<Session, tokio_postgres::Error> {
        let mut config = self.target.pg.clone();
        config.ssl_mode(mode);
        config.connect_timeout(self.connect_timeout);
        let (client, connection) = config.connect(self.tls.clone()).await?;
        let task = tokio::spawn(async move {
            // Errors surface through the client's next call; nothing to do with them here.
            let _ = connection.await;
        });
        Ok(Session { client, task })
    }

    /// Reads the version table through `session`. `Ok(None)`: the table does not exist.
    /// After an error, callers drop the session and reconnect.
    pub async fn read(&self, session: &Session) -> Result<Option<AppliedSet>, CheckError> {
        // The server's statement_timeout answers first; this only catches a silent server.
        let limit = self.query_timeout + Duration::from_secs(1);
        let outcome = tokio::time::timeout(limit, session.client.simple_query(&self.sql)).await;
        let messages = match outcome {
            Err(_) => {
                return Err(CheckError {
                    message: format!(
                        "timed out after {} waiting for the check query",
                        crate::config::show_duration(self.query_timeout)
                    ),
                    fatal: false,
                });
            }
            Ok(Ok(messages)) => messages,
            Ok(Err(e)) => {
                // The explicit BEGIN leaves an aborted transaction open: end it, so a pooler
                // gets its server connection back and this session stays reusable.
                if !session.client.is_closed() {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        session.client.simple_query("ROLLBACK"),
                    )
                    .await;
                }
                let code = e.code();
                if code == Some(&SqlState::UNDEFINED_TABLE)
                    || code == Some(&SqlState::INVALID_SCHEMA_NAME)
                {
                    return Ok(None);
                }
                return Err(classify(&e));
            }
        };
        // The last row of the batch is the aggregate (set_config rows come before it).
        let aggregate = messages.iter().rev().find_map(|m| match m {
            SimpleQueryMessage::Row(row) if row.len() == 3 => Some(row),
            _ => None,
        });
        let rows = match aggregate {
            // NULL arrays: the table is empty.
            Some(row) => parse_rows(row.get(0), row.get(1), row.get(2))?,
            None => Vec::new(),
        };
        Ok(Some(AppliedSet::from_rows(rows)))
    }

    /// One check on a fresh connection, closed afterwards (what `check` and `serve` do).
    pub async fn check_fresh(&self) -> Result<Option<AppliedSet>, CheckError> {
        let session = self.connect().await?;
        self.read(&session).await
    }
}

impl Session {
    /// Whether the connection can carry another check.
    pub fn is_usable(&self) -> bool {
        !self.client.is_closed()
    }
}

/// The elements of a one-dimensional text array of numbers or booleans (`{1,2}`), which need no
/// quoting.
fn array_items(array: &str) -> Option<Vec<&str>> {
    let inner = array.strip_prefix('{')?.strip_suffix('}')?;
    Some(if inner.is_empty() {
        Vec::new()
    } else {
        inner.split(',').collect()
    })
}

/// Zips the three aggregated arrays (`{1,2}`, `{0,1}`, `{t,f}`) into rows; all NULL when the
/// table is empty.
fn parse_rows(
    ids: Option<&str>,
    versions: Option<&str>,
    applied: Option<&str>,
) -> Result<Vec<Row>, CheckError> {
    let bad = || {
        CheckError {
        message: "the version table has unexpected contents (id, version_id, is_applied): is it goose's table?"
            .to_string(),
        fatal: true,
    }
    };
    let (Some(ids), Some(versions), Some(applied)) = (ids, versions, applied) else {
        return Ok(Vec::new());
    };
    let (ids, versions, applied) = (
        array_items(ids).ok_or_else(bad)?,
        array_items(versions).ok_or_else(bad)?,
        array_items(applied).ok_or_else(bad)?,
    );
    if ids.len() != versions.len() || ids.len() != applied.len() {
        return Err(bad());
    }
    ids.iter()
        .zip(&versions)
        .zip(&applied)
        .map(|((id, version), applied)| {
            Ok(Row {
                id: id.parse().map_err(|_| bad())?,
                version: version.parse().map_err(|_| bad())?,
                applied: match *applied {
                    "t" => true,
                    "f" => false,
                    _ => return Err(bad()),
                },
            })
        })
        .collect()
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
        fatal: is_fatal(error, &message),
        message,
    }
}

fn is_fatal(error: &tokio_postgres::Error, message: &str) -> bool {
    if crate::tls::is_certificate_rejection(error) {
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
    fn rows_from_the_aggregate() {
        assert_eq!(parse_rows(None, None, None), Ok(vec![]));
        assert_eq!(
            parse_rows(Some("{1,2}"), Some("{0,20240101120000}"), Some("{t,f}")),
            Ok(vec![
                Row {
                    id: 1,
                    version: 0,
                    applied: true
                },
                Row {
                    id: 2,
                    version: 20240101120000,
                    applied: false
                },
            ])
        );
        for (ids, versions, applied) in [
            ("{1}", "{0}", "{x}"),
            ("{1,2}", "{0}", "{t}"),
            ("{a}", "{0}", "{t}"),
            ("1", "0", "t"),
            ("{1}", "{NULL}", "{t}"),
            ("{1}", "{0}", "{NULL}"),
        ] {
            let parsed = parse_rows(Some(ids), Some(versions), Some(applied));
            assert!(parsed.is_err_and(|e| e.fatal), "{ids} {versions} {applied}");
        }
    }
}

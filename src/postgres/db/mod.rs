//! The only code that talks to Postgres: connect, read the version table, classify failures.
//!
//! One check is one short read-only transaction sent as a single simple-protocol query
//! (`query`: what it runs, and how its answer is read): it resolves the table name on the
//! gate's own search path, never on what another client of a pooler left on the server
//! connection (a temporary table, a session-level `SET search_path`), then streams the rows
//! goose reads, in the order a [`Scan`] needs, through the scan: memory stays flat however long
//! the table is. The timeouts come after the DSN's runtime parameters, so `GATE_QUERY_TIMEOUT`
//! always wins. A read the gate abandons (its own deadline, `wait`'s `GATE_TIMEOUT`, a signal)
//! is cancelled on the server with a cancel request, so no backend is left waiting on a lock
//! after the gate gave up.
//!
//! No named prepared statement, no session state, no startup parameter beyond user, database and
//! `application_name`: it works unchanged through PgBouncer (and Neon's pooler) in transaction mode.

mod cancel;
mod errors;
mod query;

pub use errors::{CheckError, classify};

use crate::core::goose::{Row, Scan, TableFacts};
use crate::core::status::Newest;
use crate::core::table::TableName;
use crate::core::verdict::Expectation;
use crate::postgres::dsn::{SslMode, Target};
use cancel::Endpoint;
use errors::{combine, host_name};
use futures_util::StreamExt;
use query::{CheckSql, Ending, Resolution, RowKind, conclude};
use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How to reach the database and what to read there. Built once at start-up.
pub struct Database {
    target: Target,
    tls: MakeRustlsConnect,
    connect_timeout: Duration,
    query_timeout: Duration,
    /// The version table as configured, for messages.
    table: String,
    /// Whether it names its schema (then the search path plays no part).
    qualified: bool,
    /// Whether the DSN sets `search_path` itself (a runtime parameter).
    dsn_sets_search_path: bool,
    /// The check's transaction and `status`'s, built once.
    sql: CheckSql,
    /// The role- or database-level `search_path` last logged, so it is logged when it changes.
    role_search_path: Mutex<Option<String>>,
}

/// One read of the version table: what the rows say, and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// What the rows say; `None`: the table does not exist (on the gate's search path).
    pub facts: Option<TableFacts>,
    /// The table read, schema-qualified and quoted where Postgres needs it.
    pub resolved_table: Option<String>,
    /// The `search_path` set for the gate's role or database, if any.
    pub role_search_path: Option<String>,
}

/// An open connection. Dropping it closes the connection.
pub struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
    /// Where it is connected: where its cancel request goes.
    endpoint: Endpoint,
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
        let tls = crate::postgres::tls::connector(&target.tls)?;
        let name = TableName::parse(table).map_err(|why| format!("GOOSE_TABLE {why}"))?;
        let sql = CheckSql::new(&target, &name, query_timeout);
        let dsn_sets_search_path = target
            .runtime_params
            .iter()
            .any(|(key, _)| key.eq_ignore_ascii_case("search_path"));
        Ok(Database {
            target,
            tls,
            connect_timeout,
            query_timeout,
            table: table.to_string(),
            qualified: name.schema().is_some(),
            dsn_sets_search_path,
            sql,
            role_search_path: Mutex::new(None),
        })
    }

    /// Opens a connection, honouring all six `sslmode`s. Hosts are tried in turn (in random
    /// order with `load_balance_hosts=random`), each within its own connect timeout, as libpq
    /// does; the first that accepts wins.
    pub async fn connect(&self) -> Result<Session, CheckError> {
        let mut order: Vec<usize> = (0..self.target.per_host.len()).collect();
        if self.target.pg.get_load_balance_hosts()
            == tokio_postgres::config::LoadBalanceHosts::Random
        {
            crate::jitter::shuffle(&mut order);
        }
        let mut failures: Vec<(String, CheckError)> = Vec::new();
        for i in order {
            let config = &self.target.per_host[i];
            match tokio::time::timeout(self.connect_timeout, self.connect_host(config)).await {
                Ok(Ok(session)) => return Ok(session),
                Ok(Err(e)) => failures.push((host_name(config), classify(&e))),
                Err(_) => failures.push((
                    host_name(config),
                    CheckError {
                        message: format!(
                            "timed out after {} connecting to the database",
                            crate::time::show_duration(self.connect_timeout)
                        ),
                        rejected: false,
                    },
                )),
            }
        }
        Err(combine(failures))
    }

    /// One host, in the way its `sslmode` asks.
    async fn connect_host(
        &self,
        config: &tokio_postgres::Config,
    ) -> Result<Session, tokio_postgres::Error> {
        use tokio_postgres::config::SslMode as Wire;
        match self.target.tls.mode {
            SslMode::Disable => self.connect_with(config, Wire::Disable).await,
            SslMode::Allow => {
                // libpq: plain first; TLS only when the server turns a plain connection away.
                match self.connect_with(config, Wire::Disable).await {
                    Err(e) if e.as_db_error().is_some() => {
                        self.connect_with(config, Wire::Require).await
                    }
                    other => other,
                }
            }
            SslMode::Prefer => self.connect_with(config, Wire::Prefer).await,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                self.connect_with(config, Wire::Require).await
            }
        }
    }

    async fn connect_with(
        &self,
        config: &tokio_postgres::Config,
        mode: tokio_postgres::config::SslMode,
    ) -> Result<Session, tokio_postgres::Error> {
        let mut config = config.clone();
        config.ssl_mode(mode);
        config.connect_timeout(self.connect_timeout);
        let (client, connection) = config.connect(self.tls.clone()).await?;
        let task = tokio::spawn(async move {
            // Errors surface through the client's next call; nothing to do with them here.
            let _ = connection.await;
        });
        Ok(Session {
            client,
            task,
            endpoint: Endpoint::of(&config),
        })
    }

    /// Reads the version table through `session`, judged against `expect`'s versions. After an
    /// error, callers drop the session and reconnect. Abandoned by its own deadline, the query
    /// is cancelled on the server.
    pub async fn read(
        &self,
        session: &Session,
        expect: &Expectation,
    ) -> Result<Reading, CheckError> {
        match self
            .read_or_abandon(session, expect, std::future::pending::<()>())
            .await
        {
            Ok(read) => read,
            Err(()) => unreachable!("a pending future never resolves"),
        }
    }

    /// Like [`Database::read`], unless `abandon` resolves first: then the query is cancelled on
    /// the server (so it does not sit on a lock after the gate gave up) and `abandon`'s output
    /// is returned instead.
    pub async fn read_or_abandon<T>(
        &self,
        session: &Session,
        expect: &Expectation,
        abandon: impl Future<Output = T>,
    ) -> Result<Result<Reading, CheckError>, T> {
        let mut scan = Scan::new(expect.files.as_deref(), expect.version);
        let streamed = self.stream(session, &self.sql.check, |row| {
            let row = parse_row(row.get(0), row.get(1), row.get(2))?;
            scan.push(row)
                .map_err(|_| not_goose("rows arrived out of order"))
        });
        match self.guard(session, streamed, abandon).await {
            Ok(Ok(streamed)) => Ok(Ok(streamed.reading(|| scan.finish()))),
            Ok(Err(e)) => Ok(Err(e)),
            Err(abandoned) => Err(abandoned),
        }
    }

    /// `status`'s read: the [`Reading`] of [`Database::read_or_abandon`] and the newest row of
    /// each version with its `tstamp` (none when the table does not exist).
    pub async fn read_status<T>(
        &self,
        session: &Session,
        expect: &Expectation,
        abandon: impl Future<Output = T>,
    ) -> Result<Result<(Reading, Vec<Newest>), CheckError>, T> {
        let mut scan = Scan::new(expect.files.as_deref(), expect.version);
        let mut newest: Vec<Newest> = Vec::new();
        let streamed = self.stream(session, &self.sql.status, |row| {
            let parsed = parse_row(row.get(0), row.get(1), row.get(2))?;
            scan.push(parsed)
                .map_err(|_| not_goose("rows arrived out of order"))?;
            // Rows come newest first within a version: keep the first of each.
            if newest.last().is_none_or(|n| n.version != parsed.version) {
                newest.push(Newest {
                    version: parsed.version,
                    applied: parsed.applied,
                    tstamp: row.get(3).map(str::to_string),
                });
            }
            Ok(())
        });
        match self.guard(session, streamed, abandon).await {
            Ok(Ok(streamed)) => Ok(Ok((streamed.reading(|| scan.finish()), newest))),
            Ok(Err(e)) => Ok(Err(e)),
            Err(abandoned) => Err(abandoned),
        }
    }

    /// Runs `reading` within the query timeout, unless `abandon` resolves first; either way an
    /// unfinished query is cancelled on the server.
    async fn guard<R, T>(
        &self,
        session: &Session,
        reading: impl Future<Output = Result<R, CheckError>>,
        abandon: impl Future<Output = T>,
    ) -> Result<Result<R, CheckError>, T> {
        // The server's statement_timeout answers first; this only catches a silent server.
        let limit = self.query_timeout + Duration::from_secs(1);
        let reading = tokio::time::timeout(limit, reading);
        let outcome = tokio::select! {
            outcome = reading => outcome,
            abandoned = abandon => {
                self.cancel(session).await;
                return Err(abandoned);
            }
        };
        Ok(match outcome {
            Ok(read) => read,
            Err(_) => {
                self.cancel(session).await;
                Err(CheckError {
                    message: format!(
                        "timed out after {} waiting for the check query",
                        crate::time::show_duration(self.query_timeout)
                    ),
                    rejected: false,
                })
            }
        })
    }

    /// Runs `sql` (the check transaction) and hands each row of the version table to `on_row`,
    /// as it streams in; then judges what the resolution said and how the transaction ended
    /// (`query::conclude`).
    async fn stream(
        &self,
        session: &Session,
        sql: &str,
        mut on_row: impl FnMut(&SimpleQueryRow) -> Result<(), CheckError>,
    ) -> Result<Streamed, CheckError> {
        let mut resolution: Option<Resolution> = None;
        let mut same = None;
        let failed = match session.client.simple_query_raw(sql).await {
            Err(e) => Some(e),
            Ok(stream) => {
                let mut stream = pin!(stream);
                loop {
                    match stream.next().await {
                        None => break None,
                        Some(Ok(SimpleQueryMessage::Row(row))) => match RowKind::of(&row) {
                            // Rows come only from a table the resolution accepted; anything else
                            // is never judged.
                            RowKind::Version
                                if resolution.as_ref().is_some_and(Resolution::readable) =>
                            {
                                on_row(&row)?
                            }
                            RowKind::Resolution(answer) => resolution = Some(answer),
                            RowKind::Same(answer) => same = Some(answer),
                            RowKind::Version | RowKind::Other => {}
                        },
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break Some(e),
                    }
                }
            }
        };
        let ending = match failed {
            None => Ending::Completed { same },
            Some(failed) => {
                // The explicit BEGIN leaves an aborted transaction open: end it, so a pooler
                // gets its server connection back and this session stays reusable.
                if !session.client.is_closed() {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        session.client.simple_query("ROLLBACK"),
                    )
                    .await;
                }
                let code = failed.code();
                Ending::Failed {
                    missing: code == Some(&SqlState::UNDEFINED_TABLE)
                        || code == Some(&SqlState::INVALID_SCHEMA_NAME),
                    error: classify(&failed),
                }
            }
        };
        if let Some(answer) = &resolution {
            self.note_role_search_path(answer);
        }
        let present = conclude(&self.table, self.qualified, resolution.as_ref(), ending)?;
        Ok(Streamed {
            present,
            resolution: resolution.unwrap_or_default(),
        })
    }

    /// Logs a role- or database-level `search_path` at `warn` when it is first seen and when it
    /// changes: an unqualified table name resolves through it, on the gate's role only (it is
    /// read for unqualified names only).
    fn note_role_search_path(&self, answer: &Resolution) {
        let mut seen = self
            .role_search_path
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *seen == answer.role_search_path {
            return;
        }
        seen.clone_from(&answer.role_search_path);
        let Some(path) = &answer.role_search_path else {
            tracing::info!("the gate's role and database no longer set search_path");
            return;
        };
        let overridden = if self.dsn_sets_search_path {
            " (the DSN's search_path overrides it)"
        } else {
            ""
        };
        tracing::warn!(
            role_search_path = %path,
            resolved_table = answer.resolved.as_deref().unwrap_or("none"),
            "the gate's role or database sets its own search_path{overridden}: the unqualified \
             table {} resolves on the gate's search path, which goose's role may not share; \
             name the table schema-qualified (GOOSE_TABLE=schema.name, and goose's -table)",
            self.table
        );
    }

    /// One check on a fresh connection, closed afterwards (what `check` and `serve` do).
    pub async fn check_fresh(&self, expect: &Expectation) -> Result<Reading, CheckError> {
        let session = self.connect().await?;
        self.read(&session, expect).await
    }
}

/// What [`Database::stream`] found: whether the table's rows were read, and where from.
struct Streamed {
    present: bool,
    resolution: Resolution,
}

impl Streamed {
    /// The [`Reading`], with the scan's facts when the table's rows were read.
    fn reading(self, facts: impl FnOnce() -> TableFacts) -> Reading {
        Reading {
            facts: self.present.then(facts),
            resolved_table: self.resolution.resolved.filter(|_| self.present),
            role_search_path: self.resolution.role_search_path,
        }
    }
}

impl Session {
    /// Whether the connection can carry another check.
    pub fn is_usable(&self) -> bool {
        !self.client.is_closed()
    }
}

/// A table that does not hold what goose writes: a rejection (waiting will not change it).
fn not_goose(detail: &str) -> CheckError {
    CheckError {
        message: format!(
            "the version table has unexpected contents (id, version_id, is_applied): is it goose's table? ({detail})"
        ),
        rejected: true,
    }
}

/// One streamed row in text form: `version_id`, `id`, `is_applied` (`t`/`f`).
fn parse_row(
    version: Option<&str>,
    id: Option<&str>,
    applied: Option<&str>,
) -> Result<Row, CheckError> {
    let number = |text: Option<&str>, what: &str| {
        text.and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| not_goose(&format!("{what} is not a 64-bit integer")))
    };
    Ok(Row {
        version: number(version, "version_id")?,
        id: number(id, "id")?,
        applied: match applied {
            Some("t") => true,
            Some("f") => false,
            _ => return Err(not_goose("is_applied is not a boolean")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_in_text_form() {
        assert_eq!(
            parse_row(Some("20240101120000"), Some("2"), Some("f")),
            Ok(Row {
                id: 2,
                version: 20240101120000,
                applied: false
            })
        );
        for (version, id, applied) in [
            (Some("1"), Some("1"), Some("x")),
            (Some("a"), Some("1"), Some("t")),
            (None, Some("1"), Some("t")),
            (Some("1"), None, Some("t")),
            (Some("1"), Some("1"), None),
        ] {
            let parsed = parse_row(version, id, applied);
            assert!(
                parsed.is_err_and(|e| e.rejected),
                "{version:?} {id:?} {applied:?}"
            );
        }
    }

    #[test]
    fn several_hosts_make_one_error() {
        let refused = |host: &str, rejected| {
            (
                host.to_string(),
                CheckError {
                    message: "connection refused".into(),
                    rejected,
                },
            )
        };
        let both = combine(vec![refused("a", false), refused("b", true)]);
        assert_eq!(
            both.message,
            "host a: connection refused; host b: connection refused"
        );
        assert!(!both.rejected);
        assert!(combine(vec![refused("a", true), refused("b", true)]).rejected);
        assert_eq!(
            combine(vec![refused("a", true)]).message,
            "connection refused"
        );
    }
}

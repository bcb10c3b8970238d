//! The only code that talks to Postgres: connect, read the version table, classify failures.
//!
//! One check is one short read-only transaction sent as a single simple-protocol query
//! (`query`: what it runs, and how its answer is read): it resolves the table name on the
//! gate's own search path, never on what another client of a pooler left on the server
//! connection (a temporary table, a session-level `SET search_path`), then runs the configured
//! tool's one `SELECT` ([`crate::core::tools::Read`]) on exactly that table and streams its
//! rows, as text cells, into the tool's [`Fold`]: this layer knows no tool. goose's rows fold
//! in one pass (memory flat however long the table is); a row the tool would not have written
//! is a rejection. The timeouts come after the DSN's runtime parameters, so `GATE_QUERY_TIMEOUT`
//! always wins. A read the gate abandons (its own deadline, `wait`'s `GATE_TIMEOUT`, a signal)
//! is cancelled on the server with a cancel request, so no backend is left waiting on a lock
//! after the gate gave up.
//!
//! No named prepared statement, no session state, no startup parameter beyond user, database and
//! `application_name`: it works unchanged through PgBouncer (and Neon's pooler) in transaction mode.
//!
//! Submodules: `connect` (host by host, `target_session_attrs`), `socket` (the gate opens each
//! socket itself and hands it to `Config::connect_raw`), `frame` (every backend message capped
//! at [`MAX_MESSAGE`]), `cancel` (within [`CANCEL_BUDGET`] of being told to stop), `errors`
//! (classification, where a connection failed, server text made printable).

mod cancel;
mod connect;
mod errors;
pub(crate) mod frame;
mod query;
mod socket;

pub use cancel::CANCEL_BUDGET;
pub use errors::{CheckError, MAX_ERROR_TEXT, classify, printable};
pub use frame::MAX_MESSAGE;

use crate::core::read::{Answer, Cells, Fold};
use crate::core::status::Newest;
use crate::core::table::TableName;
use crate::core::tools::Read;
use crate::core::verdict::Expect;
use crate::postgres::dsn::Target;
use futures_util::StreamExt;
use query::{CheckSql, Ending, Resolution, RowKind, conclude};
use socket::Place;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

/// How to reach the database and what to read there. Built once at start-up.
pub struct Database {
    target: Target,
    tls: crate::postgres::tls::Tls,
    connect_timeout: Duration,
    query_timeout: Duration,
    /// The version table as configured, for messages.
    table: String,
    /// The name of the tool's first column: what tells the table's rows apart.
    first_column: &'static str,
    /// The tool's name (`GATE_TOOL`), for messages only.
    tool: &'static str,
    /// Whether it names its schema (then the search path plays no part).
    qualified: bool,
    /// Whether the DSN sets `search_path` itself (a runtime parameter).
    dsn_sets_search_path: bool,
    /// The check's transaction and `status`'s, built once.
    sql: CheckSql,
    /// The role- or database-level `search_path` last logged, so it is logged when it changes.
    role_search_path: Mutex<Option<String>>,
    /// Whether the gate's role could write the table at the last check, so that is logged when
    /// it changes.
    writable: Mutex<bool>,
}

/// One read of the version table: what the rows say, and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// What the rows say; `None`: the table does not exist (on the gate's search path).
    pub answer: Option<Answer>,
    /// The table read, schema-qualified and quoted where Postgres needs it.
    pub resolved_table: Option<String>,
    /// The `search_path` set for the gate's role or database, if any.
    pub role_search_path: Option<String>,
}

/// An open connection. Dropping it closes the connection.
pub struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
    /// Where it is connected (the address reached): where its cancel request goes.
    place: Place,
    /// Whether it runs inside TLS (its cancel request does too; else it goes plaintext at once).
    encrypted: bool,
    /// Why the connection ended, when it failed (a message over the frame cap, a reset): the
    /// client itself only says "connection closed".
    failure: Arc<Mutex<Option<CheckError>>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Database {
    /// Prepares the connector and the check's SQL: `read` (the tool's `SELECT`) on `table`,
    /// which must already be validated.
    pub fn new(
        target: Target,
        (tool, table): (&'static str, &str),
        read: Read,
        connect_timeout: Duration,
        query_timeout: Duration,
    ) -> Result<Database, String> {
        let direct =
            target.pg.get_ssl_negotiation() == tokio_postgres::config::SslNegotiation::Direct;
        let tls = crate::postgres::tls::connector(&target.tls, direct)?;
        let name = TableName::parse(table).map_err(|why| format!("table {table:?} {why}"))?;
        let sql = CheckSql::new(&target, &name, &read, query_timeout);
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
            first_column: read.first_column(),
            tool,
            qualified: name.schema().is_some(),
            dsn_sets_search_path,
            sql,
            role_search_path: Mutex::new(None),
            writable: Mutex::new(false),
        })
    }

    /// Reads the version table through `session`, judged against `expect`. After an error,
    /// callers drop the session and reconnect. Abandoned by its own deadline, the query is
    /// cancelled on the server.
    pub async fn read(&self, session: &Session, expect: &Expect) -> Result<Reading, CheckError> {
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
        expect: &Expect,
        abandon: impl Future<Output = T>,
    ) -> Result<Result<Reading, CheckError>, T> {
        self.read_with(session, expect, false, |_| {}, abandon)
            .await
    }

    /// `status`'s read: the [`Reading`] of [`Database::read_or_abandon`], with the rows kept in
    /// its answer (every tool but goose lists them at the end); for goose the newest row of each
    /// version, with its `tstamp`, is handed to `on_version` as it streams in (ascending by
    /// version), so that goose's listing is written as it is read and memory stays flat (no call
    /// when the table does not exist).
    pub async fn read_status<T>(
        &self,
        session: &Session,
        expect: &Expect,
        on_version: impl FnMut(Newest),
        abandon: impl Future<Output = T>,
    ) -> Result<Result<Reading, CheckError>, T> {
        self.read_with(session, expect, true, on_version, abandon)
            .await
    }

    async fn read_with<T>(
        &self,
        session: &Session,
        expect: &Expect,
        status: bool,
        mut on_version: impl FnMut(Newest),
        abandon: impl Future<Output = T>,
    ) -> Result<Result<Reading, CheckError>, T> {
        let mut fold = Some(Fold::new(expect, status));
        let sql = if status {
            &self.sql.status
        } else {
            &self.sql.check
        };
        let streamed = self.stream(session, sql, |row| {
            let Some(fold) = fold.as_mut() else {
                return Ok(());
            };
            if let Some(newest) = fold.push(row).map_err(rejected)? {
                on_version(newest);
            }
            Ok(())
        });
        match self.guard(session, streamed, abandon).await {
            Ok(Ok(streamed)) => {
                let answer = match (streamed.present, fold.take()) {
                    (true, Some(fold)) => match fold.finish() {
                        Ok(answer) => Some(answer),
                        Err(e) => return Ok(Err(rejected(e))),
                    },
                    _ => None,
                };
                Ok(Ok(streamed.reading(answer)))
            }
            Ok(Err(e)) => Ok(Err(e)),
            Err(abandoned) => Err(abandoned),
        }
    }

    /// Runs `reading` within the query timeout, unless `abandon` resolves first; either way an
    /// unfinished query is cancelled on the server. Once `abandon` has resolved, the cancel gets
    /// [`CANCEL_BUDGET`] at most, so that the gate exits within a second of being told to.
    async fn guard<R, T>(
        &self,
        session: &Session,
        reading: impl Future<Output = Result<R, CheckError>>,
        abandon: impl Future<Output = T>,
    ) -> Result<Result<R, CheckError>, T> {
        // The server's statement_timeout answers first; this only catches a silent server.
        let limit = self.query_timeout + Duration::from_secs(1);
        let reading = tokio::time::timeout(limit, reading);
        let mut abandon = pin!(abandon);
        let outcome = tokio::select! {
            outcome = reading => outcome,
            abandoned = &mut abandon => {
                self.cancel(session, tokio::time::sleep(CANCEL_BUDGET)).await;
                return Err(abandoned);
            }
        };
        if let Ok(read) = outcome {
            return Ok(read);
        }
        // A silent server: cancel within the connect timeout, or the exit budget if told to stop.
        let mut abandoned = None;
        let until = async {
            tokio::select! {
                _ = tokio::time::sleep(self.connect_timeout) => {}
                stop = &mut abandon => {
                    abandoned = Some(stop);
                    tokio::time::sleep(CANCEL_BUDGET).await;
                }
            }
        };
        self.cancel(session, until).await;
        if let Some(stop) = abandoned {
            return Err(stop);
        }
        Ok(Err(CheckError {
            message: format!(
                "timed out after {} waiting for the check query",
                crate::time::show_duration(self.query_timeout)
            ),
            rejected: false,
        }))
    }

    /// Runs `sql` (the check transaction) and hands each row of the version table to `on_row`,
    /// as it streams in; then judges what the resolution said and how the transaction ended
    /// (`query::conclude`).
    async fn stream(
        &self,
        session: &Session,
        sql: &str,
        mut on_row: impl FnMut(&Row<'_>) -> Result<(), CheckError>,
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
                        Some(Ok(SimpleQueryMessage::Row(row))) => {
                            match RowKind::of(&row, self.first_column) {
                                // Rows come only from a table the resolution accepted; anything else
                                // is never judged.
                                RowKind::Version
                                    if resolution.as_ref().is_some_and(Resolution::readable) =>
                                {
                                    on_row(&Row(&row))?
                                }
                                RowKind::Resolution(answer) => resolution = Some(answer),
                                RowKind::Same(answer) => same = Some(answer),
                                RowKind::Version | RowKind::Other => {}
                            }
                        }
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
                    error: session.explain(&failed),
                }
            }
        };
        if let Some(answer) = &resolution {
            self.note_role_search_path(answer);
            self.note_writable(answer);
        }
        let present = conclude(
            self.tool,
            &self.table,
            self.qualified,
            resolution.as_ref(),
            ending,
        )?;
        Ok(Streamed {
            present,
            resolution: resolution.unwrap_or_default(),
        })
    }

    /// Logs at `warn` when the gate's role may write the table it reads (first seen, and when it
    /// changes): the check is only as good as the table's rows, and these credentials can change
    /// them. Not a rejection: a deploy script's `check` with the migrator's DSN is common.
    fn note_writable(&self, answer: &Resolution) {
        let mut seen = self.writable.lock().unwrap_or_else(|p| p.into_inner());
        if *seen == answer.writable {
            return;
        }
        *seen = answer.writable;
        let table = answer.resolved.as_deref().unwrap_or(&self.table);
        if answer.writable {
            tracing::warn!(
                resolved_table = table,
                "the gate's role may write {table}: these credentials can mark migrations applied; \
                 give the gate SELECT only (k8s/sql/schema-gate-role.sql)"
            );
        } else {
            tracing::info!(
                resolved_table = table,
                "the gate's role may no longer write {table}"
            );
        }
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
             table {} resolves on the gate's search path, which {}'s role may not share; name \
             the table schema-qualified ({}=schema.name, and {})",
            self.table,
            self.tool,
            if self.tool == "goose" { "GOOSE_TABLE" } else { "GATE_TABLE" },
            if self.tool == "goose" {
                "goose's -table"
            } else {
                "the same in the tool's own setting"
            }
        );
    }

    /// One check on a fresh connection, closed afterwards (what `check` and `serve` do).
    pub async fn check_fresh(&self, expect: &Expect) -> Result<Reading, CheckError> {
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
    /// The [`Reading`], with the fold's answer when the table's rows were read.
    fn reading(self, answer: Option<Answer>) -> Reading {
        Reading {
            answer,
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

    /// What a failed call on this session means: the driver's error, or, when the connection
    /// itself ended (the client only says "connection closed"), why it ended.
    fn explain(&self, error: &tokio_postgres::Error) -> CheckError {
        if error.is_closed() {
            let failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(why) = failure.as_ref() {
                return why.clone();
            }
        }
        classify(error)
    }
}

/// A row the tool would not have written: a rejection (waiting will not change it).
fn rejected(e: crate::core::tools::RowError) -> CheckError {
    CheckError {
        message: e.0,
        rejected: true,
    }
}

/// One row of the answer, as the core reads rows: text cells.
struct Row<'a>(&'a SimpleQueryRow);

impl Cells for Row<'_> {
    fn cell(&self, index: usize) -> Option<&str> {
        self.0.try_get(index).ok().flatten()
    }
    fn width(&self) -> usize {
        self.0.len()
    }
}

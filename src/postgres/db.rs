//! The only code that talks to Postgres: connect, read the version table, classify failures.
//!
//! One check is one short read-only transaction sent as a single simple-protocol query:
//!
//! ```sql
//! BEGIN READ ONLY;
//! SELECT set_config('search_path', '…', true);          -- only for runtime parameters in the DSN
//! SET LOCAL statement_timeout = '5000ms'; SET LOCAL lock_timeout = '5000ms';
//! SELECT version_id, id, is_applied FROM goose_db_version ORDER BY version_id, id DESC; COMMIT
//! ```
//!
//! The timeouts come after the DSN's runtime parameters, so `GATE_QUERY_TIMEOUT` always wins. The
//! rows (what goose reads) are streamed, in the order a [`Scan`] needs, through the scan: memory
//! stays flat however long the table is. A read the gate abandons (its own deadline, `wait`'s
//! `GATE_TIMEOUT`, a signal) is cancelled on the server with a cancel request, so no backend is
//! left waiting on a lock after the gate gave up.
//!
//! No named prepared statement, no session state, no startup parameter beyond user, database and
//! `application_name`: it works unchanged through PgBouncer (and Neon's pooler) in transaction mode.

use crate::core::goose::{Row, Scan, TableFacts};
use crate::core::status::Newest;
use crate::core::verdict::Expectation;
use crate::postgres::dsn::{SslMode, Target};
use futures_util::StreamExt;
use std::error::Error as _;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};
use tokio_postgres_rustls::MakeRustlsConnect;

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

/// How to reach the database and what to read there. Built once at start-up.
pub struct Database {
    target: Target,
    tls: MakeRustlsConnect,
    connect_timeout: Duration,
    query_timeout: Duration,
    /// The whole check transaction, built once (the table name is validated by `config`).
    sql: String,
    /// The same for `status`, which also reads each row's `tstamp`.
    status_sql: String,
}

/// An open connection. Dropping it closes the connection.
pub struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
    /// Where it is connected: where its cancel request goes.
    endpoint: Endpoint,
}

/// The host a session reached, for its cancel request.
#[derive(Debug, Clone)]
enum Endpoint {
    Tcp {
        host: String,
        addr: Option<std::net::IpAddr>,
        port: u16,
    },
    Unix {
        dir: std::path::PathBuf,
        port: u16,
    },
}

impl Endpoint {
    fn of(config: &tokio_postgres::Config) -> Endpoint {
        use tokio_postgres::config::Host;
        let port = config.get_ports().first().copied().unwrap_or(5432);
        match config.get_hosts().first() {
            Some(Host::Unix(dir)) => Endpoint::Unix {
                dir: dir.clone(),
                port,
            },
            Some(Host::Tcp(host)) => Endpoint::Tcp {
                host: host.clone(),
                addr: config.get_hostaddrs().first().copied(),
                port,
            },
            None => Endpoint::Unix {
                dir: "/var/run/postgresql".into(),
                port,
            },
        }
    }
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
        let mut sql = "BEGIN READ ONLY; ".to_string();
        for (name, value) in &target.runtime_params {
            // Names are validated identifiers; values are literal-quoted and backslash-free.
            sql.push_str(&format!(
                "SELECT set_config('{name}', '{}', true); ",
                value.replace('\'', "''")
            ));
        }
        // Last, so that no runtime parameter (statement_timeout=0 in a DSN) can lift them.
        let ms = query_timeout.as_millis().max(1);
        sql.push_str(&format!(
            "SET LOCAL statement_timeout = '{ms}ms'; SET LOCAL lock_timeout = '{ms}ms'; "
        ));
        let status_sql = format!(
            "{sql}SELECT version_id, id, is_applied, to_char(tstamp, 'YYYY-MM-DD HH24:MI:SS') \
             FROM {table} ORDER BY version_id, id DESC; COMMIT"
        );
        sql.push_str(&format!(
            "SELECT version_id, id, is_applied FROM {table} ORDER BY version_id, id DESC; COMMIT"
        ));
        Ok(Database {
            target,
            tls,
            connect_timeout,
            query_timeout,
            sql,
            status_sql,
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

    /// Reads the version table through `session`, judged against `expect`'s versions.
    /// `Ok(None)`: the table does not exist. After an error, callers drop the session and
    /// reconnect. Abandoned by its own deadline, the query is cancelled on the server.
    pub async fn read(
        &self,
        session: &Session,
        expect: &Expectation,
    ) -> Result<Option<TableFacts>, CheckError> {
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
    ) -> Result<Result<Option<TableFacts>, CheckError>, T> {
        let mut scan = Scan::new(expect.files.as_deref(), expect.version);
        let streamed = self.stream(session, &self.sql, |row| {
            let row = parse_row(row.get(0), row.get(1), row.get(2))?;
            scan.push(row)
                .map_err(|_| not_goose("rows arrived out of order"))
        });
        match self.guard(session, streamed, abandon).await {
            Ok(Ok(Some(()))) => Ok(Ok(Some(scan.finish()))),
            Ok(Ok(None)) => Ok(Ok(None)),
            Ok(Err(e)) => Ok(Err(e)),
            Err(abandoned) => Err(abandoned),
        }
    }

    /// `status`'s read: the facts of [`Database::read_or_abandon`] and the newest row of each
    /// version with its `tstamp`. `Ok(None)`: the table does not exist.
    pub async fn read_status<T>(
        &self,
        session: &Session,
        expect: &Expectation,
        abandon: impl Future<Output = T>,
    ) -> Result<Result<Option<(TableFacts, Vec<Newest>)>, CheckError>, T> {
        let mut scan = Scan::new(expect.files.as_deref(), expect.version);
        let mut newest: Vec<Newest> = Vec::new();
        let streamed = self.stream(session, &self.status_sql, |row| {
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
            Ok(Ok(Some(()))) => Ok(Ok(Some((scan.finish(), newest)))),
            Ok(Ok(None)) => Ok(Ok(None)),
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

    /// Sends a cancel request for whatever `session` is running (through a pooler, the pooler
    /// forwards it), then waits, bounded by the connect timeout, for the cancelled query to end
    /// and rolls its transaction back. Closing the connection early is not enough: a backend
    /// waiting on a lock does not notice its client has gone. Best effort.
    async fn cancel(&self, session: &Session) {
        let sent = tokio::time::timeout(self.connect_timeout, self.send_cancel(session));
        match sent.await {
            Ok(Ok(())) => tracing::debug!("cancelled the abandoned check query"),
            Ok(Err(why)) => tracing::debug!(error = %why, "cancel request failed"),
            Err(_) => tracing::debug!("cancel request timed out"),
        }
        // Answered only after the cancelled query's own answer: the connection ends idle.
        let _ = tokio::time::timeout(
            self.connect_timeout,
            session.client.simple_query("ROLLBACK"),
        )
        .await;
    }

    /// The cancel request itself, on a new connection to the session's host, which (as libpq
    /// does) stays open until the server closes it: PgBouncer 1.18 mishandles a cancel whose
    /// connection is closed first, and may then never forward it.
    async fn send_cancel(&self, session: &Session) -> Result<(), String> {
        use tokio_postgres::tls::MakeTlsConnect;
        let token = session.client.cancel_token();
        match &session.endpoint {
            Endpoint::Tcp { host, addr, port } => {
                let stream = match addr {
                    Some(ip) => tokio::net::TcpStream::connect((*ip, *port)).await,
                    None => tokio::net::TcpStream::connect((host.as_str(), *port)).await,
                }
                .map_err(|e| e.to_string())?;
                let mut make = self.tls.clone();
                let tls = MakeTlsConnect::<Lingering<tokio::net::TcpStream>>::make_tls_connect(
                    &mut make, host,
                )
                .map_err(|e| e.to_string())?;
                token
                    .cancel_query_raw(Lingering(stream), tls)
                    .await
                    .map_err(|e| classify(&e).message)
            }
            Endpoint::Unix { dir, port } => {
                let stream = tokio::net::UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))
                    .await
                    .map_err(|e| e.to_string())?;
                token
                    .cancel_query_raw(Lingering(stream), tokio_postgres::NoTls)
                    .await
                    .map_err(|e| classify(&e).message)
            }
        }
    }

    /// Runs the check transaction and streams its rows through a [`Scan`].
    /// Runs `sql` (the check transaction) and hands each row of its `SELECT` to `on_row`, as
    /// it streams in. `Ok(None)`: the table does not exist.
    async fn stream(
        &self,
        session: &Session,
        sql: &str,
        mut on_row: impl FnMut(&SimpleQueryRow) -> Result<(), CheckError>,
    ) -> Result<Option<()>, CheckError> {
        let failed = match session.client.simple_query_raw(sql).await {
            Err(e) => e,
            Ok(stream) => {
                let mut stream = pin!(stream);
                loop {
                    match stream.next().await {
                        None => return Ok(Some(())),
                        // set_config rows have one column; the SELECT's have three or four.
                        Some(Ok(SimpleQueryMessage::Row(row))) if row.len() >= 3 => on_row(&row)?,
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break e,
                    }
                }
            }
        };
        // The explicit BEGIN leaves an aborted transaction open: end it, so a pooler gets its
        // server connection back and this session stays reusable.
        if !session.client.is_closed() {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                session.client.simple_query("ROLLBACK"),
            )
            .await;
        }
        let code = failed.code();
        if code == Some(&SqlState::UNDEFINED_TABLE) || code == Some(&SqlState::INVALID_SCHEMA_NAME)
        {
            return Ok(None);
        }
        Err(classify(&failed))
    }

    /// One check on a fresh connection, closed afterwards (what `check` and `serve` do).
    pub async fn check_fresh(
        &self,
        expect: &Expectation,
    ) -> Result<Option<TableFacts>, CheckError> {
        let session = self.connect().await?;
        self.read(&session, expect).await
    }
}

/// How a host is named in a connection error (never with a password: hosts carry none).
fn host_name(config: &tokio_postgres::Config) -> String {
    match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => String::new(),
    }
}

/// One error for a failed connection attempt over every host: the single host's error as is;
/// for several, each host's, and rejected only when every host rejected.
fn combine(failures: Vec<(String, CheckError)>) -> CheckError {
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

impl Session {
    /// Whether the connection can carry another check.
    pub fn is_usable(&self) -> bool {
        !self.client.is_closed()
    }
}

/// A stream whose shutdown waits for the peer to close (reading until EOF) instead of closing
/// its own side: how libpq sends a cancel request.
struct Lingering<S>(S);

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Lingering<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite
    for Lingering<S>
{
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let mut scratch = [0u8; 64];
        loop {
            let mut buf = tokio::io::ReadBuf::new(&mut scratch);
            match std::pin::Pin::new(&mut self.0).poll_read(cx, &mut buf) {
                std::task::Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    return std::task::Poll::Ready(Ok(()));
                }
                std::task::Poll::Ready(Ok(())) => continue,
                // A reset also means the server is done with it.
                std::task::Poll::Ready(Err(_)) => return std::task::Poll::Ready(Ok(())),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
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

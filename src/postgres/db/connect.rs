//! Connecting, host by host: the gate opens the socket itself (`socket`), caps every message
//! the server sends (`frame`, on the raw socket for plaintext and inside TLS), and hands both to
//! `Config::connect_raw`, which sends the startup message at once. `connect_raw` skips
//! `target_session_attrs`, so the gate checks it here, as libpq does: from the `in_hot_standby`
//! and `default_transaction_read_only` the server reports at startup (PostgreSQL 14+, no extra
//! round trip), else with `SHOW transaction_read_only`.

use super::errors::{combine, in_place};
use super::frame::{AuthRule, Capped, Framing, Watch};
use super::socket::{Place, open};
use super::{CheckError, Database, Session, classify};
use crate::postgres::dsn::SslMode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio_postgres::config::{SslMode as Wire, SslNegotiation, TargetSessionAttrs};

impl Database {
    /// Opens a connection, honouring all six `sslmode`s. Hosts are tried in turn (in random
    /// order with `load_balance_hosts=random`), each within its own connect timeout, as libpq
    /// does; the first that accepts (and, with `target_session_attrs`, suits) wins. Every
    /// failure names the host and port it comes from.
    pub async fn connect(&self) -> Result<Session, CheckError> {
        let mut order: Vec<usize> = (0..self.target.per_host.len()).collect();
        if self.target.pg.get_load_balance_hosts()
            == tokio_postgres::config::LoadBalanceHosts::Random
        {
            crate::jitter::shuffle(&mut order);
        }
        let mut failures: Vec<CheckError> = Vec::new();
        for i in order {
            let config = &self.target.per_host[i];
            let place = Place::of(config);
            let watch = Arc::new(Watch::new(AuthRule {
                require: self.target.require_auth,
                local: matches!(place, Place::Unix { .. }),
            }));
            let attempt = self.connect_host(config, &place, &watch);
            match tokio::time::timeout(self.connect_timeout, attempt).await {
                Ok(Ok(session)) => return Ok(session),
                Ok(Err(failed)) if failed.placed => failures.push(failed.error),
                Ok(Err(failed)) => failures.push(in_place(&failed.reached, failed.error)),
                Err(_) => failures.push(self.timed_out(&place, &watch)),
            }
        }
        Err(combine(failures))
    }

    /// A host that did not connect within the connect timeout. One that took up the login and
    /// then never became ready is how PgBouncer behaves while its database server is down
    /// (PostgreSQL itself answers at once).
    fn timed_out(&self, place: &Place, watch: &Watch) -> CheckError {
        let after = crate::time::show_duration(self.connect_timeout);
        let stuck =
            watch.authenticating.load(Ordering::Relaxed) && !watch.ready.load(Ordering::Relaxed);
        if stuck {
            return plain_error(format!(
                "the pooler {} has no server, it seems: it took up the login, then did not become ready within {after} (PgBouncer waits like this while its database server is down or unreachable)",
                place.locate()
            ));
        }
        in_place(
            place,
            plain_error(format!(
                "timed out after {after} connecting to the database"
            )),
        )
    }

    /// One host, in the way its `sslmode` asks. Unix sockets never use TLS (libpq ignores
    /// `sslmode` there too). Errors come with the place actually reached.
    async fn connect_host(
        &self,
        config: &tokio_postgres::Config,
        place: &Place,
        watch: &Arc<Watch>,
    ) -> Result<Session, Failed> {
        let mode = match place {
            Place::Unix { .. } => SslMode::Disable,
            Place::Tcp { .. } => self.target.tls.mode,
        };
        match mode {
            SslMode::Disable => self.attempt(config, place, watch, Wire::Disable).await,
            SslMode::Allow => {
                // libpq: plain first; TLS only when the server turns a plain connection away.
                match self.attempt(config, place, watch, Wire::Disable).await {
                    Err(first) if first.answered => {
                        let retry = self.attempt(config, place, watch, Wire::Require).await;
                        match retry {
                            // The gate's own refusal says what to do; keep it in the message.
                            Err(mut second) if first.refused_clear && !second.placed => {
                                second.error = CheckError {
                                    message: format!(
                                        "{}; then over TLS: {}",
                                        first.error.message, second.error.message
                                    ),
                                    rejected: first.error.rejected && second.error.rejected,
                                };
                                Err(second)
                            }
                            other => other,
                        }
                    }
                    other => other,
                }
            }
            SslMode::Prefer => self.attempt(config, place, watch, Wire::Prefer).await,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                self.attempt(config, place, watch, Wire::Require).await
            }
        }
    }

    /// One connection attempt: socket, startup (TLS as `wire` says), authentication, and the
    /// `target_session_attrs` check.
    async fn attempt(
        &self,
        config: &tokio_postgres::Config,
        place: &Place,
        watch: &Arc<Watch>,
        wire: Wire,
    ) -> Result<Session, Failed> {
        let failed = |reached: &Place, error: CheckError| Failed {
            reached: reached.clone(),
            error,
            answered: false,
            placed: false,
            refused_clear: false,
        };
        let keepalive = config
            .get_keepalives()
            .then(|| config.get_keepalives_idle());
        let (socket, reached) = open(place, keepalive).await.map_err(|tried| {
            let each = tried
                .into_iter()
                .map(|(at, e)| in_place(&at, plain_error(e.to_string())));
            Failed {
                reached: place.clone(),
                error: combine(each.collect()),
                answered: false,
                placed: true,
                refused_clear: false,
            }
        })?;
        let direct = config.get_ssl_negotiation() == SslNegotiation::Direct;
        let framing = match wire {
            Wire::Disable => Framing::Messages,
            _ if direct => Framing::Passthrough,
            _ => Framing::SslAnswer,
        };
        let name = match &reached {
            Place::Tcp { host, .. } => host.as_str(),
            Place::Unix { .. } => "",
        };
        watch
            .encrypted
            .store(framing == Framing::Passthrough, Ordering::Relaxed);
        let tls = self.tls.for_host(name, Some(watch.clone()));
        let mut config = config.clone();
        config.ssl_mode(wire);
        let stream = Capped::watched(socket, framing, Some(watch.clone()));
        let (client, connection) = match config.connect_raw(stream, tls).await {
            Ok(pair) => pair,
            Err(e) => {
                let mut error = classify(&e);
                if direct && wire != Wire::Disable {
                    error = super::errors::direct_tls(error);
                }
                // A clear-text request the gate refused over plaintext counts as the server
                // turning plaintext away: `allow` tries TLS next (where a verified server gets
                // the password), as libpq retries after the server's own refusal.
                let refused_clear = wire == Wire::Disable && super::frame::is_cleartext_refusal(&e);
                return Err(Failed {
                    reached,
                    error,
                    answered: e.as_db_error().is_some() || refused_clear,
                    placed: false,
                    refused_clear,
                });
            }
        };
        let (session, read_only) = start(client, connection, reached.clone(), watch);
        match session_attrs(&session, config.get_target_session_attrs(), read_only).await {
            Ok(()) => Ok(session),
            Err(e) => Err(failed(&reached, e)),
        }
    }
}

/// The session over a connection just made (its I/O on a task of its own), and whether the
/// server reported itself read-only at startup (`None`: it did not say).
fn start<S, T>(
    client: tokio_postgres::Client,
    connection: tokio_postgres::Connection<S, T>,
    reached: Place,
    watch: &Watch,
) -> (Session, Option<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let reported = |name: &str| connection.parameter(name).map(|v| v == "on");
    let read_only = match (
        reported("in_hot_standby"),
        reported("default_transaction_read_only"),
    ) {
        (Some(standby), Some(default)) => Some(standby || default),
        _ => None,
    };
    let failure = Arc::new(Mutex::new(None));
    let slot = failure.clone();
    let task = tokio::spawn(async move {
        let mut connection = std::pin::pin!(connection);
        if let Err(e) = connection.as_mut().await {
            // Why the connection ended, for the client's bare "connection closed".
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(classify(&e));
        }
    });
    let session = Session {
        client,
        task,
        place: reached,
        encrypted: watch.encrypted.load(Ordering::Relaxed),
        failure,
    };
    (session, read_only)
}

/// libpq's `target_session_attrs`: whether this server suits (`read_only` as reported at
/// startup, if it was). A mismatch is not a rejection: a standby may be promoted.
async fn session_attrs(
    session: &Session,
    wanted: TargetSessionAttrs,
    read_only: Option<bool>,
) -> Result<(), CheckError> {
    let want_read_only = match wanted {
        TargetSessionAttrs::ReadWrite => false,
        TargetSessionAttrs::ReadOnly => true,
        _ => return Ok(()),
    };
    let read_only = match read_only {
        Some(known) => known,
        None => {
            let rows = session
                .client
                .simple_query("SHOW transaction_read_only")
                .await
                .map_err(|e| session.explain(&e))?;
            rows.iter().any(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0) == Some("on"),
                _ => false,
            })
        }
    };
    if read_only == want_read_only {
        return Ok(());
    }
    Err(plain_error(if read_only {
        "the server is read-only (a standby?) and target_session_attrs=read-write asks for one that accepts writes".to_string()
    } else {
        "the server accepts writes and target_session_attrs=read-only asks for a read-only one"
            .to_string()
    }))
}

/// A failed attempt: the place reached, why, and whether the server answered with an error
/// (for `sslmode=allow`, whose TLS retry follows a server that turned plaintext away).
struct Failed {
    reached: Place,
    error: CheckError,
    answered: bool,
    /// The error already names where it comes from (each address a name resolved to).
    placed: bool,
    /// The gate refused the password in clear text over plaintext (`answered` too: `allow`
    /// tries TLS next).
    refused_clear: bool,
}

/// A connectivity error (retried), in the gate's own words.
fn plain_error(message: String) -> CheckError {
    CheckError {
        message,
        rejected: false,
    }
}

//! Cancelling a query the gate abandons (its own deadline, `GATE_TIMEOUT`, a signal): a
//! backend waiting on a lock does not notice that its client went away, so the gate sends a
//! cancel request, as libpq does, and waits for the cancelled query to answer.

use super::{Database, Session, classify};

/// The host a session reached, for its cancel request.
#[derive(Debug, Clone)]
pub(super) enum Endpoint {
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
    pub(super) fn of(config: &tokio_postgres::Config) -> Endpoint {
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

impl Database {
    /// Sends a cancel request for whatever `session` is running (through a pooler, the pooler
    /// forwards it), then waits, bounded by the connect timeout, for the cancelled query to end
    /// and rolls its transaction back. Closing the connection early is not enough: a backend
    /// waiting on a lock does not notice its client has gone. Best effort.
    pub(super) async fn cancel(&self, session: &Session) {
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

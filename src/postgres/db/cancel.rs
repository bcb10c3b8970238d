//! Cancelling a query the gate abandons (its own deadline, `GATE_TIMEOUT`, a signal): a
//! backend waiting on a lock does not notice that its client went away, so the gate sends a
//! cancel request, as libpq does, and waits for the cancelled query to answer.
//!
//! Bounded: after a signal or `GATE_TIMEOUT` the whole exit takes at most a second, so the
//! cancel gets [`CANCEL_BUDGET`] from that moment, whatever the server does. The cancel request
//! goes out at once, to the address the session reached (no name lookup on the way out), and
//! its connection is never closed first (PgBouncer 1.18 mishandles a cancel whose client hangs up
//! early: pgbouncer#801): the gate waits for the server to close it, until the budget is spent.

use super::socket::{Place, Socket};
use super::{Database, Session, classify};
use std::future::Future;
use std::time::Duration;

/// How long, at most, the gate spends cancelling a query once it has been told to stop (a
/// signal, `GATE_TIMEOUT`): what is left of the one second every exit promises goes to writing
/// the termination message and exiting.
pub const CANCEL_BUDGET: Duration = Duration::from_millis(900);

impl Database {
    /// Sends a cancel request for whatever `session` is running (through a pooler, the pooler
    /// forwards it) and waits for the cancelled query to end (rolling its transaction back),
    /// and for the server to close the cancel connection, until `until` resolves. Closing the
    /// connection early is not enough: a backend waiting on a lock does not notice its client
    /// has gone. Best effort.
    pub(super) async fn cancel(&self, session: &Session, until: impl Future<Output = ()>) {
        let sent = async {
            match self.send_cancel(session).await {
                Ok(()) => tracing::debug!("cancel request sent; the server closed its connection"),
                Err(why) => tracing::debug!(error = %why, "cancel request failed"),
            }
        };
        // Queued behind the abandoned query: answered once that query has ended.
        let answered = async {
            if session.client.simple_query("ROLLBACK").await.is_ok() {
                tracing::debug!("the cancelled query ended; rolled back");
            }
        };
        tokio::select! {
            _ = async { tokio::join!(sent, answered) } => {}
            _ = until => tracing::debug!("stopped waiting for the cancelled query (time is up)"),
        }
    }

    /// The cancel request itself, on a new connection to the address the session reached,
    /// which (as libpq does) stays open until the server closes it.
    async fn send_cancel(&self, session: &Session) -> Result<(), String> {
        let token = session.client.cancel_token();
        let (stream, name) = match &session.place {
            Place::Tcp {
                host,
                addr: Some(addr),
                ..
            } => {
                let stream = tokio::net::TcpStream::connect(addr).await;
                (
                    Socket::Tcp(stream.map_err(|e| e.to_string())?),
                    host.as_str(),
                )
            }
            Place::Tcp { addr: None, .. } => return Err("no address to send it to".into()),
            Place::Unix { path } => {
                let stream = tokio::net::UnixStream::connect(path).await;
                (Socket::Unix(stream.map_err(|e| e.to_string())?), "")
            }
        };
        let tls = self.tls.for_host(name, None);
        token
            .cancel_query_raw(Lingering::new(stream, !session.encrypted), tls)
            .await
            .map_err(|e| classify(&e).message)
    }
}

/// A stream whose shutdown waits for the peer to close (reading until EOF) instead of closing
/// its own side: how libpq sends a cancel request. For a plaintext session it also answers
/// tokio-postgres's SSLRequest itself (`N`, as the server did when the session began), so the
/// cancel request goes out at once instead of after one more round trip (libpq before 17 sends
/// every cancel request in plaintext).
pub(super) struct Lingering<S> {
    inner: S,
    answer_plaintext: bool,
    answered: bool,
}

/// The SSLRequest tokio-postgres writes first: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

impl<S> Lingering<S> {
    fn new(inner: S, plaintext: bool) -> Lingering<S> {
        Lingering {
            inner,
            answer_plaintext: plaintext,
            answered: false,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Lingering<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.answered && buf.remaining() > 0 {
            self.answered = false;
            buf.put_slice(b"N");
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
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
        if self.answer_plaintext && buf.starts_with(&SSL_REQUEST) {
            self.answer_plaintext = false;
            self.answered = true;
            return std::task::Poll::Ready(Ok(SSL_REQUEST.len()));
        }
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let mut scratch = [0u8; 64];
        loop {
            let mut buf = tokio::io::ReadBuf::new(&mut scratch);
            match std::pin::Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
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

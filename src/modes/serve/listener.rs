//! `serve`'s socket: hyper 1 over HTTP/1.1 with a header-read timeout (slowloris), a cap on the
//! request head and on concurrent connections that evicts the oldest (so a flood can neither
//! exhaust memory nor lock the kubelet's probes out) and graceful shutdown. Every request goes to [`super::routes::route`].

use super::routes::{View, route};
use crate::signals::{Signals, Stop};
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// At most this many connections are open at once (fewer if the open-file limit is lower), so a
/// flood cannot exhaust memory or file descriptors. A new connection beyond it evicts the oldest
/// one instead of being refused: a kubelet probe is always the newest, so a flood of idle or
/// slow connections cannot lock the probes out. Each connection can hold about 16 KiB (hyper's
/// read buffer, filled up to [`MAX_HEAD`], and its write buffer), so 256 of them stay near 4 MiB:
/// the shipped binary peaks under 8 MiB against any number of unfinished heads (1024 took it to
/// 33 MB, over the manifests' 32 Mi limit). A sidecar's clients (the kubelet, a scraper) need a
/// handful.
pub const MAX_CONNECTIONS: usize = 256;
/// The largest request head (request line and headers) read; a longer one is answered 431. A
/// probe or a scrape sends a few hundred bytes. hyper's minimum: a smaller cap would still
/// allocate this much.
pub const MAX_HEAD: usize = 8 * 1024;
/// A client must send its request headers within this time, also on an idle keep-alive
/// connection, so slow or silent connections give their slot back (slowloris). Kubelet probes
/// send their request at once.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Descriptors kept free for the database connection, stderr and the listener.
const SPARE_FDS: u64 = 32;
/// After SIGTERM, in-flight requests get this long before the process exits anyway.
pub const DRAIN: Duration = Duration::from_millis(800);

/// Serves until SIGTERM/SIGINT, then stops accepting, lets in-flight requests finish (at most
/// [`DRAIN`]) and returns the signal.
pub async fn serve(listener: TcpListener, view: View, signals: &mut Signals) -> Stop {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(Slots::new(connection_cap()));
    let stop = loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            stop = signals.recv() => break stop,
        };
        let (id, evicted, full) = slots.admit();
        if full {
            // Let the evicted connection's task run and free its buffers before the next
            // accept: under a flood, evicted connections must not pile up beyond the cap.
            tokio::task::yield_now().await;
        }
        let view = view.clone();
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let response = route(
                request.method(),
                request.uri().path(),
                request.uri().query(),
                &view,
                Instant::now(),
            );
            async move { Ok::<_, Infallible>(response) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let slots = slots.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = connection => {}
                _ = evicted => tracing::debug!("connection evicted by a newer one"),
            }
            slots.release(id);
        });
    };
    drop(listener);
    tracing::info!("{}: finishing in-flight requests", stop.name());
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => tracing::debug!("drain time over"),
    }
    stop
}

/// Open connections, oldest first, each with the means to close it.
struct Slots {
    cap: usize,
    open: Mutex<(
        u64,
        std::collections::BTreeMap<u64, tokio::sync::oneshot::Sender<()>>,
    )>,
}

impl Slots {
    fn new(cap: usize) -> Slots {
        tracing::debug!(cap, "connection cap");
        Slots {
            cap,
            open: Mutex::new((0, std::collections::BTreeMap::new())),
        }
    }

    /// Registers a new connection, evicting the oldest when full. The receiver fires on
    /// eviction; the flag says whether one was evicted.
    fn admit(&self) -> (u64, tokio::sync::oneshot::Receiver<()>, bool) {
        let mut guard = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (next, open) = &mut *guard;
        let full = open.len() >= self.cap;
        while open.len() >= self.cap {
            match open.pop_first() {
                Some((_, evict)) => {
                    let _ = evict.send(());
                }
                None => break,
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        *next += 1;
        open.insert(*next, tx);
        (*next, rx, full)
    }

    fn release(&self, id: u64) {
        let mut guard = self.open.lock().unwrap_or_else(|p| p.into_inner());
        guard.1.remove(&id);
    }
}

/// Raises the open-file soft limit to the hard limit (as Go's runtime does: container runtimes
/// often start processes at 1024) and returns the connection cap that leaves room for.
// The one place `serve` needs libc: std has no setrlimit. Allowed here, denied everywhere else.
#[allow(unsafe_code)]
fn connection_cap() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 256;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        limit.rlim_cur
    };
    let room = usize::try_from(soft.saturating_sub(SPARE_FDS)).unwrap_or(MAX_CONNECTIONS);
    room.clamp(16, MAX_CONNECTIONS)
}

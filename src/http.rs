//! `serve`'s HTTP endpoints (hyper 1, HTTP/1.1):
//!
//! | path | answer |
//! |---|---|
//! | `GET /livez` | 200 `ok` while the process runs |
//! | `GET /readyz` | 200 `ok` when the cached verdict is ready, else 503 and the reason; `?verbose` explains |
//! | `GET /status` | 200, JSON: the `check --json` object plus `checked_at`, `last_success_at`, `consecutive_errors`, `stale` |
//! | `GET /metrics` | Prometheus metrics (see [`crate::metrics`]) |
//!
//! `HEAD` works wherever `GET` does; other methods get 405, unknown paths 404. Every answer comes
//! from the cached [`Readiness`]: a probe never touches the database. [`route`] is a plain
//! function (tested without a socket); [`serve`] adds the socket, a header-read timeout, a cap on
//! concurrent connections and graceful shutdown.

use crate::metrics::{CONTENT_TYPE, Metrics};
use crate::readiness::Readiness;
use crate::signals::{Signals, Stop};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE as CT, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// At most this many connections are open at once (fewer if the open-file limit is lower), so a
/// flood cannot exhaust memory or file descriptors. A new connection beyond it evicts the oldest
/// one instead of being refused: a kubelet probe is always the newest, so a flood of idle or
/// slow connections cannot lock the probes out.
pub const MAX_CONNECTIONS: usize = 1024;
/// A client must send its request headers within this time, also on an idle keep-alive
/// connection, so slow or silent connections give their slot back (slowloris). Kubelet probes
/// send their request at once.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(3);
/// Descriptors kept free for the database connection, stderr and the listener.
const SPARE_FDS: u64 = 32;
/// After SIGTERM, in-flight requests get this long before the process exits anyway.
pub const DRAIN: Duration = Duration::from_millis(800);

/// What every handler reads: the cached verdict and the metrics.
#[derive(Clone)]
pub struct View {
    /// The cached verdict, written by the checker.
    pub readiness: Arc<Mutex<Readiness>>,
    /// The metrics, updated by the checker.
    pub metrics: Arc<Metrics>,
}

type Body = Full<Bytes>;

/// The body of every 200 from `/livez` and `/readyz`.
const OK: &str = "ok\n";

/// Answers one request from the cached state.
pub fn route(
    method: &Method,
    path: &str,
    query: Option<&str>,
    view: &View,
    now: Instant,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return match path {
            "/livez" | "/readyz" | "/status" | "/metrics" => {
                let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
                response
                    .headers_mut()
                    .insert(ALLOW, "GET, HEAD".parse().expect("static header"));
                response
            }
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        };
    }
    let readiness = view
        .readiness
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let response = match path {
        "/livez" => text(StatusCode::OK, OK),
        "/readyz" if wants_verbose(query) => {
            let status = if readiness.ready(now).is_ok() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            text(status, readiness.explain(now))
        }
        "/readyz" => match readiness.ready(now) {
            Ok(()) => text(StatusCode::OK, OK),
            Err(reason) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
        },
        "/status" => {
            let json =
                serde_json::to_string(&readiness.status(now)).unwrap_or_else(|_| "{}".into());
            with_type(StatusCode::OK, "application/json", format!("{json}\n"))
        }
        "/metrics" => {
            let ready = readiness.ready(now).is_ok();
            with_type(StatusCode::OK, CONTENT_TYPE, view.metrics.encode(ready))
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    if method == Method::HEAD {
        without_body(response)
    } else {
        response
    }
}

fn wants_verbose(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| matches!(pair, "verbose" | "verbose=1" | "verbose=true"))
    })
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    with_type(status, "text/plain; charset=utf-8", body)
}

/// The probe path's answer is built without parsing or copying: static header values and, for
/// `ok`, a static body.
fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CT, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// HEAD: same status and headers (with the length GET would send), no body.
fn without_body(response: Response<Body>) -> Response<Body> {
    use hyper::body::Body as _;
    let length = response.body().size_hint().exact().unwrap_or(0);
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(CONTENT_LENGTH, length.into());
    Response::from_parts(parts, Full::new(Bytes::new()))
}

/// Serves until SIGTERM/SIGINT, then stops accepting, lets in-flight requests finish (at most
/// [`DRAIN`]) and returns the signal.
pub async fn serve(listener: TcpListener, view: View, signals: &mut Signals) -> Stop {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(16 * 1024);
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
        let (id, evicted) = slots.admit();
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

    /// Registers a new connection, evicting the oldest when full. The receiver fires on eviction.
    fn admit(&self) -> (u64, tokio::sync::oneshot::Receiver<()>) {
        let mut guard = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (next, open) = &mut *guard;
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
        (*next, rx)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goose::{Row, TableFacts};
    use crate::readiness::Failure;
    use crate::verdict::{Expectation, Policy, Verdict, judge};
    use http_body_util::BodyExt;
    use std::time::SystemTime;

    fn expectation() -> Expectation {
        Expectation {
            version: 2,
            files: None,
            policy: Policy::AtLeast,
        }
    }

    fn view() -> View {
        View {
            readiness: Arc::new(Mutex::new(Readiness::new(
                expectation(),
                "goose_db_version".into(),
                None,
            ))),
            metrics: Arc::new(Metrics::new(&expectation(), "goose_db_version", None)),
        }
    }

    fn record(view: &View, version: Option<i64>) {
        let verdict = match version {
            Some(v) => {
                let facts = TableFacts::from_rows(
                    [Row {
                        id: 1,
                        version: v,
                        applied: true,
                    }],
                    None,
                    2,
                );
                judge(Some(&facts), &expectation(), "goose_db_version")
            }
            None => Verdict::db_error(
                &expectation(),
                "goose_db_version",
                "connection refused".into(),
            ),
        };
        let kind = Failure::Connectivity;
        view.metrics.record_check(
            &verdict,
            kind,
            Duration::from_millis(2),
            0,
            SystemTime::now(),
        );
        view.readiness.lock().expect("lock").record(
            verdict,
            kind,
            Instant::now(),
            SystemTime::now(),
        );
    }

    fn get(view: &View, method: Method, target: &str) -> (StatusCode, String, Response<Body>) {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let response = route(&method, path, query, view, Instant::now());
        let status = response.status();
        let body = futures_body(response.body().clone());
        (status, body, response)
    }

    fn futures_body(body: Body) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let bytes = rt
            .block_on(body.collect())
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn livez_always_ok() {
        let v = view();
        assert_eq!(get(&v, Method::GET, "/livez").0, StatusCode::OK);
        assert_eq!(get(&v, Method::GET, "/livez").1, "ok\n");
    }

    #[test]
    fn readyz_follows_the_cached_verdict() {
        let v = view();
        let (status, body, _) = get(&v, Method::GET, "/readyz");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, "not ready: no check has completed yet\n");
        record(&v, Some(1));
        let (status, body, _) = get(&v, Method::GET, "/readyz");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body.starts_with("not ready: goose_db_version at version 1, expected 2"),
            "{body}"
        );
        record(&v, Some(2));
        assert_eq!(get(&v, Method::GET, "/readyz").1, "ok\n");
        record(&v, None);
        assert_eq!(
            get(&v, Method::GET, "/readyz").0,
            StatusCode::OK,
            "an outage keeps readiness"
        );
        let (status, body, _) = get(&v, Method::GET, "/readyz?verbose");
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("last error (connectivity, since ")
                && body.contains("): connection refused"),
            "{body}"
        );
        assert!(body.contains("consecutive errors: 1"), "{body}");
    }

    #[test]
    fn status_is_the_check_object_plus_times() {
        let v = view();
        record(&v, Some(2));
        let (status, body, response) = get(&v, Method::GET, "/status");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(response.headers()[CT], "application/json");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let extra = ["checked_at", "last_success_at", "consecutive_errors"];
        for key in crate::verdict::JSON_KEYS.iter().chain(&extra) {
            assert!(json.get(key).is_some(), "missing {key}: {json}");
        }
        assert_eq!(json["ready"], true);
        assert_eq!(json["state"], "ready");
    }

    #[test]
    fn metrics_are_text_and_reflect_readiness() {
        let v = view();
        record(&v, Some(2));
        let (status, body, response) = get(&v, Method::GET, "/metrics");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(response.headers()[CT], CONTENT_TYPE);
        assert!(body.contains("schema_gate_ready 1"), "{body}");
        assert!(body.contains("schema_gate_version 2"), "{body}");
    }

    #[test]
    fn head_methods_and_unknown_paths() {
        let v = view();
        record(&v, Some(2));
        for path in ["/livez", "/readyz", "/status", "/metrics"] {
            let (get_status, get_body, _) = get(&v, Method::GET, path);
            let (status, body, response) = get(&v, Method::HEAD, path);
            assert_eq!(status, get_status, "{path}");
            assert!(body.is_empty(), "{path}");
            assert_eq!(
                response.headers()[CONTENT_LENGTH],
                get_body.len().to_string(),
                "{path}"
            );
            for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
                let (status, _, response) = get(&v, method.clone(), path);
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                assert_eq!(response.headers()[ALLOW], "GET, HEAD");
            }
        }
        assert_eq!(get(&v, Method::GET, "/").0, StatusCode::NOT_FOUND);
        assert_eq!(
            get(&v, Method::GET, "/readyz/extra").0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(get(&v, Method::POST, "/nope").0, StatusCode::NOT_FOUND);
    }
}

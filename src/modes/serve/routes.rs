//! `serve`'s HTTP endpoints (hyper 1, HTTP/1.1):
//!
//! | path | answer |
//! |---|---|
//! | `GET /livez` | 200 `ok` while the process runs |
//! | `GET /readyz` | 200 `ok` when the cached verdict is ready, else 503 and the reason; `?verbose` explains |
//! | `GET /status` | 200, JSON: the `check --json` object plus `checked_at`, `last_success_at`, `consecutive_errors`, `stale` |
//! | `GET /metrics` | Prometheus metrics (see [`crate::modes::serve::metrics`]) |
//!
//! `HEAD` works wherever `GET` does; other methods get 405, unknown paths 404. Every answer comes
//! from the cached [`Readiness`]: a probe never touches the database. [`route`] is a plain
//! function, tested without a socket; `listener` adds the socket.

use crate::modes::serve::metrics::{CONTENT_TYPE, Metrics};
use crate::modes::serve::readiness::Readiness;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE as CT, HeaderValue};
use hyper::{Method, Response, StatusCode};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::goose::{Row, TableFacts};
    use crate::core::verdict::{Expectation, Policy, Verdict, judge};
    use crate::modes::serve::readiness::Failure;
    use http_body_util::BodyExt;
    use std::time::{Duration, SystemTime};

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
                expectation().into(),
                "goose_db_version".into(),
                None,
            ))),
            metrics: Arc::new(Metrics::new(
                &expectation().into(),
                "goose_db_version",
                None,
            )),
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
                &expectation().into(),
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
        for key in crate::core::verdict::JSON_KEYS.iter().chain(&extra) {
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

//! `schema-gate serve`: the readiness sidecar.
//!
//! Two tasks share one [`Readiness`]: the checker (the only database user) polls every
//! `GATE_INTERVAL` until the schema is ready, then re-checks every `GATE_RECHECK_INTERVAL` (or
//! never, when it is 0), each time on a fresh connection that is closed right after (hundreds of
//! pods must not hold `max_connections`); the HTTP server ([`crate::http`]) answers probes from
//! the cache. SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0.

use crate::check::{Finish, verdict_of};
use crate::config::{Settings, show_duration};
use crate::db::Database;
use crate::http::{self, View};
use crate::jitter::jittered;
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use crate::signals::Signals;
use crate::verdict::{State, Verdict};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// Runs `serve` until a signal; exit 0 then (2 if the address cannot be bound).
pub async fn run(settings: &Settings, db: &Database, signals: &mut Signals) -> Finish {
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            let message = format!("cannot listen on {} (GATE_LISTEN): {e}", settings.listen);
            tracing::error!("{message}");
            return Finish {
                code: 2,
                message: Some(message),
                exec: false,
            };
        }
    };
    let view = View {
        readiness: Arc::new(Mutex::new(Readiness::new(
            settings.expectation.clone(),
            settings.table.clone(),
            settings.stale_after,
        ))),
        metrics: Arc::new(Metrics::new(settings.expectation.version)),
    };
    tracing::info!(
        listen = %settings.listen,
        "serving /livez /readyz /status /metrics; checking every {} until ready, then {}",
        show_duration(settings.interval),
        settings.recheck_interval.map_or_else(|| "never (GATE_RECHECK_INTERVAL=0)".to_string(), show_duration)
    );
    let checking = async {
        check_forever(settings, db, &view).await;
        // Latched: keep serving the cached verdict.
        std::future::pending::<()>().await
    };
    let stop = tokio::select! {
        _ = checking => unreachable!("the checker never returns"),
        stop = http::serve(listener, view.clone(), signals) => stop,
    };
    tracing::info!("stopped by {}", stop.name());
    Finish {
        code: 0,
        message: None,
        exec: false,
    }
}

/// The checker loop. Returns only when readiness has latched (`GATE_RECHECK_INTERVAL=0`).
async fn check_forever(settings: &Settings, db: &Database, view: &View) {
    let mut last: Option<Verdict> = None;
    loop {
        let started = Instant::now();
        let read = db.check_fresh().await;
        let took = started.elapsed();
        let verdict = verdict_of(&read, settings);
        let changed = last.as_ref().is_none_or(|prev| !prev.same_answer(&verdict));
        if changed {
            if verdict.state == State::DbError {
                tracing::warn!(state = verdict.state.as_str(), "{verdict}");
            } else {
                tracing::info!(state = verdict.state.as_str(), "{verdict}");
            }
        }
        let wall = SystemTime::now();
        let answer_ready = {
            let mut readiness = view.readiness.lock().unwrap_or_else(|p| p.into_inner());
            readiness.record(verdict.clone(), Instant::now(), wall);
            view.metrics
                .record_check(&verdict, took, readiness.consecutive_errors(), wall);
            readiness.answer_is_ready()
        };
        last = Some(verdict);
        let period = match (answer_ready, settings.recheck_interval) {
            (false, _) => settings.interval,
            (true, Some(recheck)) => recheck,
            (true, None) => {
                tracing::info!("ready; GATE_RECHECK_INTERVAL=0: readiness latched, no more checks");
                return;
            }
        };
        tokio::time::sleep(jittered(period)).await;
    }
}

//! `schema-gate serve`: the readiness sidecar.
//!
//! Two tasks share one cached verdict (`readiness`): the checker (the only database user) polls
//! every `GATE_INTERVAL` until the schema is ready, then re-checks every `GATE_RECHECK_INTERVAL`
//! (or never, when it is 0), each time on a fresh connection that is closed right after
//! (hundreds of pods must not hold `max_connections`); the HTTP server (`listener`, `routes`)
//! answers probes from the cache, and `metrics` exports what the checker saw. SIGTERM/SIGINT:
//! stop accepting, finish in-flight requests, cancel a check in flight on the server, exit 0,
//! all within a second.

pub(crate) mod listener;
pub(crate) mod metrics;
pub(crate) mod readiness;
pub(crate) mod routes;

use crate::config::Settings;
use crate::core::verdict::{State, Verdict};
use crate::jitter::jittered;
use crate::modes::serve::metrics::Metrics;
use crate::modes::serve::readiness::{Failure, Readiness};
use crate::modes::serve::routes::View;
use crate::modes::{Finish, once, verdict_of};
use crate::postgres::db::Database;
use crate::signals::Signals;
use crate::time::show_duration;
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
                code: crate::exit::CONFIGURATION,
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
        metrics: Arc::new(Metrics::new(
            &settings.expectation,
            &settings.table,
            settings.recheck_interval,
        )),
    };
    // The address actually bound: with port 0 the kernel picks one, and the log must say which.
    let bound = listener.local_addr().unwrap_or(settings.listen);
    tracing::info!(
        listen = %bound,
        "serving /livez /readyz /status /metrics; checking every {} until ready, then {}",
        show_duration(settings.interval),
        settings.recheck_interval.map_or_else(|| "never (GATE_RECHECK_INTERVAL=0)".to_string(), show_duration)
    );
    // The checker hears the signals too (every handler sees every signal), so that it cancels a
    // check in flight while the listener drains: both end within the second.
    let mut checker_signals = match Signals::install() {
        Ok(signals) => signals,
        Err(e) => {
            let message = format!("cannot install signal handlers: {e}");
            tracing::error!("{message}");
            return Finish {
                code: crate::exit::DATABASE,
                message: Some(message),
                exec: false,
            };
        }
    };
    let checking = async {
        if check_until_stopped(settings, db, &view, &mut checker_signals).await {
            // Latched: keep serving the cached verdict until the signal.
            checker_signals.recv().await;
        }
    };
    let (stop, ()) = tokio::join!(listener::serve(listener, view.clone(), signals), checking);
    tracing::info!("stopped by {}", stop.name());
    Finish {
        code: 0,
        message: None,
        exec: false,
    }
}

/// The checker loop, until a signal (then a check in flight is cancelled on the server; returns
/// false) or until readiness has latched (`GATE_RECHECK_INTERVAL=0`; returns true).
async fn check_until_stopped(
    settings: &Settings,
    db: &Database,
    view: &View,
    signals: &mut Signals,
) -> bool {
    let mut last: Option<(Verdict, Failure)> = None;
    loop {
        let started = Instant::now();
        // A fresh connection each time, closed when the check ends.
        let read = match once(db, signals, async |session, signals| {
            db.read_or_abandon(session, &settings.expectation, signals.recv())
                .await
        })
        .await
        {
            Ok(read) => read,
            Err(_) => return false,
        };
        let took = started.elapsed();
        let verdict = verdict_of(&read, settings);
        let failure = match &read {
            Err(e) if e.rejected => Failure::Rejected,
            _ => Failure::Connectivity,
        };
        let changed = last
            .as_ref()
            .is_none_or(|(prev, kind)| !prev.same_answer(&verdict) || *kind != failure);
        let answer_ready = {
            let mut readiness = view.readiness.lock().unwrap_or_else(|p| p.into_inner());
            if changed {
                log_change(&verdict, failure, readiness.answer_is_ready());
            }
            let wall = SystemTime::now();
            readiness.record(verdict.clone(), failure, Instant::now(), wall);
            view.metrics.record_check(
                &verdict,
                failure,
                took,
                readiness.consecutive_errors(),
                wall,
            );
            readiness.answer_is_ready()
        };
        last = Some((verdict, failure));
        let period = match (answer_ready, settings.recheck_interval) {
            (false, _) => settings.interval,
            (true, Some(recheck)) => recheck,
            (true, None) => {
                tracing::info!("ready; GATE_RECHECK_INTERVAL=0: readiness latched, no more checks");
                return true;
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(jittered(period)) => {}
            _ = signals.recv() => return false,
        }
    }
}

/// Logs a verdict that differs from the previous one. A rejection is an `error`: with a verified
/// answer cached, readiness stays as it was (fail-static), so nothing but this line and
/// `/readyz?verbose`, `/status` and `/metrics` says that the gate no longer sees the schema.
fn log_change(verdict: &Verdict, failure: Failure, verified_ready: bool) {
    let state = verdict.state.as_str();
    match (verdict.state, failure) {
        (State::DbError, Failure::Rejected) if verified_ready => tracing::error!(
            state,
            error_kind = failure.as_str(),
            "{verdict}; readiness stays on the last verified answer until GATE_STALE_AFTER, but a rollback would not be seen until the gate's access is fixed"
        ),
        (State::DbError, Failure::Rejected) => {
            tracing::error!(state, error_kind = failure.as_str(), "{verdict}")
        }
        (State::DbError, Failure::Connectivity) => {
            tracing::warn!(state, error_kind = failure.as_str(), "{verdict}")
        }
        (State::Failed, _) => tracing::warn!(state, "{verdict}"),
        _ => tracing::info!(state, "{verdict}"),
    }
}

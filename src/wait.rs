//! `schema-gate wait`: block until the expected schema is applied (the init container).
//!
//! Polls every `GATE_INTERVAL` (jittered), keeping one connection open between polls. Retries
//! `behind`, `no_table` and transient database errors; fails fast on `ahead` (exit 4) and on
//! errors waiting cannot fix (exit 3); gives up at `GATE_TIMEOUT` (124); stops on SIGTERM/SIGINT
//! (143/130). Logs the first verdict, each change, and a progress line at most every 30 s.

use crate::check::{Finish, verdict_of};
use crate::config::{Settings, show_duration};
use crate::db::{CheckError, Database, Session};
use crate::goose::AppliedSet;
use crate::jitter::jittered;
use crate::signals::Signals;
use crate::verdict::{State, Verdict};
use std::time::{Duration, Instant};

/// At most one "still waiting" line per this period.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// Runs `wait` until ready (then `exec` is set if there is a command) or until it must give up.
pub async fn run(settings: &Settings, db: &Database, signals: &mut Signals) -> Finish {
    let started = Instant::now();
    let deadline = settings.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut session: Option<Session> = None;
    let mut last: Option<Verdict> = None;
    let mut last_line = Instant::now();
    let mut checks: u64 = 0;
    loop {
        let read = tokio::select! {
            read = read_reusing(db, &mut session) => read,
            stop = signals.recv() => return Finish::stopped(stop, last.as_ref()),
            _ = until(deadline) => return timed_out(settings, last.as_ref()),
        };
        checks += 1;
        let verdict = verdict_of(&read, settings);
        let fatal = matches!(&read, Err(CheckError { fatal: true, .. }));
        let changed = last.as_ref().is_none_or(|prev| !prev.same_answer(&verdict));
        if changed || last_line.elapsed() >= PROGRESS_EVERY {
            let waited = show_duration(Duration::from_secs(started.elapsed().as_secs()));
            if verdict.state == State::DbError {
                tracing::warn!(state = verdict.state.as_str(), checks, waited = %waited, "{verdict}");
            } else {
                tracing::info!(state = verdict.state.as_str(), checks, waited = %waited, "{verdict}");
            }
            last_line = Instant::now();
        }
        match verdict.state {
            State::Ready => {
                tracing::info!(
                    checks,
                    "schema ready after {:.1}s",
                    started.elapsed().as_secs_f64()
                );
                return Finish {
                    code: 0,
                    message: None,
                    exec: true,
                };
            }
            State::Ahead => {
                return give_up(
                    verdict,
                    "the database is ahead and waiting cannot change that",
                );
            }
            State::DbError if fatal => return give_up(verdict, "waiting cannot fix this error"),
            _ => {}
        }
        last = Some(verdict);
        tokio::select! {
            _ = tokio::time::sleep(jittered(settings.interval)) => {}
            stop = signals.recv() => return Finish::stopped(stop, last.as_ref()),
            _ = until(deadline) => return timed_out(settings, last.as_ref()),
        }
    }
}

/// One read, reusing the open session; a failed read drops it so the next poll reconnects.
async fn read_reusing(
    db: &Database,
    session: &mut Option<Session>,
) -> Result<Option<AppliedSet>, CheckError> {
    let open = match session.take() {
        Some(s) if s.is_usable() => s,
        _ => db.connect().await?,
    };
    let read = db.read(&open).await;
    if read.is_ok() {
        *session = Some(open);
    }
    read
}

async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn give_up(verdict: Verdict, why: &str) -> Finish {
    tracing::error!(state = verdict.state.as_str(), "{verdict} ({why})");
    Finish {
        code: verdict.state.exit_code(),
        message: Some(verdict.to_string()),
        exec: false,
    }
}

fn timed_out(settings: &Settings, last: Option<&Verdict>) -> Finish {
    let after = settings.timeout.map(show_duration).unwrap_or_default();
    let message = match last {
        Some(verdict) => format!("gave up after {after} (GATE_TIMEOUT): {verdict}"),
        None => format!("gave up after {after} (GATE_TIMEOUT) before the first check completed"),
    };
    tracing::error!("{message}");
    Finish {
        code: 124,
        message: Some(message),
        exec: false,
    }
}

//! `schema-gate wait`: block until the expected schema is applied (the init container).
//!
//! Polls every `GATE_INTERVAL` (jittered), keeping one connection open between polls. Retries
//! `behind`, `no_table`, `failed` and transient database errors; fails fast on `ahead` (exit 4)
//! and on errors waiting cannot fix (exit 3); gives up at `GATE_TIMEOUT` (124); stops on
//! SIGTERM/SIGINT (143/130). Logs the first verdict, each change, and a progress line at most
//! every 30 s. `failed` is logged at `warn` (a migration that is still running looks the same
//! as one that failed), and at `error` once it has lasted [`FAILED_INTERVALS`] intervals.

use crate::config::Settings;
use crate::core::verdict::{State, Verdict};
use crate::jitter::jittered;
use crate::modes::{Finish, verdict_of};
use crate::postgres::db::{CheckError, Database, Reading, Session};
use crate::signals::{Signals, Stop};
use crate::time::show_duration;
use std::time::{Duration, Instant};

/// At most one "still waiting" line per this period.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// After this many poll intervals in `failed`, the gate logs it at `error`: a migration still
/// running would most likely have finished by then.
pub const FAILED_INTERVALS: u32 = 60;

/// Runs `wait` until ready (then `exec` is set if there is a command) or until it must give up.
pub async fn run(settings: &Settings, db: &Database, signals: &mut Signals) -> Finish {
    let started = Instant::now();
    let deadline = settings.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut session: Option<Session> = None;
    let mut last: Option<Verdict> = None;
    let mut last_line = Instant::now();
    let mut checks: u64 = 0;
    let mut failing = Failing::default();
    loop {
        let read = match poll(db, settings, signals, &mut session, deadline).await {
            Ok(read) => read,
            Err(Abandon::Stop(stop)) => return Finish::stopped(stop, last.as_ref()),
            Err(Abandon::Deadline) => return timed_out(settings, last.as_ref()),
        };
        checks += 1;
        let verdict = verdict_of(&read, settings);
        let fatal = matches!(&read, Err(CheckError { rejected: true, .. }));
        let changed = last.as_ref().is_none_or(|prev| !prev.same_answer(&verdict));
        let escalated = failing.note(&verdict, settings.interval);
        if changed || escalated || last_line.elapsed() >= PROGRESS_EVERY {
            log_verdict(&verdict, checks, started, failing.long);
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

/// One poll: reuse the open session (or connect), read the table. A signal or the deadline
/// abandons it, cancelling a query in flight on the server; a failed read drops the session,
/// so the next poll reconnects.
async fn poll(
    db: &Database,
    settings: &Settings,
    signals: &mut Signals,
    session: &mut Option<Session>,
    deadline: Option<tokio::time::Instant>,
) -> Result<Result<Reading, CheckError>, Abandon> {
    let open = match session.take() {
        Some(open) if open.is_usable() => open,
        _ => {
            let connected = tokio::select! {
                open = db.connect() => open,
                stop = signals.recv() => return Err(Abandon::Stop(stop)),
                _ = until(deadline) => return Err(Abandon::Deadline),
            };
            match connected {
                Ok(open) => open,
                Err(e) => return Ok(Err(e)),
            }
        }
    };
    let abandon = async {
        tokio::select! {
            stop = signals.recv() => Abandon::Stop(stop),
            _ = until(deadline) => Abandon::Deadline,
        }
    };
    let read = db
        .read_or_abandon(&open, &settings.expectation, abandon)
        .await?;
    if read.is_ok() {
        *session = Some(open);
    }
    Ok(read)
}

/// How long the verdict has said `failed`.
#[derive(Default)]
struct Failing {
    since: Option<Instant>,
    /// It has lasted [`FAILED_INTERVALS`] intervals.
    long: bool,
}

impl Failing {
    /// Takes the latest verdict; true when `failed` has just lasted long enough to be an error.
    fn note(&mut self, verdict: &Verdict, interval: Duration) -> bool {
        if verdict.state != State::Failed {
            *self = Failing::default();
            return false;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        let long = since.elapsed() >= interval * FAILED_INTERVALS;
        let escalated = long && !self.long;
        self.long = long;
        escalated
    }
}

/// The first verdict, every change, and a progress line at most every [`PROGRESS_EVERY`]:
/// `failed` at `warn` (at `error` once `long`), a database error at `warn`, the rest at `info`.
fn log_verdict(verdict: &Verdict, checks: u64, started: Instant, long: bool) {
    let waited = show_duration(Duration::from_secs(started.elapsed().as_secs()));
    let state = verdict.state.as_str();
    match verdict.state {
        State::Failed if long => tracing::error!(
            state,
            checks,
            waited = %waited,
            "{verdict}; still failed after {FAILED_INTERVALS} intervals: most likely it failed, \
             and the tool refuses to go on until someone fixes it"
        ),
        State::DbError | State::Failed => {
            tracing::warn!(state, checks, waited = %waited, "{verdict}")
        }
        _ => tracing::info!(state, checks, waited = %waited, "{verdict}"),
    }
}

/// Why a read in flight was abandoned.
enum Abandon {
    Stop(Stop),
    Deadline,
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
        code: crate::exit::TIMED_OUT,
        message: Some(message),
        exec: false,
    }
}

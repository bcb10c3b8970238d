//! The four modes, and what they share: [`Finish`] (how a mode ends), [`verdict_of`] (a database
//! read judged against the settings) and [`print_line`] (stdout that survives a closed pipe).
//!
//! - [`check`]: one check, one line, an exit code.
//! - [`status`]: every migration, applied, failed or pending (`goose status`, read-only, for
//!   every tool).
//! - [`wait`]: block until ready (init container), then exit 0 or exec a command.
//! - [`serve`]: the readiness sidecar.

pub mod check;
pub mod serve;
pub mod status;
pub mod wait;

use crate::config::Settings;
use crate::core::verdict::{Verdict, judge_answer};
use crate::postgres::db::{CheckError, Database, Reading, Session};
use crate::signals::{Signals, Stop};
use std::io::Write;

/// How a mode ended: the exit code, the line for the termination-message file (non-zero exits
/// only), and whether `wait` should now exec its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    /// Process exit code (`docs/contract.md`'s table).
    pub code: u8,
    /// Final one-line verdict, written to the termination-message file.
    pub message: Option<String>,
    /// `wait` is ready and has a command to become.
    pub exec: bool,
}

impl Finish {
    /// Ended by a signal: 143/130.
    pub fn stopped(stop: Stop, last: Option<&Verdict>) -> Finish {
        let message = match last {
            Some(verdict) => format!("stopped by {}: {verdict}", stop.name()),
            None => format!(
                "stopped by {} before the first check completed",
                stop.name()
            ),
        };
        tracing::info!("{message}");
        Finish {
            code: stop.exit_code(),
            message: Some(message),
            exec: false,
        }
    }
}

/// The verdict for one read of the table (or the error that prevented it).
pub fn verdict_of(read: &Result<Reading, CheckError>, settings: &Settings) -> Verdict {
    match read {
        Ok(reading) => judge_answer(
            reading.answer.as_ref(),
            &settings.expectation,
            &settings.table,
        )
        .read_from(
            reading.resolved_table.clone(),
            reading.role_search_path.clone(),
        ),
        Err(e) => Verdict::db_error(&settings.expectation, &settings.table, e.message.clone()),
    }
}

/// A one-shot mode's database work: connect, then `read` the session, unless a signal comes
/// first (`Err(stop)`; a query in flight is cancelled on the server by `read`, which gets the
/// signals to abandon on).
pub(crate) async fn once<R>(
    db: &Database,
    signals: &mut Signals,
    read: impl AsyncFnOnce(&Session, &mut Signals) -> Result<Result<R, CheckError>, Stop>,
) -> Result<Result<R, CheckError>, Stop> {
    let session = tokio::select! {
        session = db.connect() => session,
        stop = signals.recv() => return Err(stop),
    };
    match session {
        Err(e) => Ok(Err(e)),
        Ok(session) => read(&session, signals).await,
    }
}

/// Writes one line to stdout. A closed stdout (`schema-gate check | true`) is not a reason to
/// abort or to change the exit code: the verdict's code still says what the gate found.
pub fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            tracing::debug!("stdout is closed; the exit code carries the verdict");
        } else {
            tracing::warn!(error = %e, "cannot write to stdout; the exit code carries the verdict");
        }
    }
}

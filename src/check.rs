//! `schema-gate check`: one check, one line (or JSON object) on stdout, an exit code that says
//! which verdict. Also home of [`Finish`], how every mode ends, and [`verdict_of`], the bridge from
//! a database read to a [`Verdict`] shared by all modes.

use crate::config::{Output, Settings};
use crate::db::{CheckError, Database};
use crate::goose::AppliedSet;
use crate::signals::{Signals, Stop};
use crate::verdict::{Verdict, judge};

/// How a mode ended: the exit code, the line for the termination-message file (non-zero exits
/// only), and whether `wait` should now exec its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    /// Process exit code (SPEC.md's table).
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
pub fn verdict_of(read: &Result<Option<AppliedSet>, CheckError>, settings: &Settings) -> Verdict {
    match read {
        Ok(table) => judge(table.as_ref(), &settings.expectation, &settings.table),
        Err(e) => Verdict::db_error(&settings.expectation, &settings.table, e.message.clone()),
    }
}

/// Runs `check`: prints the verdict and returns its exit code.
pub async fn run(settings: &Settings, db: &Database, signals: &mut Signals) -> Finish {
    let read = tokio::select! {
        read = db.check_fresh() => read,
        stop = signals.recv() => return Finish::stopped(stop, None),
    };
    let verdict = verdict_of(&read, settings);
    match settings.output {
        Output::Text => println!("{verdict}"),
        Output::Json => match serde_json::to_string(&verdict) {
            Ok(json) => println!("{json}"),
            Err(e) => tracing::error!(error = %e, "cannot encode the verdict as JSON"),
        },
    }
    let code = verdict.state.exit_code();
    Finish {
        code,
        message: (code != 0).then(|| verdict.to_string()),
        exec: false,
    }
}

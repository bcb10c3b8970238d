//! `schema-gate check`: one check, one line (or JSON object) on stdout, an exit code that says
//! which verdict. Also home of [`Finish`], how every mode ends, and [`verdict_of`], the bridge from
//! a database read to a [`Verdict`] shared by all modes.

use crate::config::{Output, Settings};
use crate::db::{CheckError, Database};
use crate::goose::TableFacts;
use crate::signals::{Signals, Stop};
use crate::status::listing;
use crate::verdict::{Verdict, judge};
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
pub fn verdict_of(read: &Result<Option<TableFacts>, CheckError>, settings: &Settings) -> Verdict {
    match read {
        Ok(table) => judge(table.as_ref(), &settings.expectation, &settings.table),
        Err(e) => Verdict::db_error(&settings.expectation, &settings.table, e.message.clone()),
    }
}

/// Runs `check`: prints the verdict and returns its exit code. A signal while the query runs
/// cancels it on the server before the gate exits.
pub async fn run(settings: &Settings, db: &Database, signals: &mut Signals) -> Finish {
    let session = tokio::select! {
        session = db.connect() => session,
        stop = signals.recv() => return Finish::stopped(stop, None),
    };
    let read = match session {
        Err(e) => Err(e),
        Ok(session) => {
            match db
                .read_or_abandon(&session, &settings.expectation, signals.recv())
                .await
            {
                Ok(read) => read,
                Err(stop) => return Finish::stopped(stop, None),
            }
        }
    };
    let verdict = verdict_of(&read, settings);
    let line = match settings.output {
        Output::Text => verdict.to_string(),
        Output::Json => serde_json::to_string(&verdict).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot encode the verdict as JSON");
            String::new()
        }),
    };
    print_line(&line);
    let code = verdict.state.exit_code();
    Finish {
        code,
        message: (code != 0).then(|| verdict.to_string()),
        exec: false,
    }
}

/// Runs `status`: lists every migration as `goose status` does (text, or JSON with the verdict),
/// from one read-only query, and exits with the verdict's code, as `check`.
pub async fn status(settings: &Settings, db: &Database, signals: &mut Signals) -> Finish {
    let session = tokio::select! {
        session = db.connect() => session,
        stop = signals.recv() => return Finish::stopped(stop, None),
    };
    let read = match session {
        Err(e) => Err(e),
        Ok(session) => {
            match db
                .read_status(&session, &settings.expectation, signals.recv())
                .await
            {
                Ok(read) => read,
                Err(stop) => return Finish::stopped(stop, None),
            }
        }
    };
    let (facts, listing) = match read {
        Ok(Some((facts, newest))) => {
            let files = settings.migration_files.as_deref();
            (
                Ok(Some(facts)),
                Some(listing(&settings.table, &newest, files)),
            )
        }
        Ok(None) => (Ok(None), None),
        Err(e) => (Err(e), None),
    };
    let verdict = verdict_of(&facts, settings);
    let text = match settings.output {
        Output::Text => match &listing {
            Some(listing) => format!("{listing}\n{verdict}"),
            None => verdict.to_string(),
        },
        Output::Json => serde_json::json!({
            "table": settings.table,
            "migrations": listing.as_ref().map(|l| &l.migrations),
            "without_file": listing.as_ref().map(|l| &l.without_file),
            "verdict": verdict,
        })
        .to_string(),
    };
    print_line(&text);
    let code = verdict.state.exit_code();
    Finish {
        code,
        message: (code != 0).then(|| verdict.to_string()),
        exec: false,
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

//! `schema-gate check`: one check, one line (or JSON object) on stdout, an exit code that says
//! which verdict.

use super::{Finish, once, print_line, verdict_of};
use crate::config::{Output, Settings};
use crate::postgres::db::Database;
use crate::signals::Signals;

/// Runs `check`: prints the verdict and returns its exit code. A signal while the query runs
/// cancels it on the server before the gate exits.
pub async fn run(settings: &Settings, db: &Database, signals: &mut Signals) -> Finish {
    let read = once(db, signals, async |session, signals| {
        db.read_or_abandon(session, &settings.expectation, signals.recv())
            .await
    })
    .await;
    let read = match read {
        Ok(read) => read,
        Err(stop) => return Finish::stopped(stop, None),
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

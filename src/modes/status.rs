//! `schema-gate status`: every migration as `goose status` lists it, from one read-only query.

use super::{Finish, once, print_line, verdict_of};
use crate::config::{Output, Settings};
use crate::core::status::listing;
use crate::postgres::db::Database;
use crate::signals::Signals;

/// Runs `status`: lists every migration as `goose status` does (text, or JSON with the verdict),
/// from one read-only query, and exits with the verdict's code, as `check`.
pub async fn run(settings: &Settings, db: &Database, signals: &mut Signals) -> Finish {
    let read = once(db, signals, async |session, signals| {
        db.read_status(session, &settings.expectation, signals.recv())
            .await
    })
    .await;
    let read = match read {
        Ok(read) => read,
        Err(stop) => return Finish::stopped(stop, None),
    };
    let (facts, listing) = match read {
        Ok((reading, newest)) => {
            let files = settings.migration_files.as_deref();
            let listing = reading
                .facts
                .is_some()
                .then(|| listing(&settings.table, &newest, files));
            (Ok(reading), listing)
        }
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

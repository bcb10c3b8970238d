//! `schema-gate status`: every migration as `goose status` lists it, from one read-only query,
//! written as it is read: [`crate::core::status`] merges goose's rows with the files and frames
//! the entries (text or JSON); this mode feeds it and writes what it produces to stdout. Every
//! other tool's listing (`core::tools::lines`) is made once its rows are in (its rule needs them
//! all) and written through the same framing, line by line.

use super::{Finish, once, verdict_of};
use crate::config::{Output, Settings};
use crate::core::read::Answer;
use crate::core::status::{Entry, Json, Listing, Section, Text};
use crate::core::tools::lines::Line;
use crate::core::verdict::{Expect, Verdict};
use crate::postgres::db::Database;
use crate::signals::Signals;
use std::io::Write;

/// Runs `status`: lists every migration as `goose status` does (text, or JSON with the verdict),
/// from one read-only query, and exits with the verdict's code, as `check`. With a missing
/// table every file is pending, as goose lists them.
pub async fn run(settings: &Settings, db: &Database, signals: &mut Signals) -> Finish {
    let mut listing = Listing::new(settings.migration_files.as_deref());
    let mut out = Out::new(settings.output, &settings.table);
    let read = once(db, signals, async |session, signals| {
        let on_version = |newest| {
            if let Some((section, entry)) = listing.push(newest) {
                out.entry(section, &entry);
            }
        };
        db.read_status(session, &settings.expectation, on_version, signals.recv())
            .await
    })
    .await;
    let read = match read {
        Ok(read) => read,
        Err(stop) => {
            out.finish(false, None);
            return Finish::stopped(stop, None);
        }
    };
    let mut complete = read.is_ok();
    match (&settings.expectation, &read) {
        // The table was read to its end (or is missing: then no row came, and every file is
        // pending).
        (Expect::Goose(_), Ok(_)) => {
            for (section, entry) in listing.files() {
                out.entry(section, &entry);
            }
        }
        (Expect::Tool { expected, .. }, Ok(reading)) => {
            let rows = match &reading.answer {
                Some(Answer::Tool { rows, .. }) => rows.as_slice(),
                _ => &[],
            };
            match expected.lines(rows) {
                Ok(lines) => {
                    for line in &lines.without_file {
                        out.line(Section::WithoutFile, line);
                    }
                    for line in &lines.migrations {
                        out.line(Section::Migrations, line);
                    }
                }
                Err(e) => {
                    tracing::error!("cannot list the migrations: {e}");
                    complete = false;
                }
            }
        }
        (_, Err(_)) => {}
    }
    let verdict = verdict_of(&read, settings);
    out.finish(complete, Some(&verdict));
    let code = verdict.state.exit_code();
    Finish {
        code,
        message: (code != 0).then(|| verdict.to_string()),
        exec: false,
    }
}

/// The listing's framing and stdout. Output is buffered (one write per 64 KiB, not per line);
/// a closed or full stdout stops the output, never the read: the exit code still carries the
/// verdict.
struct Out {
    framing: Framing,
    text: String,
    stdout: std::io::BufWriter<std::io::StdoutLock<'static>>,
    failed: bool,
}

enum Framing {
    Text(Text),
    Json(Json),
}

impl Out {
    fn new(output: Output, table: &str) -> Out {
        Out {
            framing: match output {
                Output::Text => Framing::Text(Text::new(table)),
                Output::Json => Framing::Json(Json::new(table)),
            },
            text: String::new(),
            stdout: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock()),
            failed: false,
        }
    }

    fn entry(&mut self, section: Section, entry: &Entry<'_>) {
        match &mut self.framing {
            Framing::Text(text) => text.entry(section, entry, &mut self.text),
            Framing::Json(json) => json.entry(section, entry, &mut self.text),
        }
        self.write();
    }

    fn line(&mut self, section: Section, line: &Line) {
        match &mut self.framing {
            Framing::Text(text) => text.line(section, line, &mut self.text),
            Framing::Json(json) => json.line(section, line, &mut self.text),
        }
        self.write();
    }

    fn finish(&mut self, complete: bool, verdict: Option<&Verdict>) {
        match &mut self.framing {
            Framing::Text(text) => text.finish(complete, verdict, &mut self.text),
            Framing::Json(json) => json.finish(complete, verdict, &mut self.text),
        }
        self.write();
        if !self.failed {
            let flushed = self.stdout.flush();
            self.check(flushed);
        }
    }

    fn write(&mut self) {
        if !self.failed {
            let written = self.stdout.write_all(self.text.as_bytes());
            self.check(written);
        }
        self.text.clear();
    }

    fn check(&mut self, result: std::io::Result<()>) {
        if let Err(e) = result {
            self.failed = true;
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                tracing::debug!("stdout is closed; the exit code carries the verdict");
            } else {
                tracing::warn!(error = %e, "cannot write to stdout; the exit code carries the verdict");
            }
        }
    }
}

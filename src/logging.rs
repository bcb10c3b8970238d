//! Logs to stderr, as text or one JSON object per line (`GATE_LOG_FORMAT`), filtered by `GATE_LOG`
//! (tracing-subscriber's `Targets`: no regex engine in the binary).

use crate::config::{LogFormat, LogSettings};
use std::io::{IsTerminal, Write};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. The filter was validated and normalised by
/// `config::log_settings`.
pub fn init(settings: &LogSettings) {
    let filter: Targets = settings
        .filter
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    // The builder's own level filter lets everything through: `Targets` decides.
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(|| Stderr)
        .with_target(false);
    match settings.format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .finish()
            .with(filter)
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .finish()
            .with(filter)
            .init(),
    }
}

/// The log's stderr. A failed write (stderr a closed pipe, `/dev/full`, a full disk) drops that
/// line and reports success: tracing-subscriber would otherwise print its own error with
/// `eprintln!`, which panics when stderr fails, and the panic would abort the process. Logging
/// never changes the exit code.
#[derive(Debug, Clone, Copy)]
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // One event is one write_all call, so a line is never split between writers.
        let _ = std::io::stderr().lock().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Writes one line to stderr, for what comes before logging is set up (and the panic hook):
/// `eprintln!` panics when stderr fails; this drops the line instead.
pub fn stderr_line(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

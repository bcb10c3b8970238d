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
///
/// Nor does it ever block: the gate runs on one thread, and a blocking write to a pipe nobody
/// drains (a stalled log collector; Docker's default `blocking` log mode when its driver cannot
/// keep up) held that thread for good, so SIGTERM, `GATE_TIMEOUT` and every probe went
/// unanswered. A line that cannot be written at once is dropped (see [`write_stderr`]).
#[derive(Debug, Clone, Copy)]
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // One event is one call, so a line is never split between writers.
        write_stderr(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes one line to stderr, for what comes before logging is set up (and the panic hook):
/// `eprintln!` panics when stderr fails; this drops the line instead, and never blocks.
pub fn stderr_line(line: &str) {
    write_stderr(format!("{line}\n").as_bytes());
}

/// How long a line may wait for room on stderr while it last had room; once a line was
/// dropped, none waits until one gets through again.
const STDERR_PATIENCE_MS: libc::c_int = 20;

/// Set while stderr has no room (the last line was dropped).
static STDERR_STALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes `bytes` to file descriptor 2 (unbuffered, as `std::io::stderr` is) without ever
/// blocking for long: a socket (journald's stream) is written with `MSG_DONTWAIT`; anything else
/// (a pipe, a file, a terminal) in pieces of at most `PIPE_BUF` bytes, each after `poll` said
/// there is room (a pipe with room takes such a piece whole, without blocking). When there is no
/// room, it waits [`STDERR_PATIENCE_MS`] at most, and the rest of the line is dropped.
// The one place logging needs libc: std cannot write without blocking to a descriptor it did
// not open. Allowed here, denied everywhere else.
#[allow(unsafe_code)]
fn write_stderr(bytes: &[u8]) {
    use std::sync::atomic::Ordering;
    const FD: libc::c_int = 2;
    let writable = || {
        let patience = if STDERR_STALLED.load(Ordering::Relaxed) {
            0
        } else {
            STDERR_PATIENCE_MS
        };
        let mut ready = libc::pollfd {
            fd: FD,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: poll on one valid pollfd.
        let polled = unsafe { libc::poll(&mut ready, 1, patience) };
        polled == 1 && ready.revents & libc::POLLOUT != 0
    };
    let mut rest = bytes;
    let mut socket = true;
    // Attempts that wrote nothing: a bound, so no odd descriptor can make this spin.
    let mut idle = 0;
    while !rest.is_empty() && idle < 16 {
        if !socket && !writable() {
            break;
        }
        let piece = &rest[..rest.len().min(libc::PIPE_BUF)];
        // SAFETY: send and write read at most piece.len() bytes from a valid slice.
        let written = unsafe {
            if socket {
                libc::send(
                    FD,
                    piece.as_ptr().cast(),
                    piece.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            } else {
                libc::write(FD, piece.as_ptr().cast(), piece.len())
            }
        };
        if written > 0 {
            rest = &rest[written as usize..];
            idle = 0;
            continue;
        }
        idle += 1;
        match std::io::Error::last_os_error().raw_os_error() {
            _ if written == 0 => return,
            Some(libc::EINTR) => {}
            Some(libc::ENOTSOCK) if socket => socket = false,
            Some(libc::EAGAIN) if socket && writable() => {}
            Some(libc::EAGAIN) => break,
            // A closed pipe, /dev/full, a full disk: the line is dropped.
            _ => return,
        }
    }
    STDERR_STALLED.store(!rest.is_empty(), Ordering::Relaxed);
}

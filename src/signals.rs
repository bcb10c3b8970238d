//! SIGTERM and SIGINT end the gate at every point of its life.
//!
//! - While a mode runs, they are values it can `select!` on ([`Signals`]), so a signal that
//!   arrives while connecting, querying or sleeping is seen at once and the mode ends cleanly
//!   (cancelling its query, writing its termination message).
//! - Before that (start-up) and after it (writing the termination message, exec), a plain
//!   handler ends the process at once ([`exit_on_signal`]). As PID 1 in a scratch image a signal
//!   without a handler would be ignored, and the runtime's handler, still installed once the
//!   runtime is gone, would swallow it.
//!
//! Exit codes follow the shell convention: 128 + signal number.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Which signal asked the gate to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM (Kubernetes stopping the pod).
    Term,
    /// SIGINT (Ctrl-C).
    Int,
}

impl Stop {
    /// 143 for SIGTERM, 130 for SIGINT.
    pub fn exit_code(self) -> u8 {
        match self {
            Stop::Term => crate::exit::SIGTERM,
            Stop::Int => crate::exit::SIGINT,
        }
    }

    /// The signal's name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Term => "SIGTERM",
            Stop::Int => "SIGINT",
        }
    }
}

/// Installed handlers for SIGTERM and SIGINT.
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Installs the handlers (needs a running tokio runtime).
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves at the next SIGTERM or SIGINT.
    pub async fn recv(&mut self) -> Stop {
        tokio::select! {
            _ = self.term.recv() => Stop::Term,
            _ = self.int.recv() => Stop::Int,
        }
    }
}

/// Makes SIGTERM and SIGINT end the process at once with 128 + the signal's number: for the
/// moments when no mode is listening (start-up, shutdown).
pub fn exit_on_signal() {
    set_disposition(exit_now as *const () as libc::sighandler_t);
}

/// Restores the default disposition, just before [`Signals::install`] takes over (the runtime's
/// handler calls the handler it replaces, which must not be [`exit_on_signal`]'s).
pub fn default_disposition() {
    set_disposition(libc::SIG_DFL);
}

fn set_disposition(handler: libc::sighandler_t) {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: sigaction with a zeroed, then filled struct; the handler (if ours) only calls
        // the async-signal-safe _exit.
        #[allow(unsafe_code)]
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

extern "C" fn exit_now(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe; nothing else runs here.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(128 + sig)
    }
}

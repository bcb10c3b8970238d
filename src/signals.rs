//! SIGTERM and SIGINT as values a mode can `select!` on.
//!
//! Handlers are installed before the first connection attempt, so a signal that arrives while
//! connecting, querying or sleeping is seen at once (as PID 1 in a scratch image, a signal without
//! a handler would be ignored). Exit codes follow the shell convention: 128 + signal number.

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
            Stop::Term => 143,
            Stop::Int => 130,
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

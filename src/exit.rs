//! Every exit code of the public interface (`docs/contract.md`), in one place, and [`Error`]: why
//! the gate stopped short of an answer, with the code that says so.

use crate::config::ConfigError;
use crate::postgres::db::CheckError;
use std::fmt;

/// The expected schema is applied.
pub const READY: u8 = 0;
/// Not ready: `behind` or `no_table`.
pub const NOT_READY: u8 = 1;
/// A usage or configuration error: nothing was checked.
pub const CONFIGURATION: u8 = 2;
/// A database error (`db_error`).
pub const DATABASE: u8 = 3;
/// `ahead` under `exact`.
pub const AHEAD: u8 = 4;
/// `wait` gave up at `GATE_TIMEOUT`.
pub const TIMED_OUT: u8 = 124;
/// `wait -- CMD`: ready, but CMD cannot be run (as a shell reports it).
pub const CANNOT_RUN: u8 = 126;
/// `wait -- CMD`: ready, but CMD is not found.
pub const NOT_FOUND: u8 = 127;
/// Stopped by SIGINT (128 + 2).
pub const SIGINT: u8 = 130;
/// Stopped by SIGTERM (128 + 15).
pub const SIGTERM: u8 = 143;

/// Why the gate stopped short of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A configuration mistake, naming its variable.
    Configuration(ConfigError),
    /// The database could not be asked.
    Database(CheckError),
    /// The process could not set itself up (runtime, signal handlers).
    Setup(String),
}

impl Error {
    /// The exit code that says which.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Configuration(_) => CONFIGURATION,
            Error::Database(_) | Error::Setup(_) => DATABASE,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Configuration(e) => write!(f, "configuration error: {e}"),
            Error::Database(e) => write!(f, "database error: {}", e.message),
            Error::Setup(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Configuration(e) => Some(e),
            Error::Database(e) => Some(e),
            Error::Setup(_) => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Configuration(e)
    }
}

impl From<CheckError> for Error {
    fn from(e: CheckError) -> Error {
        Error::Database(e)
    }
}

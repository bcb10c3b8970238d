//! Every exit code of the public interface (`docs/contract.md`), in one place. The floor of the
//! crate: it imports nothing, and every error type above it says which of these codes it means
//! (`ConfigError::exit_code`, `CheckError::exit_code`, `State::exit_code`).

/// The expected schema is applied.
pub const READY: u8 = 0;
/// Not ready: `behind`, `no_table` or `failed`.
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

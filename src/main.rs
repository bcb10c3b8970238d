//! The `schema-gate` binary: parse, configure, run one mode, exit with its code (or exec).

// Output goes through writes that ignore failure (`logging::stderr_line`, `modes::print_line`,
// the log's writer): `println!`/`eprintln!` panic when stdout or stderr fails.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use schema_gate::cli::{self, Invocation, Mode};
use schema_gate::config::{self, Settings, Sources, TerminationLog};
use schema_gate::modes::{self, check, serve, status, wait};
use schema_gate::postgres::db::Database;
use schema_gate::signals::Signals;
use schema_gate::{exit, logging, termination};
use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;

/// Why the gate stopped short of an answer, with the exit code each error type gives itself.
#[derive(Debug)]
enum Error {
    /// A configuration mistake, naming its variable (exit 2).
    Configuration(config::ConfigError),
    /// The process could not set itself up: runtime, signal handlers (exit 3).
    Setup(String),
}

impl Error {
    fn exit_code(&self) -> u8 {
        match self {
            Error::Configuration(e) => e.exit_code(),
            Error::Setup(_) => exit::DATABASE,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Configuration(e) => write!(f, "configuration error: {e}"),
            Error::Setup(why) => f.write_str(why),
        }
    }
}

impl From<config::ConfigError> for Error {
    fn from(e: config::ConfigError) -> Error {
        Error::Configuration(e)
    }
}

fn main() -> ExitCode {
    install_panic_hook();
    // Until a mode listens for them, SIGTERM and SIGINT end the process at once.
    schema_gate::signals::exit_on_signal();
    let (mode, flags, command) = match cli::parse(std::env::args_os().skip(1)) {
        Ok(Invocation::Run {
            mode,
            flags,
            command,
        }) => (mode, flags, command),
        Ok(Invocation::Help) => {
            modes::print_line(cli::usage().trim_end());
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Version) => {
            modes::print_line(&format!("schema-gate {}", env!("CARGO_PKG_VERSION")));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            logging::stderr_line(&format!("schema-gate: {e}"));
            return ExitCode::from(exit::CONFIGURATION);
        }
    };
    let (settings, db) = match configure(&flags, mode) {
        Ok(configured) => configured,
        Err(code) => return code,
    };
    let finish = run(mode, &settings, &db);
    // The runtime's handler outlives the runtime and would swallow a signal from here on.
    schema_gate::signals::exit_on_signal();
    if let Some(message) = &finish.message {
        termination::write(&settings.termination_log, message);
    }
    if finish.exec && !command.is_empty() {
        return exec(&command, &settings.termination_log);
    }
    ExitCode::from(finish.code)
}

/// Environment and flags → logging, settings and the database handle; exit 2 on any mistake.
fn configure(
    flags: &[(&'static str, String)],
    mode: Mode,
) -> Result<(Settings, Database), ExitCode> {
    let mut env = Vec::new();
    for (key, value) in std::env::vars_os() {
        let Ok(key) = key.into_string() else { continue };
        match value.into_string() {
            Ok(value) => env.push((key, value)),
            Err(_) if config::variables::variable(&key).is_some() => {
                logging::stderr_line(&format!(
                    "schema-gate: configuration error: {key}: the value is not valid UTF-8"
                ));
                return Err(ExitCode::from(exit::CONFIGURATION));
            }
            Err(_) => {}
        }
    }
    let sources = Sources::new(env, flags);
    let log = config::log_settings(&sources).map_err(|e| failed(&sources, e.into(), false))?;
    logging::init(&log);
    let settings = Settings::load(&sources).map_err(|e| failed(&sources, e.into(), true))?;
    tracing::debug!(?settings, "configuration");
    if mode == Mode::Serve && settings.timeout.is_some() {
        tracing::warn!(
            "GATE_TIMEOUT applies to wait only; serve ignores it (GATE_STALE_AFTER bounds how long serve trusts an unverified answer)"
        );
    }
    let db = Database::new(
        settings.target.clone(),
        (settings.tool.as_str(), &settings.table),
        settings.tool.read(),
        settings.connect_timeout,
        settings.query_timeout,
    )
    .map_err(|why| {
        let error = config::ConfigError(format!("TLS: {why}"));
        failed(&sources, error.into(), true)
    })?;
    Ok((settings, db))
}

/// Runs `mode` on a current-thread runtime, with the signal handlers it listens to.
fn run(mode: Mode, settings: &Settings, db: &Database) -> modes::Finish {
    let failed = |why: String| {
        let error = Error::Setup(why);
        tracing::error!("{error}");
        modes::Finish {
            code: error.exit_code(),
            message: None,
            exec: false,
        }
    };
    if let Err(why) = open_files() {
        return failed(why);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return failed(format!("cannot start the runtime: {e}")),
    };
    let finish = runtime.block_on(async {
        schema_gate::signals::default_disposition();
        let mut signals = match Signals::install() {
            Ok(signals) => signals,
            Err(e) => return failed(format!("cannot install signal handlers: {e}")),
        };
        match mode {
            Mode::Check => check::run(settings, db, &mut signals).await,
            Mode::Wait => wait::run(settings, db, &mut signals).await,
            Mode::Serve => serve::run(settings, db, &mut signals).await,
            Mode::Status => status::run(settings, db, &mut signals).await,
        }
    });
    // Never wait for a name lookup still running on a blocking thread (getaddrinfo cannot be
    // interrupted): the exit must stay within its second.
    runtime.shutdown_background();
    finish
}

/// The fewest open files the gate runs with: the standard three, the runtime's poller and waker,
/// the signal driver's socket pair, a database connection and a cancel request's, a name
/// lookup's, and some room.
const MIN_OPEN_FILES: u64 = 16;

/// Raises the open-file soft limit to the hard limit, as Go programs do (container runtimes
/// often start processes at a low soft limit; `serve` needs room for its connections), and
/// refuses to run below [`MIN_OPEN_FILES`]: with six or seven, tokio's signal set-up panicked
/// (`failed to create UnixStream`, exit 101 "internal error").
// setrlimit is not in std. Allowed here, denied everywhere else.
#[allow(unsafe_code)]
fn open_files() -> Result<(), String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Ok(());
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
    }
    if limit.rlim_cur < MIN_OPEN_FILES {
        return Err(format!(
            "the open-file limit is {} (ulimit -n), and the hard limit does not allow more: schema-gate needs at least {MIN_OPEN_FILES} open files",
            limit.rlim_cur
        ));
    }
    Ok(())
}

/// A panic is a bug; its report must still never carry a secret. Only a literal message (which
/// cannot hold runtime data) and the location are printed, never a formatted payload.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&'static str>()
            .copied()
            .unwrap_or("(details withheld)");
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        logging::stderr_line(&format!(
            "schema-gate: internal error at {at}: {what}; this is a bug, please report it"
        ));
    }));
}

/// Reports an error that stopped the gate short of an answer (the message already names the
/// variable) to the log, or stderr before logging is set up, and to the termination-message
/// file; returns its exit code.
fn failed(sources: &Sources, error: Error, logging: bool) -> ExitCode {
    let line = error.to_string();
    if logging {
        tracing::error!("{line}");
    } else {
        logging::stderr_line(&format!("schema-gate: {line}"));
    }
    termination::write(&TerminationLog::from_sources(sources), &line);
    ExitCode::from(error.exit_code())
}

/// Replaces the process with `command` (`wait -- CMD ARGS…`). Returns only on failure:
/// 127 when the command is not found, 126 when it cannot be run (the shell's codes).
fn exec(command: &[OsString], termination_log: &TerminationLog) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = command.split_first() else {
        return ExitCode::SUCCESS;
    };
    let error = std::process::Command::new(program).args(args).exec();
    tracing::error!(command = %program.to_string_lossy(), error = %error, "cannot run the command");
    let code = if error.kind() == std::io::ErrorKind::NotFound {
        exit::NOT_FOUND
    } else {
        exit::CANNOT_RUN
    };
    termination::write(
        termination_log,
        &format!(
            "ready, but cannot run {}: {error}",
            program.to_string_lossy()
        ),
    );
    ExitCode::from(code)
}

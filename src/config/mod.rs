//! Configuration: the environment (Kubernetes-style) and command-line flags, validated into
//! [`Settings`] before anything is checked.
//!
//! - [`variables`]: every variable defined once (name, flag, help, default), and [`Sources`],
//!   the environment merged with flags (a flag wins).
//! - `values`: parsers for durations, the table name, listen addresses.
//! - `migrations`: the migrations directory, listed by goose's rules.
//! - `database`: the DSN and libpq's variables, resolved into a [`Target`].
//!
//! Every value is parsed here, so each mistake is refused at start-up (exit 2) with a message
//! that names the variable or flag and what it accepts. A password, or a DSN that may hold one,
//! is never part of a message.

mod database;
pub(crate) mod migrations;
pub(crate) mod values;
pub mod variables;

pub use migrations::scan_migrations;
pub use values::{parse_duration, validate_table};
pub use variables::{Sources, VARIABLES, Variable};

use crate::core::verdict::{Expectation, Policy};
use crate::postgres::dsn::Target;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use values::{parse_listen, quote};

/// A configuration mistake: the message names the variable (or flag) and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `check`'s (and `status`'s) stdout format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `ready: …` / `not ready: …`.
    Text,
    /// The JSON object of `docs/contract.md`.
    Json,
}

/// Where a failing `wait`/`check` writes its final verdict line for `kubectl describe pod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminationLog {
    /// `/dev/termination-log`, only if it already exists and is writable.
    Default,
    /// `GATE_TERMINATION_LOG`: created if needed.
    Path(PathBuf),
}

impl TerminationLog {
    /// `GATE_TERMINATION_LOG` if set, else the Kubernetes default.
    pub fn from_sources(sources: &Sources) -> TerminationLog {
        match sources.get("GATE_TERMINATION_LOG") {
            Some(path) => TerminationLog::Path(PathBuf::from(path)),
            None => TerminationLog::Default,
        }
    }
}

/// How the gate logs; read first, so that later configuration errors are logged in that format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `GATE_LOG_FORMAT`.
    pub format: LogFormat,
    /// `GATE_LOG`, validated as an `EnvFilter`.
    pub filter: String,
}

/// Everything the modes need, validated. `Debug` shows no secret.
#[derive(Debug)]
pub struct Settings {
    /// Where the database is (password inside, redacted in `Debug`).
    pub target: Target,
    /// The version table, validated, to be used unquoted as goose does.
    pub table: String,
    /// What counts as ready.
    pub expectation: Expectation,
    /// `wait`: give up after this long; `None` = forever.
    pub timeout: Option<Duration>,
    /// Poll period while not ready (jittered).
    pub interval: Duration,
    /// `serve`: re-check period once ready; `None` = never (readiness latches).
    pub recheck_interval: Option<Duration>,
    /// `serve`: fail readiness after this long without a successful check.
    pub stale_after: Option<Duration>,
    /// Bound on connecting to one host.
    pub connect_timeout: Duration,
    /// Bound on one check query.
    pub query_timeout: Duration,
    /// `serve`: listen address.
    pub listen: SocketAddr,
    /// `check`/`status`: stdout format.
    pub output: Output,
    /// Termination-message file.
    pub termination_log: TerminationLog,
    /// The migration files, ascending, when a directory was given (`status`).
    pub migration_files: Option<Vec<MigrationFile>>,
}

/// A migration file: its version and its name (lossily UTF-8, for display).
pub type MigrationFile = (i64, String);

/// Reads `GATE_LOG_FORMAT` and `GATE_LOG`.
pub fn log_settings(sources: &Sources) -> Result<LogSettings, ConfigError> {
    let format = choice(
        sources,
        "GATE_LOG_FORMAT",
        &[("text", LogFormat::Text), ("json", LogFormat::Json)],
    )?;
    let filter = sources.value("GATE_LOG").unwrap_or("info").to_string();
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&filter) {
        return Err(ConfigError(format!(
            "{}: {} is not a log filter (e.g. info, debug, schema_gate=debug): {e}",
            sources.name("GATE_LOG"),
            quote(&filter)
        )));
    }
    Ok(LogSettings { format, filter })
}

impl Settings {
    /// Validates everything. Reads `DATABASE_URL_FILE`, the password file and the migrations
    /// directory; nothing else touches the outside world.
    pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
        check_driver(sources)?;
        let table = table(sources)?;
        let (expectation, migration_files) = expectation(sources)?;
        let timing = Timing::load(sources)?;
        let listen = sources.value("GATE_LISTEN").unwrap_or_default();
        let listen = parse_listen(listen).ok_or_else(|| {
            ConfigError(format!(
                "{}: {} is not an address like 0.0.0.0:8099, [::]:8099 or :8099",
                sources.name("GATE_LISTEN"),
                quote(listen)
            ))
        })?;
        let output = choice(
            sources,
            "GATE_OUTPUT",
            &[("text", Output::Text), ("json", Output::Json)],
        )?;
        let target = database::connection_target(sources)?;
        // GATE_CONNECT_TIMEOUT, else the DSN's connect_timeout, else the table's default.
        let connect_timeout = match timing.connect {
            Some(explicit) => explicit,
            None => match target.connect_timeout {
                Some(from_dsn) => from_dsn,
                None => default_duration("GATE_CONNECT_TIMEOUT")?,
            },
        };
        Ok(Settings {
            target,
            table,
            expectation,
            timeout: timing.timeout,
            interval: timing.interval,
            recheck_interval: timing.recheck_interval,
            stale_after: timing.stale_after,
            connect_timeout,
            query_timeout: timing.query_timeout,
            listen,
            output,
            termination_log: TerminationLog::from_sources(sources),
            migration_files,
        })
    }
}

/// `GOOSE_DRIVER`, if set, must name a Postgres driver.
fn check_driver(sources: &Sources) -> Result<(), ConfigError> {
    match sources.get("GOOSE_DRIVER") {
        None | Some("postgres" | "pgx") => Ok(()),
        Some(other) => Err(ConfigError(format!(
            "{}: {} is not supported; schema-gate reads Postgres (postgres or pgx)",
            sources.name("GOOSE_DRIVER"),
            quote(other)
        ))),
    }
}

/// `GOOSE_TABLE`, validated for unquoted use.
fn table(sources: &Sources) -> Result<String, ConfigError> {
    let table = sources.value("GOOSE_TABLE").unwrap_or_default().to_string();
    validate_table(&table).map_err(|why| {
        ConfigError(format!(
            "{}: {} {why}",
            sources.name("GOOSE_TABLE"),
            quote(&table)
        ))
    })?;
    Ok(table)
}

/// What counts as ready: `GATE_EXPECT_VERSION`, the migrations directory, or both (then they
/// must agree), under `GATE_POLICY`. Also returns the directory's files, for `status`.
fn expectation(
    sources: &Sources,
) -> Result<(Expectation, Option<Vec<MigrationFile>>), ConfigError> {
    let name = |var: &str| sources.name(var);
    let expected = match sources.get("GATE_EXPECT_VERSION") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "{}: {} is not an integer >= 0",
                        name("GATE_EXPECT_VERSION"),
                        quote(v)
                    ))
                })?,
        ),
    };
    let dir_var = match sources.get("GATE_MIGRATIONS_DIR") {
        Some(_) => "GATE_MIGRATIONS_DIR",
        None => "GOOSE_MIGRATION_DIR",
    };
    let files = match sources.get(dir_var) {
        None => None,
        Some(dir) => Some(
            scan_migrations(Path::new(dir))
                .map_err(|why| ConfigError(format!("{}: {why}", name(dir_var))))?,
        ),
    };
    let policy = choice(
        sources,
        "GATE_POLICY",
        &[("at-least", Policy::AtLeast), ("exact", Policy::Exact)],
    )?;
    let versions: Option<Vec<i64>> = files.as_ref().map(|f| f.iter().map(|(v, _)| *v).collect());
    let version = match (expected, versions.as_ref().and_then(|v| v.last().copied())) {
        (None, None) => {
            return Err(ConfigError(
                "no expectation: set GATE_EXPECT_VERSION (--expect-version) or GATE_MIGRATIONS_DIR (--migrations-dir)"
                    .to_string(),
            ));
        }
        (Some(version), None) => version,
        (None, Some(newest)) => newest,
        (Some(version), Some(newest)) if version == newest => newest,
        (Some(version), Some(newest)) => {
            return Err(ConfigError(format!(
                "{} is {version} but the newest file in {} is version {newest}: they must agree",
                name("GATE_EXPECT_VERSION"),
                name(dir_var)
            )));
        }
    };
    let expectation = Expectation {
        version,
        files: versions,
        policy,
    };
    Ok((expectation, files))
}

/// The durations, validated together (`GATE_STALE_AFTER` must exceed the recheck interval).
struct Timing {
    timeout: Option<Duration>,
    interval: Duration,
    recheck_interval: Option<Duration>,
    stale_after: Option<Duration>,
    /// `GATE_CONNECT_TIMEOUT` as given (the DSN's `connect_timeout` applies otherwise).
    connect: Option<Duration>,
    query_timeout: Duration,
}

impl Timing {
    fn load(sources: &Sources) -> Result<Timing, ConfigError> {
        let needed = |var: &str, zero_ok| {
            duration(sources, var, sources.value(var), zero_ok)?
                .ok_or_else(|| ConfigError(format!("{var}: no value and no default")))
        };
        let recheck = needed("GATE_RECHECK_INTERVAL", true)?;
        let recheck_interval = (!recheck.is_zero()).then_some(recheck);
        let stale_after = duration(
            sources,
            "GATE_STALE_AFTER",
            sources.get("GATE_STALE_AFTER"),
            false,
        )?;
        if let Some(stale) = stale_after {
            let (stale_name, recheck_name) = (
                sources.name("GATE_STALE_AFTER"),
                sources.name("GATE_RECHECK_INTERVAL"),
            );
            match recheck_interval {
                None => {
                    return Err(ConfigError(format!(
                        "{stale_name} is set but {recheck_name} is 0 (never re-check): readiness would go stale for good"
                    )));
                }
                Some(recheck) if stale <= recheck => {
                    return Err(ConfigError(format!(
                        "{stale_name} ({}) must be longer than {recheck_name} ({})",
                        crate::time::show_duration(stale),
                        crate::time::show_duration(recheck)
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(Timing {
            timeout: duration(sources, "GATE_TIMEOUT", sources.get("GATE_TIMEOUT"), false)?,
            interval: needed("GATE_INTERVAL", false)?,
            recheck_interval,
            stale_after,
            connect: duration(
                sources,
                "GATE_CONNECT_TIMEOUT",
                sources.get("GATE_CONNECT_TIMEOUT"),
                false,
            )?,
            query_timeout: needed("GATE_QUERY_TIMEOUT", false)?,
        })
    }
}

/// Parses `text` (the value of `var`) as a duration; zero only where `zero_ok`.
fn duration(
    sources: &Sources,
    var: &str,
    text: Option<&str>,
    zero_ok: bool,
) -> Result<Option<Duration>, ConfigError> {
    let Some(text) = text else {
        return Ok(None);
    };
    match parse_duration(text) {
        Ok(d) if d.is_zero() && !zero_ok => Err(ConfigError(format!(
            "{}: must be greater than 0 (got {})",
            sources.name(var),
            quote(text)
        ))),
        Ok(d) => Ok(Some(d)),
        Err(why) => Err(ConfigError(format!(
            "{}: {} {why}",
            sources.name(var),
            quote(text)
        ))),
    }
}

/// A variable's default, as a duration.
fn default_duration(var: &str) -> Result<Duration, ConfigError> {
    variables::variable(var)
        .and_then(|v| v.default)
        .and_then(|d| parse_duration(d).ok())
        .ok_or_else(|| ConfigError(format!("{var}: no usable default")))
}

/// One of a fixed set of spellings (the default when unset).
fn choice<T: Copy>(sources: &Sources, var: &str, options: &[(&str, T)]) -> Result<T, ConfigError> {
    let value = sources.value(var).unwrap_or_default();
    options
        .iter()
        .find(|(spelling, _)| *spelling == value)
        .map(|(_, choice)| *choice)
        .ok_or_else(|| {
            let accepted: Vec<&str> = options.iter().map(|(s, _)| *s).collect();
            ConfigError(format!(
                "{}: {} is not one of {}",
                sources.name(var),
                quote(value),
                accepted.join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load(&Sources::new(env, &[]))
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in [
            "",
            "s",
            "-1s",
            "1d",
            "1.2.3",
            "5 m",
            "1e3",
            "99999999999999999999",
            "9999h",
            ".",
            "1s5",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn tables() {
        assert!(validate_table("goose_db_version").is_ok());
        assert!(validate_table("app.Goose$v2").is_ok());
        for reserved in ["order", "ORDER", "user", "select.goose", "left"] {
            let e = validate_table(reserved).expect_err(reserved);
            assert!(e.contains("reserved word"), "{reserved}: {e}");
        }
        assert!(validate_table("public.order").is_ok());
        assert!(validate_table("orders").is_ok());
        for bad in [
            "", "a.b.c", "a;drop", "\"q", "1abc", "a.", ".a", "a b", "a-b",
        ] {
            assert!(validate_table(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn minimal_and_defaults() {
        let s = load(&[
            ("DATABASE_URL", "postgres://u@h/d"),
            ("GATE_EXPECT_VERSION", "3"),
        ])
        .expect("valid");
        assert_eq!(s.table, "goose_db_version");
        assert_eq!(
            s.expectation,
            Expectation {
                version: 3,
                files: None,
                policy: Policy::AtLeast
            }
        );
        assert_eq!(s.interval, Duration::from_secs(1));
        assert_eq!(s.recheck_interval, Some(Duration::from_secs(30)));
        assert_eq!(s.connect_timeout, Duration::from_secs(5));
        assert_eq!(s.listen.to_string(), "0.0.0.0:8099");
        assert_eq!(s.timeout, None);
    }

    #[test]
    fn each_error_names_its_variable() {
        let base = [
            ("DATABASE_URL", "postgres://u:hunter2@h/d"),
            ("GATE_EXPECT_VERSION", "3"),
        ];
        for (var, value) in [
            ("GATE_EXPECT_VERSION", "-1"),
            ("GATE_EXPECT_VERSION", "99999999999999999999"),
            ("GATE_POLICY", "newest"),
            ("GATE_TIMEOUT", "0"),
            ("GATE_INTERVAL", "fast"),
            ("GATE_RECHECK_INTERVAL", "-5s"),
            ("GATE_STALE_AFTER", "1x"),
            ("GATE_CONNECT_TIMEOUT", "1d"),
            ("GATE_QUERY_TIMEOUT", "0ms"),
            ("GATE_LISTEN", "localhost"),
            ("GATE_OUTPUT", "yaml"),
            ("GOOSE_TABLE", "x; drop table y"),
            ("GOOSE_DRIVER", "mysql"),
            ("GATE_MIGRATIONS_DIR", "/nonexistent/dir"),
            ("PGPORT", "0"),
        ] {
            let mut vars: Vec<(&str, &str)> = base.to_vec();
            vars.retain(|(k, _)| *k != var);
            vars.push((var, value));
            if var == "PGPORT" {
                vars[0] = ("DATABASE_URL", "postgres://u:hunter2@h/d");
            }
            let e = load(&vars).expect_err(var).0;
            assert!(e.starts_with(var), "{var}: {e}");
            assert!(!e.contains("hunter2"), "{var}: {e}");
        }
    }

    #[test]
    fn only_exact_upper_case_names_count() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let both = env(&[
            ("DATABASE_URL", "postgres://u@h/d"),
            ("database_url", "postgres://x@y/z"),
            ("GATE_EXPECT_VERSION", "1"),
        ]);
        let s = Settings::load(&Sources::new(both, &[])).expect("lower-case ignored");
        assert_eq!(s.target.pg.get_user(), Some("u"));
        let lower = env(&[
            ("database_url", "postgres://u@h/d"),
            ("GATE_EXPECT_VERSION", "1"),
        ]);
        let e = Settings::load(&Sources::new(lower, &[])).unwrap_err().0;
        assert!(e.contains("no database given"), "{e}");
    }

    #[test]
    fn flags_win_and_are_named() {
        let env = [
            ("DATABASE_URL".to_string(), "postgres://u@h/d".to_string()),
            ("GATE_INTERVAL".to_string(), "2s".to_string()),
        ];
        let flags = [
            ("GATE_EXPECT_VERSION", "4".to_string()),
            ("GATE_INTERVAL", "3s".to_string()),
        ];
        let s = Settings::load(&Sources::new(env.clone(), &flags)).expect("valid");
        assert_eq!(s.interval, Duration::from_secs(3));
        let flags = [("GATE_EXPECT_VERSION", "x".to_string())];
        let e = Settings::load(&Sources::new(env, &flags)).unwrap_err().0;
        assert!(e.starts_with("--expect-version: "), "{e}");
    }

    #[test]
    fn expectation_sources_must_agree() {
        let dir = std::env::temp_dir().join(format!("sg-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("00001_init.sql"), "").expect("write");
        std::fs::write(dir.join("00003_more.sql"), "").expect("write");
        let d = dir.to_str().expect("utf-8");
        let s = load(&[
            ("DATABASE_URL", "postgres://u@h/d"),
            ("GOOSE_MIGRATION_DIR", d),
        ])
        .expect("valid");
        assert_eq!(s.expectation.version, 3);
        assert_eq!(s.expectation.files, Some(vec![1, 3]));
        let e = load(&[
            ("DATABASE_URL", "postgres://u@h/d"),
            ("GATE_MIGRATIONS_DIR", d),
            ("GATE_EXPECT_VERSION", "2"),
        ])
        .unwrap_err()
        .0;
        assert!(e.contains("must agree"), "{e}");
        std::fs::write(dir.join("003_dup.sql"), "").expect("write");
        let e = load(&[
            ("DATABASE_URL", "postgres://u@h/d"),
            ("GATE_MIGRATIONS_DIR", d),
        ])
        .unwrap_err()
        .0;
        assert!(
            e.starts_with("GATE_MIGRATIONS_DIR: ") && e.contains("duplicate version 3"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn dsn_sources() {
        assert!(
            load(&[("GATE_EXPECT_VERSION", "1")])
                .unwrap_err()
                .0
                .contains("no database given")
        );
        let s = load(&[
            ("GOOSE_DBSTRING", "host=g user=u"),
            ("GATE_EXPECT_VERSION", "1"),
        ])
        .expect("valid");
        assert_eq!(s.target.pg.get_user(), Some("u"));
        let s = load(&[
            ("PGHOST", "p"),
            ("PGUSER", "pu"),
            ("GATE_EXPECT_VERSION", "1"),
        ])
        .expect("valid");
        assert_eq!(s.target.pg.get_user(), Some("pu"));
        let e = load(&[
            ("DATABASE_URL", "postgres://h"),
            ("DATABASE_URL_FILE", "/x"),
            ("GATE_EXPECT_VERSION", "1"),
        ])
        .unwrap_err()
        .0;
        assert!(e.contains("set one of them"), "{e}");
        let e = load(&[
            ("DATABASE_URL_FILE", "/nonexistent"),
            ("GATE_EXPECT_VERSION", "1"),
        ])
        .unwrap_err()
        .0;
        assert!(e.starts_with("DATABASE_URL_FILE: "), "{e}");
    }

    #[test]
    fn stale_after_must_exceed_recheck() {
        let base = [
            ("DATABASE_URL", "postgres://u@h/d"),
            ("GATE_EXPECT_VERSION", "1"),
        ];
        let mut v = base.to_vec();
        v.push(("GATE_STALE_AFTER", "10s"));
        assert!(load(&v).unwrap_err().0.contains("must be longer"));
        v.push(("GATE_RECHECK_INTERVAL", "0"));
        assert!(load(&v).unwrap_err().0.contains("never re-check"));
    }

    #[test]
    fn readme_documents_every_variable_flag_and_exit_code() {
        let readme = include_str!("../../README.md");
        for v in VARIABLES {
            assert!(
                readme.contains(&format!("`{}`", v.name)),
                "README lacks {}",
                v.name
            );
            if v.libpq.is_none() {
                assert!(
                    readme.contains(&format!("`{}", v.flag)),
                    "README lacks {}",
                    v.flag
                );
            }
            if let Some(default) = v.default {
                let row = readme
                    .lines()
                    .find(|l| l.starts_with(&format!("| `{}`", v.name)))
                    .unwrap_or_default();
                assert!(
                    row.ends_with(&format!("| `{default}` |")),
                    "README's default for {} is not `{default}`: {row}",
                    v.name
                );
            }
        }
        for code in [
            "| 0 |",
            "| 1 |",
            "| 2 |",
            "| 3 |",
            "| 4 |",
            "| 124 |",
            "| 126, 127 |",
            "| 130, 143 |",
        ] {
            assert!(
                readme.contains(code),
                "README's exit-code table lacks {code}"
            );
        }
    }

    #[test]
    fn debug_shows_no_password() {
        let s = load(&[
            ("DATABASE_URL", "postgres://u:hunter2@h/d"),
            ("GATE_EXPECT_VERSION", "1"),
        ])
        .expect("valid");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}

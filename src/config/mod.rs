//! Configuration: the environment (Kubernetes-style) and command-line flags, validated into
//! [`Settings`] before anything is checked.
//!
//! - [`variables`]: every variable defined once (name, flag, help, default), libpq's other
//!   variables, aliases, goose's own names, and [`Sources`], the environment merged with flags
//!   (a flag wins, within each alias group too).
//! - `names`: near misses of variable names (a misspelt variable must not be ignored).
//! - `values`: parsers for durations, the table name, listen addresses.
//! - `log`: `GATE_LOG`, read strictly.
//! - `migrations`: the migrations directory, listed by goose's rules or the configured tool's,
//!   and the `GATE_EXPECT_FILE` manifest.
//! - `database`: the DSN and libpq's variables, resolved into a [`Target`].
//! - `tool`: `GATE_TOOL`, the table, and every other tool's expectation.
//!
//! Every value is parsed here, so each mistake is refused at start-up (exit 2) with a message
//! that names the variable or flag and what it accepts. A password, or a DSN that may hold one,
//! is never part of a message, and neither is a flag's value. `docs/configuration.md` has the
//! rules.

mod database;
pub mod libpq;
pub(crate) mod log;
pub(crate) mod migrations;
pub(crate) mod names;
pub mod sources;
mod timing;
mod tool;
pub(crate) mod values;
pub mod variables;

pub use log::KNOWN_TARGETS;
pub use migrations::scan_migrations;
pub use values::{parse_duration, validate_table};
pub use variables::{LIBPQ_OTHERS, Sources, VARIABLES, Variable};

use crate::core::tools::Tool;
use crate::core::verdict::{Expect, Expectation, Policy};
use crate::postgres::dsn::Target;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use timing::{Timing, default_duration};
use values::parse_listen;

/// The shortest poll and re-check period: a shorter one floods the database with checks.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// PostgreSQL's limit for `statement_timeout` and `lock_timeout`, in milliseconds (`INT_MAX`).
pub const MAX_QUERY_TIMEOUT_MS: u128 = 2_147_483_647;

/// Whether the variable `name` decides *what* is checked (which database, table, expectation,
/// and every `GATE_*` setting): a near miss of one is an error, not a warning.
pub(crate) fn decides(name: &str) -> bool {
    name.starts_with("GATE_")
        || matches!(
            name,
            "GOOSE_TABLE"
                | "GOOSE_MIGRATION_DIR"
                | "GOOSE_DBSTRING"
                | "DATABASE_URL"
                | "DATABASE_URL_FILE"
        )
        || variables::variable(name).is_some_and(|v| v.libpq.is_some())
}

/// A configuration mistake: the message names the variable (or flag) and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// Every configuration mistake exits 2: nothing was checked.
    pub fn exit_code(&self) -> u8 {
        crate::exit::CONFIGURATION
    }
}

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
    /// `GATE_LOG`, validated and normalised (`default[,target=level…]`, as
    /// `tracing_subscriber::filter::Targets` parses it).
    pub filter: String,
}

/// Everything the modes need, validated. `Debug` shows no secret.
#[derive(Debug)]
pub struct Settings {
    /// Where the database is (password inside, redacted in `Debug`).
    pub target: Target,
    /// The tool whose table is read (`GATE_TOOL`).
    pub tool: Tool,
    /// The version table, validated, to be used as the tool uses it (`GATE_TABLE`, for goose
    /// also `GOOSE_TABLE`, else the tool's default).
    pub table: String,
    /// What counts as ready.
    pub expectation: Expect,
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
    /// goose's migration files, ascending, when a directory was given (`status`).
    pub migration_files: Option<Vec<MigrationFile>>,
}

/// A migration file: its version and its name, for display (bytes that are not UTF-8 as `\xNN`).
pub type MigrationFile = (i64, String);

/// Reads `GATE_LOG_FORMAT` and `GATE_LOG`.
pub fn log_settings(sources: &Sources) -> Result<LogSettings, ConfigError> {
    let format = choice(
        sources,
        "GATE_LOG_FORMAT",
        &[("text", LogFormat::Text), ("json", LogFormat::Json)],
    )?;
    let given = sources.value("GATE_LOG").unwrap_or("info");
    let show = |word: &str| sources.show("GATE_LOG", word);
    let filter = log::parse_log_filter(given, &show)
        .map_err(|why| ConfigError(format!("{}: {why}", sources.name("GATE_LOG"))))?;
    Ok(LogSettings { format, filter })
}

impl Settings {
    /// Validates everything. Reads `DATABASE_URL_FILE`, the password file and the migrations
    /// directory; nothing else touches the outside world.
    pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
        check_names(sources)?;
        check_driver(sources)?;
        let tool = tool::tool(sources)?;
        let table = tool::table(sources, tool)?;
        let (expectation, migration_files) = match tool {
            Tool::Goose => {
                let (goose, files) = expectation(sources)?;
                (Expect::Goose(goose), files)
            }
            tool => (tool::tool_expectation(sources, tool)?, None),
        };
        let timing = Timing::load(sources)?;
        let listen = sources.value("GATE_LISTEN").unwrap_or_default();
        let listen = parse_listen(listen).ok_or_else(|| {
            ConfigError(format!(
                "{}: {} is not an address like 0.0.0.0:8099, [::]:8099 or :8099",
                sources.name("GATE_LISTEN"),
                sources.show("GATE_LISTEN", listen)
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
            tool,
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

/// Near misses of variable names: errors for those that decide what is checked, warnings for
/// the rest (see `names`).
fn check_names(sources: &Sources) -> Result<(), ConfigError> {
    let known: Vec<&str> = variables::known_names().collect();
    let findings = names::near_misses(
        sources.set_names(),
        &known,
        variables::GOOSE_OWN,
        decides,
        |name| sources.get(name),
    );
    let mut errors = Vec::new();
    for finding in findings {
        match finding.severity {
            names::Severity::Error => errors.push(finding.message),
            names::Severity::Warning => tracing::warn!("{}", finding.message),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigError(errors.join("; ")))
    }
}

/// `GOOSE_DRIVER`, if set, must name a Postgres driver.
fn check_driver(sources: &Sources) -> Result<(), ConfigError> {
    match sources.get("GOOSE_DRIVER") {
        None | Some("postgres" | "pgx") => Ok(()),
        Some(other) => Err(ConfigError(format!(
            "{}: {} is not supported; schema-gate reads Postgres (postgres or pgx)",
            sources.name("GOOSE_DRIVER"),
            sources.show("GOOSE_DRIVER", other)
        ))),
    }
}

/// What counts as ready: `GATE_EXPECT_VERSION`, the migrations directory, or both (then they
/// must agree), under `GATE_POLICY`. Also returns the directory's files, for `status`.
fn expectation(
    sources: &Sources,
) -> Result<(Expectation, Option<Vec<MigrationFile>>), ConfigError> {
    let name = |var: &str| sources.name(var);
    if sources.get("GATE_EXPECT_FILE").is_some() {
        return Err(ConfigError(format!(
            "{}: goose's expectation is its migrations directory or GATE_EXPECT_VERSION; \
             GATE_EXPECT_FILE is for the tools whose migrations cannot be read from file names \
             (GATE_TOOL)",
            name("GATE_EXPECT_FILE")
        )));
    }
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
                        sources.show("GATE_EXPECT_VERSION", v)
                    ))
                })?,
        ),
    };
    let dirs = sources.alias(&["GATE_MIGRATIONS_DIR", "GOOSE_MIGRATION_DIR"]);
    log_alias_choice(&dirs);
    let dir_var = dirs.used.map_or("GATE_MIGRATIONS_DIR", |(var, _)| var);
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

/// Logs what [`Sources::alias`] found: a flag overriding the environment at `info`, two
/// differing aliases in one place at `warn`.
fn log_alias_choice(choice: &variables::AliasChoice) {
    for note in &choice.notes {
        tracing::info!("{note}");
    }
    for warning in &choice.warnings {
        tracing::warn!("{warning}");
    }
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
                sources.show(var, value),
                accepted.join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn goose(s: &Settings) -> &Expectation {
        s.expectation.goose().expect("goose's expectation")
    }

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
            Expect::Goose(Expectation {
                version: 3,
                files: None,
                policy: Policy::AtLeast
            })
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
        assert_eq!(goose(&s).version, 3);
        assert_eq!(goose(&s).files, Some(vec![1, 3]));
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

    fn load_with(
        env: &[(&str, &str)],
        flags: &[(&'static str, &str)],
    ) -> Result<Settings, ConfigError> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let flags: Vec<(&'static str, String)> =
            flags.iter().map(|(k, v)| (*k, v.to_string())).collect();
        Settings::load(&Sources::new(env, &flags))
    }

    fn migrations_dir(tag: &str, versions: &[i64]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sg-cfg-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for v in versions {
            std::fs::write(dir.join(format!("{v:05}_m.sql")), "").expect("write");
        }
        dir
    }

    #[test]
    fn a_flag_beats_the_environment_within_an_alias_group() {
        let four = migrations_dir("four", &[1, 2, 3, 4]);
        let nine = migrations_dir("nine", &[1, 9]);
        let (four, nine) = (four.to_str().expect("utf-8"), nine.to_str().expect("utf-8"));
        let s = load_with(
            &[
                ("DATABASE_URL", "postgres://u@h/d"),
                ("GATE_MIGRATIONS_DIR", four),
            ],
            &[("GOOSE_MIGRATION_DIR", nine)],
        )
        .expect("valid");
        assert_eq!(goose(&s).version, 9);
        // Both in the environment: GATE_MIGRATIONS_DIR is used (and a warning names both).
        let s = load_with(
            &[
                ("DATABASE_URL", "postgres://u@h/d"),
                ("GATE_MIGRATIONS_DIR", four),
                ("GOOSE_MIGRATION_DIR", nine),
            ],
            &[],
        )
        .expect("valid");
        assert_eq!(goose(&s).version, 4);
        let sources = Sources::new(
            [
                ("GATE_MIGRATIONS_DIR".to_string(), four.to_string()),
                ("GOOSE_MIGRATION_DIR".to_string(), nine.to_string()),
            ],
            &[],
        );
        let choice = sources.alias(variables::ALIASES[0]);
        assert_eq!(
            choice.used,
            Some(("GATE_MIGRATIONS_DIR", variables::Origin::Env))
        );
        assert_eq!(
            choice.warnings,
            vec![
                "GOOSE_MIGRATION_DIR and GATE_MIGRATIONS_DIR are both set, to different values: GATE_MIGRATIONS_DIR is used"
            ]
        );
        // --goose-dbstring beats DATABASE_URL from the environment.
        let s = load_with(
            &[
                ("DATABASE_URL", "postgres://env@h/d"),
                ("GATE_EXPECT_VERSION", "1"),
            ],
            &[("GOOSE_DBSTRING", "host=h user=flag")],
        )
        .expect("valid");
        assert_eq!(s.target.pg.get_user(), Some("flag"));
        // In the environment, DATABASE_URL beats GOOSE_DBSTRING (goose's own, for the Job).
        let s = load_with(
            &[
                ("DATABASE_URL", "postgres://gate@h/d"),
                ("GOOSE_DBSTRING", "host=h user=goose password=x"),
                ("GATE_EXPECT_VERSION", "1"),
            ],
            &[],
        )
        .expect("valid");
        assert_eq!(s.target.pg.get_user(), Some("gate"));
        for dir in [four, nine] {
            std::fs::remove_dir_all(dir).ok();
        }
    }

    #[test]
    fn pg_flags_override_the_dsn_and_pg_variables_only_fill() {
        let s = load_with(
            &[
                ("DATABASE_URL", "postgres://u@h:5432/app?sslmode=require"),
                ("PGDATABASE", "ignored"),
                ("PGAPPNAME", "filled"),
                ("GATE_EXPECT_VERSION", "1"),
            ],
            &[("PGPORT", "6543"), ("PGSSLMODE", "disable")],
        )
        .expect("valid");
        assert_eq!(s.target.pg.get_ports(), &[6543]);
        assert_eq!(s.target.pg.get_dbname(), Some("app"));
        assert_eq!(s.target.pg.get_application_name(), Some("filled"));
        assert_eq!(s.target.tls.mode, crate::postgres::dsn::SslMode::Disable);
        // A flag's bad value is named by the flag.
        let e = load_with(
            &[
                ("DATABASE_URL", "postgres://u@h/app"),
                ("GATE_EXPECT_VERSION", "1"),
            ],
            &[("PGPORT", "0")],
        )
        .unwrap_err()
        .0;
        assert!(e.starts_with("--pgport: "), "{e}");
    }

    #[test]
    fn new_libpq_variables_reach_the_target() {
        use tokio_postgres::config::TargetSessionAttrs;
        let s = load(&[
            ("PGHOST", "db.example"),
            ("PGHOSTADDR", "10.1.2.3"),
            ("PGUSER", "u"),
            ("PGTARGETSESSIONATTRS", "read-write"),
            ("PGOPTIONS", "-c search_path=app"),
            ("PGCHANNELBINDING", "require"),
            ("PGLOADBALANCEHOSTS", "random"),
            ("PGSSLSNI", "0"),
            ("PGTZ", "UTC"),
            ("PGDATESTYLE", "ISO"),
            ("PGCLIENTENCODING", "UTF8"),
            ("PGGEQO", "off"),
            ("GATE_EXPECT_VERSION", "1"),
        ])
        .expect("valid");
        let t = &s.target;
        assert_eq!(
            t.pg.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
        assert_eq!(
            t.per_host[0].get_hostaddrs(),
            &["10.1.2.3".parse::<std::net::IpAddr>().expect("ip")]
        );
        assert_eq!(t.runtime_params, vec![("search_path".into(), "app".into())]);
        assert_eq!(t.pg.get_options(), None);
        assert!(!t.tls.sni);
        assert_eq!(
            t.pg.get_load_balance_hosts(),
            tokio_postgres::config::LoadBalanceHosts::Random
        );
        // A DSN's target_session_attrs wins over the variable.
        let s = load(&[
            ("DATABASE_URL", "postgres://u@h/d?target_session_attrs=any"),
            ("PGTARGETSESSIONATTRS", "read-write"),
            ("GATE_EXPECT_VERSION", "1"),
        ])
        .expect("valid");
        assert_eq!(
            s.target.pg.get_target_session_attrs(),
            TargetSessionAttrs::Any
        );
    }

    #[test]
    fn libpq_variables_the_gate_cannot_honour_are_refused_by_name() {
        for var in [
            "PGSSLCRL",
            "PGSSLCRLDIR",
            "PGREQUIRESSL",
            "PGSERVICE",
            "PGSERVICEFILE",
            "PGSSLPASSWORD",
            "PGSSLCERTMODE",
            "PGREQUIREPEER",
            "PGREQUIREAUTH",
            "PGSSLMINPROTOCOLVERSION",
            "PGSSLMAXPROTOCOLVERSION",
            "PGGSSDELEGATION",
            "PGMINPROTOCOLVERSION",
        ] {
            let e = load(&[
                ("DATABASE_URL", "postgres://u@h/d"),
                ("GATE_EXPECT_VERSION", "1"),
                (var, "1"),
            ])
            .expect_err(var)
            .0;
            assert!(e.starts_with(&format!("{var}: ")), "{var}: {e}");
        }
        let e = load(&[
            ("DATABASE_URL", "postgres://u@h/d"),
            ("GATE_EXPECT_VERSION", "1"),
            ("PGGSSENCMODE", "require"),
        ])
        .unwrap_err()
        .0;
        assert!(e.starts_with("PGGSSENCMODE: "), "{e}");
        for var in LIBPQ_OTHERS {
            let accepted = load(&[
                ("DATABASE_URL", "postgres://u@h/d"),
                ("GATE_EXPECT_VERSION", "1"),
                (var.name, "1"),
            ]);
            let refused = match var.effect {
                variables::LibpqEffect::Refused => true,
                variables::LibpqEffect::NoEffect => false,
                variables::LibpqEffect::Key(key) => {
                    crate::postgres::dsn::key_support(key)
                        == crate::postgres::dsn::KeySupport::Refused
                }
            };
            if refused {
                assert!(accepted.is_err(), "{} accepted", var.name);
            } else if let Err(e) = accepted {
                // Accepted names that validate their value (gssencmode) may refuse "1".
                assert!(e.0.starts_with(var.name), "{}: {e}", var.name);
            }
        }
    }

    #[test]
    fn every_libpq_environment_variable_is_classified() {
        // libpq 18's documented environment variables (libpq-envars), plus pgx's PGSSLPASSWORD.
        let libpq = [
            "PGHOST",
            "PGHOSTADDR",
            "PGPORT",
            "PGDATABASE",
            "PGUSER",
            "PGPASSWORD",
            "PGPASSFILE",
            "PGREQUIREAUTH",
            "PGCHANNELBINDING",
            "PGSERVICE",
            "PGSERVICEFILE",
            "PGOPTIONS",
            "PGAPPNAME",
            "PGSSLMODE",
            "PGREQUIRESSL",
            "PGSSLNEGOTIATION",
            "PGSSLCOMPRESSION",
            "PGSSLCERT",
            "PGSSLKEY",
            "PGSSLCERTMODE",
            "PGSSLROOTCERT",
            "PGSSLCRL",
            "PGSSLCRLDIR",
            "PGSSLSNI",
            "PGREQUIREPEER",
            "PGSSLMINPROTOCOLVERSION",
            "PGSSLMAXPROTOCOLVERSION",
            "PGGSSENCMODE",
            "PGKRBSRVNAME",
            "PGGSSLIB",
            "PGGSSDELEGATION",
            "PGCONNECT_TIMEOUT",
            "PGCLIENTENCODING",
            "PGTARGETSESSIONATTRS",
            "PGLOADBALANCEHOSTS",
            "PGMINPROTOCOLVERSION",
            "PGMAXPROTOCOLVERSION",
            "PGDATESTYLE",
            "PGTZ",
            "PGGEQO",
            "PGSYSCONFDIR",
            "PGLOCALEDIR",
            "PGOAUTHDEBUG",
            "PGSSLPASSWORD",
        ];
        let docs = include_str!("../../docs/configuration.md");
        for name in libpq {
            assert!(
                variables::variable(name).is_some_and(|v| v.libpq.is_some())
                    || variables::libpq_other(name).is_some(),
                "{name} is not classified"
            );
            assert!(
                docs.contains(&format!("`{name}`")),
                "docs/configuration.md lacks {name}"
            );
        }
        for var in LIBPQ_OTHERS {
            if let variables::LibpqEffect::Key(key) = var.effect {
                let support = crate::postgres::dsn::key_support(key);
                assert!(
                    matches!(
                        support,
                        crate::postgres::dsn::KeySupport::Refused
                            | crate::postgres::dsn::KeySupport::NoEffect
                    ),
                    "{}: a supported key belongs in VARIABLES ({support:?})",
                    var.name
                );
            }
        }
    }

    #[test]
    fn near_misses_stop_the_gate_naming_both() {
        let e = load(&[
            ("DATABASE_URL", "postgres://u@h/d"),
            ("GATE_EXPECT_VERSION", "1"),
            ("GOOSE_TABLE_NAME", "lagging.goose_db_version"),
        ])
        .unwrap_err()
        .0;
        assert!(
            e.starts_with("GOOSE_TABLE_NAME is set") && e.contains("GOOSE_TABLE"),
            "{e}"
        );
        assert!(!e.contains("lagging"), "{e}");
        assert!(
            load(&[
                ("DATABASE_URL", "postgres://u@h/d"),
                ("GATE_EXPECT_VERSION", "1"),
                ("GOOSE_VERBOSE", "true"),
                ("NO_COLOR", "1"),
                ("GATE_PORT", "tcp://10.43.0.7:8099"),
                ("goose_table", "x"),
            ])
            .is_ok()
        );
    }

    #[test]
    fn log_filters_are_strict() {
        let log = |value: &str| {
            log_settings(&Sources::new(
                [("GATE_LOG".to_string(), value.to_string())],
                &[],
            ))
        };
        assert_eq!(log("debug").expect("valid").filter, "debug");
        assert_eq!(
            log("schema_gate=trace").expect("valid").filter,
            "info,schema_gate=trace"
        );
        for bad in ["warning", "debgu", "schema-gate=debug", "off"] {
            let e = log(bad).expect_err(bad).0;
            assert!(e.starts_with("GATE_LOG: "), "{e}");
        }
        let flag = [("GATE_LOG", "postgres://gate:Zq9@h/d".to_string())];
        let e = log_settings(&Sources::new(Vec::new(), &flag))
            .unwrap_err()
            .0;
        assert!(e.starts_with("--log: ") && !e.contains("Zq9"), "{e}");
    }

    #[test]
    fn interval_floor_and_query_timeout_ceiling() {
        let base = [
            ("DATABASE_URL", "postgres://u@h/d"),
            ("GATE_EXPECT_VERSION", "1"),
        ];
        let with = |var: &'static str, value: &'static str| {
            let mut v = base.to_vec();
            v.push((var, value));
            load(&v)
        };
        for (var, value) in [
            ("GATE_INTERVAL", "0.000001"),
            ("GATE_INTERVAL", "99ms"),
            ("GATE_RECHECK_INTERVAL", "10ms"),
            ("GATE_QUERY_TIMEOUT", "2147484s"),
            ("GATE_QUERY_TIMEOUT", "25d"),
            ("GATE_QUERY_TIMEOUT", "0.5ms"),
        ] {
            let e = with(var, value).expect_err(value).0;
            assert!(e.starts_with(var), "{var}={value}: {e}");
        }
        let e = with("GATE_INTERVAL", "0.000001").unwrap_err().0;
        assert!(e.contains("100ms to 1 year"), "{e}");
        let e = with("GATE_QUERY_TIMEOUT", "2147484s").unwrap_err().0;
        assert!(e.contains("1ms to 2147483647ms"), "{e}");
        assert!(with("GATE_INTERVAL", "100ms").is_ok());
        assert!(with("GATE_RECHECK_INTERVAL", "0").is_ok());
        assert_eq!(
            with("GATE_QUERY_TIMEOUT", "2147483s")
                .expect("valid")
                .query_timeout,
            Duration::from_secs(2_147_483)
        );
    }

    #[test]
    fn dsn_files_in_env_file_form_are_refused_saying_what_they_should_hold() {
        let dir = std::env::temp_dir().join(format!("sg-cfg-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("dsn");
        let cases: [(&str, &str); 5] = [
            ("DATABASE_URL=postgres://u:Zq9@h/d\n", "env-file line"),
            (
                "export DATABASE_URL=postgres://u:Zq9@h/d\n",
                "env-file line",
            ),
            ("\"postgres://u:Zq9@h/d\"\n", "in quotes"),
            ("\u{feff}postgres://u:Zq9@h/d\n", "byte-order mark"),
            (
                "DATABASE_URL=host=h user=u password=Zq9\n",
                "variable DATABASE_URL",
            ),
        ];
        for (content, expected) in cases {
            std::fs::write(&file, content).expect("write");
            let e = load(&[
                ("DATABASE_URL_FILE", file.to_str().expect("utf-8")),
                ("GATE_EXPECT_VERSION", "1"),
            ])
            .expect_err(content)
            .0;
            assert!(
                e.starts_with("DATABASE_URL_FILE: ") && e.contains(expected),
                "{content:?}: {e}"
            );
            assert!(!e.contains("Zq9"), "{e}");
        }
        // Surrounding white space (a final newline) is trimmed.
        std::fs::write(&file, "  postgres://u:Zq9@h/d\n\n").expect("write");
        assert!(
            load(&[
                ("DATABASE_URL_FILE", file.to_str().expect("utf-8")),
                ("GATE_EXPECT_VERSION", "1"),
            ])
            .is_ok()
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

//! Configuration: the environment (Kubernetes-style) and command-line flags, validated into
//! [`Settings`] before anything is checked.
//!
//! Every variable has a flag ([`VARIABLES`]: one table, used by the flag parser, the
//! help text and the README); a flag wins over the environment. The merged values are deserialised
//! by `envy` into [`Raw`] (all strings), and every value is then parsed here so that each mistake
//! is refused at start-up (exit 2) with a message that names the variable or flag and what it
//! accepts. A password, or a DSN that may hold one, is never part of a message.

use crate::dsn::{Params, Target};
use crate::verdict::{Expectation, Policy};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every configuration variable, its flag, and a one-line meaning (for `--help`).
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "DATABASE_URL",
        "--database-url",
        "postgres:// URL or libpq key=value string",
    ),
    (
        "DATABASE_URL_FILE",
        "--database-url-file",
        "file holding DATABASE_URL (a mounted Secret)",
    ),
    (
        "GOOSE_DBSTRING",
        "--goose-dbstring",
        "used when DATABASE_URL* is unset",
    ),
    ("GOOSE_DRIVER", "--goose-driver", "if set: postgres or pgx"),
    (
        "GOOSE_TABLE",
        "--goose-table",
        "version table, name or schema.name [goose_db_version]",
    ),
    (
        "GATE_EXPECT_VERSION",
        "--expect-version",
        "expected version, integer >= 0",
    ),
    (
        "GATE_MIGRATIONS_DIR",
        "--migrations-dir",
        "goose migrations directory: every file applied",
    ),
    (
        "GOOSE_MIGRATION_DIR",
        "--goose-migration-dir",
        "used when GATE_MIGRATIONS_DIR is unset",
    ),
    ("GATE_POLICY", "--policy", "at-least or exact [at-least]"),
    (
        "GATE_TIMEOUT",
        "--timeout",
        "wait: give up after this long [forever]",
    ),
    (
        "GATE_INTERVAL",
        "--interval",
        "poll period while not ready, jittered [1s]",
    ),
    (
        "GATE_RECHECK_INTERVAL",
        "--recheck-interval",
        "serve: re-check period once ready, 0 = never [30s]",
    ),
    (
        "GATE_STALE_AFTER",
        "--stale-after",
        "serve: fail readiness after this long without a successful check",
    ),
    (
        "GATE_CONNECT_TIMEOUT",
        "--connect-timeout",
        "bound on one connection attempt [5s]",
    ),
    (
        "GATE_QUERY_TIMEOUT",
        "--query-timeout",
        "bound on one check query [5s]",
    ),
    (
        "GATE_LISTEN",
        "--listen",
        "serve: listen address [0.0.0.0:8099]",
    ),
    ("GATE_LOG_FORMAT", "--log-format", "text or json [text]"),
    (
        "GATE_LOG",
        "--log",
        "log filter, tracing EnvFilter syntax [info]",
    ),
    (
        "GATE_OUTPUT",
        "--output",
        "check: text or json (--json) [text]",
    ),
    (
        "GATE_TERMINATION_LOG",
        "--termination-log",
        "where a failing wait/check writes its verdict [/dev/termination-log]",
    ),
    ("PGHOST", "--pghost", "libpq: host, when the DSN has none"),
    ("PGPORT", "--pgport", "libpq: port"),
    ("PGUSER", "--pguser", "libpq: user"),
    ("PGPASSWORD", "--pgpassword", "libpq: password"),
    ("PGDATABASE", "--pgdatabase", "libpq: database"),
    ("PGSSLMODE", "--pgsslmode", "libpq: sslmode [prefer]"),
    (
        "PGSSLROOTCERT",
        "--pgsslrootcert",
        "libpq: CA file, or system",
    ),
    ("PGSSLCERT", "--pgsslcert", "libpq: client certificate file"),
    ("PGSSLKEY", "--pgsslkey", "libpq: client key file"),
    (
        "PGCONNECT_TIMEOUT",
        "--pgconnect-timeout",
        "libpq: connect timeout, seconds",
    ),
    (
        "PGAPPNAME",
        "--pgappname",
        "libpq: application_name [schema-gate]",
    ),
    (
        "PGPASSFILE",
        "--pgpassfile",
        "libpq: password file [~/.pgpass]",
    ),
];

/// The raw values, as `envy` reads them: every field is a variable of [`VARIABLES`], lower-cased.
#[derive(Debug, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Raw {
    pub database_url: Option<String>,
    pub database_url_file: Option<String>,
    pub goose_dbstring: Option<String>,
    pub goose_driver: Option<String>,
    pub goose_table: Option<String>,
    pub gate_expect_version: Option<String>,
    pub gate_migrations_dir: Option<String>,
    pub goose_migration_dir: Option<String>,
    pub gate_policy: Option<String>,
    pub gate_timeout: Option<String>,
    pub gate_interval: Option<String>,
    pub gate_recheck_interval: Option<String>,
    pub gate_stale_after: Option<String>,
    pub gate_connect_timeout: Option<String>,
    pub gate_query_timeout: Option<String>,
    pub gate_listen: Option<String>,
    pub gate_log_format: Option<String>,
    pub gate_log: Option<String>,
    pub gate_output: Option<String>,
    pub gate_termination_log: Option<String>,
    pub pghost: Option<String>,
    pub pgport: Option<String>,
    pub pguser: Option<String>,
    pub pgpassword: Option<String>,
    pub pgdatabase: Option<String>,
    pub pgsslmode: Option<String>,
    pub pgsslrootcert: Option<String>,
    pub pgsslcert: Option<String>,
    pub pgsslkey: Option<String>,
    pub pgconnect_timeout: Option<String>,
    pub pgappname: Option<String>,
    pub pgpassfile: Option<String>,
    pub home: Option<String>,
    pub user: Option<String>,
}

/// A configuration mistake: the message names the variable (or flag) and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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

/// `check`'s stdout format.
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

/// How the gate logs; read first, so that later configuration errors are logged in that format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `GATE_LOG_FORMAT`.
    pub format: LogFormat,
    /// `GATE_LOG`, validated as an `EnvFilter`.
    pub filter: String,
}

/// Everything the three modes need, validated. `Debug` shows no secret.
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
    /// Bound on one connection attempt.
    pub connect_timeout: Duration,
    /// Bound on one check query.
    pub query_timeout: Duration,
    /// `serve`: listen address.
    pub listen: SocketAddr,
    /// `check`: stdout format.
    pub output: Output,
    /// Termination-message file.
    pub termination_log: TerminationLog,
    /// The migration files (version, name), ascending, when a directory was given (`status`).
    pub migration_files: Option<Vec<(i64, String)>>,
}

/// Merged configuration values: environment, overridden by flags. Knows which flag set what, so
/// errors can name the spelling the user typed.
pub struct Sources {
    values: BTreeMap<String, String>,
    from_flag: Vec<&'static str>,
}

impl Sources {
    /// Merges the environment with flags given as `(VARIABLE, value)`. Empty values count as
    /// unset (Kubernetes manifests often carry `value: ""`). Only the exact, upper-case names
    /// count (`database_url` is not `DATABASE_URL`), plus `HOME` and `USER` for libpq's defaults
    /// and any other `GATE_*` name (to warn about typos).
    pub fn new(
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(&'static str, String)],
    ) -> Sources {
        let mut values: BTreeMap<String, String> = env
            .into_iter()
            .filter(|(k, v)| {
                !v.is_empty()
                    && (VARIABLES.iter().any(|(var, _, _)| var == k)
                        || matches!(k.as_str(), "HOME" | "USER")
                        || k.starts_with("GATE_"))
            })
            .collect();
        let mut from_flag = Vec::new();
        for (var, value) in flags {
            values.insert(var.to_string(), value.clone());
            from_flag.push(*var);
        }
        Sources { values, from_flag }
    }

    /// How to name `var` in a message: its flag if the value came from one, else the variable.
    pub fn name(&self, var: &str) -> String {
        if self.from_flag.contains(&var) {
            VARIABLES
                .iter()
                .find(|(v, _, _)| *v == var)
                .map_or_else(|| var.to_string(), |(_, flag, _)| flag.to_string())
        } else {
            var.to_string()
        }
    }

    /// The merged value of `var`, if set.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.values.get(var).map(String::as_str)
    }

    fn raw(&self) -> Result<Raw, ConfigError> {
        envy::from_iter(self.values.iter().map(|(k, v)| (k.clone(), v.clone())))
            .map_err(|e| ConfigError(format!("environment: {e}")))
    }

    /// `GATE_*` variables that are set but unknown (a typo silently ignored is a footgun).
    pub fn unknown_gate_variables(&self) -> Vec<String> {
        self.values
            .keys()
            .filter(|k| k.starts_with("GATE_") && !VARIABLES.iter().any(|(v, _, _)| v == k))
            .cloned()
            .collect()
    }
}

/// Reads `GATE_LOG_FORMAT` and `GATE_LOG`.
pub fn log_settings(sources: &Sources) -> Result<LogSettings, ConfigError> {
    let raw = sources.raw()?;
    let format = match raw.gate_log_format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(ConfigError(format!(
                "{}: {} is not one of text, json",
                sources.name("GATE_LOG_FORMAT"),
                quote(other)
            )));
        }
    };
    let filter = raw.gate_log.unwrap_or_else(|| "info".to_string());
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
        let raw = sources.raw()?;
        let name = |var: &str| sources.name(var);

        if let Some(driver) = raw.goose_driver.as_deref()
            && !matches!(driver, "postgres" | "pgx")
        {
            return Err(ConfigError(format!(
                "{}: {} is not supported; schema-gate reads Postgres (postgres or pgx)",
                name("GOOSE_DRIVER"),
                quote(driver)
            )));
        }

        let table = raw
            .goose_table
            .clone()
            .unwrap_or_else(|| "goose_db_version".to_string());
        validate_table(&table).map_err(|why| {
            ConfigError(format!("{}: {} {why}", name("GOOSE_TABLE"), quote(&table)))
        })?;

        let expected = raw
            .gate_expect_version
            .as_deref()
            .map(|v| {
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
                    })
            })
            .transpose()?;
        let (dir_var, dir) = match (&raw.gate_migrations_dir, &raw.goose_migration_dir) {
            (Some(d), _) => ("GATE_MIGRATIONS_DIR", Some(d)),
            (None, Some(d)) => ("GOOSE_MIGRATION_DIR", Some(d)),
            (None, None) => ("GATE_MIGRATIONS_DIR", None),
        };
        let migration_files = dir
            .map(|d| {
                scan_migrations(Path::new(d))
                    .map_err(|why| ConfigError(format!("{}: {why}", name(dir_var))))
            })
            .transpose()?;
        let files: Option<Vec<i64>> = migration_files
            .as_ref()
            .map(|files| files.iter().map(|(version, _)| *version).collect());
        let policy = match raw.gate_policy.as_deref() {
            None | Some("at-least") => Policy::AtLeast,
            Some("exact") => Policy::Exact,
            Some(other) => {
                return Err(ConfigError(format!(
                    "{}: {} is not one of at-least, exact",
                    name("GATE_POLICY"),
                    quote(other)
                )));
            }
        };
        let expectation = match (expected, files) {
            (None, None) => {
                return Err(ConfigError(
                    "no expectation: set GATE_EXPECT_VERSION (--expect-version) or GATE_MIGRATIONS_DIR (--migrations-dir)"
                        .to_string(),
                ));
            }
            (Some(version), None) => Expectation {
                version,
                files: None,
                policy,
            },
            (expected, Some(files)) => {
                let newest = files.last().copied().unwrap_or(0);
                if let Some(version) = expected
                    && version != newest
                {
                    return Err(ConfigError(format!(
                        "{} is {version} but the newest file in {} is version {newest}: they must agree",
                        name("GATE_EXPECT_VERSION"),
                        name(dir_var)
                    )));
                }
                Expectation {
                    version: newest,
                    files: Some(files),
                    policy,
                }
            }
        };

        let duration = |var: &str,
                        value: &Option<String>,
                        zero_ok: bool|
         -> Result<Option<Duration>, ConfigError> {
            value
                .as_deref()
                .map(|v| match parse_duration(v) {
                    Ok(d) if d.is_zero() && !zero_ok => Err(ConfigError(format!(
                        "{}: must be greater than 0 (got {})",
                        name(var),
                        quote(v)
                    ))),
                    Ok(d) => Ok(d),
                    Err(why) => Err(ConfigError(format!("{}: {} {why}", name(var), quote(v)))),
                })
                .transpose()
        };
        let timeout = duration("GATE_TIMEOUT", &raw.gate_timeout, false)?;
        let interval =
            duration("GATE_INTERVAL", &raw.gate_interval, false)?.unwrap_or(Duration::from_secs(1));
        let recheck_interval =
            match duration("GATE_RECHECK_INTERVAL", &raw.gate_recheck_interval, true)? {
                None => Some(Duration::from_secs(30)),
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
            };
        let stale_after = duration("GATE_STALE_AFTER", &raw.gate_stale_after, false)?;
        if let Some(stale) = stale_after {
            match recheck_interval {
                None => {
                    return Err(ConfigError(format!(
                        "{} is set but {} is 0 (never re-check): readiness would go stale for good",
                        name("GATE_STALE_AFTER"),
                        name("GATE_RECHECK_INTERVAL")
                    )));
                }
                Some(recheck) if stale <= recheck => {
                    return Err(ConfigError(format!(
                        "{} ({}) must be longer than {} ({})",
                        name("GATE_STALE_AFTER"),
                        show_duration(stale),
                        name("GATE_RECHECK_INTERVAL"),
                        show_duration(recheck)
                    )));
                }
                Some(_) => {}
            }
        }
        let explicit_connect = duration("GATE_CONNECT_TIMEOUT", &raw.gate_connect_timeout, false)?;
        let query_timeout = duration("GATE_QUERY_TIMEOUT", &raw.gate_query_timeout, false)?
            .unwrap_or(Duration::from_secs(5));

        let listen = match raw.gate_listen.as_deref() {
            None => SocketAddr::from(([0, 0, 0, 0], 8099)),
            Some(v) => parse_listen(v).ok_or_else(|| {
                ConfigError(format!(
                    "{}: {} is not an address like 0.0.0.0:8099, [::]:8099 or :8099",
                    name("GATE_LISTEN"),
                    quote(v)
                ))
            })?,
        };
        let output = match raw.gate_output.as_deref() {
            None | Some("text") => Output::Text,
            Some("json") => Output::Json,
            Some(other) => {
                return Err(ConfigError(format!(
                    "{}: {} is not one of text, json",
                    name("GATE_OUTPUT"),
                    quote(other)
                )));
            }
        };
        let termination_log = match &raw.gate_termination_log {
            Some(path) => TerminationLog::Path(PathBuf::from(path)),
            None => TerminationLog::Default,
        };

        let target = connection_target(&raw, sources)?;
        let connect_timeout = explicit_connect
            .or(target.connect_timeout)
            .unwrap_or(Duration::from_secs(5));

        Ok(Settings {
            target,
            table,
            expectation,
            timeout,
            interval,
            recheck_interval,
            stale_after,
            connect_timeout,
            query_timeout,
            listen,
            output,
            termination_log,
            migration_files,
        })
    }
}

/// The DSN (from `DATABASE_URL`, `DATABASE_URL_FILE` or `GOOSE_DBSTRING`) plus libpq's variables.
fn connection_target(raw: &Raw, sources: &Sources) -> Result<Target, ConfigError> {
    let name = |var: &str| sources.name(var);
    let url_flag = sources.from_flag.contains(&"DATABASE_URL");
    let file_flag = sources.from_flag.contains(&"DATABASE_URL_FILE");
    let (dsn, origin) = match (&raw.database_url, &raw.database_url_file) {
        (Some(_), Some(_)) if url_flag == file_flag => {
            return Err(ConfigError(format!(
                "both {} and {} are set: set one of them",
                name("DATABASE_URL"),
                name("DATABASE_URL_FILE")
            )));
        }
        (Some(url), None) => (Some(url.clone()), name("DATABASE_URL")),
        (Some(url), Some(_)) if url_flag => (Some(url.clone()), name("DATABASE_URL")),
        (_, Some(file)) => {
            let bytes = crate::files::read_capped(Path::new(file), crate::files::SMALL)
                .map_err(|why| ConfigError(format!("{}: {why}", name("DATABASE_URL_FILE"))))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                ConfigError(format!(
                    "{}: {file} is not UTF-8 text",
                    name("DATABASE_URL_FILE")
                ))
            })?;
            let dsn = text.trim().to_string();
            if dsn.is_empty() {
                return Err(ConfigError(format!(
                    "{}: {file} is empty; it should hold a postgres:// URL or key=value string",
                    name("DATABASE_URL_FILE")
                )));
            }
            (Some(dsn), name("DATABASE_URL_FILE"))
        }
        (None, None) => match &raw.goose_dbstring {
            Some(dsn) => (Some(dsn.clone()), name("GOOSE_DBSTRING")),
            None => (None, String::new()),
        },
    };
    if dsn.is_none() && raw.pghost.is_none() {
        return Err(ConfigError(
            "no database given: set DATABASE_URL, DATABASE_URL_FILE, GOOSE_DBSTRING or PGHOST"
                .to_string(),
        ));
    }
    let mut params = match &dsn {
        Some(dsn) => Params::parse(dsn, &origin).map_err(|e| ConfigError(e.0))?,
        None => Params::default(),
    };
    for (key, var, value) in [
        ("host", "PGHOST", &raw.pghost),
        ("port", "PGPORT", &raw.pgport),
        ("user", "PGUSER", &raw.pguser),
        ("password", "PGPASSWORD", &raw.pgpassword),
        ("dbname", "PGDATABASE", &raw.pgdatabase),
        ("sslmode", "PGSSLMODE", &raw.pgsslmode),
        ("sslrootcert", "PGSSLROOTCERT", &raw.pgsslrootcert),
        ("sslcert", "PGSSLCERT", &raw.pgsslcert),
        ("sslkey", "PGSSLKEY", &raw.pgsslkey),
        (
            "connect_timeout",
            "PGCONNECT_TIMEOUT",
            &raw.pgconnect_timeout,
        ),
        ("application_name", "PGAPPNAME", &raw.pgappname),
        ("passfile", "PGPASSFILE", &raw.pgpassfile),
    ] {
        params.fill(key, &name(var), value.as_deref());
    }
    let home = raw.home.as_deref().map(Path::new);
    let target = params
        .resolve(home, raw.user.as_deref())
        .map_err(|e| ConfigError(e.0))?;
    Ok(target)
}

/// goose's table rule (`docs/goose.md`): `name` or `schema.name`, each part
/// `[A-Za-z_][A-Za-z0-9_$]*`; used unquoted, so Postgres folds it to lower case like goose's.
pub fn validate_table(table: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() > 2 {
        return Err("has too many dots: use name or schema.name");
    }
    for part in &parts {
        let mut chars = part.chars();
        let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            return Err("is not a table name: each part must match [A-Za-z_][A-Za-z0-9_$]*");
        }
        if part.len() > 63 {
            return Err("has a part longer than 63 bytes (Postgres would truncate it)");
        }
    }
    // Used unquoted, a reserved word is a syntax error (goose fails on it too). After a dot
    // Postgres takes any word, so only the first part can clash.
    if parts
        .first()
        .is_some_and(|first| RESERVED_WORDS.contains(&first.to_ascii_lowercase().as_str()))
    {
        return Err(
            "starts with an SQL reserved word, which cannot name a table unquoted (goose fails on it too)",
        );
    }
    Ok(())
}

/// Postgres's reserved and type/function-name keywords (15, plus 16's `system_user`): none can
/// be a schema or an unqualified table name without quotes.
const RESERVED_WORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Lists a migrations directory by goose's rules and returns its versions, ascending.
///
/// goose globs `*.sql` and `*.go` by *name* (top level only): every entry with such a name
/// counts, whatever it is (a file, a symlink as in a ConfigMap mount, a dangling symlink, a
/// directory), and names are bytes, not UTF-8. An entry goose would see is never skipped here:
/// its version is expected.
pub fn scan_migrations(dir: &Path) -> Result<Vec<(i64, String)>, String> {
    use std::os::unix::ffi::OsStrExt;
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        names.push(entry.file_name());
    }
    let versions: Vec<(i64, String)> =
        crate::goose::migration_files(names.iter().map(|n| n.as_bytes()))
            .map_err(|why| format!("{}: {why}", dir.display()))?
            .into_iter()
            .map(|(version, name)| (version, String::from_utf8_lossy(name).into_owned()))
            .collect();
    if versions.is_empty() {
        return Err(format!(
            "no goose migration files (NNN_name.sql or .go) in {}",
            dir.display()
        ));
    }
    Ok(versions)
}

/// Parses `500ms`, `30s`, `5m`, `1h`, or bare seconds (decimals allowed: `1.5s`, `0.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const ACCEPTS: &str = "is not a duration: use 500ms, 30s, 5m, 1h or bare seconds";
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_nanos: u128 = match unit {
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(ACCEPTS.to_string()),
    };
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && frac.is_empty()
        || whole.len() > 12
        || frac.len() > 9
        || frac.contains('.')
    {
        return Err(ACCEPTS.to_string());
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| ACCEPTS.to_string())?
    };
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| ACCEPTS.to_string())?
    };
    let frac_nanos = frac_value * unit_nanos / 10u128.pow(frac.len() as u32);
    let nanos = whole * unit_nanos + frac_nanos;
    const LIMIT: u128 = 366 * 24 * 3_600_000_000_000; // a year: beyond that it is a typo
    if nanos > LIMIT {
        return Err("is too long: at most a year".to_string());
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Formats a duration the way it would be configured (`1.5s`, `250ms`, `5m`, `0.25ms`).
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if d.subsec_nanos() % 1_000_000 != 0 && d < Duration::from_secs(1) {
        // Below a millisecond's precision: fractional milliseconds, never "0s".
        let text = format!("{:.6}", d.as_nanos() as f64 / 1e6);
        return format!("{}ms", text.trim_end_matches('0').trim_end_matches('.'));
    }
    if ms % 3_600_000 == 0 && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

fn parse_listen(text: &str) -> Option<SocketAddr> {
    if let Some(port) = text.strip_prefix(':') {
        return port
            .parse::<u16>()
            .ok()
            .map(|p| SocketAddr::from(([0, 0, 0, 0], p)));
    }
    text.parse().ok()
}

/// Quotes a user-given (non-secret) value for a message, shortened so hostile input stays short.
fn quote(value: &str) -> String {
    let short: String = value.chars().take(64).collect();
    if short.len() < value.len() {
        format!("{short:?}…")
    } else {
        format!("{short:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show_duration(Duration::from_secs(300)), "5m");
        assert_eq!(show_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(show_duration(Duration::from_micros(500)), "0.5ms");
        assert_eq!(show_duration(Duration::from_nanos(1)), "0.000001ms");
        assert_eq!(show_duration(Duration::from_micros(1500)), "1.5ms");
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
            "", "a.b.c", "a;drop", "\"q\"", "1abc", "a.", ".a", "a b", "a-b",
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
        let readme = include_str!("../README.md");
        for (var, flag, _) in VARIABLES {
            assert!(readme.contains(&format!("`{var}`")), "README lacks {var}");
            if !var.starts_with("PG") {
                assert!(readme.contains(&format!("`{flag}")), "README lacks {flag}");
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

//! Every configuration variable, defined once ([`VARIABLES`]): its environment name, its flag,
//! what it means, its default and, for libpq's `PG*` variables, the DSN key it fills. The flag
//! parser, `--help`, the README check and the defaults all come from this one table.
//! [`Sources`] merges the environment with the flags given.

use std::collections::BTreeMap;

/// One configuration variable.
#[derive(Debug)]
pub struct Variable {
    /// The environment variable (exact, upper case).
    pub name: &'static str,
    /// The command-line flag that sets it (a flag wins).
    pub flag: &'static str,
    /// What it means, for `--help`.
    pub help: &'static str,
    /// The value used when it is unset, in its own syntax (parsed like a user's value).
    pub default: Option<&'static str>,
    /// For libpq's `PG*` variables: the DSN key it fills when the DSN leaves it out.
    pub libpq: Option<&'static str>,
}

/// Every variable the gate reads.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "DATABASE_URL",
        flag: "--database-url",
        help: "postgres:// URL or libpq key=value string",
        default: None,
        libpq: None,
    },
    Variable {
        name: "DATABASE_URL_FILE",
        flag: "--database-url-file",
        help: "file holding DATABASE_URL (a mounted Secret)",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GOOSE_DBSTRING",
        flag: "--goose-dbstring",
        help: "used when DATABASE_URL* is unset",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GOOSE_DRIVER",
        flag: "--goose-driver",
        help: "if set: postgres or pgx",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GOOSE_TABLE",
        flag: "--goose-table",
        help: "version table, name or schema.name",
        default: Some("goose_db_version"),
        libpq: None,
    },
    Variable {
        name: "GATE_EXPECT_VERSION",
        flag: "--expect-version",
        help: "expected version, integer >= 0",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GATE_MIGRATIONS_DIR",
        flag: "--migrations-dir",
        help: "goose migrations directory: every file applied",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GOOSE_MIGRATION_DIR",
        flag: "--goose-migration-dir",
        help: "used when GATE_MIGRATIONS_DIR is unset",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GATE_POLICY",
        flag: "--policy",
        help: "at-least or exact",
        default: Some("at-least"),
        libpq: None,
    },
    Variable {
        name: "GATE_TIMEOUT",
        flag: "--timeout",
        help: "wait: give up after this long (unset: forever)",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GATE_INTERVAL",
        flag: "--interval",
        help: "poll period while not ready, jittered",
        default: Some("1s"),
        libpq: None,
    },
    Variable {
        name: "GATE_RECHECK_INTERVAL",
        flag: "--recheck-interval",
        help: "serve: re-check period once ready, 0 = never",
        default: Some("30s"),
        libpq: None,
    },
    Variable {
        name: "GATE_STALE_AFTER",
        flag: "--stale-after",
        help: "serve: fail readiness after this long without a successful check",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GATE_CONNECT_TIMEOUT",
        flag: "--connect-timeout",
        help: "bound on connecting to one host (else the DSN's connect_timeout)",
        default: Some("5s"),
        libpq: None,
    },
    Variable {
        name: "GATE_QUERY_TIMEOUT",
        flag: "--query-timeout",
        help: "bound on one check query",
        default: Some("5s"),
        libpq: None,
    },
    Variable {
        name: "GATE_LISTEN",
        flag: "--listen",
        help: "serve: listen address",
        default: Some("0.0.0.0:8099"),
        libpq: None,
    },
    Variable {
        name: "GATE_LOG_FORMAT",
        flag: "--log-format",
        help: "text or json",
        default: Some("text"),
        libpq: None,
    },
    Variable {
        name: "GATE_LOG",
        flag: "--log",
        help: "log filter, tracing EnvFilter syntax",
        default: Some("info"),
        libpq: None,
    },
    Variable {
        name: "GATE_OUTPUT",
        flag: "--output",
        help: "check and status: text or json (--json)",
        default: Some("text"),
        libpq: None,
    },
    Variable {
        name: "GATE_TERMINATION_LOG",
        flag: "--termination-log",
        help: "where a failing wait/check writes its verdict (default: /dev/termination-log if writable)",
        default: None,
        libpq: None,
    },
    Variable {
        name: "PGHOST",
        flag: "--pghost",
        help: "libpq: host, when the DSN has none",
        default: None,
        libpq: Some("host"),
    },
    Variable {
        name: "PGPORT",
        flag: "--pgport",
        help: "libpq: port",
        default: None,
        libpq: Some("port"),
    },
    Variable {
        name: "PGUSER",
        flag: "--pguser",
        help: "libpq: user",
        default: None,
        libpq: Some("user"),
    },
    Variable {
        name: "PGPASSWORD",
        flag: "--pgpassword",
        help: "libpq: password",
        default: None,
        libpq: Some("password"),
    },
    Variable {
        name: "PGDATABASE",
        flag: "--pgdatabase",
        help: "libpq: database",
        default: None,
        libpq: Some("dbname"),
    },
    Variable {
        name: "PGSSLMODE",
        flag: "--pgsslmode",
        help: "libpq: sslmode (default prefer)",
        default: None,
        libpq: Some("sslmode"),
    },
    Variable {
        name: "PGSSLROOTCERT",
        flag: "--pgsslrootcert",
        help: "libpq: CA file, or system",
        default: None,
        libpq: Some("sslrootcert"),
    },
    Variable {
        name: "PGSSLCERT",
        flag: "--pgsslcert",
        help: "libpq: client certificate file",
        default: None,
        libpq: Some("sslcert"),
    },
    Variable {
        name: "PGSSLKEY",
        flag: "--pgsslkey",
        help: "libpq: client key file",
        default: None,
        libpq: Some("sslkey"),
    },
    Variable {
        name: "PGCONNECT_TIMEOUT",
        flag: "--pgconnect-timeout",
        help: "libpq: connect timeout, seconds",
        default: None,
        libpq: Some("connect_timeout"),
    },
    Variable {
        name: "PGAPPNAME",
        flag: "--pgappname",
        help: "libpq: application_name (default schema-gate)",
        default: None,
        libpq: Some("application_name"),
    },
    Variable {
        name: "PGPASSFILE",
        flag: "--pgpassfile",
        help: "libpq: password file (default ~/.pgpass)",
        default: None,
        libpq: Some("passfile"),
    },
];

/// The variable called `name`, if it is one.
pub fn variable(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|v| v.name == name)
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
                    && (variable(k).is_some()
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
        match variable(var) {
            Some(v) if self.from_flag.contains(&v.name) => v.flag.to_string(),
            _ => var.to_string(),
        }
    }

    /// Whether `var` was set by a flag.
    pub fn from_flag(&self, var: &str) -> bool {
        self.from_flag.contains(&var)
    }

    /// The value of `var` as given, if set.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.values.get(var).map(String::as_str)
    }

    /// The value of `var` as given, else its default.
    pub fn value(&self, var: &str) -> Option<&str> {
        self.get(var)
            .or_else(|| variable(var).and_then(|v| v.default))
    }

    /// `GATE_*` variables that are set but unknown (a typo silently ignored is a footgun).
    pub fn unknown_gate_variables(&self) -> Vec<String> {
        self.values
            .keys()
            .filter(|k| k.starts_with("GATE_") && variable(k).is_none())
            .cloned()
            .collect()
    }
}

//! Every configuration variable, defined once ([`VARIABLES`]): its environment name, its flag,
//! what it means, its default and, for libpq's `PG*` variables, the DSN key it fills. The flag
//! parser, `--help`, the README check and the defaults all come from this one table.
//! [`LIBPQ_OTHERS`] (in `config::libpq`) lists libpq's remaining variables (refused, or of no
//! effect), [`ALIASES`] the names that mean one thing, [`GOOSE_OWN`] the names goose reads.
//! [`Sources`] (in `config::sources`) merges the environment with the flags given (a flag wins,
//! within each alias group too).

pub use super::libpq::{LIBPQ_OTHERS, LibpqEffect, LibpqVariable, libpq_other};
pub use super::sources::{AliasChoice, Origin, Sources};

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
        name: "GATE_TOOL",
        flag: "--tool",
        help: "goose, golang-migrate, flyway, alembic, dbmate, django, knex, liquibase, sqlx, rails or prisma",
        default: Some("goose"),
        libpq: None,
    },
    Variable {
        name: "GATE_TABLE",
        flag: "--table",
        help: "the tool's table, name or schema.name (default: the tool's own)",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GOOSE_TABLE",
        flag: "--goose-table",
        help: "goose: version table, name or schema.name (GATE_TABLE wins)",
        default: Some("goose_db_version"),
        libpq: None,
    },
    Variable {
        name: "GATE_EXPECT_VERSION",
        flag: "--expect-version",
        help: "expected version, in the tool's own syntax (goose: integer >= 0)",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GATE_MIGRATIONS_DIR",
        flag: "--migrations-dir",
        help: "migrations directory (several, :-separated, where the tool reads several): every migration applied",
        default: None,
        libpq: None,
    },
    Variable {
        name: "GATE_EXPECT_FILE",
        flag: "--expect-file",
        help: "manifest of the migration ids the build expects, one a line",
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
        help: "log level, or level,target=level,... over the known targets",
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
    Variable {
        name: "PGHOSTADDR",
        flag: "--pghostaddr",
        help: "libpq: IP address(es) of the host(s), no DNS",
        default: None,
        libpq: Some("hostaddr"),
    },
    Variable {
        name: "PGOPTIONS",
        flag: "--pgoptions",
        help: "libpq: options: -c name=value (applied in the check's transaction), Neon endpoint=<id>",
        default: None,
        libpq: Some("options"),
    },
    Variable {
        name: "PGTARGETSESSIONATTRS",
        flag: "--pgtargetsessionattrs",
        help: "libpq: target_session_attrs: any, read-write or read-only",
        default: None,
        libpq: Some("target_session_attrs"),
    },
    Variable {
        name: "PGCHANNELBINDING",
        flag: "--pgchannelbinding",
        help: "libpq: channel_binding: disable, prefer or require",
        default: None,
        libpq: Some("channel_binding"),
    },
    Variable {
        name: "PGREQUIREAUTH",
        flag: "--pgrequireauth",
        help: "libpq: require_auth: the methods the server may use (password, md5, gss, sspi, scram-sha-256, none; or negated: !md5)",
        default: None,
        libpq: Some("require_auth"),
    },
    Variable {
        name: "PGSSLSNI",
        flag: "--pgsslsni",
        help: "libpq: sslsni: 1 (default) or 0",
        default: None,
        libpq: Some("sslsni"),
    },
    Variable {
        name: "PGSSLNEGOTIATION",
        flag: "--pgsslnegotiation",
        help: "libpq: sslnegotiation: postgres (default) or direct (PostgreSQL 17+)",
        default: None,
        libpq: Some("sslnegotiation"),
    },
    Variable {
        name: "PGLOADBALANCEHOSTS",
        flag: "--pgloadbalancehosts",
        help: "libpq: load_balance_hosts: disable or random",
        default: None,
        libpq: Some("load_balance_hosts"),
    },
];

/// Names goose itself reads (its `internal/cfg`, v3.22 to v3.27, and the issue tracker's
/// `GOOSE_VERBOSE`): set in a pod for the migration Job, never a near miss of the gate's.
pub const GOOSE_OWN: &[&str] = &[
    "GOOSE_DRIVER",
    "GOOSE_DBSTRING",
    "GOOSE_MIGRATION_DIR",
    "GOOSE_TABLE",
    "GOOSE_VERBOSE",
    "NO_COLOR",
];

/// Names that mean one thing, the preferred first. A flag beats the environment within a
/// group; between two of a group set in one place, the first wins and a differing second is
/// logged at `warn`. (`DATABASE_URL` and `DATABASE_URL_FILE` both in one place is an error:
/// see `config::database`.)
pub const ALIASES: &[&[&str]] = &[
    &["GATE_MIGRATIONS_DIR", "GOOSE_MIGRATION_DIR"],
    &["DATABASE_URL", "DATABASE_URL_FILE", "GOOSE_DBSTRING"],
    &["GATE_TABLE", "GOOSE_TABLE"],
];

/// The variable called `name`, if it is one.
pub fn variable(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|v| v.name == name)
}

/// Every name the gate knows, from the tables above (so that a variable added to
/// [`VARIABLES`] is known everywhere at once: the near-miss check, reserved runtime-parameter
/// names).
pub fn known_names() -> impl Iterator<Item = &'static str> {
    VARIABLES
        .iter()
        .map(|v| v.name)
        .chain(LIBPQ_OTHERS.iter().map(|v| v.name))
}

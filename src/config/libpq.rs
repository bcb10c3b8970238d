//! libpq's environment variables beyond those in [`super::VARIABLES`]: each refused or accepted
//! without effect, never silently half-honoured (`docs/configuration.md` lists them all).

/// What the gate does with one of libpq's other environment variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibpqEffect {
    /// Fills this DSN key when the DSN leaves it out, and shares its fate: refused where the
    /// key is, accepted without effect where the key is (`crate::postgres::dsn::key_support`).
    Key(&'static str),
    /// Accepted; changes nothing the gate reads.
    NoEffect,
    /// Refused at start-up, naming the variable.
    Refused,
}

/// One of libpq's environment variables that is not in [`super::VARIABLES`], with what it does to the
/// gate and why (for `docs/configuration.md`, which lists each).
#[derive(Debug)]
pub struct LibpqVariable {
    /// The environment variable.
    pub name: &'static str,
    /// What the gate does with it.
    pub effect: LibpqEffect,
    /// Why, for messages and the docs.
    pub why: &'static str,
}

/// libpq's remaining environment variables (libpq 18's documentation, plus pgx's
/// `PGSSLPASSWORD`): each refused or accepted without effect, never silently half-honoured.
pub const LIBPQ_OTHERS: &[LibpqVariable] = &[
    LibpqVariable {
        name: "PGSERVICE",
        effect: LibpqEffect::Key("service"),
        why: "connection service files are not read: give the connection in the DSN",
    },
    LibpqVariable {
        name: "PGSERVICEFILE",
        effect: LibpqEffect::Refused,
        why: "connection service files are not read: give the connection in the DSN",
    },
    LibpqVariable {
        name: "PGREQUIRESSL",
        effect: LibpqEffect::Key("requiressl"),
        why: "deprecated in libpq: use PGSSLMODE=require",
    },
    LibpqVariable {
        name: "PGSSLCRL",
        effect: LibpqEffect::Key("sslcrl"),
        why: "certificate revocation lists are not checked",
    },
    LibpqVariable {
        name: "PGSSLCRLDIR",
        effect: LibpqEffect::Key("sslcrldir"),
        why: "certificate revocation lists are not checked",
    },
    LibpqVariable {
        name: "PGSSLCERTMODE",
        effect: LibpqEffect::Key("sslcertmode"),
        why: "a client certificate is sent whenever sslcert and sslkey are given",
    },
    LibpqVariable {
        name: "PGSSLPASSWORD",
        effect: LibpqEffect::Refused,
        why: "pgx's variable for an encrypted client key, which the gate cannot read: decrypt the key",
    },
    LibpqVariable {
        name: "PGSSLMINPROTOCOLVERSION",
        effect: LibpqEffect::Key("ssl_min_protocol_version"),
        why: "the TLS versions are rustls's (1.2 and 1.3)",
    },
    LibpqVariable {
        name: "PGSSLMAXPROTOCOLVERSION",
        effect: LibpqEffect::Key("ssl_max_protocol_version"),
        why: "the TLS versions are rustls's (1.2 and 1.3)",
    },
    LibpqVariable {
        name: "PGREQUIREPEER",
        effect: LibpqEffect::Key("requirepeer"),
        why: "the server process's user is not checked on Unix sockets",
    },
    LibpqVariable {
        name: "PGGSSDELEGATION",
        effect: LibpqEffect::Key("gssdelegation"),
        why: "GSSAPI is not used",
    },
    LibpqVariable {
        name: "PGMINPROTOCOLVERSION",
        effect: LibpqEffect::Key("min_protocol_version"),
        why: "the gate speaks protocol 3.0 only",
    },
    LibpqVariable {
        name: "PGMAXPROTOCOLVERSION",
        effect: LibpqEffect::Key("max_protocol_version"),
        why: "the gate speaks protocol 3.0, which every maximum allows",
    },
    LibpqVariable {
        name: "PGGSSENCMODE",
        effect: LibpqEffect::Key("gssencmode"),
        why: "GSSAPI encryption is never used: disable and prefer change nothing, require is refused",
    },
    LibpqVariable {
        name: "PGKRBSRVNAME",
        effect: LibpqEffect::Key("krbsrvname"),
        why: "GSSAPI is not used",
    },
    LibpqVariable {
        name: "PGGSSLIB",
        effect: LibpqEffect::Key("gsslib"),
        why: "GSSAPI is not used",
    },
    LibpqVariable {
        name: "PGSSLCOMPRESSION",
        effect: LibpqEffect::Key("sslcompression"),
        why: "ignored by libpq 14 and later too",
    },
    LibpqVariable {
        name: "PGCLIENTENCODING",
        effect: LibpqEffect::Key("client_encoding"),
        why: "the gate always talks UTF-8 and reads only numbers and identifiers",
    },
    LibpqVariable {
        name: "PGTZ",
        effect: LibpqEffect::NoEffect,
        why: "the session time zone: the check reads no time-zone-dependent value",
    },
    LibpqVariable {
        name: "PGDATESTYLE",
        effect: LibpqEffect::NoEffect,
        why: "the date output style: status formats tstamp itself",
    },
    LibpqVariable {
        name: "PGGEQO",
        effect: LibpqEffect::NoEffect,
        why: "a planner setting: the check's query is trivial",
    },
    LibpqVariable {
        name: "PGLOCALEDIR",
        effect: LibpqEffect::NoEffect,
        why: "libpq's message translations",
    },
    LibpqVariable {
        name: "PGSYSCONFDIR",
        effect: LibpqEffect::NoEffect,
        why: "where libpq finds the service file, which is not read",
    },
    LibpqVariable {
        name: "PGOAUTHDEBUG",
        effect: LibpqEffect::NoEffect,
        why: "libpq 18's OAuth debugging: OAuth is not used",
    },
];

/// One of libpq's other variables, if `name` is one.
pub fn libpq_other(name: &str) -> Option<&'static LibpqVariable> {
    LIBPQ_OTHERS.iter().find(|v| v.name == name)
}

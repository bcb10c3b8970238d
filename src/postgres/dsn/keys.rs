//! libpq's connection parameters as the gate sees them: honoured, accepted without effect, or
//! refused; and the unknown names that are most likely misspellings of one (refused: as runtime
//! parameters their values would travel to the server while the setting meant keeps its
//! default).

/// libpq parameters schema-gate uses.
pub(super) const SUPPORTED: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslsni",
    "sslnegotiation",
    "connect_timeout",
    "application_name",
    "fallback_application_name",
    "channel_binding",
    "require_auth",
    "options",
    "target_session_attrs",
    "load_balance_hosts",
    "keepalives",
    "keepalives_idle",
];

/// libpq parameters that do not change what the gate reads or how safely: accepted, unused.
pub(super) const HARMLESS: &[&str] = &[
    "client_encoding",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "sslcompression",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    // The gate speaks protocol 3.0, which every maximum allows.
    "max_protocol_version",
    // pgx-only keys a goose `pgx` DSN may carry; they steer pgx's own statement cache.
    "default_query_exec_mode",
    "statement_cache_capacity",
    "description_cache_capacity",
];

/// libpq parameters (up to libpq 18) whose security or routing meaning the gate cannot honour:
/// refused rather than silently ignored. Several hold secrets, so none may become a runtime
/// parameter (whose value would travel to the server).
pub(super) const UNSUPPORTED: &[&str] = &[
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslcertmode",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "sslkeylogfile",
    "requirepeer",
    "requiressl",
    "service",
    "servicefile",
    "replication",
    "gssdelegation",
    "min_protocol_version",
    "scram_client_key",
    "scram_server_key",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
];

/// How the gate treats a libpq connection parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySupport {
    /// Honoured as libpq does.
    Supported,
    /// Accepted; changes nothing the gate reads.
    NoEffect,
    /// Refused at start-up.
    Refused,
    /// Not a libpq parameter: a runtime parameter (setting), if its name is one.
    Unknown,
}

/// How the gate treats libpq's parameter `key` (for the configuration's table of libpq's
/// environment variables, which follow their parameter).
pub fn key_support(key: &str) -> KeySupport {
    if SUPPORTED.contains(&key) {
        KeySupport::Supported
    } else if HARMLESS.contains(&key) {
        KeySupport::NoEffect
    } else if UNSUPPORTED.contains(&key) {
        KeySupport::Refused
    } else {
        KeySupport::Unknown
    }
}

/// A parameter name that is most likely a misspelt `password` (`passwd`, `pwd`, `pasword`):
/// refused, because as a runtime parameter its value (the password) would travel to the server
/// and the intended password would be missing.
pub(super) fn looks_like_password(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("pass") || key.contains("pwd") || edit_distance(&key, "password") <= 2
}

/// Common spellings of libpq keys from other drivers and habits.
const ALIASES: &[(&str, &str)] = &[
    ("database", "dbname"),
    ("db", "dbname"),
    ("username", "user"),
    ("hostname", "host"),
    ("server", "host"),
    ("ssl", "sslmode"),
    ("sslrootcrt", "sslrootcert"),
    ("sslca", "sslrootcert"),
    ("timeout", "connect_timeout"),
];

/// The libpq key an unknown parameter name most likely misspells (`ssl_mode`, `SSLMODE`,
/// `sslrootcrt`, `channel_bind`, `target_session_attr`, `hostname`), if any. Such a name is
/// refused: as a runtime parameter it would be sent to the server (its value in the server's log)
/// while the setting meant (often a security one) silently keeps its default.
pub(super) fn misspelt_key(key: &str) -> Option<&'static str> {
    let normal = |k: &str| -> String {
        k.chars()
            .filter(|c| !matches!(c, '_' | '-' | '.'))
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let given = normal(key);
    if let Some((_, meant)) = ALIASES.iter().find(|(alias, _)| normal(alias) == given) {
        return Some(meant);
    }
    let keys = SUPPORTED.iter().chain(HARMLESS).chain(UNSUPPORTED);
    keys.copied().find(|known| {
        let known_normal = normal(known);
        let distance = edit_distance(&given, &known_normal);
        // Short keys (host, port, user) get one edit; truncations of long ones count too
        // (channel_bind), but only from 6 characters on, so that few real settings match.
        distance == 0
            || distance <= 1
            || distance <= 2 && known_normal.len() >= 7
            || given.len() >= 6 && known_normal.starts_with(&given)
            || known_normal.len() >= 4 && given.starts_with(&known_normal)
    })
}

/// Levenshtein distance between two short ASCII strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<u8> = b.bytes().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

pub(super) fn is_known(key: &str) -> bool {
    key_support(key) != KeySupport::Unknown
}

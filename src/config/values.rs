//! Parsers for configuration values that are not connection strings: durations, the version
//! table's name, listen addresses, and quoting a user's value for a message. Pure.

use std::net::SocketAddr;
use std::time::Duration;

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

/// `0.0.0.0:8099`, `[::]:8099`, or `:8099` (all IPv4 interfaces).
pub(crate) fn parse_listen(text: &str) -> Option<SocketAddr> {
    if let Some(port) = text.strip_prefix(':') {
        return port
            .parse::<u16>()
            .ok()
            .map(|p| SocketAddr::from(([0, 0, 0, 0], p)));
    }
    text.parse().ok()
}

/// Quotes a user-given (non-secret) value for a message, shortened so hostile input stays short.
/// A value that looks like it may hold a secret (a connection string given to the wrong
/// variable: `://`, `@`, `password`) is not quoted at all.
pub(crate) fn quote(value: &str) -> String {
    let lower = value.to_ascii_lowercase();
    if lower.contains("://") || lower.contains('@') || lower.contains("password") {
        return "(a value that looks like a connection string, not shown)".to_string();
    }
    let short: String = value.chars().take(64).collect();
    if short.len() < value.len() {
        format!("{short:?}…")
    } else {
        format!("{short:?}")
    }
}

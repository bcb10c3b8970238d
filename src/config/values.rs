//! Parsers for configuration values that are not connection strings: durations, the version
//! table's name, listen addresses, and quoting a user's value for a message. Pure.

use crate::core::table::TableName;
use std::net::SocketAddr;
use std::time::Duration;

/// goose's table rule (`docs/goose.md`): `name` or `schema.name`, each part unquoted
/// (`[A-Za-z_][A-Za-z0-9_$]*`, folded to lower case as Postgres folds it) or quoted (`"Name"`,
/// `""` for a quote), as goose accepts it. See [`TableName`], which the database code quotes back.
pub fn validate_table(table: &str) -> Result<(), &'static str> {
    TableName::parse(table).map(|_| ())
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

//! The durations, validated together: ranges (a poll period of at least 100ms, a query timeout
//! within PostgreSQL's limit) and relations (`GATE_STALE_AFTER` beyond the recheck interval).

use super::{ConfigError, MAX_QUERY_TIMEOUT_MS, MIN_INTERVAL, Sources, parse_duration, variables};
use std::time::Duration;

/// The durations, validated together (`GATE_STALE_AFTER` must exceed the recheck interval).
pub(super) struct Timing {
    pub(super) timeout: Option<Duration>,
    pub(super) interval: Duration,
    pub(super) recheck_interval: Option<Duration>,
    pub(super) stale_after: Option<Duration>,
    /// `GATE_CONNECT_TIMEOUT` as given (the DSN's `connect_timeout` applies otherwise).
    pub(super) connect: Option<Duration>,
    pub(super) query_timeout: Duration,
}

impl Timing {
    pub(super) fn load(sources: &Sources) -> Result<Timing, ConfigError> {
        let needed = |var: &str, zero_ok| {
            duration(sources, var, sources.value(var), zero_ok)?
                .ok_or_else(|| ConfigError(format!("{var}: no value and no default")))
        };
        let recheck = needed("GATE_RECHECK_INTERVAL", true)?;
        let recheck_interval = (!recheck.is_zero()).then_some(recheck);
        if recheck_interval.is_some() {
            at_least_min_interval(sources, "GATE_RECHECK_INTERVAL", recheck, " (or 0: never)")?;
        }
        let interval = needed("GATE_INTERVAL", false)?;
        at_least_min_interval(sources, "GATE_INTERVAL", interval, "")?;
        let query_timeout = needed("GATE_QUERY_TIMEOUT", false)?;
        if query_timeout.as_millis() > MAX_QUERY_TIMEOUT_MS || query_timeout.as_millis() < 1 {
            return Err(ConfigError(format!(
                "{}: {} is outside the accepted range, 1ms to 2147483647ms (about 24.8 days, PostgreSQL's limit for statement_timeout)",
                sources.name("GATE_QUERY_TIMEOUT"),
                crate::time::show_duration(query_timeout)
            )));
        }
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
            interval,
            recheck_interval,
            stale_after,
            connect: duration(
                sources,
                "GATE_CONNECT_TIMEOUT",
                sources.get("GATE_CONNECT_TIMEOUT"),
                false,
            )?,
            query_timeout,
        })
    }
}

/// A poll or re-check period must be at least [`MIN_INTERVAL`].
fn at_least_min_interval(
    sources: &Sources,
    var: &str,
    period: Duration,
    or: &str,
) -> Result<(), ConfigError> {
    if period >= MIN_INTERVAL {
        return Ok(());
    }
    Err(ConfigError(format!(
        "{}: {} is below the shortest period, 100ms (a shorter one floods the database with checks): use 100ms to 1 year{or}",
        sources.name(var),
        crate::time::show_duration(period)
    )))
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
            sources.show(var, text)
        ))),
        Ok(d) => Ok(Some(d)),
        Err(why) => Err(ConfigError(format!(
            "{}: {} {why}",
            sources.name(var),
            sources.show(var, text)
        ))),
    }
}

/// A variable's default, as a duration.
pub(super) fn default_duration(var: &str) -> Result<Duration, ConfigError> {
    variables::variable(var)
        .and_then(|v| v.default)
        .and_then(|d| parse_duration(d).ok())
        .ok_or_else(|| ConfigError(format!("{var}: no usable default")))
}

//! Where the database is: the DSN (from `DATABASE_URL`, `DATABASE_URL_FILE` or
//! `GOOSE_DBSTRING`), with libpq's `PG*` variables, resolved into a [`Target`].
//!
//! Precedence: a flag beats the environment, within the DSN's alias group too
//! (`--goose-dbstring` beats `DATABASE_URL` from the environment); a `--pg*` flag overrides that
//! key of the DSN, a `PG*` variable only fills what the DSN leaves out; a flag lowering
//! `sslmode` below the DSN's is logged at `warn` naming both.

use super::ConfigError;
use super::variables::{LIBPQ_OTHERS, LibpqEffect, Origin, Sources, VARIABLES, known_names};
use crate::postgres::dsn::{Params, Target};
use std::path::Path;

/// The connection target, or the configuration mistake that prevents one.
pub(crate) fn connection_target(sources: &Sources) -> Result<Target, ConfigError> {
    let (dsn, origin) = dsn_source(sources)?;
    let pinned = ["PGHOST", "PGHOSTADDR"]
        .iter()
        .any(|v| sources.get(v).is_some());
    if dsn.is_none() && !pinned {
        return Err(ConfigError(
            "no database given: set DATABASE_URL, DATABASE_URL_FILE, GOOSE_DBSTRING or PGHOST"
                .to_string(),
        ));
    }
    let mut params = match &dsn {
        Some(dsn) => Params::parse(dsn, &origin).map_err(|e| ConfigError(e.0))?,
        None => Params::default(),
    };
    params.reserve(known_names().map(str::to_string));
    for var in VARIABLES {
        let Some(key) = var.libpq else { continue };
        match (
            sources.get_from(var.name, Origin::Flag),
            sources.get_from(var.name, Origin::Env),
        ) {
            (Some(flag), _) => {
                if key == "sslmode" {
                    warn_if_lowered(&params, var.flag, flag);
                }
                params.set(key, var.flag, flag);
            }
            (None, env) => params.fill(key, var.name, env),
        }
    }
    for var in LIBPQ_OTHERS {
        let Some(value) = sources.get(var.name) else {
            continue;
        };
        match var.effect {
            // Shares the key's fate: refused or accepted by the DSN's rules, naming the variable.
            LibpqEffect::Key(key) => params.fill(key, var.name, Some(value)),
            LibpqEffect::NoEffect => {
                tracing::debug!("{} is set; it changes nothing the gate reads", var.name);
            }
            LibpqEffect::Refused => {
                return Err(ConfigError(format!(
                    "{}: schema-gate cannot honour it ({}), so it refuses it rather than ignore it: unset it",
                    var.name, var.why
                )));
            }
        }
    }
    let home = sources.get("HOME").map(Path::new);
    params
        .resolve(home, sources.get("USER"))
        .map_err(|e| ConfigError(e.0))
}

/// libpq's `sslmode`s, weakest first.
const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// A flag that lowers `sslmode` below what the DSN (or `PGSSLMODE`) says is allowed, but
/// logged at `warn` naming both (a flag is deliberate; a silent downgrade is not).
fn warn_if_lowered(params: &Params, flag: &str, value: &str) {
    let rank = |mode: &str| SSL_MODES.iter().position(|m| *m == mode);
    if let Some((old, origin)) = params.shown("sslmode")
        && let (Some(old_rank), Some(new_rank)) = (rank(old), rank(value))
        && new_rank < old_rank
    {
        tracing::warn!(
            "{flag}={value} lowers the sslmode of {origin} ({old}): the connection is less protected than {origin} asks"
        );
    }
}

/// Which DSN, and the variable (or flag) it came from: a flag beats the environment; within one
/// place `DATABASE_URL`, then `DATABASE_URL_FILE` (both is a mistake), then `GOOSE_DBSTRING`.
/// Another alias set to a different DSN in the same place is logged at `warn`.
fn dsn_source(sources: &Sources) -> Result<(Option<String>, String), ConfigError> {
    let choice = sources.alias(&["DATABASE_URL", "DATABASE_URL_FILE", "GOOSE_DBSTRING"]);
    let Some((used, origin)) = choice.used else {
        return Ok((None, String::new()));
    };
    for note in &choice.notes {
        tracing::info!("{note}");
    }
    let spelled = |var: &str| match origin {
        Origin::Flag => super::variables::variable(var)
            .map_or(var, |v| v.flag)
            .to_string(),
        Origin::Env => var.to_string(),
    };
    let url = sources.get_from("DATABASE_URL", origin);
    let file = sources.get_from("DATABASE_URL_FILE", origin);
    if url.is_some() && file.is_some() {
        return Err(ConfigError(format!(
            "both {} and {} are set: set one of them",
            spelled("DATABASE_URL"),
            spelled("DATABASE_URL_FILE")
        )));
    }
    let dsn = match (url, file) {
        (Some(url), _) => url.to_string(),
        (None, Some(file)) => read_dsn_file(file, &spelled("DATABASE_URL_FILE"))?,
        (None, None) => sources
            .get_from("GOOSE_DBSTRING", origin)
            .unwrap_or_default()
            .to_string(),
    };
    if used != "GOOSE_DBSTRING"
        && let Some(goose) = sources.get_from("GOOSE_DBSTRING", origin)
        && goose != dsn
    {
        tracing::warn!(
            "{} and {} are both set, to different connection strings: {} is used (goose's own variable is left to the migration Job)",
            spelled("GOOSE_DBSTRING"),
            spelled(used),
            spelled(used)
        );
    }
    Ok((Some(dsn), spelled(used)))
}

/// `DATABASE_URL_FILE`'s contents: a regular file (symlinks followed, as in a Secret mount) of
/// at most 1 MiB, UTF-8, not empty once trimmed of surrounding white space (a final newline is
/// usual). Anything else around the DSN (a byte-order mark, an env-file line, quotes) is refused
/// by the DSN parser, naming the fix.
fn read_dsn_file(file: &str, var: &str) -> Result<String, ConfigError> {
    let bytes = crate::files::read_capped(Path::new(file), crate::files::SMALL)
        .map_err(|why| ConfigError(format!("{var}: {why}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| ConfigError(format!("{var}: {file} is not UTF-8 text")))?;
    let dsn = text.trim().to_string();
    if dsn.is_empty() {
        return Err(ConfigError(format!(
            "{var}: {file} is empty; it should hold a postgres:// URL or key=value string"
        )));
    }
    Ok(dsn)
}

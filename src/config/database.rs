//! Where the database is: the DSN (from `DATABASE_URL`, `DATABASE_URL_FILE` or
//! `GOOSE_DBSTRING`), filled in with libpq's `PG*` variables, resolved into a [`Target`].

use super::ConfigError;
use super::variables::{Sources, VARIABLES};
use crate::postgres::dsn::{Params, Target};
use std::path::Path;

/// The connection target, or the configuration mistake that prevents one.
pub(crate) fn connection_target(sources: &Sources) -> Result<Target, ConfigError> {
    let (dsn, origin) = dsn_source(sources)?;
    if dsn.is_none() && sources.get("PGHOST").is_none() {
        return Err(ConfigError(
            "no database given: set DATABASE_URL, DATABASE_URL_FILE, GOOSE_DBSTRING or PGHOST"
                .to_string(),
        ));
    }
    let mut params = match &dsn {
        Some(dsn) => Params::parse(dsn, &origin).map_err(|e| ConfigError(e.0))?,
        None => Params::default(),
    };
    for var in VARIABLES {
        if let Some(key) = var.libpq {
            params.fill(key, &sources.name(var.name), sources.get(var.name));
        }
    }
    let home = sources.get("HOME").map(Path::new);
    params
        .resolve(home, sources.get("USER"))
        .map_err(|e| ConfigError(e.0))
}

/// Which DSN, and the variable (or flag) it came from: `DATABASE_URL` or `DATABASE_URL_FILE`
/// (both set is a mistake, unless one came from a flag, which wins), else `GOOSE_DBSTRING`.
fn dsn_source(sources: &Sources) -> Result<(Option<String>, String), ConfigError> {
    let name = |var: &str| sources.name(var);
    let url_flag = sources.from_flag("DATABASE_URL");
    let file_flag = sources.from_flag("DATABASE_URL_FILE");
    Ok(
        match (
            sources.get("DATABASE_URL"),
            sources.get("DATABASE_URL_FILE"),
        ) {
            (Some(_), Some(_)) if url_flag == file_flag => {
                return Err(ConfigError(format!(
                    "both {} and {} are set: set one of them",
                    name("DATABASE_URL"),
                    name("DATABASE_URL_FILE")
                )));
            }
            (Some(url), None) => (Some(url.to_string()), name("DATABASE_URL")),
            (Some(url), Some(_)) if url_flag => (Some(url.to_string()), name("DATABASE_URL")),
            (_, Some(file)) => (
                Some(read_dsn_file(file, sources)?),
                name("DATABASE_URL_FILE"),
            ),
            (None, None) => match sources.get("GOOSE_DBSTRING") {
                Some(dsn) => (Some(dsn.to_string()), name("GOOSE_DBSTRING")),
                None => (None, String::new()),
            },
        },
    )
}

/// `DATABASE_URL_FILE`'s contents: a regular file (symlinks followed, as in a Secret mount) of
/// at most 1 MiB, UTF-8, not empty once trimmed.
fn read_dsn_file(file: &str, sources: &Sources) -> Result<String, ConfigError> {
    let var = sources.name("DATABASE_URL_FILE");
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

//! Runtime parameters: the DSN's unknown keys (as lib/pq and pgx treat them) and the settings
//! of `options`, both sent with `set_config(…, true)` inside the check's transaction, never at
//! startup (a transaction-mode pooler cannot carry startup parameters, and may drop them).
//! Their names are checked so that no DSN value goes to the server except as the setting it
//! names.

use super::keys::{UNSUPPORTED, is_known, looks_like_password, misspelt_key};
use super::{DsnError, Params, err};

/// libpq keys that are server settings too, and so may be set through `options` (`-c
/// application_name=…`).
const ALSO_SETTINGS: &[&str] = &["application_name", "client_encoding", "tcp_user_timeout"];

impl Params {
    /// Unknown keys are runtime parameters, as lib/pq and pgx treat them, and so are the
    /// settings of `options` (both sent with `set_config` inside the check's transaction, never
    /// at startup). Keys the gate cannot honour, misspelt passwords and libpq keys, and names
    /// that are not setting names or are the gate's own variables, are refused.
    pub(super) fn runtime_params(
        &self,
        from_options: &[(String, String)],
    ) -> Result<Vec<(String, String)>, DsnError> {
        let mut runtime_params: Vec<(String, String)> = Vec::new();
        let options_origin = self.get("options").map(|v| v.origin.clone());
        let from_options = from_options.iter().map(|(name, value)| {
            (
                name,
                value,
                options_origin.clone().unwrap_or_default(),
                true,
            )
        });
        let from_keys = self
            .values
            .iter()
            .map(|(key, value)| (key, &value.text, value.origin.clone(), false));
        for (key, text, origin, in_options) in from_options.chain(from_keys) {
            if UNSUPPORTED.contains(&key.as_str()) && !in_options {
                return Err(err(
                    &origin,
                    format!(
                        "libpq's {key} is not supported by schema-gate (it cannot honour it, so it refuses it rather than ignore it)"
                    ),
                ));
            }
            if is_known(key) && !in_options {
                continue;
            }
            self.check_setting_name(key, &origin, in_options)?;
            if text.contains(['\\', '\0']) {
                return Err(err(
                    &origin,
                    format!("runtime parameter {key:?}: backslashes are not accepted"),
                ));
            }
            if runtime_params
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(key))
            {
                return Err(err(
                    &origin,
                    format!(
                        "runtime parameter {key:?} is given twice (as a key and in options): give it once"
                    ),
                ));
            }
            runtime_params.push((key.clone(), text.clone()));
        }
        Ok(runtime_params)
    }

    /// A runtime parameter's name must be a setting's: `[a-z_][a-z0-9_]*`, optionally
    /// `.`-qualified once, case-insensitively; not a misspelt password or libpq key; not one of
    /// the gate's own variable names. Errors name the parameter, never its value.
    fn check_setting_name(
        &self,
        key: &str,
        origin: &str,
        in_options: bool,
    ) -> Result<(), DsnError> {
        let source = if in_options { "in options, " } else { "" };
        if looks_like_password(key) {
            return Err(err(
                origin,
                format!(
                    "{source}parameter {key:?} looks like a misspelt \"password\" (its value is not shown): name it password"
                ),
            ));
        }
        if !in_options && let Some(meant) = misspelt_key(key) {
            return Err(err(
                origin,
                format!(
                    "parameter {key:?} looks like a misspelt {meant:?} (libpq keys are lower case; its value is not shown): write {meant}"
                ),
            ));
        }
        // In options, a libpq key (or a near miss of one) is a connection key written where
        // only server settings go: as a runtime parameter its value (scram_client_key's,
        // oauth_client_secret's) would travel to the server and into its log.
        if in_options
            && let Some(meant) = misspelt_key(key)
            && !ALSO_SETTINGS.contains(&key.to_ascii_lowercase().as_str())
        {
            return Err(err(
                origin,
                format!(
                    "in options, {key:?} is libpq's connection key {meant:?}, not a server setting (its value is not shown): options carries only settings (-c name=value); give {meant} as a key of its own, if schema-gate supports it"
                ),
            ));
        }
        if !valid_setting_name(key) {
            return Err(err(
                origin,
                format!(
                    "{source}a parameter name is not a setting name ([a-z_][a-z0-9_]*, optionally one .-qualified part): only libpq keys and settings such as search_path are accepted"
                ),
            ));
        }
        if let Some(variable) = self.reserved.iter().find(|v| v.eq_ignore_ascii_case(key)) {
            return Err(err(
                origin,
                format!(
                    "{source}parameter {key:?} is the name of the variable {variable}, not a setting: a file or string holding {variable}=… is an env file; give only the connection string itself"
                ),
            ));
        }
        Ok(())
    }
}

/// A runtime-parameter name as Postgres spells settings: `[a-z_][a-z0-9_]*`, optionally with one
/// `.`-qualified part (`search_path`, `myext.flag`), case-insensitively.
fn valid_setting_name(name: &str) -> bool {
    let part = |p: &str| {
        let mut chars = p.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match name.split_once('.') {
        None => part(name),
        Some((a, b)) => part(a) && part(b),
    }
}

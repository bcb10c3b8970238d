//! libpq's password file: which file, whether to trust it, and the line that matches.

use super::{DsnError, Params, err};
use std::path::{Path, PathBuf};

impl Params {
    /// libpq's password file: `PGPASSFILE`/`passfile`, else `~/.pgpass`. As libpq does, the
    /// default file is skipped with a warning when it is not a readable regular file, and any
    /// password file is ignored (with a warning) when group- or world-readable. A file named
    /// explicitly must be a readable regular file of at most 1 MiB: anything else is an error.
    pub(super) fn password_from_file(
        &self,
        home: Option<&Path>,
        (host, port): (&str, u16),
        user: &str,
        dbname: &str,
    ) -> Result<Option<String>, DsnError> {
        let (path, origin) = match self.get("passfile") {
            Some(v) => (PathBuf::from(&v.text), Some(v.origin.clone())),
            None => match home {
                Some(home) => (home.join(".pgpass"), None),
                None => return Ok(None),
            },
        };
        let bytes = match (
            crate::files::read_capped(&path, crate::files::SMALL),
            &origin,
        ) {
            (Ok(bytes), _) => bytes,
            (Err(why), Some(origin)) => {
                return Err(err(origin, format!("password file: {why}")));
            }
            (Err(_), None) if !path.exists() && std::fs::symlink_metadata(&path).is_err() => {
                return Ok(None);
            }
            (Err(why), None) => {
                tracing::warn!("password file ~/.pgpass ignored: {why}");
                return Ok(None);
            }
        };
        if let Ok(meta) = std::fs::metadata(&path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    file = %path.display(),
                    "password file has group or world access; ignored, as libpq does (chmod 0600, or defaultMode: 0400 on the Secret volume)"
                );
                return Ok(None);
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let host = if host.is_empty() || host.starts_with('/') {
            "localhost"
        } else {
            host
        };
        Ok(pgpass_lookup(&text, host, &port.to_string(), dbname, user))
    }
}

/// Finds the password for (host, port, dbname, user) in `.pgpass` text: the first line whose
/// fields match, `*` matching anything, `\:` and `\\` escaping.
pub fn pgpass_lookup(
    text: &str,
    host: &str,
    port: &str,
    dbname: &str,
    user: &str,
) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |field: &str, want: &str| field == "*" || field == want;
        if matches(&fields[0], host)
            && matches(&fields[1], port)
            && matches(&fields[2], dbname)
            && matches(&fields[3], user)
        {
            return Some(fields[4..].join(":"));
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    if let Some(f) = fields.last_mut() {
                        f.push(next);
                    }
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

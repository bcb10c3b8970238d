//! Connection strings that are almost right: quoted, a JDBC URL, white space around a URL, a
//! byte-order mark, an env-file line. libpq would fail on each with a message that hides the
//! cause (or, for a trailing newline, look for a database named `"app\n"`); the gate names the
//! problem and the fix at start-up instead. It never guesses what was meant, and no message
//! quotes the text (it may hold a password).

/// The problem with `text` and how to fix it, if it is one of the near misses above.
pub(super) fn diagnose(text: &str) -> Option<String> {
    if text.starts_with('\u{feff}') {
        return Some(
            "starts with a UTF-8 byte-order mark (U+FEFF, added by some editors): save it as UTF-8 without a BOM".to_string(),
        );
    }
    let trimmed = text.trim();
    if let Some(name) = env_file_name(trimmed) {
        return Some(format!(
            "is an env-file line ({name}=…), not a connection string: it should hold only the postgres:// URL or key=value string itself (for a mounted Secret: the key's value, without {name}=)"
        ));
    }
    if trimmed.starts_with(['"', '\'']) {
        return Some(
            "is in quotes: give the connection string without the surrounding quotes (env files and manifests keep quotes as part of the value)".to_string(),
        );
    }
    if trimmed
        .get(..5)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("jdbc:"))
    {
        return Some(
            "is a JDBC URL: drop the jdbc: prefix and write postgres://user:password@host:port/dbname (user and password percent-encoded, before the host)".to_string(),
        );
    }
    let is_url = trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://");
    if is_url && text.len() != trimmed.len() {
        let what = if text.starts_with(char::is_whitespace) {
            "starts with white space before postgres://"
        } else if text.ends_with(['\n', '\r']) {
            "ends with a newline (a Secret or ConfigMap made from a file keeps its final newline: create it with printf '%s' or --from-literal)"
        } else {
            "ends with white space"
        };
        return Some(format!(
            "{what}: remove it (libpq would read it as part of the URL)"
        ));
    }
    None
}

/// `NAME` when `text` starts like an env-file line: `export NAME=…`, or `NAME=` followed by
/// a URL or a quote (an upper-case `NAME`, which libpq keys never are).
fn env_file_name(text: &str) -> Option<&str> {
    let (exported, rest) = match text.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => (true, rest.trim_start()),
        _ => (false, text),
    };
    let (name, value) = rest.split_once('=')?;
    let looks_like_name = name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !looks_like_name {
        return None;
    }
    let value = value.trim_start_matches(['"', '\'']);
    let url = value.starts_with("postgres://") || value.starts_with("postgresql://");
    (exported || url || value.len() < rest.len() - name.len() - 1).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_named() {
        let cases = [
            ("\u{feff}postgres://u:Zq9@h/d", "byte-order mark"),
            (
                "DATABASE_URL=postgres://u:Zq9@h/d",
                "env-file line (DATABASE_URL=",
            ),
            ("export DATABASE_URL=postgres://u:Zq9@h/d", "env-file line"),
            ("export DATABASE_URL='host=h password=Zq9'", "env-file line"),
            ("DATABASE_URL=\"host=h password=Zq9\"", "env-file line"),
            ("GOOSE_DBSTRING='postgres://u:Zq9@h/d'", "(GOOSE_DBSTRING="),
            ("\"postgres://u:Zq9@h/d\"", "in quotes"),
            ("'host=h password=Zq9'", "in quotes"),
            ("jdbc:postgresql://h:5432/d?user=u&password=Zq9", "JDBC URL"),
            ("JDBC:postgresql://h/d", "JDBC URL"),
            (" postgres://u:Zq9@h/d", "starts with white space"),
            ("postgres://u:Zq9@h/d\n", "ends with a newline"),
            ("postgres://u:Zq9@h/d\r\n", "ends with a newline"),
            ("postgres://u:Zq9@h/d ", "ends with white space"),
        ];
        for (text, expected) in cases {
            let why = diagnose(text).unwrap_or_else(|| panic!("{text:?} passed"));
            assert!(why.contains(expected), "{text:?}: {why}");
            assert!(!why.contains("Zq9"), "{text:?}: {why}");
        }
    }

    #[test]
    fn ordinary_strings_pass() {
        for text in [
            "postgres://u:Zq9@h/d",
            "postgresql://h/d?sslmode=require",
            "host=h user=u password='a b'",
            "  host=h user=u\n",
            "host=h password=EXPORT=x",
            "SSLMODE=require host=h",
            "exporter=1 host=h",
            "0a a\u{10837}",
        ] {
            assert_eq!(diagnose(text), None, "{text:?}");
        }
    }
}

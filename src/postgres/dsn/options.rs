//! libpq's `options` parameter (DSN key, URL query, `PGOPTIONS`), read the way the server reads
//! it, and turned into what a transaction-mode pooler cannot drop.
//!
//! libpq sends `options` verbatim as a startup parameter; the server splits it into words at
//! unescaped white space (a backslash escapes the next character, `\\` is a backslash) and reads
//! each word as a command-line switch. A pooler may drop the whole parameter
//! (PgBouncer's `ignore_startup_parameters = options`), so a `-c search_path=lagging` that
//! decides which table is read would silently vanish. The gate therefore takes the `-c
//! name=value` and `--name=value` switches out and applies them inside the check's transaction
//! (like the DSN's other runtime parameters), and sends nothing of them at startup.
//!
//! Neon's `endpoint=<id>` (formerly `project=<id>`) names the endpoint for clients that cannot
//! send SNI; it is kept apart so the resolver can send it only where SNI does not carry the host
//! name. Every other switch is refused: the gate cannot say what it would do through a pooler.

/// What an `options` value holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Options {
    /// `-c name=value` / `--name=value`, in order (names with `-` read as `_`, as the server does).
    pub settings: Vec<(String, String)>,
    /// Neon's `endpoint=<id>` (or the older `project=<id>`).
    pub endpoint: Option<String>,
}

/// Splits `text` into words exactly as the server's `pg_split_opts` does.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        let mut escaped = false;
        while let Some(&c) = chars.peek() {
            if c.is_ascii_whitespace() && !escaped {
                break;
            }
            chars.next();
            if !escaped && c == '\\' {
                escaped = true;
            } else {
                escaped = false;
                word.push(c);
            }
        }
        words.push(word);
    }
}

/// What the gate accepts, for messages.
const ACCEPTS: &str = "schema-gate accepts only -c name=value and --name=value (settings, applied inside the check's transaction) and Neon's endpoint=<id>";

/// Parses an `options` value. Errors say which word (by position) and what is accepted; they
/// never quote a value.
pub(super) fn parse_options(text: &str) -> Result<Options, String> {
    let words = split_words(text);
    let mut options = Options::default();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        let position = i + 1;
        let setting = if word == "-c" {
            i += 1;
            match words.get(i) {
                Some(next) => next.as_str(),
                None => return Err(format!("options: -c at word {position} has no name=value")),
            }
        } else if let Some(rest) = word.strip_prefix("--") {
            rest
        } else if let Some(rest) = word.strip_prefix("-c") {
            rest
        } else if let Some(id) = word
            .strip_prefix("endpoint=")
            .or_else(|| word.strip_prefix("project="))
        {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!(
                    "options: the endpoint id at word {position} is not a Neon endpoint id (letters, digits and '-')"
                ));
            }
            if options.endpoint.is_some() {
                return Err("options: endpoint= is given twice".to_string());
            }
            options.endpoint = Some(id.to_string());
            i += 1;
            continue;
        } else {
            let switch: String = word.chars().take(2).collect();
            let what = if switch.starts_with('-') && switch.chars().all(|c| c.is_ascii_graphic()) {
                format!("the switch {switch}")
            } else {
                "it".to_string()
            };
            return Err(format!(
                "options: word {position} is not accepted ({what}): {ACCEPTS}"
            ));
        };
        let Some((name, value)) = setting.split_once('=') else {
            return Err(format!(
                "options: the setting at word {position} has no '=value': {ACCEPTS}"
            ));
        };
        // The server's ParseLongOption reads '-' in a name as '_'.
        options
            .settings
            .push((name.replace('-', "_"), value.to_string()));
        i += 1;
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Vec<(String, String)> {
        parse_options(text).expect(text).settings
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn switches_become_settings() {
        assert_eq!(
            settings("-c search_path=lagging"),
            vec![pair("search_path", "lagging")]
        );
        assert_eq!(
            settings("-csearch_path=a,b --statement-timeout=5s  -c geqo=off "),
            vec![
                pair("search_path", "a,b"),
                pair("statement_timeout", "5s"),
                pair("geqo", "off")
            ]
        );
        assert_eq!(settings(""), vec![]);
        assert_eq!(settings("   "), vec![]);
        assert_eq!(settings("-c search_path="), vec![pair("search_path", "")]);
    }

    #[test]
    fn backslash_escapes_as_the_server_reads_them() {
        assert_eq!(
            settings(r"-c search_path=my\ schema,public"),
            vec![pair("search_path", "my schema,public")]
        );
        assert_eq!(
            settings(r"-c application_name=a\\b"),
            vec![pair("application_name", r"a\b")]
        );
        assert_eq!(settings(r"-c\ x=1"), vec![pair(" x", "1")]);
        assert_eq!(settings(r"-c x=a\"), vec![pair("x", "a")]);
    }

    #[test]
    fn neon_endpoint_is_kept_apart() {
        let o = parse_options("endpoint=ep-cool-darkness-123456").expect("valid");
        assert_eq!(o.endpoint.as_deref(), Some("ep-cool-darkness-123456"));
        assert!(o.settings.is_empty());
        let o = parse_options("project=ep-x -c search_path=app").expect("valid");
        assert_eq!(o.endpoint.as_deref(), Some("ep-x"));
        assert_eq!(o.settings, vec![pair("search_path", "app")]);
        assert!(parse_options("endpoint=").is_err());
        assert!(parse_options("endpoint=ep;x").is_err());
        assert!(parse_options("endpoint=a endpoint=b").is_err());
    }

    #[test]
    fn anything_else_is_refused_without_its_value() {
        for bad in [
            "-B 100",
            "-d 5",
            "-c",
            "-c search_path",
            "--search_path",
            "search_path=app",
            "-e",
            "Zq9Secret",
            "-c a=1 Zq9Secret",
        ] {
            let e = parse_options(bad).expect_err(bad);
            assert!(e.starts_with("options: "), "{bad}: {e}");
            assert!(!e.contains("Zq9Secret"), "{bad}: {e}");
        }
        assert!(
            parse_options("-B 100")
                .unwrap_err()
                .contains("the switch -B")
        );
    }
}

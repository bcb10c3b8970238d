//! `GATE_LOG`, read strictly. tracing's own filter syntaxes (`EnvFilter`, `Targets`) read any
//! bare word as a target, so `warning`, `debgu` or `schema-gate=debug` would silently filter out
//! every line the gate writes, errors included. Here a bare word must be a level and a target
//! one the gate knows; `off` is refused, since the gate's own errors must always show.
//!
//! Syntax: comma-separated directives, each a level (the default for every target; `info` if
//! none is given) or `target=level`. Levels: `trace`, `debug`, `info`, `warn`, `error` (any
//! case). The result is a normalised directive string that `tracing_subscriber`'s `Targets`
//! parses (see `crate::logging`).

/// Levels, quietest last.
const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];

/// Targets that log through tracing (the gate) or may, in its dependencies. A target may name a
/// module below one of them (`schema_gate::modes::serve`).
pub const KNOWN_TARGETS: &[&str] = &[
    "schema_gate",
    "tokio_postgres",
    "postgres_protocol",
    "hyper",
    "hyper_util",
    "rustls",
    "tokio",
];

/// What `GATE_LOG` accepts, for messages.
fn accepted() -> String {
    format!(
        "use a level ({}) or level,target=level,… with targets {} (e.g. info, debug, info,schema_gate=debug)",
        LEVELS.join(", "),
        KNOWN_TARGETS.join(", ")
    )
}

fn level(word: &str, show: &dyn Fn(&str) -> String) -> Result<&'static str, String> {
    let lower = word.to_ascii_lowercase();
    if lower == "off" {
        return Err(
            "off is refused: the gate's own errors always show (the quietest level is error)"
                .to_string(),
        );
    }
    LEVELS
        .iter()
        .find(|l| **l == lower)
        .copied()
        .ok_or_else(|| format!("{} is not a level: {}", show(word), accepted()))
}

fn target<'a>(word: &'a str, show: &dyn Fn(&str) -> String) -> Result<&'a str, String> {
    let mut parts = word.split("::");
    let root = parts.next().unwrap_or_default();
    let path_ok = parts.all(|p| {
        let mut chars = p.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if KNOWN_TARGETS.contains(&root) && path_ok {
        Ok(word)
    } else {
        Err(format!(
            "{} is not a known target: {}",
            show(word),
            accepted()
        ))
    }
}

/// Parses `GATE_LOG`'s value into the directive string `Targets` reads: the default level first
/// (`info` if none given; the last one given wins), then each `target=level`. `show` renders a
/// word of it for a message.
pub(crate) fn parse_log_filter(
    text: &str,
    show: &dyn Fn(&str) -> String,
) -> Result<String, String> {
    let mut default = "info";
    let mut targets: Vec<(String, &'static str)> = Vec::new();
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.split_once('=') {
            None => default = level(directive, show)?,
            Some((name, lvl)) => {
                let name = target(name.trim(), show)?.to_string();
                let lvl = level(lvl.trim(), show)?;
                targets.retain(|(t, _)| *t != name);
                targets.push((name, lvl));
            }
        }
    }
    let mut normalised = default.to_string();
    for (name, lvl) in targets {
        normalised.push_str(&format!(",{name}={lvl}"));
    }
    Ok(normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<String, String> {
        parse_log_filter(text, &crate::config::values::quote)
    }

    #[test]
    fn levels_and_known_targets() {
        for (given, normalised) in [
            ("info", "info"),
            ("DEBUG", "debug"),
            ("warn", "warn"),
            ("error", "error"),
            ("trace", "trace"),
            ("", "info"),
            ("schema_gate=debug", "info,schema_gate=debug"),
            ("warn, tokio_postgres=trace ,", "warn,tokio_postgres=trace"),
            (
                "info,schema_gate::modes::serve=trace",
                "info,schema_gate::modes::serve=trace",
            ),
            ("rustls=warn,rustls=debug", "info,rustls=debug"),
        ] {
            assert_eq!(parse(given).as_deref(), Ok(normalised), "{given}");
            let targets: Result<tracing_subscriber::filter::Targets, _> = normalised.parse();
            assert!(targets.is_ok(), "{normalised}");
        }
    }

    #[test]
    fn misspellings_are_refused_naming_what_is_accepted() {
        for bad in [
            "warning",
            "debgu",
            "schema-gate=debug",
            "schemagate=debug",
            "verbose",
            "5",
            "info,[[[",
            "schema_gate=loud",
            "schema_gate::=debug",
            "=debug",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(
                e.contains("schema_gate, tokio_postgres") && e.contains("trace, debug"),
                "{bad}: {e}"
            );
        }
        for off in ["off", "OFF", "info,schema_gate=off", "tokio_postgres=off"] {
            let e = parse(off).expect_err(off);
            assert!(e.contains("off is refused"), "{off}: {e}");
        }
    }
}

//! The command line: `schema-gate [FLAGS] <wait|serve|check|status> [FLAGS] [-- CMD ARGS…]`.
//!
//! Flags are the variables of [`crate::config::VARIABLES`] under another spelling; parsing only
//! maps them to `(VARIABLE, value)` pairs, so there is a single validation path for both.

use crate::config::VARIABLES;
use std::ffi::OsString;

/// Which of the three ways to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Block until ready (init container), optionally exec a command.
    Wait,
    /// Keep checking and answer probes (sidecar).
    Serve,
    /// Check once, print, exit with the verdict's code.
    Check,
    /// List every migration as `goose status` does, read-only; exit with the verdict's code.
    Status,
}

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Run a mode with these flag values and, for `wait`, a command to exec once ready.
    Run {
        /// The mode.
        mode: Mode,
        /// `(VARIABLE, value)` for each flag given; later ones win.
        flags: Vec<(&'static str, String)>,
        /// `wait -- CMD ARGS…`.
        command: Vec<OsString>,
    },
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

/// The usage text, generated from the variable table so it cannot drift.
pub fn usage() -> String {
    let mut text = String::from(
        "schema-gate: keep pods from running against a stale goose schema\n\n\
         Usage: schema-gate <wait|serve|check|status> [FLAGS] [-- CMD ARGS...]\n\n\
         Modes:\n  \
         wait    block until the expected schema is applied (init container); exec CMD if given\n  \
         serve   keep checking; serve /readyz /livez /status /metrics (sidecar)\n  \
         check   check once, print the verdict, exit 0 ready / 1 not ready / 3 db error / 4 ahead\n  \
         status  list every migration, applied at / pending, like goose status (read-only); exit as check\n\n\
         Every flag has an environment variable; a flag wins.\n\n",
    );
    for v in VARIABLES {
        let default = v.default.map(|d| format!(" [{d}]")).unwrap_or_default();
        text.push_str(&format!(
            "  {:<24} {:<22} {}{default}\n",
            v.flag, v.name, v.help
        ));
    }
    text.push_str("  --json                   GATE_OUTPUT=json\n");
    text.push_str("  -h, --help / -V, --version\n");
    text
}

/// Parses `argv` (without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Invocation, String> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let command = match args.iter().position(|a| a == "--") {
        Some(at) => {
            let rest = args.split_off(at);
            rest.into_iter().skip(1).collect()
        }
        None => Vec::new(),
    };
    let mut parser = lexopt::Parser::from_args(args);
    let mut mode = None;
    let mut flags = Vec::new();
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            lexopt::Arg::Short('h') | lexopt::Arg::Long("help") => return Ok(Invocation::Help),
            lexopt::Arg::Short('V') | lexopt::Arg::Long("version") => {
                return Ok(Invocation::Version);
            }
            lexopt::Arg::Long("json") => flags.push(("GATE_OUTPUT", "json".to_string())),
            lexopt::Arg::Long(name) => {
                let spelled = format!("--{name}");
                let Some(var) = VARIABLES.iter().find(|v| v.flag == spelled) else {
                    return Err(format!("unknown flag {spelled} (see --help)"));
                };
                let value = parser
                    .value()
                    .map_err(|_| format!("{spelled} needs a value"))?
                    .into_string()
                    .map_err(|_| format!("{spelled}: the value is not valid UTF-8"))?;
                flags.push((var.name, value));
            }
            lexopt::Arg::Short(c) => return Err(format!("unknown flag -{c} (see --help)")),
            lexopt::Arg::Value(value) if mode.is_none() => {
                mode = Some(match value.to_str() {
                    Some("wait") => Mode::Wait,
                    Some("serve") => Mode::Serve,
                    Some("check") => Mode::Check,
                    Some("status") => Mode::Status,
                    _ => {
                        return Err(format!(
                            "unknown mode {:?}: use wait, serve, check or status",
                            value.to_string_lossy()
                        ));
                    }
                });
            }
            lexopt::Arg::Value(value) => {
                return Err(format!(
                    "unexpected argument {:?} (a command to run goes after --)",
                    value.to_string_lossy()
                ));
            }
        }
    }
    let mode = mode.ok_or("no mode given: use wait, serve, check or status (see --help)")?;
    if !command.is_empty() && mode != Mode::Wait {
        return Err("only wait runs a command after --".to_string());
    }
    Ok(Invocation::Run {
        mode,
        flags,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn modes_flags_and_command() {
        let parsed = parse(args(&[
            "--timeout",
            "5s",
            "wait",
            "--expect-version=3",
            "--",
            "app",
            "--port",
            "1",
        ]));
        assert_eq!(
            parsed,
            Ok(Invocation::Run {
                mode: Mode::Wait,
                flags: vec![
                    ("GATE_TIMEOUT", "5s".into()),
                    ("GATE_EXPECT_VERSION", "3".into())
                ],
                command: args(&["app", "--port", "1"]),
            })
        );
        assert_eq!(
            parse(args(&["check", "--json"])),
            Ok(Invocation::Run {
                mode: Mode::Check,
                flags: vec![("GATE_OUTPUT", "json".into())],
                command: vec![]
            })
        );
        assert_eq!(parse(args(&["--help"])), Ok(Invocation::Help));
    }

    #[test]
    fn refusals() {
        assert!(parse(args(&[])).unwrap_err().contains("no mode"));
        assert!(parse(args(&["run"])).unwrap_err().contains("unknown mode"));
        assert!(
            parse(args(&["check", "--nope"]))
                .unwrap_err()
                .contains("--nope")
        );
        assert!(
            parse(args(&["check", "--timeout"]))
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            parse(args(&["check", "--", "x"]))
                .unwrap_err()
                .contains("only wait")
        );
        assert!(
            parse(args(&["wait", "extra"]))
                .unwrap_err()
                .contains("after --")
        );
    }

    #[test]
    fn every_variable_has_a_distinct_flag() {
        let mut flags: Vec<&str> = VARIABLES.iter().map(|v| v.flag).collect();
        flags.sort();
        flags.dedup();
        assert_eq!(flags.len(), VARIABLES.len());
        assert!(usage().contains("GATE_STALE_AFTER"));
        assert!(usage().contains(
            "--query-timeout          GATE_QUERY_TIMEOUT     bound on one check query [5s]"
        ));
    }
}

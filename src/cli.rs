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
        "schema-gate: keep pods from running against a stale database schema\n\n\
         Usage: schema-gate <wait|serve|check|status> [FLAGS] [-- CMD ARGS...]\n\n\
         Modes:\n  \
         wait    block until the expected schema is applied (init container); exec CMD if given\n  \
         serve   keep checking; serve /readyz /livez /status /metrics (sidecar)\n  \
         check   check once, print the verdict, exit 0 ready / 1 not ready / 2 configuration / 3 db error / 4 ahead\n  \
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

/// Parses `argv` (without the program name). Errors never echo an argument's value (a DSN
/// typed in the wrong place would leak its password): they say the argument's position and what
/// was expected; an unknown `--flag` without `=` is named.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Invocation, String> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let command = match args.iter().position(|a| a == "--") {
        Some(at) => {
            let rest = args.split_off(at);
            rest.into_iter().skip(1).collect()
        }
        None => Vec::new(),
    };
    let mut mode = None;
    let mut flags = Vec::new();
    let mut args = args.into_iter().enumerate().map(|(i, a)| (i + 1, a));
    while let Some((position, arg)) = args.next() {
        let Some(text) = arg.to_str() else {
            return Err(format!(
                "argument {position} is not valid UTF-8: expected a mode or a flag (see --help)"
            ));
        };
        match text {
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "--json" => flags.push(("GATE_OUTPUT", "json".to_string())),
            _ if text.starts_with("--") => flags.push(long_flag(text, position, &mut args)?),
            _ if text.starts_with('-') && text.len() > 1 => {
                return Err(if text.len() == 2 && text.is_ascii() {
                    format!("unknown flag {text} (argument {position}; see --help)")
                } else {
                    format!(
                        "argument {position} is an unknown flag (its text is not shown; see --help)"
                    )
                });
            }
            _ if mode.is_none() => {
                mode = Some(match text {
                    "wait" => Mode::Wait,
                    "serve" => Mode::Serve,
                    "check" => Mode::Check,
                    "status" => Mode::Status,
                    _ => {
                        return Err(format!(
                            "argument {position} is not a mode (its text is not shown): use wait, serve, check or status"
                        ));
                    }
                });
            }
            _ => {
                return Err(format!(
                    "unexpected argument {position} (its text is not shown): a mode takes only flags; a command to run goes after --"
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

/// `--name value` or `--name=value` at `position` → `(VARIABLE, value)`, taking the value from
/// `rest` when it is not inline. Never echoes a value.
fn long_flag(
    text: &str,
    position: usize,
    rest: &mut impl Iterator<Item = (usize, OsString)>,
) -> Result<(&'static str, String), String> {
    let (name, inline) = match text.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (text, None),
    };
    if ["--json", "--help", "--version"].contains(&name) {
        return Err(format!("{name} (argument {position}) takes no value"));
    }
    let Some(var) = VARIABLES.iter().find(|v| v.flag == name) else {
        return Err(match inline {
            None => format!("unknown flag {name} (argument {position}; see --help)"),
            Some(_) => format!(
                "argument {position} is an unknown --flag=value (its value is not shown; see --help)"
            ),
        });
    };
    let value = match inline {
        Some(value) => value,
        None => match rest.next() {
            Some((at, value)) => value
                .into_string()
                .map_err(|_| format!("{name}: its value (argument {at}) is not valid UTF-8"))?,
            None => return Err(format!("{name} (argument {position}) needs a value")),
        },
    };
    Ok((var.name, value))
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
        assert!(parse(args(&["run"])).unwrap_err().contains("not a mode"));
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
        assert!(
            parse(args(&["check", "--json=yes"]))
                .unwrap_err()
                .contains("no value")
        );
    }

    #[test]
    fn errors_never_echo_an_argument_value() {
        let secret = "postgres://gate:Zq9Secret@db/app";
        for argv in [
            vec![secret],
            vec!["check", secret],
            vec!["check", "Zq9Secret"],
            vec!["--Zq9Secret=x", "check"],
            vec!["check", "--datbase-url=postgres://gate:Zq9Secret@db/app"],
            vec!["check", "--json=Zq9Secret"],
            vec!["check", "-Zq9Secret"],
            vec!["wait", "--timeout", "1s", "Zq9Secret"],
        ] {
            let e = parse(args(&argv)).expect_err(&argv.join(" "));
            assert!(!e.contains("Zq9Secret"), "{argv:?}: {e}");
            assert!(e.contains("argument "), "{argv:?}: {e}");
        }
        assert_eq!(
            parse(args(&["check", "Zq9Secret"])).unwrap_err(),
            "unexpected argument 2 (its text is not shown): a mode takes only flags; a command to run goes after --"
        );
        assert!(
            parse(args(&["check", "--nope"]))
                .unwrap_err()
                .contains("--nope")
        );
        assert!(parse(args(&["check", "-x"])).unwrap_err().contains("-x"));
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![0xff, 0xfe]);
        assert!(parse(vec![OsString::from("check"), bad.clone()]).is_err());
        assert!(
            parse(vec![
                OsString::from("check"),
                OsString::from("--database-url"),
                bad
            ])
            .unwrap_err()
            .contains("not valid UTF-8")
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

//! [`Sources`]: the environment merged with the flags given. A flag beats the environment,
//! within each alias group too ([`Sources::alias`]); values are shown in messages only when they
//! came from the environment and do not look like a connection string.

use super::variables::{libpq_other, variable};
use std::collections::BTreeMap;

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// The environment.
    Env,
}

/// Merged configuration values: environment, overridden by flags. Knows which flag set what, so
/// errors can name the spelling the user typed, and the names of every set variable (never
/// their values) for the near-miss check.
pub struct Sources {
    env: BTreeMap<String, String>,
    flags: BTreeMap<&'static str, String>,
    set_names: Vec<String>,
}

impl Sources {
    /// Merges the environment with flags given as `(VARIABLE, value)` (later flags win). Empty
    /// values count as unset (Kubernetes manifests often carry `value: ""`). Only the exact,
    /// upper-case names count (`database_url` is not `DATABASE_URL`), plus `HOME` and `USER`
    /// for libpq's defaults and any other `GATE_*` name; of the rest only the names are kept.
    pub fn new(
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(&'static str, String)],
    ) -> Sources {
        let mut set_names = Vec::new();
        let mut values = BTreeMap::new();
        for (k, v) in env {
            if v.is_empty() {
                continue;
            }
            if variable(&k).is_some()
                || libpq_other(&k).is_some()
                || matches!(k.as_str(), "HOME" | "USER")
                || k.starts_with("GATE_")
            {
                values.insert(k.clone(), v);
            }
            set_names.push(k);
        }
        let flags = flags.iter().cloned().collect();
        Sources {
            env: values,
            flags,
            set_names,
        }
    }

    /// How to name `var` in a message: its flag if the value came from one, else the variable.
    pub fn name(&self, var: &str) -> String {
        match variable(var) {
            Some(v) if self.flags.contains_key(v.name) => v.flag.to_string(),
            _ => var.to_string(),
        }
    }

    /// Whether `var` was set by a flag.
    pub fn from_flag(&self, var: &str) -> bool {
        self.flags.contains_key(var)
    }

    /// The value of `var` as given (a flag, else the environment), if set.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.flags
            .get(var)
            .or_else(|| self.env.get(var))
            .map(String::as_str)
    }

    /// The value of `var` from one place only.
    pub fn get_from(&self, var: &str, origin: Origin) -> Option<&str> {
        match origin {
            Origin::Flag => self.flags.get(var),
            Origin::Env => self.env.get(var),
        }
        .map(String::as_str)
    }

    /// The value of `var` as given, else its default.
    pub fn value(&self, var: &str) -> Option<&str> {
        self.get(var)
            .or_else(|| variable(var).and_then(|v| v.default))
    }

    /// `value` (of `var`) for a message: a flag's value is never echoed (it is on the command
    /// line, and a mistyped one may be a connection string); an environment value is quoted,
    /// shortened, unless it looks like it may hold a secret.
    pub fn show(&self, var: &str, value: &str) -> String {
        if self.from_flag(var) {
            "the value given".to_string()
        } else {
            super::values::quote(value)
        }
    }

    /// The names of every variable set in the environment (non-empty), whatever they are.
    pub fn set_names(&self) -> &[String] {
        &self.set_names
    }

    /// Which variable of `group` (one of [`super::variables::ALIASES`]) is used: set by a flag first, else in the
    /// environment; within one place the first of the group. Returns it with the notes to log:
    /// a flag overriding another alias from the environment (`info`), and two aliases set in
    /// the environment with different values (`warn`, naming both and the one used; never
    /// their values).
    pub fn alias(&self, group: &[&'static str]) -> AliasChoice {
        let mut choice = AliasChoice::default();
        for origin in [Origin::Flag, Origin::Env] {
            let set: Vec<&'static str> = group
                .iter()
                .copied()
                .filter(|v| self.get_from(v, origin).is_some())
                .collect();
            let Some(&used) = set.first() else { continue };
            choice.used = Some((used, origin));
            let used_value = self.get_from(used, origin);
            for other in &set[1..] {
                if self.get_from(other, origin) != used_value {
                    choice.warnings.push(format!(
                        "{} and {} are both set, to different values: {} is used",
                        self.spelled(other, origin),
                        self.spelled(used, origin),
                        self.spelled(used, origin)
                    ));
                }
            }
            if origin == Origin::Flag {
                for other in group.iter().filter(|v| self.env.contains_key(**v)) {
                    choice.notes.push(format!(
                        "{} (a flag) overrides {other} from the environment",
                        self.spelled(used, origin)
                    ));
                }
            }
            break;
        }
        choice
    }

    /// `var` as spelled in `origin`: its flag or its variable name.
    fn spelled(&self, var: &str, origin: Origin) -> String {
        match (origin, variable(var)) {
            (Origin::Flag, Some(v)) => v.flag.to_string(),
            _ => var.to_string(),
        }
    }
}

/// Which alias of a group is used, and what to log about the others.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AliasChoice {
    /// The variable used and where its value came from; `None` when none is set.
    pub used: Option<(&'static str, Origin)>,
    /// Two aliases in one place with different values (log at `warn`).
    pub warnings: Vec<String>,
    /// A flag overriding the environment (log at `info`).
    pub notes: Vec<String>,
}

//! Near misses of variable names: a misspelt variable is ignored, and the gate would then check
//! something else than meant (`GOOSE_TABLE_NAME=lagging.goose_db_version` read the default
//! table). Pure: names in, findings out.
//!
//! A set variable the gate does not know (and goose does not read) is compared with every name
//! the gate knows (derived from the variable tables, so a variable added there is known here at
//! once):
//!
//! - within edit distance 2 (a transposition counts as one edit) with the same first two
//!   characters; 1 when the known name's part after its family (`GATE_`, `GOOSE_`,
//!   `DATABASE_`, `PG`) is under 7 characters, 0 under 3 (so `GATE_FOO` is not `GATE_LOG`, nor
//!   `PGHOME` `PGHOST`); or the plural/singular form (`GOOSE_MIGRATIONS_DIR`); or, in the gate's and
//!   goose's own `GATE_*`/`GOOSE_*` namespaces, the name with one word more
//!   (`GOOSE_TABLE_NAME`), with more after it (`GOOSE_TABLENAME`) or with one word fewer
//!   (`GOOSE_MIGRATIONS`, `GOOSE_DIR`): a near miss. Of a variable that decides *what* is
//!   checked, it is an error; of another, a warning;
//! - the same name in another case (`goose_table`): a warning (only the upper-case name counts);
//! - any other unknown `GATE_*` name: an error. `GATE_*` is the gate's own namespace, so such a
//!   name is a typo or a variable of a newer release (`GATE_TABLE` in a manifest written for
//!   one), and ignoring it would check something other than meant;
//! - any other unknown `GOOSE_*` name: a warning;
//! - Kubernetes service links (a Service named `gate` or `gate-log` gives every pod of its
//!   namespace `GATE_PORT=tcp://…`, `GATE_LOG_SERVICE_HOST=10.…`): never a finding.

/// The name families whose common prefix does not count towards a name's length.
const FAMILIES: &[&str] = &["GATE_", "GOOSE_", "DATABASE_", "PG"];

/// Optimal-string-alignment distance: Levenshtein, with a transposition of two neighbours as
/// one edit (the commonest typo: `GOOSE_TABEL`).
fn typo_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<u8>, Vec<u8>) = (a.bytes().collect(), b.bytes().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    /// A configuration error (exit 2).
    Error,
    /// Logged at `warn`.
    Warning,
}

/// One set name that looks like a mistake, with the message to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub severity: Severity,
    pub message: String,
}

/// How `set` relates to the known name `known`, if it is a near miss of it.
fn relation(set: &str, known: &str) -> Option<&'static str> {
    if set == known {
        return None;
    }
    let upper = set.to_ascii_uppercase();
    if upper == known {
        return Some("the same name in another case");
    }
    if set != upper {
        return None;
    }
    let words = |s: &str| -> Vec<String> { s.split('_').map(str::to_string).collect() };
    let (set_words, known_words) = (words(set), words(known));
    let singular = |w: &String| match w.strip_suffix("IES") {
        Some(stem) => format!("{stem}Y"),
        None => w.strip_suffix('S').unwrap_or(w).to_string(),
    };
    if set_words.len() == known_words.len()
        && set_words
            .iter()
            .zip(&known_words)
            .all(|(a, b)| singular(a) == singular(b))
    {
        return Some("its plural or singular form");
    }
    let distance = typo_distance(set, known);
    let own = FAMILIES
        .iter()
        .find_map(|f| known.strip_prefix(f))
        .unwrap_or(known);
    let limit = match own.len() {
        0..=2 => 0,
        3..=6 => 1,
        _ => 2,
    };
    if distance <= limit && set.get(..2) == known.get(..2) {
        return Some("a near spelling");
    }
    let own_namespace = known.starts_with("GATE_") || known.starts_with("GOOSE_");
    if own_namespace
        && set_words.len() == known_words.len() + 1
        && set_words.first() == known_words.first()
        && (0..set_words.len()).any(|skip| {
            let mut fewer = set_words.clone();
            fewer.remove(skip);
            fewer == known_words
        })
    {
        return Some("the name with a word more");
    }
    if own_namespace && set.len() > known.len() && set.starts_with(known) {
        return Some("the name with more after it");
    }
    if own_namespace
        && set_words.len() >= 2
        && set_words.len() + 1 == known_words.len()
        && set_words.first() == known_words.first()
        && (1..known_words.len()).any(|skip| {
            let mut fewer = known_words.clone();
            fewer.remove(skip);
            fewer
                .iter()
                .zip(&set_words)
                .all(|(a, b)| singular(a) == singular(b))
        })
    {
        return Some("the name with a word fewer");
    }
    None
}

/// Whether `name` (set to `value`, when the gate kept it) is a Kubernetes service link: for
/// every Service in its namespace a pod gets `{SVC}_SERVICE_HOST`, `{SVC}_SERVICE_PORT`,
/// `{SVC}_SERVICE_PORT_{PORT}`, `{SVC}_PORT` and `{SVC}_PORT_{N}_{PROTO}[_PROTO|_PORT|_ADDR]`
/// (`enableServiceLinks`, on by default), so a Service named `gate-log` sets `GATE_LOG_PORT`.
/// `{SVC}_PORT` alone is too close to a variable an operator might invent, so it counts only
/// with a service link's value (`tcp://10.43.0.7:8099`).
fn service_link(name: &str, value: Option<&str>) -> bool {
    let words: Vec<&str> = name.split('_').collect();
    let n = words.len();
    let digits = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit());
    let proto = |w: &str| matches!(w, "TCP" | "UDP" | "SCTP");
    let url = |v: &str| {
        ["tcp://", "udp://", "sctp://"]
            .iter()
            .any(|p| v.starts_with(p))
    };
    let at = |i: usize| words.get(i).copied().unwrap_or("");
    if n >= 3 && at(n - 2) == "SERVICE" && matches!(at(n - 1), "HOST" | "PORT") {
        return true;
    }
    if n >= 4 && at(n - 3) == "SERVICE" && at(n - 2) == "PORT" {
        return true;
    }
    if n >= 4 && at(n - 3) == "PORT" && digits(at(n - 2)) && proto(at(n - 1)) {
        return true;
    }
    if n >= 5
        && at(n - 4) == "PORT"
        && digits(at(n - 3))
        && proto(at(n - 2))
        && matches!(at(n - 1), "PROTO" | "PORT" | "ADDR")
    {
        return true;
    }
    n >= 2 && at(n - 1) == "PORT" && value.is_some_and(url)
}

/// The findings about `set` (every variable set in the environment), given the names the gate
/// `known`s, the names goose reads (`goose`), which known names `decide` what is checked, and
/// the value of a set name where the gate kept it (`value`: for service links).
pub(crate) fn near_misses<'a>(
    set: &[String],
    known: &[&str],
    goose: &[&str],
    decides: impl Fn(&str) -> bool,
    value: impl Fn(&str) -> Option<&'a str>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for name in set {
        let name = name.as_str();
        if known.contains(&name) || goose.contains(&name) || service_link(name, value(name)) {
            continue;
        }
        let mut near: Vec<(&str, &'static str)> = known
            .iter()
            .filter_map(|k| relation(name, k).map(|how| (*k, how)))
            .collect();
        // The most serious first: a near miss of a deciding variable.
        near.sort_by_key(|(k, how)| (!decides(k), *how == "the same name in another case"));
        match near.first() {
            Some((k, how)) if *how == "the same name in another case" => {
                findings.push(Finding {
                    severity: Severity::Warning,
                    message: format!(
                        "{name} is set and ignored: only the exact upper-case {k} counts ({how})"
                    ),
                });
            }
            Some((k, how)) => findings.push(Finding {
                severity: if decides(k) {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                message: format!(
                    "{name} is set, but neither schema-gate nor goose reads it; it looks like {k} ({how}): rename it to {k}, or unset it (a misspelt variable is ignored, and the gate would check something else)"
                ),
            }),
            None if name.starts_with("GATE_") => findings.push(Finding {
                severity: Severity::Error,
                message: format!(
                    "{name} is set, but this schema-gate reads no such variable (a typo, or a variable of a newer release?): unset it, fix its name, or use a release that knows it (an ignored variable would make the gate check something other than meant)"
                ),
            }),
            None if name.starts_with("GOOSE_") => findings.push(Finding {
                severity: Severity::Warning,
                message: format!(
                    "{name} is read neither by schema-gate nor by goose, and is ignored (a typo?)"
                ),
            }),
            None => {}
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::variables::{GOOSE_OWN, known_names};

    fn findings_with(set: &[&str], extra_known: &[&'static str]) -> Vec<Finding> {
        let known: Vec<&str> = known_names().chain(extra_known.iter().copied()).collect();
        let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        near_misses(&set, &known, GOOSE_OWN, crate::config::decides, |_| None)
    }

    fn findings(set: &[&str]) -> Vec<Finding> {
        findings_with(set, &[])
    }

    fn error_naming(name: &str, meant: &str) {
        let found = findings(&[name]);
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        assert_eq!(found[0].severity, Severity::Error, "{name}: {found:?}");
        assert!(
            found[0].message.starts_with(name) && found[0].message.contains(meant),
            "{name}: {found:?}"
        );
    }

    #[test]
    fn near_misses_of_what_is_checked_are_errors() {
        for (set, meant) in [
            ("GOOSE_TABLE_NAME", "GOOSE_TABLE"),
            ("GOOSE_TABLES", "GOOSE_TABLE"),
            ("GOOSE_TABEL", "GOOSE_TABLE"),
            ("GOOSE_MIGRATIONS_DIR", "GOOSE_MIGRATION_DIR"),
            ("GOOSE_MIGRATION_DIRS", "GOOSE_MIGRATION_DIR"),
            ("GATE_MIGRATION_DIR", "GATE_MIGRATIONS_DIR"),
            ("GATE_EXPECTED_VERSION", "GATE_EXPECT_VERSION"),
            ("GATE_EXPECT_VERSON", "GATE_EXPECT_VERSION"),
            ("GATE_POLICIES", "GATE_POLICY"),
            ("GATE_LOG_LEVEL", "GATE_LOG"),
            ("DATABASE_URI", "DATABASE_URL"),
            ("DATABSE_URL", "DATABASE_URL"),
            ("DATABASE_URL_FILES", "DATABASE_URL_FILE"),
            ("GOOSE_DB_STRING", "GOOSE_DBSTRING"),
            ("PG_HOST", "PGHOST"),
            ("PGHOSTS", "PGHOST"),
            ("PGSSLMOD", "PGSSLMODE"),
            ("PGSSLROOTCRT", "PGSSLROOTCERT"),
            ("PGDATABASES", "PGDATABASE"),
            ("PGTARGETSESSIONATTR", "PGTARGETSESSIONATTRS"),
            ("GATE_LGO_FORMAT", "GATE_LOG_FORMAT"),
            ("GATE_LGO", "GATE_LOG"),
            ("GATE_INTERAVL", "GATE_INTERVAL"),
            ("GOOSE_TABLENAME", "GOOSE_TABLE"),
            ("GOOSE_MIGRATION_DIRECTORY", "GOOSE_MIGRATION_DIR"),
            ("GOOSE_MIGRATIONS", "GOOSE_MIGRATION_DIR"),
            ("GOOSE_DIR", "GOOSE_MIGRATION_DIR"),
            ("GATE_MIGRATIONS", "GATE_MIGRATIONS_DIR"),
            ("GATE_VERSION", "GATE_EXPECT_VERSION"),
        ] {
            error_naming(set, meant);
        }
    }

    #[test]
    fn unknown_gate_names_are_errors_but_service_links_are_not() {
        for set in [
            "GATE_FROBNICATE",
            "GATE_FOO",
            "GATE_DSN",
            "GATE_SCHEMA",
            "GATE_STRICT",
        ] {
            let found = findings(&[set]);
            assert_eq!(found.len(), 1, "{set}: {found:?}");
            assert_eq!(found[0].severity, Severity::Error, "{set}: {found:?}");
            assert!(
                found[0].message.contains("reads no such variable"),
                "{set}: {found:?}"
            );
        }
        let links = [
            ("GATE_SERVICE_HOST", "10.43.0.7"),
            ("GATE_SERVICE_PORT", "8099"),
            ("GATE_SERVICE_PORT_HTTP", "8099"),
            ("GATE_PORT", "tcp://10.43.0.7:8099"),
            ("GATE_PORT_8099_TCP", "tcp://10.43.0.7:8099"),
            ("GATE_PORT_8099_TCP_PROTO", "tcp"),
            ("GATE_PORT_8099_TCP_PORT", "8099"),
            ("GATE_PORT_8099_TCP_ADDR", "10.43.0.7"),
            ("GATE_LOG_PORT", "tcp://10.43.0.8:8099"),
            ("GATE_LOG_SERVICE_HOST", "10.43.0.8"),
            ("GOOSE_TABLE_SERVICE_PORT", "80"),
        ];
        let known: Vec<&str> = known_names().collect();
        let set: Vec<String> = links.iter().map(|(n, _)| n.to_string()).collect();
        let value = |n: &str| links.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
        assert_eq!(
            near_misses(&set, &known, GOOSE_OWN, crate::config::decides, value),
            vec![]
        );
        // `{SVC}_PORT` counts as a link only with a link's value.
        let set = vec!["GATE_LISTEN_PORT".to_string()];
        let found = near_misses(&set, &known, GOOSE_OWN, crate::config::decides, |_| {
            Some("9000")
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Error, "{found:?}");
    }

    #[test]
    fn other_near_misses_warn() {
        for (set, meant) in [
            ("GOOSE_DRIVERS", "GOOSE_DRIVER"),
            ("goose_table", "GOOSE_TABLE"),
            ("Database_Url", "DATABASE_URL"),
            ("PGDATESTYL", "PGDATESTYLE"),
            ("GOOSE_FROBNICATE", "neither by schema-gate nor by goose"),
        ] {
            let found = findings(&[set]);
            assert_eq!(found.len(), 1, "{set}: {found:?}");
            assert_eq!(found[0].severity, Severity::Warning, "{set}: {found:?}");
            assert!(found[0].message.contains(meant), "{set}: {found:?}");
        }
    }

    #[test]
    fn known_goose_and_unrelated_names_are_quiet() {
        let quiet = [
            "GOOSE_DRIVER",
            "GOOSE_DBSTRING",
            "GOOSE_MIGRATION_DIR",
            "GOOSE_TABLE",
            "GOOSE_VERBOSE",
            "NO_COLOR",
            "DATABASE_URL",
            "GATE_LOG_FORMAT",
            "PGTZ",
            "PGDATESTYLE",
            "TZ",
            "HOME",
            "USER",
            "PATH",
            "HOSTNAME",
            "PGDATA",
            "PG_MAJOR",
            "PG_VERSION",
            "PGHOME",
            "PGPOOL",
            "PGTZZ",
            "POSTGRES_PASSWORD",
            "POSTGRES_DB",
            "DATABASE_URL_REPLICA",
            "APP_DATABASE_URL",
            "KUBERNETES_SERVICE_HOST",
        ];
        assert_eq!(findings(&quiet), vec![]);
    }

    #[test]
    fn the_tool_variables_are_known_and_their_near_misses_are_errors() {
        // GATE_TOOL, GATE_TABLE and GATE_EXPECT_FILE are in the table: known and quiet, beside
        // goose's own names, and their own near misses are errors.
        let both = [
            "GOOSE_TABLE",
            "GATE_TABLE",
            "GATE_MIGRATIONS_DIR",
            "GATE_TOOL",
            "GATE_EXPECT_FILE",
        ];
        assert_eq!(findings(&both), vec![]);
        for (set, meant) in [
            ("GATE_TABLES", "GATE_TABLE"),
            ("GATE_TOOLS", "GATE_TOOL"),
            ("GATE_EXPECT_FILES", "GATE_EXPECT_FILE"),
            ("GATE_TABLE_NAME", "GATE_TABLE"),
            ("GATE_EXPECTED_FILE", "GATE_EXPECT_FILE"),
            ("GATE_TOOL_NAME", "GATE_TOOL"),
        ] {
            error_naming(set, meant);
        }
        let _ = findings_with(&[], &[]);
    }
}

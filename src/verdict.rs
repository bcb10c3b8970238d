//! The gate's one question, answered: is the schema this build expects applied? Pure: no I/O.
//!
//! [`Expectation`] says what "enough" means (a version, or every migration file, under a
//! [`Policy`]); [`judge`] compares it with what the table holds and returns a [`Verdict`]. The
//! verdict renders itself as the one-line text and the JSON object of `SPEC.md`, and maps to the
//! process exit code, so `check`, `wait` and `serve` can never disagree.

use crate::goose::AppliedSet;
use serde::Serialize;
use std::fmt;

/// How the database's version may relate to the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Ready when the expected schema is applied; a newer database is fine (the default:
    /// during a rollout old pods keep running against the migrated schema).
    AtLeast,
    /// Ready only when the database is exactly at the expected version.
    Exact,
}

impl Policy {
    /// The configuration spelling (`at-least`, `exact`).
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::AtLeast => "at-least",
            Policy::Exact => "exact",
        }
    }
}

/// What this build needs from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The expected version E: `GATE_EXPECT_VERSION`, or the newest migration file.
    pub version: i64,
    /// Migration file versions, ascending, when a migrations directory was given: then every one
    /// of them must be applied, out-of-order ones included.
    pub files: Option<Vec<i64>>,
    /// `at-least` or `exact`.
    pub policy: Policy,
}

/// The verdict's state, as named in `SPEC.md` and in the JSON `state` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The expected schema is applied.
    Ready,
    /// Pending migrations, a lower version, an empty table, or rolled-back rows.
    Behind,
    /// The version table does not exist (goose never ran here).
    NoTable,
    /// The database has versions beyond the expectation (only under `exact`).
    Ahead,
    /// The check could not be made: unreachable, TLS, authentication, permission, timeout.
    DbError,
}

impl State {
    /// The JSON / metrics spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Behind => "behind",
            State::NoTable => "no_table",
            State::Ahead => "ahead",
            State::DbError => "db_error",
        }
    }

    /// The exit code `check` (and a failing `wait`) uses for this state.
    pub fn exit_code(self) -> u8 {
        match self {
            State::Ready => 0,
            State::Behind | State::NoTable => 1,
            State::DbError => 3,
            State::Ahead => 4,
        }
    }
}

/// The answer to one check, with the numbers an operator needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// `state == Ready`, for consumers that want a boolean.
    pub ready: bool,
    /// Which answer.
    pub state: State,
    /// goose's own "current version" (what `goose version` prints), or null.
    pub version: Option<i64>,
    /// The highest applied version, or null.
    pub max_version: Option<i64>,
    /// The expected version E.
    pub expected: i64,
    /// Versions still to apply, ascending (migration-directory mode; empty otherwise).
    pub pending: Vec<i64>,
    /// Applied versions beyond the expectation, ascending (reported for `ahead`).
    pub ahead: Vec<i64>,
    /// The version table read (validated, unquoted, as goose uses it).
    pub table: String,
    /// `at-least` or `exact`.
    pub policy: Policy,
    /// Why the check failed (`db_error` only); never holds a secret.
    pub error: Option<String>,
}

/// The keys `SPEC.md` promises in `check --json` (and in `/status`): a public interface.
pub const JSON_KEYS: &[&str] = &[
    "ready",
    "state",
    "version",
    "max_version",
    "expected",
    "pending",
    "table",
    "policy",
    "error",
];

/// Judges what the table holds against the expectation. `table` is `None` when it does not exist.
pub fn judge(table: Option<&AppliedSet>, expect: &Expectation, table_name: &str) -> Verdict {
    let mut verdict = Verdict {
        ready: false,
        state: State::Behind,
        version: None,
        max_version: None,
        expected: expect.version,
        pending: Vec::new(),
        ahead: Vec::new(),
        table: table_name.to_string(),
        policy: expect.policy,
        error: None,
    };
    let Some(set) = table else {
        verdict.state = State::NoTable;
        verdict.pending = expect.files.clone().unwrap_or_default();
        return verdict;
    };
    verdict.version = set.goose_version();
    verdict.max_version = set.max_applied();
    let reached = match &expect.files {
        Some(files) => {
            verdict.pending = files
                .iter()
                .copied()
                .filter(|v| !set.is_applied(*v))
                .collect();
            verdict.pending.is_empty()
        }
        None => verdict.max_version.is_some_and(|max| max >= expect.version),
    };
    verdict.ahead = set.applied_above(expect.version);
    verdict.state = if !reached {
        State::Behind
    } else if expect.policy == Policy::Exact && !verdict.ahead.is_empty() {
        State::Ahead
    } else {
        State::Ready
    };
    verdict.ready = verdict.state == State::Ready;
    verdict
}

impl Verdict {
    /// The verdict when no answer could be had from the database.
    pub fn db_error(expect: &Expectation, table_name: &str, error: String) -> Verdict {
        Verdict {
            ready: false,
            state: State::DbError,
            version: None,
            max_version: None,
            expected: expect.version,
            pending: Vec::new(),
            ahead: Vec::new(),
            table: table_name.to_string(),
            policy: expect.policy,
            error: Some(error),
        }
    }

    /// Whether two verdicts say the same thing (worth a log line when they differ). Errors
    /// compare by their leading clause, so a flapping network error ("early eof" / "connection
    /// reset") is one story, while "refused" turning into "authentication failed" is news.
    pub fn same_answer(&self, other: &Verdict) -> bool {
        let kind = |e: &Option<String>| {
            e.as_deref()
                .map(|e| e.split(": ").next().unwrap_or(e).to_string())
        };
        self.state == other.state
            && self.version == other.version
            && self.max_version == other.max_version
            && self.pending == other.pending
            && kind(&self.error) == kind(&other.error)
    }
}

/// At most this many versions are spelled out in the one-line text; JSON always has them all.
const LISTED: usize = 10;

fn list(versions: &[i64]) -> String {
    let mut out: Vec<String> = versions.iter().take(LISTED).map(i64::to_string).collect();
    if versions.len() > LISTED {
        out.push(format!("… ({} more)", versions.len() - LISTED));
    }
    out.join(", ")
}

/// The one-line text of `check`, the logs and the termination message:
/// `ready: …` or `not ready: …`, with the numbers.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (table, expected, policy) = (&self.table, self.expected, self.policy.as_str());
        let at = match (self.version, self.max_version) {
            (Some(v), Some(max)) if v != max => format!("at version {v} (highest applied {max})"),
            (Some(v), _) => format!("at version {v}"),
            (None, _) => "has no applied version".to_string(),
        };
        match self.state {
            State::Ready => write!(f, "ready: {table} {at}, expected {expected} ({policy})"),
            State::Behind => {
                write!(f, "not ready: {table} {at}, expected {expected} ({policy})")?;
                if !self.pending.is_empty() {
                    write!(f, "; pending: {}", list(&self.pending))?;
                }
                Ok(())
            }
            State::NoTable => {
                write!(
                    f,
                    "not ready: table {table} does not exist, expected {expected}"
                )?;
                if !self.pending.is_empty() {
                    write!(f, "; pending: {}", list(&self.pending))?;
                }
                Ok(())
            }
            State::Ahead => write!(
                f,
                "not ready: {table} {at}, ahead of expected {expected} ({policy}); beyond: {}",
                list(&self.ahead)
            ),
            State::DbError => write!(
                f,
                "not ready: database error: {} (table {table}, expected {expected})",
                self.error.as_deref().unwrap_or("unknown")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goose::Row;

    fn set(spec: &[(i64, i64, bool)]) -> AppliedSet {
        AppliedSet::from_rows(spec.iter().map(|&(id, version, applied)| Row {
            id,
            version,
            applied,
        }))
    }

    fn files(versions: &[i64], policy: Policy) -> Expectation {
        Expectation {
            version: versions.iter().copied().max().unwrap_or(0),
            files: Some(versions.to_vec()),
            policy,
        }
    }

    fn version(v: i64, policy: Policy) -> Expectation {
        Expectation {
            version: v,
            files: None,
            policy,
        }
    }

    /// One GOOSE.md vector: rows, files, goose `version`, max applied, pending, state (at-least).
    struct Vector {
        rows: Option<&'static [(i64, i64, bool)]>,
        files: &'static [i64],
        goose_version: Option<i64>,
        max: Option<i64>,
        pending: &'static [i64],
        state: State,
    }

    const T: bool = true;
    const F: bool = false;

    /// Every row of the table in GOOSE.md "Test vectors", in order.
    const GOOSE_MD_VECTORS: &[Vector] = &[
        Vector {
            rows: None,
            files: &[1, 2],
            goose_version: None,
            max: None,
            pending: &[1, 2],
            state: State::NoTable,
        },
        Vector {
            rows: Some(&[]),
            files: &[1, 2],
            goose_version: None,
            max: None,
            pending: &[1, 2],
            state: State::Behind,
        },
        Vector {
            rows: Some(&[(1, 0, T)]),
            files: &[1, 2],
            goose_version: Some(0),
            max: Some(0),
            pending: &[1, 2],
            state: State::Behind,
        },
        Vector {
            rows: Some(&[(1, 0, T), (2, 1, T), (3, 2, T)]),
            files: &[1, 2],
            goose_version: Some(2),
            max: Some(2),
            pending: &[],
            state: State::Ready,
        },
        Vector {
            rows: Some(&[(1, 0, T), (2, 1, T), (3, 3, T)]),
            files: &[1, 2, 3],
            goose_version: Some(3),
            max: Some(3),
            pending: &[2],
            state: State::Behind,
        },
        Vector {
            rows: Some(&[(1, 0, T), (2, 1, T), (3, 3, T), (4, 2, T)]),
            files: &[1, 2, 3],
            goose_version: Some(2),
            max: Some(3),
            pending: &[],
            state: State::Ready,
        },
        Vector {
            rows: Some(&[(1, 0, T), (2, 1, T), (3, 2, T), (4, 2, F)]),
            files: &[1, 2],
            goose_version: Some(1),
            max: Some(1),
            pending: &[2],
            state: State::Behind,
        },
        Vector {
            rows: Some(&[(1, 0, T), (2, 1, T), (3, 1, T)]),
            files: &[1],
            goose_version: Some(1),
            max: Some(1),
            pending: &[],
            state: State::Ready,
        },
        Vector {
            rows: Some(&[(1, 0, T), (2, 1, T), (3, 2, T), (4, 5, T)]),
            files: &[1, 2],
            goose_version: Some(5),
            max: Some(5),
            pending: &[],
            state: State::Ready,
        },
    ];

    #[test]
    fn every_goose_md_vector() {
        for (i, v) in GOOSE_MD_VECTORS.iter().enumerate() {
            let table = v.rows.map(set);
            let verdict = judge(
                table.as_ref(),
                &files(v.files, Policy::AtLeast),
                "goose_db_version",
            );
            assert_eq!(verdict.version, v.goose_version, "vector {i}: version");
            assert_eq!(verdict.max_version, v.max, "vector {i}: max");
            assert_eq!(verdict.pending, v.pending, "vector {i}: pending");
            assert_eq!(verdict.state, v.state, "vector {i}: state");
            assert_eq!(verdict.ready, v.state == State::Ready, "vector {i}: ready");
        }
    }

    #[test]
    fn db_ahead_is_ready_under_at_least_only() {
        let table = set(&[(1, 0, T), (2, 1, T), (3, 2, T), (4, 5, T)]);
        let exact = judge(Some(&table), &files(&[1, 2], Policy::Exact), "t");
        assert_eq!(exact.state, State::Ahead);
        assert_eq!(exact.ahead, vec![5]);
        assert_eq!(exact.state.exit_code(), 4);
        let by_version = judge(Some(&table), &version(2, Policy::Exact), "t");
        assert_eq!(by_version.state, State::Ahead);
        assert_eq!(
            judge(Some(&table), &version(2, Policy::AtLeast), "t").state,
            State::Ready
        );
        assert_eq!(
            judge(Some(&table), &version(5, Policy::Exact), "t").state,
            State::Ready
        );
    }

    #[test]
    fn exact_with_pending_is_behind_not_ahead() {
        // Something above the newest file AND something missing: behind wins (waiting may help).
        let table = set(&[(1, 0, T), (2, 1, T), (3, 9, T)]);
        assert_eq!(
            judge(Some(&table), &files(&[1, 2], Policy::Exact), "t").state,
            State::Behind
        );
    }

    #[test]
    fn expected_version_only() {
        let table = set(&[(1, 0, T), (2, 1, T), (3, 3, T)]);
        assert_eq!(
            judge(Some(&table), &version(3, Policy::AtLeast), "t").state,
            State::Ready
        );
        assert_eq!(
            judge(Some(&table), &version(2, Policy::AtLeast), "t").state,
            State::Ready
        );
        assert_eq!(
            judge(Some(&table), &version(4, Policy::AtLeast), "t").state,
            State::Behind
        );
        // Out-of-order missing 2 is invisible without the files: max 3 >= 3.
        assert!(judge(Some(&table), &version(3, Policy::Exact), "t").ready);
    }

    #[test]
    fn empty_table_is_behind_even_for_version_zero() {
        let empty = set(&[]);
        assert_eq!(
            judge(Some(&empty), &version(0, Policy::AtLeast), "t").state,
            State::Behind
        );
        let zero = set(&[(1, 0, T)]);
        assert!(judge(Some(&zero), &version(0, Policy::AtLeast), "t").ready);
        assert!(judge(Some(&zero), &version(0, Policy::Exact), "t").ready);
    }

    #[test]
    fn rolled_back_by_old_goose_with_version_only() {
        let table = set(&[(1, 0, T), (2, 1, T), (3, 2, T), (4, 2, F)]);
        let verdict = judge(Some(&table), &version(2, Policy::AtLeast), "t");
        assert_eq!(verdict.state, State::Behind);
        assert_eq!(verdict.max_version, Some(1));
    }

    #[test]
    fn duplicate_rows_and_timestamp_versions() {
        let table = set(&[
            (1, 0, T),
            (2, 20240101120000, T),
            (3, 20240101120000, T),
            (4, 20240305090000, T),
        ]);
        let exp = files(&[20240101120000, 20240305090000], Policy::Exact);
        let verdict = judge(Some(&table), &exp, "t");
        assert!(verdict.ready);
        assert_eq!(verdict.version, Some(20240305090000));
        // Sequential and timestamp versions mix: 3 is missing below the timestamps.
        let mixed = files(&[1, 2, 3, 20240101120000], Policy::AtLeast);
        let table = set(&[(1, 0, T), (2, 1, T), (3, 2, T), (4, 20240101120000, T)]);
        assert_eq!(judge(Some(&table), &mixed, "t").pending, vec![3]);
    }

    #[test]
    fn rows_without_files_are_ignored_under_at_least_and_below_newest() {
        // Version 7 has no file but is below the newest file 9: goose never shows it; fine.
        let table = set(&[(1, 0, T), (2, 7, T), (3, 9, T)]);
        assert!(judge(Some(&table), &files(&[9], Policy::Exact), "t").ready);
    }

    #[test]
    fn flapping_network_errors_are_one_answer() {
        let exp = version(1, Policy::AtLeast);
        let eof = Verdict::db_error(
            &exp,
            "t",
            "error communicating with the server: early eof".into(),
        );
        let reset = Verdict::db_error(
            &exp,
            "t",
            "error communicating with the server: Connection reset".into(),
        );
        let auth = Verdict::db_error(
            &exp,
            "t",
            "password authentication failed for user \"g\"".into(),
        );
        assert!(eof.same_answer(&reset));
        assert!(!eof.same_answer(&auth));
        let behind = judge(Some(&set(&[(1, 0, T)])), &exp, "t");
        assert!(!eof.same_answer(&behind));
    }

    #[test]
    fn exit_codes_match_spec() {
        assert_eq!(State::Ready.exit_code(), 0);
        assert_eq!(State::Behind.exit_code(), 1);
        assert_eq!(State::NoTable.exit_code(), 1);
        assert_eq!(State::DbError.exit_code(), 3);
        assert_eq!(State::Ahead.exit_code(), 4);
    }

    #[test]
    fn one_line_texts() {
        let table = set(&[(1, 0, T), (2, 1, T)]);
        let behind = judge(
            Some(&table),
            &files(&[1, 2, 3], Policy::AtLeast),
            "goose_db_version",
        );
        assert_eq!(
            behind.to_string(),
            "not ready: goose_db_version at version 1, expected 3 (at-least); pending: 2, 3"
        );
        let ready = judge(
            Some(&table),
            &version(1, Policy::AtLeast),
            "goose_db_version",
        );
        assert_eq!(
            ready.to_string(),
            "ready: goose_db_version at version 1, expected 1 (at-least)"
        );
        let missing = judge(None, &files(&[1], Policy::AtLeast), "app.versions");
        assert_eq!(
            missing.to_string(),
            "not ready: table app.versions does not exist, expected 1; pending: 1"
        );
        let many: Vec<i64> = (1..=25).collect();
        let text = judge(None, &files(&many, Policy::AtLeast), "t").to_string();
        assert!(text.ends_with("9, 10, … (15 more)"), "{text}");
        let err = Verdict::db_error(&version(4, Policy::Exact), "t", "connection refused".into());
        assert_eq!(
            err.to_string(),
            "not ready: database error: connection refused (table t, expected 4)"
        );
    }

    #[test]
    fn json_keys_match_spec() {
        let table = set(&[(1, 0, T), (2, 1, T)]);
        let verdict = judge(
            Some(&table),
            &files(&[1, 2], Policy::AtLeast),
            "goose_db_version",
        );
        let json = serde_json::to_value(&verdict).expect("serialises");
        for key in JSON_KEYS {
            assert!(json.get(key).is_some(), "missing key {key}: {json}");
        }
        assert_eq!(json["state"], "behind");
        assert_eq!(json["policy"], "at-least");
        assert_eq!(json["pending"], serde_json::json!([2]));
        assert_eq!(json["error"], serde_json::Value::Null);
    }
}

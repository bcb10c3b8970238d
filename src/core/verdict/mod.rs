//! The gate's one question, answered: is the schema this build expects applied? Pure: no I/O.
//!
//! [`Expect`] says what "enough" means, for the configured tool: goose's [`Expectation`] (a
//! version, or every migration file), or another tool's [`tools::Expected`], under a
//! [`Policy`]. [`judge`] compares goose's table with it, [`judge_tool`] every other tool's
//! [`tools::Facts`], and [`judge_answer`] whichever a read brought; each returns a [`Verdict`].
//! The verdict renders itself as the one-line text and the JSON object of `docs/contract.md`,
//! and maps to the process exit code, so `check`, `wait` and `serve` can never disagree. goose's
//! text is what it has always been, byte for byte; other tools' lines name the tool.

use crate::core::goose::TableFacts;
use crate::core::read::Answer;
use crate::core::tools::{self, Facts, Id, Outcome, Tool};
use serde::Serialize;

mod text;

use text::list;

/// How the database's version may relate to the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Ready when the expected schema is applied; a newer database is fine (the default:
    /// during a rollout old pods keep running against the migrated schema).
    AtLeast,
    /// Ready only when the database is exactly at the expected version (nothing applied that
    /// the build does not know, no recorded checksum that differs from the shipped file).
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

/// What this build needs from goose's table.
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

/// What this build needs from the database, for the configured tool (`GATE_TOOL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// goose (the default): its rows fold as they stream (`core::goose`).
    Goose(Expectation),
    /// Every other tool: its rule lives in `core::tools::<tool>`.
    Tool {
        /// What the build has, read by the tool's own rules.
        expected: tools::Expected,
        /// `at-least` or `exact`.
        policy: Policy,
    },
}

impl From<Expectation> for Expect {
    fn from(goose: Expectation) -> Expect {
        Expect::Goose(goose)
    }
}

impl Expect {
    /// The tool whose table is read.
    pub fn tool(&self) -> Tool {
        match self {
            Expect::Goose(_) => Tool::Goose,
            Expect::Tool { expected, .. } => expected.tool(),
        }
    }

    /// `at-least` or `exact`.
    pub fn policy(&self) -> Policy {
        match self {
            Expect::Goose(e) => e.policy,
            Expect::Tool { policy, .. } => *policy,
        }
    }

    /// What `expected` says in the output: goose's E, or the tool's expected id.
    pub fn expected(&self) -> Option<Id> {
        match self {
            Expect::Goose(e) => Some(Id::Number(e.version)),
            Expect::Tool { expected, .. } => expected.expected_id(),
        }
    }

    /// goose's expectation, when the tool is goose.
    pub fn goose(&self) -> Option<&Expectation> {
        match self {
            Expect::Goose(e) => Some(e),
            Expect::Tool { .. } => None,
        }
    }
}

/// The verdict's state, as named in `docs/contract.md` and in the JSON `state` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The expected schema is applied.
    Ready,
    /// Pending migrations, a lower version, an empty table, or rolled-back rows.
    Behind,
    /// The version table does not exist (the tool never ran here).
    NoTable,
    /// The database has versions beyond the expectation, or a recorded checksum differs from
    /// the shipped file (only under `exact`).
    Ahead,
    /// The tool recorded a migration as started and not finished: it failed, or it is still
    /// running (golang-migrate's `dirty`, Flyway's `success = false`). Never ready.
    Failed,
    /// The check could not be made: unreachable, TLS, authentication, permission, timeout.
    DbError,
}

impl State {
    /// Every state, in the order metrics list them.
    pub const ALL: [State; 6] = [
        State::Ready,
        State::Behind,
        State::NoTable,
        State::Ahead,
        State::Failed,
        State::DbError,
    ];

    /// The JSON / metrics spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Behind => "behind",
            State::NoTable => "no_table",
            State::Ahead => "ahead",
            State::Failed => "failed",
            State::DbError => "db_error",
        }
    }

    /// The exit code `check` (and a failing `wait`) uses for this state.
    pub fn exit_code(self) -> u8 {
        match self {
            State::Ready => crate::exit::READY,
            State::Behind | State::NoTable | State::Failed => crate::exit::NOT_READY,
            State::DbError => crate::exit::DATABASE,
            State::Ahead => crate::exit::AHEAD,
        }
    }
}

/// The answer to one check, with the numbers an operator needs to act on it. Ids are numbers
/// for goose and golang-migrate, the tool's own strings for every other tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// `state == Ready`, for consumers that want a boolean.
    pub ready: bool,
    /// Which answer.
    pub state: State,
    /// The tool's own "current version" (what `goose version`, `migrate version`, Flyway's
    /// `info` print; Alembic: the database heads, `,`-separated), or null.
    pub version: Option<Id>,
    /// The highest applied version (goose; the current one for the other ordered tools; null
    /// for Alembic, whose revisions are not ordered).
    pub max_version: Option<Id>,
    /// The expected version E (Alembic: the script heads, `,`-separated); null only for a
    /// Flyway build of repeatable scripts alone.
    pub expected: Option<Id>,
    /// Migrations still to apply, in the tool's order (goose: migration-directory mode only).
    pub pending: Vec<Id>,
    /// Applied migrations the build does not know (what makes `ahead` under `exact`): with a
    /// migrations directory, applied versions other than 0 without a file; with only an
    /// expected version, applied versions above it. At most 1000 are listed.
    pub ahead: Vec<Id>,
    /// How many migrations `ahead` would list without its cut.
    pub ahead_total: u64,
    /// The version table, as configured (`GATE_TABLE`/`GOOSE_TABLE`: unqualified, or quoted).
    pub table: String,
    /// The table the check actually read, schema-qualified and quoted where Postgres needs it
    /// (`public.goose_db_version`, `ops."Goose_Versions"`): for an unqualified name, where it
    /// resolved on the gate's own search path. Null when it resolved nowhere or the check failed.
    pub resolved_table: Option<String>,
    /// The `search_path` set for the gate's role or database (`ALTER ROLE … SET search_path`,
    /// `ALTER DATABASE … SET search_path`), which an unqualified name resolves through, or null.
    pub role_search_path: Option<String>,
    /// `at-least` or `exact`.
    pub policy: Policy,
    /// Why the check failed (`db_error` only); never holds a secret.
    pub error: Option<String>,
    /// What an operator must know that the lists do not say (legacy rollback rows, "migration
    /// in progress", why the tool's own command refuses), or null.
    pub hint: Option<String>,
    /// The tool whose table was read (`GATE_TOOL`).
    pub tool: Tool,
    /// Migrations recorded as started and not finished (`failed`): failed, or still running.
    pub failed: Vec<Id>,
    /// Applied migrations whose recorded checksum differs from the shipped file (Flyway).
    pub checksum_mismatch: Vec<Id>,
}

/// The keys `docs/contract.md` promises in `check --json` (and in `/status`): a public interface.
pub const JSON_KEYS: &[&str] = &[
    "ready",
    "state",
    "version",
    "max_version",
    "expected",
    "pending",
    "table",
    "resolved_table",
    "role_search_path",
    "policy",
    "error",
    "tool",
    "failed",
    "checksum_mismatch",
];

impl Verdict {
    /// A verdict with nothing read yet: the expectation's numbers, the given state.
    fn blank(expect: &Expect, table_name: &str, state: State) -> Verdict {
        Verdict::of(
            expect.tool(),
            expect.expected(),
            expect.policy(),
            table_name,
            state,
        )
    }

    fn of(
        tool: Tool,
        expected: Option<Id>,
        policy: Policy,
        table_name: &str,
        state: State,
    ) -> Verdict {
        Verdict {
            ready: false,
            state,
            version: None,
            max_version: None,
            expected,
            pending: Vec::new(),
            ahead: Vec::new(),
            ahead_total: 0,
            table: table_name.to_string(),
            resolved_table: None,
            role_search_path: None,
            policy,
            error: None,
            hint: None,
            tool,
            failed: Vec::new(),
            checksum_mismatch: Vec::new(),
        }
    }
}

/// Judges what a read brought (`None`: the table does not exist) against the expectation.
pub fn judge_answer(answer: Option<&Answer>, expect: &Expect, table_name: &str) -> Verdict {
    match (expect, answer) {
        (Expect::Goose(e), Some(Answer::Goose(facts))) => judge(Some(facts), e, table_name),
        (Expect::Goose(e), _) => judge(None, e, table_name),
        (Expect::Tool { expected, policy }, Some(Answer::Tool { facts, .. })) => {
            judge_tool(Some(facts), expected, *policy, table_name)
        }
        (Expect::Tool { expected, policy }, _) => judge_tool(None, expected, *policy, table_name),
    }
}

/// Judges goose's table against the expectation. `table` is `None` when it does not exist.
pub fn judge(table: Option<&TableFacts>, expect: &Expectation, table_name: &str) -> Verdict {
    let expected = Some(Id::Number(expect.version));
    let mut verdict = Verdict::of(
        Tool::Goose,
        expected,
        expect.policy,
        table_name,
        State::Behind,
    );
    let numbers = |v: &[i64]| v.iter().copied().map(Id::Number).collect::<Vec<Id>>();
    let Some(facts) = table else {
        verdict.state = State::NoTable;
        verdict.pending = numbers(expect.files.as_deref().unwrap_or_default());
        return verdict;
    };
    verdict.version = facts.goose_version.map(Id::Number);
    verdict.max_version = facts.max_applied.map(Id::Number);
    let reached = match &expect.files {
        Some(_) => {
            verdict.pending = numbers(&facts.pending);
            verdict.pending.is_empty()
        }
        None => facts.max_applied.is_some_and(|max| max >= expect.version),
    };
    verdict.ahead = numbers(&facts.unknown);
    verdict.ahead_total = facts.unknown_total;
    verdict.state = if !reached {
        State::Behind
    } else if expect.policy == Policy::Exact && facts.unknown_total > 0 {
        State::Ahead
    } else {
        State::Ready
    };
    verdict.ready = verdict.state == State::Ready;
    if verdict.state == State::Behind {
        verdict.hint = legacy_rollback_hint(facts, expect, table_name);
    }
    verdict
}

/// Judges another tool's facts (`None`: its table does not exist) with the one shared rule
/// ([`tools::decide`]): failed, then behind, then (under `exact`) ahead or a checksum mismatch.
pub fn judge_tool(
    facts: Option<&Facts>,
    expected: &tools::Expected,
    policy: Policy,
    table_name: &str,
) -> Verdict {
    let (tool, id) = (expected.tool(), expected.expected_id());
    let mut verdict = Verdict::of(tool, id, policy, table_name, State::Behind);
    let Some(facts) = facts else {
        verdict.state = State::NoTable;
        verdict.pending = expected.facts(&[]).map(|f| f.pending).unwrap_or_default();
        return verdict;
    };
    let current = match facts.current.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(Id::Text(
            many.iter().map(Id::to_string).collect::<Vec<_>>().join(","),
        )),
    };
    verdict.max_version = current
        .clone()
        .filter(|_| !matches!(expected.tool(), Tool::Alembic | Tool::Django));
    verdict.version = current;
    verdict.pending = facts.pending.clone();
    verdict.failed = facts.failed.clone();
    verdict.ahead = facts.ahead.clone();
    verdict.ahead_total = facts.ahead.len() as u64;
    verdict.checksum_mismatch = facts.checksum_mismatch.clone();
    verdict.state = match tools::decide(facts, policy) {
        Outcome::Ready => State::Ready,
        Outcome::Behind => State::Behind,
        Outcome::Failed => State::Failed,
        Outcome::Ahead => State::Ahead,
    };
    verdict.ready = verdict.state == State::Ready;
    verdict.hint = (!facts.hints.is_empty()).then(|| facts.hints.join("; "));
    verdict
}

/// Names the versions that are pending only because their newest row says `is_applied = false`
/// (goose <= v3.4.1's rollback, or a hand-written row): `goose version`/`status` call them
/// pending, but today's `goose up` skips any version that has a row, so waiting never ends.
fn legacy_rollback_hint(facts: &TableFacts, expect: &Expectation, table: &str) -> Option<String> {
    let stuck: Vec<i64> = match &expect.files {
        Some(_) => facts.rolled_back.clone(),
        None => facts
            .rolled_back
            .iter()
            .copied()
            .filter(|v| *v <= expect.version && facts.max_applied.is_none_or(|max| *v > max))
            .collect(),
    };
    if stuck.is_empty() {
        return None;
    }
    let stuck: Vec<Id> = stuck.into_iter().map(Id::Number).collect();
    let versions = list(&stuck);
    Some(format!(
        "version(s) {versions} have a newest row with is_applied = false (a rollback recorded by \
         goose <= v3.4.1, or a row written by hand); goose up skips every version that has a row, \
         so it will never apply them: fix {table} by hand (delete those rows so that goose up \
         applies them again, or mark them applied if the schema already has them)"
    ))
}

impl Verdict {
    /// The verdict when no answer could be had from the database.
    pub fn db_error(expect: &Expect, table_name: &str, error: String) -> Verdict {
        let mut verdict = Verdict::blank(expect, table_name, State::DbError);
        verdict.error = Some(error);
        verdict
    }

    /// The verdict, with where the check read: the table its name resolved to, and the
    /// role- or database-level `search_path` it resolved through (both shown in the output).
    pub fn read_from(
        mut self,
        resolved_table: Option<String>,
        role_search_path: Option<String>,
    ) -> Verdict {
        self.resolved_table = resolved_table;
        self.role_search_path = role_search_path;
        self
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
            && self.resolved_table == other.resolved_table
            && self.version == other.version
            && self.max_version == other.max_version
            && self.pending == other.pending
            && self.failed == other.failed
            && kind(&self.error) == kind(&other.error)
    }

    /// The table as the one-line text names it: goose's alone, as it always was; any other
    /// tool's with the tool (`schema_migrations (golang-migrate)`: four tools share that name).
    fn shown_table(&self) -> String {
        match self.tool {
            Tool::Goose => self.table.clone(),
            tool => format!("{} ({})", self.table, tool.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::goose::Row;

    fn rows(spec: &[(i64, i64, bool)]) -> Vec<Row> {
        spec.iter()
            .map(|&(id, version, applied)| Row {
                id,
                version,
                applied,
            })
            .collect()
    }

    /// The verdict as if read from `goose_db_version`.
    fn named(mut v: Verdict) -> Verdict {
        v.table = "goose_db_version".to_string();
        v
    }

    /// Judges `spec` (`docs/goose.md`'s `(id, version_id, is_applied)` rows; `None`: no table).
    fn verdict(spec: Option<&[(i64, i64, bool)]>, expect: &Expectation) -> Verdict {
        let facts = spec
            .map(|spec| TableFacts::from_rows(rows(spec), expect.files.as_deref(), expect.version));
        judge(facts.as_ref(), expect, "t")
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

    /// One `docs/goose.md` vector: rows, files, goose `version`, max applied, pending, state (at-least).
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

    /// Every row of the table in `docs/goose.md`, "Test vectors", in order.
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
            let verdict = verdict(v.rows, &files(v.files, Policy::AtLeast));
            assert_eq!(
                verdict.version,
                v.goose_version.map(Id::Number),
                "vector {i}: version"
            );
            assert_eq!(
                verdict.max_version,
                v.max.map(Id::Number),
                "vector {i}: max"
            );
            assert_eq!(verdict.pending, v.pending, "vector {i}: pending");
            assert_eq!(verdict.state, v.state, "vector {i}: state");
            assert_eq!(verdict.ready, v.state == State::Ready, "vector {i}: ready");
        }
    }

    #[test]
    fn db_ahead_is_ready_under_at_least_only() {
        let table: &[_] = &[(1, 0, T), (2, 1, T), (3, 2, T), (4, 5, T)];
        let exact = verdict(Some(table), &files(&[1, 2], Policy::Exact));
        assert_eq!(exact.state, State::Ahead);
        assert_eq!(exact.ahead, vec![5]);
        assert_eq!(exact.state.exit_code(), 4);
        let by_version = verdict(Some(table), &version(2, Policy::Exact));
        assert_eq!(by_version.state, State::Ahead);
        assert_eq!(
            verdict(Some(table), &version(2, Policy::AtLeast)).state,
            State::Ready
        );
        assert_eq!(
            verdict(Some(table), &version(5, Policy::Exact)).state,
            State::Ready
        );
    }

    #[test]
    fn exact_with_pending_is_behind_not_ahead() {
        // Something above the newest file AND something missing: behind wins (waiting may help).
        let table: &[_] = &[(1, 0, T), (2, 1, T), (3, 9, T)];
        assert_eq!(
            verdict(Some(table), &files(&[1, 2], Policy::Exact)).state,
            State::Behind
        );
    }

    #[test]
    fn expected_version_only() {
        let table: &[_] = &[(1, 0, T), (2, 1, T), (3, 3, T)];
        assert!(verdict(Some(table), &version(3, Policy::AtLeast)).ready);
        assert!(verdict(Some(table), &version(2, Policy::AtLeast)).ready);
        assert_eq!(
            verdict(Some(table), &version(4, Policy::AtLeast)).state,
            State::Behind
        );
        // Out-of-order missing 2 is invisible without the files: max 3 >= 3.
        assert!(verdict(Some(table), &version(3, Policy::Exact)).ready);
    }

    #[test]
    fn empty_table_is_behind_even_for_version_zero() {
        assert_eq!(
            verdict(Some(&[]), &version(0, Policy::AtLeast)).state,
            State::Behind
        );
        let zero: &[_] = &[(1, 0, T)];
        assert!(verdict(Some(zero), &version(0, Policy::AtLeast)).ready);
        assert!(verdict(Some(zero), &version(0, Policy::Exact)).ready);
    }

    #[test]
    fn rolled_back_by_old_goose_is_behind_with_a_hint() {
        let table: &[_] = &[(1, 0, T), (2, 1, T), (3, 2, T), (4, 2, F)];
        for expect in [version(2, Policy::AtLeast), files(&[1, 2], Policy::AtLeast)] {
            let v = verdict(Some(table), &expect);
            assert_eq!(v.state, State::Behind);
            assert_eq!(v.max_version, Some(Id::Number(1)));
            let hint = v.hint.clone().expect("a hint");
            assert!(
                hint.contains("version(s) 2 ") && hint.contains("by hand"),
                "{hint}"
            );
            assert!(v.to_string().contains(&hint), "{v}");
        }
        // A version that is merely not applied yet (no row) gets no hint.
        let v = verdict(
            Some(&[(1, 0, T), (2, 1, T)]),
            &files(&[1, 2], Policy::AtLeast),
        );
        assert_eq!(v.hint, None);
        // A legacy row below what is applied does not block a version expectation.
        let old: &[_] = &[(1, 0, T), (2, 1, T), (3, 1, F), (4, 2, T)];
        assert!(
            verdict(Some(old), &version(3, Policy::AtLeast))
                .hint
                .is_none()
        );
    }

    #[test]
    fn duplicate_rows_and_timestamp_versions() {
        let table: &[_] = &[
            (1, 0, T),
            (2, 20240101120000, T),
            (3, 20240101120000, T),
            (4, 20240305090000, T),
        ];
        let exp = files(&[20240101120000, 20240305090000], Policy::Exact);
        let v = verdict(Some(table), &exp);
        assert!(v.ready);
        assert_eq!(v.version, Some(Id::Number(20240305090000)));
        // Sequential and timestamp versions mix: 3 is missing below the timestamps.
        let mixed = files(&[1, 2, 3, 20240101120000], Policy::AtLeast);
        let table: &[_] = &[(1, 0, T), (2, 1, T), (3, 2, T), (4, 20240101120000, T)];
        assert_eq!(verdict(Some(table), &mixed).pending, vec![3]);
    }

    #[test]
    fn exact_refuses_every_applied_version_without_a_file() {
        // Files {2}; table applied 1 and 2: 1 is unknown to the build, below the newest file.
        let table: &[_] = &[(1, 0, T), (2, 1, T), (3, 2, T)];
        let exact = verdict(Some(table), &files(&[2], Policy::Exact));
        assert_eq!(exact.state, State::Ahead);
        assert_eq!(exact.ahead, vec![1]);
        assert!(
            exact.to_string().contains("unknown to this build: 1"),
            "{exact}"
        );
        // at-least is unchanged: ready, the unknown version only listed.
        let at_least = verdict(Some(table), &files(&[2], Policy::AtLeast));
        assert!(at_least.ready);
        assert_eq!(at_least.ahead, vec![1]);
        // A rolled-back unknown version is not applied, so not ahead.
        let table: &[_] = &[(1, 0, T), (2, 1, T), (3, 1, F), (4, 2, T)];
        assert!(verdict(Some(table), &files(&[2], Policy::Exact)).ready);
    }

    #[test]
    fn flapping_network_errors_are_one_answer() {
        let exp = version(1, Policy::AtLeast);
        let goose = exp.clone();
        let exp: Expect = exp.into();
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
        let behind = verdict(Some(&[(1, 0, T)]), &goose);
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
        let table: &[_] = &[(1, 0, T), (2, 1, T)];
        let behind = named(verdict(Some(table), &files(&[1, 2, 3], Policy::AtLeast)));
        assert_eq!(
            behind.to_string(),
            "not ready: goose_db_version at version 1, expected 3 (at-least); pending: 2, 3"
        );
        let ready = named(verdict(Some(table), &version(1, Policy::AtLeast)));
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
        let err = Verdict::db_error(
            &version(4, Policy::Exact).into(),
            "t",
            "connection refused".into(),
        );
        assert_eq!(
            err.to_string(),
            "not ready: database error: connection refused (table t, expected 4)"
        );
    }

    #[test]
    fn the_resolved_table_ends_the_line_and_is_news() {
        let table: &[_] = &[(1, 0, T), (2, 1, T)];
        let plain = named(verdict(Some(table), &files(&[1, 2, 3], Policy::AtLeast)));
        let read = plain
            .clone()
            .read_from(Some("public.goose_db_version".into()), None);
        assert_eq!(
            read.to_string(),
            "not ready: goose_db_version at version 1, expected 3 (at-least); pending: 2, 3; resolved to public.goose_db_version"
        );
        let ready = named(verdict(Some(table), &version(1, Policy::AtLeast)))
            .read_from(Some("ops.\"Goose\"".into()), Some("ops, public".into()));
        assert_eq!(
            ready.to_string(),
            "ready: goose_db_version at version 1, expected 1 (at-least); resolved to ops.\"Goose\""
        );
        let json = serde_json::to_value(&ready).expect("serialises");
        assert_eq!(json["resolved_table"], "ops.\"Goose\"");
        assert_eq!(json["role_search_path"], "ops, public");
        // Another table than before is news, even at the same version.
        assert!(!read.same_answer(&plain));
        assert!(read.same_answer(&read.clone()));
    }

    #[test]
    fn json_keys_match_spec() {
        let table: &[_] = &[(1, 0, T), (2, 1, T)];
        let verdict = verdict(Some(table), &files(&[1, 2], Policy::AtLeast));
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

//! `serve`'s Prometheus metrics, exposed at `/metrics` in the OpenMetrics text format that
//! Prometheus scrapes (encoded by `prometheus-client`):
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `schema_gate_ready` | gauge | 1 when `/readyz` answers 200 |
//! | `schema_gate_version` | gauge | the tool's current version (-1: none); integer ids only (goose, golang-migrate) |
//! | `schema_gate_max_version` | gauge | highest applied version (-1: none); integer ids only |
//! | `schema_gate_expected_version` | gauge | the expectation E; integer ids only |
//! | `schema_gate_version_info{version}` | gauge | 1 for the current version, in the tool's own spelling (every tool; `""`: none) |
//! | `schema_gate_pending_migrations` | gauge | migrations still to apply |
//! | `schema_gate_checks_total{result="ready\|not_ready\|error\|rejected"}` | counter | checks by outcome: `error` = connectivity, `rejected` = the database refused |
//! | `schema_gate_check_duration_seconds` | histogram | one check: connect + query |
//! | `schema_gate_last_success_timestamp_seconds` | gauge | Unix time of the last check that reached the database |
//! | `schema_gate_consecutive_errors` | gauge | failed checks since the last one that reached the database |
//! | `schema_gate_state{state="ready\|behind\|no_table\|ahead\|failed\|db_error"}` | gauge | 1 for the latest check's state, 0 for the others |
//! | `schema_gate_ahead_migrations` | gauge | applied versions the build does not know |
//! | `schema_gate_ready_changed_timestamp_seconds` | gauge | Unix time `schema_gate_ready` last changed (process start at first): how long a pod has waited |
//! | `schema_gate_recheck_interval_seconds` | gauge | `GATE_RECHECK_INTERVAL` (0: never re-check, readiness latches) |
//! | `schema_gate_build_info{version}` | info | the gate's own version |
//! | `schema_gate_expectation_info{expected, policy, table, tool}` | info | what this pod waits for: which release, read from which tool's table |
//!
//! Values are updated by the checker; a scrape only encodes them (it never touches the database).

use crate::core::tools::Id;
use crate::core::verdict::{Expect, State, Verdict};
use crate::modes::serve::readiness::Failure;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

/// The `result` label of `schema_gate_checks_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    result: &'static str,
}

/// The `state` label of `schema_gate_state`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// The `version` label of `schema_gate_version_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

/// Every state, for the one-hot `schema_gate_state`.
const STATES: [State; 6] = State::ALL;

/// All metrics, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    ready: Gauge,
    /// `schema_gate_version` and `schema_gate_max_version`: only for integer ids.
    numbers: Option<(Gauge, Gauge)>,
    version_info: Family<VersionLabels, Gauge>,
    /// The label `version_info` carries now.
    shown_version: std::sync::Mutex<Option<String>>,
    pending: Gauge,
    checks: Family<CheckLabels, Counter>,
    duration: Histogram,
    last_success: Gauge<f64, AtomicU64>,
    consecutive_errors: Gauge,
    state: Family<StateLabels, Gauge>,
    ahead: Gauge,
    ready_changed: Gauge<f64, AtomicU64>,
}

impl Metrics {
    /// Registers every metric. What the pod expects and how often it re-checks are fixed for
    /// the process's life, and exported so that dashboards and alerts can say which release a
    /// pod waits for and how stale "stale" is.
    pub fn new(expect: &Expect, table: &str, recheck: Option<Duration>) -> Metrics {
        let mut registry = Registry::default();
        register_fixed(&mut registry, expect, table, recheck);
        let ready = gauge(
            &mut registry,
            "schema_gate_ready",
            "1 when /readyz answers 200",
            0,
        );
        let numbers = number_gauges(&mut registry, expect);
        let pending = gauge(
            &mut registry,
            "schema_gate_pending_migrations",
            "Migrations still to apply",
            0,
        );
        let consecutive_errors = gauge(
            &mut registry,
            "schema_gate_consecutive_errors",
            "Failed checks since the last one that reached the database",
            0,
        );
        let ahead = gauge(
            &mut registry,
            "schema_gate_ahead_migrations",
            "Applied versions the build does not know",
            0,
        );
        let state = state_family(&mut registry);
        let checks = checks_family(&mut registry);
        let version_info = Family::<VersionLabels, Gauge>::default();
        registry.register(
            "schema_gate_version_info",
            "1 for the current version, in the tool's own spelling (\"\": none yet)",
            version_info.clone(),
        );
        // 5 ms … ~10 s: a local check takes milliseconds, a cross-ocean TLS connect ~0.5 s.
        let duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register(
            "schema_gate_check_duration_seconds",
            "Duration of one check (connect and query)",
            duration.clone(),
        );
        let mut seconds = |name: &str, help: &str| {
            let gauge = Gauge::<f64, AtomicU64>::default();
            gauge.set(unix_seconds(SystemTime::now()));
            registry.register(name, help, gauge.clone());
            gauge
        };
        let ready_changed = seconds(
            "schema_gate_ready_changed_timestamp_seconds",
            "Unix time schema_gate_ready last changed (at first: the process start)",
        );
        let last_success = seconds(
            "schema_gate_last_success_timestamp_seconds",
            "Unix time of the last check that reached the database",
        );
        last_success.set(0.0);
        Metrics {
            registry,
            ready,
            numbers,
            version_info,
            shown_version: std::sync::Mutex::new(None),
            pending,
            checks,
            duration,
            last_success,
            consecutive_errors,
            state,
            ahead,
            ready_changed,
        }
    }

    /// Sets `schema_gate_ready` from the served readiness, noting when it changed.
    pub fn set_ready(&self, ready: bool, wall: SystemTime) {
        if self.ready.set(i64::from(ready)) != i64::from(ready) {
            self.ready_changed.set(unix_seconds(wall));
        }
    }

    /// Records one check; `failure` says which kind a `db_error` verdict is.
    pub fn record_check(
        &self,
        verdict: &Verdict,
        failure: Failure,
        took: Duration,
        consecutive_errors: u64,
        wall: SystemTime,
    ) {
        self.duration.observe(took.as_secs_f64());
        let result = match (verdict.state, failure) {
            (State::Ready, _) => "ready",
            (State::DbError, Failure::Rejected) => "rejected",
            (State::DbError, Failure::Connectivity) => "error",
            _ => "not_ready",
        };
        self.checks.get_or_create(&CheckLabels { result }).inc();
        for s in STATES {
            self.state
                .get_or_create(&StateLabels { state: s.as_str() })
                .set(i64::from(s == verdict.state));
        }
        self.consecutive_errors
            .set(i64::try_from(consecutive_errors).unwrap_or(i64::MAX));
        if verdict.state != State::DbError {
            let number = |id: &Option<Id>| match id {
                Some(Id::Number(n)) => *n,
                _ => -1,
            };
            if let Some((version, max_version)) = &self.numbers {
                version.set(number(&verdict.version));
                max_version.set(number(&verdict.max_version));
            }
            self.show_version(verdict.version.as_ref().map(Id::to_string));
            self.pending
                .set(i64::try_from(verdict.pending.len()).unwrap_or(i64::MAX));
            self.ahead
                .set(i64::try_from(verdict.ahead_total).unwrap_or(i64::MAX));
            self.last_success.set(unix_seconds(wall));
        }
    }

    /// `schema_gate_version_info{version}`: 1 for the current version, the previous label gone.
    fn show_version(&self, version: Option<String>) {
        let label = version.unwrap_or_default();
        let mut shown = self.shown_version.lock().unwrap_or_else(|p| p.into_inner());
        if shown.as_deref() == Some(label.as_str()) {
            return;
        }
        if let Some(previous) = shown.take() {
            self.version_info
                .remove(&VersionLabels { version: previous });
        }
        self.version_info
            .get_or_create(&VersionLabels {
                version: label.clone(),
            })
            .set(1);
        *shown = Some(label);
    }

    /// The text exposition, with `schema_gate_ready` set from the served readiness (which can
    /// change between checks when `GATE_STALE_AFTER` passes).
    pub fn encode(&self, ready: bool) -> String {
        self.set_ready(ready, SystemTime::now());
        let mut text = String::with_capacity(4096);
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// A gauge registered as `name`, set to `initial`.
fn gauge(registry: &mut Registry, name: &str, help: &str, initial: i64) -> Gauge {
    let gauge = Gauge::default();
    gauge.set(initial);
    registry.register(name, help, gauge.clone());
    gauge
}

/// `schema_gate_version`, `schema_gate_max_version` and `schema_gate_expected_version`, only
/// where ids are numbers (goose, golang-migrate): a gauge cannot hold Flyway's `1.10` or an
/// Alembic revision (`schema_gate_version_info` carries every tool's).
fn number_gauges(registry: &mut Registry, expect: &Expect) -> Option<(Gauge, Gauge)> {
    let Some(Id::Number(expected)) = expect.expected() else {
        return None;
    };
    if !expect.tool().numeric_ids() {
        return None;
    }
    let version = gauge(
        registry,
        "schema_gate_version",
        "The tool's current version (-1: none)",
        -1,
    );
    let max_version = gauge(
        registry,
        "schema_gate_max_version",
        "Highest applied version (-1: none)",
        -1,
    );
    gauge(
        registry,
        "schema_gate_expected_version",
        "The version this build expects",
        expected,
    );
    Some((version, max_version))
}

/// `schema_gate_state`, one gauge per state, all present from the start.
fn state_family(registry: &mut Registry) -> Family<StateLabels, Gauge> {
    let state = Family::<StateLabels, Gauge>::default();
    registry.register(
        "schema_gate_state",
        "1 for the latest check's state (ready, behind, no_table, ahead, failed, db_error), 0 for the others",
        state.clone(),
    );
    for s in STATES {
        let _ = state.get_or_create(&StateLabels { state: s.as_str() });
    }
    state
}

/// `schema_gate_checks_total` (prometheus-client appends `_total`), every result present from
/// the start so that `rate()` sees the first increment.
fn checks_family(registry: &mut Registry) -> Family<CheckLabels, Counter> {
    let checks = Family::<CheckLabels, Counter>::default();
    registry.register(
        "schema_gate_checks",
        "Checks by result (ready, not_ready, error: unreachable, rejected: refused by the database)",
        checks.clone(),
    );
    for result in ["ready", "not_ready", "error", "rejected"] {
        let _ = checks.get_or_create(&CheckLabels { result });
    }
    checks
}

/// What is fixed for the process's life: the gate's version, what the pod expects, and how
/// often it re-checks once ready.
fn register_fixed(
    registry: &mut Registry,
    expect: &Expect,
    table: &str,
    recheck: Option<Duration>,
) {
    registry.register(
        "schema_gate_build",
        "The gate's own version",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION").to_string())]),
    );
    registry.register(
        "schema_gate_expectation",
        "What this pod waits for: the expected version, the policy, the table and its tool",
        Info::new(vec![
            (
                "expected",
                expect.expected().map(|e| e.to_string()).unwrap_or_default(),
            ),
            ("policy", expect.policy().as_str().to_string()),
            ("table", table.to_string()),
            ("tool", expect.tool().as_str().to_string()),
        ]),
    );
    let recheck_seconds = Gauge::<f64, AtomicU64>::default();
    recheck_seconds.set(recheck.map_or(0.0, |d| d.as_secs_f64()));
    registry.register(
        "schema_gate_recheck_interval_seconds",
        "GATE_RECHECK_INTERVAL once ready (0: never re-check, readiness latches)",
        recheck_seconds,
    );
}

fn unix_seconds(wall: SystemTime) -> f64 {
    wall.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::verdict::{Expectation, Policy};

    #[test]
    fn every_spec_metric_is_exposed() {
        let exp: Expect = Expectation {
            version: 42,
            files: None,
            policy: Policy::AtLeast,
        }
        .into();
        let metrics = Metrics::new(&exp, "goose_db_version", Some(Duration::from_secs(30)));
        metrics.record_check(
            &Verdict::db_error(&exp, "t", "refused".into()),
            Failure::Connectivity,
            Duration::from_millis(3),
            1,
            SystemTime::UNIX_EPOCH,
        );
        let text = metrics.encode(false);
        for name in [
            "schema_gate_ready 0",
            "schema_gate_version -1",
            "schema_gate_expected_version 42",
            "schema_gate_pending_migrations 0",
            "schema_gate_checks_total{result=\"error\"} 1",
            "schema_gate_checks_total{result=\"ready\"} 0",
            "schema_gate_checks_total{result=\"rejected\"} 0",
            "schema_gate_check_duration_seconds_bucket{le=\"0.005\"} 1",
            "schema_gate_last_success_timestamp_seconds 0.0",
            "schema_gate_consecutive_errors 1",
            "schema_gate_state{state=\"db_error\"} 1",
            "schema_gate_state{state=\"ready\"} 0",
            "schema_gate_ahead_migrations 0",
            "schema_gate_recheck_interval_seconds 30.0",
            &format!(
                "schema_gate_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
            "schema_gate_expectation_info{expected=\"42\",policy=\"at-least\",table=\"goose_db_version\",tool=\"goose\"} 1",
            "schema_gate_state{state=\"failed\"} 0",
        ] {
            assert!(text.contains(name), "missing {name:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn string_ids_have_no_number_gauges_but_a_version_label() {
        let expected = crate::core::tools::Expected::build(
            crate::core::tools::Tool::Flyway,
            crate::core::tools::Sources {
                version: Some("1.10"),
                ..Default::default()
            },
        )
        .expect("valid");
        let exp = Expect::Tool {
            expected: expected.clone(),
            policy: Policy::Exact,
        };
        let metrics = Metrics::new(&exp, "flyway_schema_history", None);
        let facts = crate::core::tools::Facts {
            reached: true,
            current: vec![Id::from("1.9")],
            ..Default::default()
        };
        let at = |current: &str| {
            let mut f = facts.clone();
            f.current = vec![Id::from(current)];
            crate::core::verdict::judge_tool(Some(&f), &expected, Policy::Exact, "t")
        };
        for current in ["1.9", "1.10"] {
            metrics.record_check(
                &at(current),
                Failure::Connectivity,
                Duration::from_millis(3),
                0,
                SystemTime::UNIX_EPOCH,
            );
        }
        let text = metrics.encode(true);
        assert!(!text.contains("schema_gate_version "), "{text}");
        assert!(!text.contains("schema_gate_expected_version"), "{text}");
        assert!(
            text.contains("schema_gate_version_info{version=\"1.10\"} 1"),
            "{text}"
        );
        assert!(
            !text.contains("version=\"1.9\""),
            "the old label is gone: {text}"
        );
        assert!(
            text.contains(
                "schema_gate_expectation_info{expected=\"1.10\",policy=\"exact\",table=\"flyway_schema_history\",tool=\"flyway\"} 1"
            ),
            "{text}"
        );
    }
}

//! `serve`'s memory: the cached verdict that probes are answered from. Pure: no I/O, no clock
//! (callers pass `now`), so every rule below is a plain unit test.
//!
//! Rules (the README's "Guarantees"):
//! - Before the first check that reaches the database, not ready.
//! - A check that reaches the database replaces the answer: a rollback fails readiness at once.
//! - A failed check keeps the last answer (an outage is not a stale schema, and neither is a
//!   broken gate password or grant; failing every pod at once would turn a blip into an outage),
//!   unless `GATE_STALE_AFTER` has passed since the last check that reached the database. That
//!   holds for both kinds of failure, told apart and shown with their start: **rejections** (the
//!   database answered and refused: authentication, unknown database, permission denied, a table
//!   that is not goose's, syntax), which no amount of waiting fixes, and **connectivity** errors.

use crate::core::verdict::{Expect, State, Verdict};
use crate::time::rfc3339;
use serde::Serialize;
use std::time::{Duration, Instant, SystemTime};

/// Which kind of failure the latest checks met (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The database, pooler or TLS peer answered and refused.
    Rejected,
    /// The database could not be reached, or did not answer in time.
    Connectivity,
}

impl Failure {
    /// The JSON and log spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Rejected => "rejected",
            Failure::Connectivity => "connectivity",
        }
    }
}

/// The failures since the last check that reached the database.
#[derive(Debug, Clone)]
struct Streak {
    kind: Failure,
    /// The latest check's error.
    message: String,
    /// When this kind of failure began (it restarts when the kind changes).
    since: SystemTime,
}

/// The cached state of `serve`.
#[derive(Debug, Clone)]
pub struct Readiness {
    expectation: Expect,
    table: String,
    stale_after: Option<Duration>,
    /// The verdict of the last check that reached the database.
    answer: Option<Verdict>,
    /// When that check completed.
    last_success: Option<(Instant, SystemTime)>,
    /// The current run of failed checks, if the latest check failed.
    failing: Option<Streak>,
    consecutive_errors: u64,
    checked_at: Option<SystemTime>,
}

/// `/status`: the `check --json` object plus when and how recently the gate checked.
#[derive(Debug, Serialize)]
pub struct Status {
    /// The served verdict; `ready` is what `/readyz` answers, `error` the latest check's error.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// When the latest check completed (RFC 3339, UTC), or null.
    pub checked_at: Option<String>,
    /// When the latest check that reached the database completed, or null.
    pub last_success_at: Option<String>,
    /// Failed checks since the last one that reached the database.
    pub consecutive_errors: u64,
    /// True when `GATE_STALE_AFTER` has passed without a check reaching the database.
    pub stale: bool,
    /// `rejected` or `connectivity` while checks fail, else null.
    pub error_kind: Option<Failure>,
    /// When the current kind of failure began (RFC 3339), else null.
    pub error_since: Option<String>,
}

impl Readiness {
    /// Nothing known yet.
    pub fn new(expectation: Expect, table: String, stale_after: Option<Duration>) -> Readiness {
        Readiness {
            expectation,
            table,
            stale_after,
            answer: None,
            last_success: None,
            failing: None,
            consecutive_errors: 0,
            checked_at: None,
        }
    }

    /// Records one check's verdict, completed at `now` / `wall`; `failure` says which kind a
    /// `db_error` verdict is (ignored for the others).
    pub fn record(&mut self, verdict: Verdict, failure: Failure, now: Instant, wall: SystemTime) {
        self.checked_at = Some(wall);
        if verdict.state == State::DbError {
            self.consecutive_errors += 1;
            let since = match &self.failing {
                Some(streak) if streak.kind == failure => streak.since,
                _ => wall,
            };
            self.failing = Some(Streak {
                kind: failure,
                message: verdict.error.unwrap_or_default(),
                since,
            });
        } else {
            self.consecutive_errors = 0;
            self.failing = None;
            self.last_success = Some((now, wall));
            self.answer = Some(verdict);
        }
    }

    /// The latest check's error, if it failed.
    fn last_error(&self) -> Option<&str> {
        self.failing.as_ref().map(|f| f.message.as_str())
    }

    /// Failed checks since the last one that reached the database.
    pub fn consecutive_errors(&self) -> u64 {
        self.consecutive_errors
    }

    /// Whether the last answer says ready (ignoring staleness): decides the re-check pace.
    pub fn answer_is_ready(&self) -> bool {
        self.answer.as_ref().is_some_and(|a| a.ready)
    }

    fn is_stale(&self, now: Instant) -> bool {
        match (self.stale_after, self.last_success) {
            (Some(limit), Some((at, _))) => now.saturating_duration_since(at) > limit,
            _ => false,
        }
    }

    /// `/readyz`: `Ok` when ready, else the reason (one line).
    pub fn ready(&self, now: Instant) -> Result<(), String> {
        match &self.answer {
            None => Err(match self.last_error() {
                Some(_) => self.error_verdict().to_string(),
                None => "not ready: no check has completed yet".to_string(),
            }),
            Some(answer) if !answer.ready => Err(answer.to_string()),
            Some(_) if self.is_stale(now) => Err(format!(
                "not ready: stale: no check reached the database for {}s (GATE_STALE_AFTER {}){}",
                self.last_success
                    .map_or(0, |(at, _)| now.saturating_duration_since(at).as_secs()),
                self.stale_after
                    .map(crate::time::show_duration)
                    .unwrap_or_default(),
                self.failing
                    .as_ref()
                    .map(|f| format!("; last error ({}): {}", f.kind.as_str(), f.message))
                    .unwrap_or_default()
            )),
            Some(_) => Ok(()),
        }
    }

    fn error_verdict(&self) -> Verdict {
        let error = self
            .last_error()
            .map_or_else(|| "no check has completed yet".to_string(), str::to_string);
        Verdict::db_error(&self.expectation, &self.table, error)
    }

    /// `/status`.
    pub fn status(&self, now: Instant) -> Status {
        let mut verdict = self.answer.clone().unwrap_or_else(|| self.error_verdict());
        verdict.ready = self.ready(now).is_ok();
        if self.consecutive_errors > 0 {
            verdict.error = self.last_error().map(str::to_string);
        }
        Status {
            verdict,
            checked_at: self.checked_at.map(rfc3339),
            last_success_at: self.last_success.map(|(_, wall)| rfc3339(wall)),
            consecutive_errors: self.consecutive_errors,
            stale: self.is_stale(now),
            error_kind: self.failing.as_ref().map(|f| f.kind),
            error_since: self.failing.as_ref().map(|f| rfc3339(f.since)),
        }
    }

    /// `/readyz?verbose`: the decision and what it rests on, one fact per line.
    pub fn explain(&self, now: Instant) -> String {
        let status = self.status(now);
        let decision = match self.ready(now) {
            Ok(()) => "ready".to_string(),
            Err(reason) => reason,
        };
        let mut text = format!("{decision}\n");
        if let Some(answer) = &self.answer {
            text.push_str(&format!("last answer: {answer}\n"));
        }
        text.push_str(&format!(
            "checked at: {}\nlast success at: {}\nconsecutive errors: {}\n",
            status.checked_at.as_deref().unwrap_or("never"),
            status.last_success_at.as_deref().unwrap_or("never"),
            status.consecutive_errors
        ));
        if let Some(streak) = &self.failing {
            text.push_str(&format!(
                "last error ({}, since {}): {}\n",
                streak.kind.as_str(),
                rfc3339(streak.since),
                streak.message
            ));
            if self.answer.is_some() {
                text.push_str(&format!(
                    "note: readiness rests on the last verified answer; {}\n",
                    match (streak.kind, self.stale_after) {
                        (Failure::Rejected, None) => "the database rejects the gate's checks, so a rollback would not be seen: fix the gate's credentials or grant (GATE_STALE_AFTER bounds how long this is trusted)".to_string(),
                        (Failure::Rejected, Some(limit)) => format!("the database rejects the gate's checks, so a rollback would not be seen; readiness fails after {} without a verified check (GATE_STALE_AFTER)", crate::time::show_duration(limit)),
                        (Failure::Connectivity, None) => "the database cannot be reached; the verdict is kept until it can (GATE_STALE_AFTER bounds this)".to_string(),
                        (Failure::Connectivity, Some(limit)) => format!("the database cannot be reached; readiness fails after {} without a verified check (GATE_STALE_AFTER)", crate::time::show_duration(limit)),
                    }
                ));
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::goose::{Row, TableFacts};
    use crate::core::verdict::{Expectation, Policy, judge};

    fn goose_expectation() -> Expectation {
        Expectation {
            version: 2,
            files: None,
            policy: Policy::AtLeast,
        }
    }

    fn expectation() -> Expect {
        goose_expectation().into()
    }

    fn at(version: i64) -> Verdict {
        let facts = TableFacts::from_rows(
            [
                Row {
                    id: 1,
                    version: 0,
                    applied: true,
                },
                Row {
                    id: 2,
                    version,
                    applied: true,
                },
            ],
            None,
            2,
        );
        judge(Some(&facts), &goose_expectation(), "goose_db_version")
    }

    fn rejection() -> Verdict {
        Verdict::db_error(
            &expectation(),
            "goose_db_version",
            "permission denied for table goose_db_version (SQLSTATE 42501)".into(),
        )
    }

    use Failure::{Connectivity, Rejected};

    fn error() -> Verdict {
        Verdict::db_error(
            &expectation(),
            "goose_db_version",
            "connection refused".into(),
        )
    }

    fn gate(stale: Option<u64>) -> (Readiness, Instant) {
        let r = Readiness::new(
            expectation(),
            "goose_db_version".into(),
            stale.map(Duration::from_secs),
        );
        (r, Instant::now())
    }

    const WALL: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn not_ready_before_the_first_check() {
        let (r, t0) = gate(None);
        assert_eq!(
            r.ready(t0),
            Err("not ready: no check has completed yet".into())
        );
        assert_eq!(r.status(t0).verdict.state, State::DbError);
        assert_eq!(r.status(t0).checked_at, None);
    }

    #[test]
    fn errors_before_any_answer_are_not_ready() {
        let (mut r, t0) = gate(None);
        r.record(error(), Connectivity, t0, WALL);
        let reason = r.ready(t0).unwrap_err();
        assert!(reason.contains("connection refused"), "{reason}");
        assert_eq!(r.status(t0).consecutive_errors, 1);
    }

    #[test]
    fn errors_keep_a_verified_schema_ready() {
        let (mut r, t0) = gate(None);
        r.record(at(2), Connectivity, t0, WALL);
        assert_eq!(r.ready(t0), Ok(()));
        for i in 1..=5 {
            r.record(
                error(),
                Connectivity,
                t0 + Duration::from_secs(i * 60),
                WALL,
            );
        }
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(r.ready(later), Ok(()));
        let status = r.status(later);
        assert!(status.verdict.ready);
        assert_eq!(status.verdict.state, State::Ready);
        assert_eq!(status.verdict.error.as_deref(), Some("connection refused"));
        assert_eq!(status.consecutive_errors, 5);
        assert!(!status.stale);
    }

    #[test]
    fn stale_after_fails_readiness_then_recovers() {
        let (mut r, t0) = gate(Some(60));
        r.record(at(2), Connectivity, t0, WALL);
        r.record(error(), Connectivity, t0 + Duration::from_secs(30), WALL);
        assert_eq!(r.ready(t0 + Duration::from_secs(59)), Ok(()));
        let reason = r.ready(t0 + Duration::from_secs(61)).unwrap_err();
        assert!(
            reason.contains("stale") && reason.contains("connection refused"),
            "{reason}"
        );
        assert!(r.status(t0 + Duration::from_secs(61)).stale);
        r.record(at(2), Connectivity, t0 + Duration::from_secs(90), WALL);
        assert_eq!(r.ready(t0 + Duration::from_secs(91)), Ok(()));
        assert_eq!(r.status(t0 + Duration::from_secs(91)).consecutive_errors, 0);
    }

    #[test]
    fn a_rollback_fails_readiness_at_once() {
        let (mut r, t0) = gate(None);
        r.record(at(2), Connectivity, t0, WALL);
        r.record(at(1), Connectivity, t0 + Duration::from_secs(1), WALL);
        let reason = r.ready(t0 + Duration::from_secs(1)).unwrap_err();
        assert!(
            reason.starts_with("not ready: goose_db_version at version 1"),
            "{reason}"
        );
        assert!(!r.answer_is_ready());
    }

    #[test]
    fn explain_lists_the_facts() {
        let (mut r, t0) = gate(None);
        r.record(
            at(2),
            Connectivity,
            t0,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_099_627),
        );
        r.record(
            error(),
            Connectivity,
            t0,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_099_657),
        );
        let text = r.explain(t0);
        assert!(text.starts_with("ready\n"), "{text}");
        assert!(
            text.contains("last success at: 2025-11-25T19:40:27.000Z"),
            "{text}"
        );
        assert!(text.contains("consecutive errors: 1"), "{text}");
        assert!(
            text.contains(
                "last error (connectivity, since 2025-11-25T19:40:57.000Z): connection refused"
            ),
            "{text}"
        );
    }

    #[test]
    fn rejections_keep_a_verified_schema_but_say_so_and_go_stale() {
        let (mut r, t0) = gate(Some(60));
        r.record(at(2), Connectivity, t0, WALL);
        let began = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_099_627);
        r.record(rejection(), Rejected, t0 + Duration::from_secs(10), began);
        r.record(
            rejection(),
            Rejected,
            t0 + Duration::from_secs(40),
            began + Duration::from_secs(30),
        );
        // Fail-static: still ready, but the status and the explanation name the rejection.
        let now = t0 + Duration::from_secs(41);
        assert_eq!(r.ready(now), Ok(()));
        let status = r.status(now);
        assert_eq!(status.error_kind, Some(Rejected));
        assert_eq!(
            status.error_since.as_deref(),
            Some("2025-11-25T19:40:27.000Z")
        );
        let text = r.explain(now);
        assert!(
            text.contains(
                "last error (rejected, since 2025-11-25T19:40:27.000Z): permission denied"
            ),
            "{text}"
        );
        assert!(text.contains("a rollback would not be seen"), "{text}");
        // GATE_STALE_AFTER bounds it, as for outages.
        let reason = r.ready(t0 + Duration::from_secs(61)).unwrap_err();
        assert!(
            reason.contains("stale") && reason.contains("rejected"),
            "{reason}"
        );
        // A change of kind restarts the clock.
        r.record(
            error(),
            Connectivity,
            t0 + Duration::from_secs(62),
            began + Duration::from_secs(62),
        );
        assert_eq!(
            r.status(t0 + Duration::from_secs(62))
                .error_since
                .as_deref(),
            Some("2025-11-25T19:41:29.000Z")
        );
    }
}

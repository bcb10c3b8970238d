//! The verdict's one-line text (`check`, the logs, the termination message): `ready: …` or
//! `not ready: …` with the numbers. goose's lines are what they have always been, byte for byte.

use super::{State, Verdict};
use crate::core::tools::Id;
use std::fmt;

/// At most this many versions are spelled out in the one-line text; JSON always has them all.
const LISTED: usize = 10;

pub(super) fn list(versions: &[Id]) -> String {
    list_total(versions, versions.len() as u64)
}

/// Like `list`, for a list that may itself be a cut of `total` versions.
fn list_total(versions: &[Id], total: u64) -> String {
    let mut out: Vec<String> = versions.iter().take(LISTED).map(Id::to_string).collect();
    let shown = versions.len().min(LISTED) as u64;
    if total > shown {
        out.push(format!("… ({} more)", total - shown));
    }
    out.join(", ")
}

/// The one-line text of `check`, the logs and the termination message:
/// `ready: …` or `not ready: …`, with the numbers.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (table, policy) = (self.shown_table(), self.policy.as_str());
        let expected = self
            .expected
            .as_ref()
            .map_or_else(|| "no version".to_string(), Id::to_string);
        let at = match (&self.version, &self.max_version) {
            (Some(v), Some(max)) if v != max => format!("at version {v} (highest applied {max})"),
            (Some(v), _) => format!("at version {v}"),
            (None, _) => "has no applied version".to_string(),
        };
        match self.state {
            State::Ready => write!(f, "ready: {table} {at}, expected {expected} ({policy})")?,
            State::Behind => {
                write!(f, "not ready: {table} {at}, expected {expected} ({policy})")?;
                if !self.pending.is_empty() {
                    write!(f, "; pending: {}", list(&self.pending))?;
                }
            }
            State::NoTable => {
                write!(
                    f,
                    "not ready: table {table} does not exist, expected {expected}"
                )?;
                if !self.pending.is_empty() {
                    write!(f, "; pending: {}", list(&self.pending))?;
                }
            }
            State::Ahead if self.ahead_total == 0 => {
                write!(f, "not ready: {table} {at}, expected {expected} ({policy})")?
            }
            State::Ahead => write!(
                f,
                "not ready: {table} {at}, ahead of expected {expected} ({policy}); applied but unknown to this build: {}",
                list_total(&self.ahead, self.ahead_total)
            )?,
            State::Failed => {
                write!(
                    f,
                    "not ready: {table} {at}, expected {expected} ({policy}); failed: {} (recorded \
                     as started and not finished: the migration failed or is still running, which \
                     the table cannot tell apart)",
                    list(&self.failed)
                )?;
                if !self.pending.is_empty() {
                    write!(f, "; pending: {}", list(&self.pending))?;
                }
            }
            State::DbError => write!(
                f,
                "not ready: database error: {} (table {table}, expected {expected})",
                self.error.as_deref().unwrap_or("unknown")
            )?,
        }
        if !self.checksum_mismatch.is_empty() && self.state != State::DbError {
            write!(
                f,
                "; recorded checksum differs from the shipped file: {}",
                list(&self.checksum_mismatch)
            )?;
        }
        if let Some(hint) = self.hint.as_ref().filter(|_| self.state != State::DbError) {
            write!(f, "; {hint}")?;
        }
        // Last, so that every line still starts with what it always said.
        match &self.resolved_table {
            Some(resolved) if self.state != State::DbError => write!(f, "; resolved to {resolved}"),
            _ => Ok(()),
        }
    }
}

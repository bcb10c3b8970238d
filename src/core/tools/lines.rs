//! `schema-gate status` for every tool but goose: one [`Line`] per migration, in the tool's own
//! order, built by each tool's `lines` from the rows its rule reads. Pure: no I/O.
//!
//! goose's listing streams while the table is read (`core::status`); the other tools' rules
//! need every row before they can say anything (Flyway's `DELETE` rows cancel earlier ones, an
//! Alembic row stands for all its ancestors), and their tables are read up to
//! [`super::ROW_LIMIT`] rows, so their listing is made once the rows are in and then written
//! line by line through the same framing (`core::status`'s `Text` and `Json`).

use super::Id;
use crate::core::status::AppliedAt;
use serde::Serialize;

/// What the tool's table says about one migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineState {
    /// Applied (or covered: below a Flyway baseline, an ancestor of an Alembic head).
    Applied,
    /// Recorded as started and not finished: failed, or still running.
    Failed,
    /// Not applied.
    Pending,
}

/// One migration in `status`'s listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Its id, as the tool spells it (a number for golang-migrate).
    pub version: Id,
    /// Its file in the build, when it has one (relative to its directory).
    pub file: Option<String>,
    /// `state == applied`, as goose's listing says it.
    pub applied: bool,
    /// Applied, failed or pending.
    pub state: LineState,
    /// When, where the tool records it (Flyway's `installed_on`, read as UTC as goose's
    /// `tstamp` is); null otherwise.
    pub applied_at: Option<AppliedAt>,
}

impl Line {
    /// A line of `version` (in `file`) in `state`, applied at `applied_at`.
    pub fn new(
        version: Id,
        file: Option<String>,
        state: LineState,
        applied_at: Option<AppliedAt>,
    ) -> Line {
        Line {
            version,
            file,
            applied: state == LineState::Applied,
            state,
            applied_at: applied_at.filter(|_| state != LineState::Pending),
        }
    }
}

/// The listing: the applied migrations the build does not have, then every migration it has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lines {
    /// Applied (or failed) in the table, without a file or manifest line in this build.
    pub without_file: Vec<Line>,
    /// Every migration of the build, in the tool's order (without a directory or manifest:
    /// what the table holds).
    pub migrations: Vec<Line>,
}

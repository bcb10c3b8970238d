//! Flyway's history table (`flyway_schema_history`), read and folded as
//! `MigrationInfoServiceImpl` folds it: the latest row that still counts per version, the
//! highest baseline, the repeatables' rows since their last `DELETE`. Pure: no I/O.

use super::super::{Row, RowError, bool_cell, cell};
use super::version::Version;
use crate::core::status::AppliedAt;
use std::collections::BTreeMap;

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// `installed_rank`.
    pub rank: i64,
    /// `version` (NULL for repeatables).
    pub version: Option<String>,
    /// `description`.
    pub description: String,
    /// `type` (`SQL`, `JDBC`, `BASELINE`, `SQL_BASELINE`, `DELETE`, `SCHEMA`, `UNDO_SQL`, …).
    pub kind: String,
    /// `script`.
    pub script: String,
    /// `checksum`.
    pub checksum: Option<i32>,
    /// `success`.
    pub success: bool,
    /// `installed_on`, when the read asked for it (`status`).
    pub installed_on: Option<AppliedAt>,
}

/// Reads the rows of [`COLUMNS`].
pub fn read_rows(rows: &[Row]) -> Result<Vec<HistoryRow>, RowError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let rank = cell(row, 0, "installed_rank")?;
        let rank = rank
            .parse()
            .map_err(|_| RowError(format!("column installed_rank is {rank:?}, not an integer")))?;
        let checksum =
            match row.get(5) {
                Some(Some(text)) => Some(text.parse().map_err(|_| {
                    RowError(format!("column checksum is {text:?}, not an integer"))
                })?),
                Some(None) => None,
                None => return Err(RowError("column checksum is missing".to_string())),
            };
        out.push(HistoryRow {
            rank,
            version: row.get(1).cloned().flatten(),
            description: cell(row, 2, "description")?.to_string(),
            kind: cell(row, 3, "type")?.to_string(),
            script: cell(row, 4, "script")?.to_string(),
            checksum,
            success: bool_cell(row, 6, "success")?,
            installed_on: row
                .get(7)
                .cloned()
                .flatten()
                .and_then(|t| AppliedAt::parse(&t)),
        });
    }
    out.sort_by_key(|r| r.rank);
    Ok(out)
}

fn is_baseline(kind: &str) -> bool {
    kind == "BASELINE" || kind.ends_with("_BASELINE")
}

fn is_undo(kind: &str) -> bool {
    kind.starts_with("UNDO_")
}

/// The latest state of each version and repeatable, as `MigrationInfoServiceImpl` folds them.
#[derive(Debug, Default)]
pub(super) struct History {
    /// Versioned migrations: the latest row that still counts, by version.
    pub(super) versions: BTreeMap<VersionKey, HistoryRow>,
    /// The highest successful baseline (`baseline` command or `B` script).
    pub(super) baseline: Option<Version>,
    /// Repeatables by description: their rows in rank order since the last `DELETE`.
    pub(super) repeatables: BTreeMap<String, Vec<HistoryRow>>,
}

/// A version as a map key (ordered and compared as Flyway compares versions).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct VersionKey(pub(super) Version);

pub(super) fn fold(rows: Vec<HistoryRow>) -> Result<History, RowError> {
    let mut history = History::default();
    for row in rows {
        if row.kind == "SCHEMA" {
            continue;
        }
        match &row.version {
            Some(text) => {
                let version = Version::parse(text).map_err(|why| {
                    RowError(format!(
                        "installed_rank {}: version {text:?}: {why}",
                        row.rank
                    ))
                })?;
                if is_baseline(&row.kind) {
                    if row.success && history.baseline.as_ref().is_none_or(|b| version > *b) {
                        history.baseline = Some(version);
                    }
                    continue;
                }
                let key = VersionKey(version);
                if row.kind == "DELETE" || (is_undo(&row.kind) && row.success) {
                    history.versions.remove(&key);
                } else if !is_undo(&row.kind) {
                    history.versions.insert(key, row);
                }
            }
            None => {
                if row.kind == "DELETE" {
                    history.repeatables.remove(&row.description);
                } else {
                    history
                        .repeatables
                        .entry(row.description.clone())
                        .or_default()
                        .push(row);
                }
            }
        }
    }
    Ok(history)
}

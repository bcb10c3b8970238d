//! goose on the shared model: its read ([`READ`], the one `SELECT` the check has always sent),
//! and [`crate::core::goose::TableFacts`] seen as [`Facts`]. goose's rows are folded as they
//! stream (`core::goose::Scan`) and judged by [`crate::core::verdict::judge`], which keeps its
//! output byte for byte; the tests below hold that judgement and the shared [`super::decide`]
//! to the same states on `docs/goose.md`'s test vectors.

use super::{Facts, Id, Read};
use crate::core::goose::TableFacts;
use crate::core::verdict::Expectation;

/// goose's read: every row, newest first within a version, so that one pass decides
/// (`core::goose::Scan`); `status` adds `tstamp`.
pub const READ: Read = Read {
    columns: "version_id, id, is_applied",
    status_columns: "version_id, id, is_applied, to_char(tstamp, 'YYYY-MM-DD HH24:MI:SS')",
    tail: "ORDER BY version_id, id DESC",
};

/// goose's facts in the shared form. goose never records a failed migration (a failed
/// migration's transaction rolls back, and `NO TRANSACTION` files are recorded only after they
/// succeed) and keeps no checksum.
pub fn facts(table: &TableFacts, expect: &Expectation) -> Facts {
    let reached = match &expect.files {
        Some(_) => table.pending.is_empty(),
        None => table.max_applied.is_some_and(|max| max >= expect.version),
    };
    Facts {
        empty: table.empty,
        reached,
        current: table.goose_version.map(Id::Number).into_iter().collect(),
        pending: table.pending.iter().copied().map(Id::Number).collect(),
        failed: Vec::new(),
        ahead: table.unknown.iter().copied().map(Id::Number).collect(),
        checksum_mismatch: Vec::new(),
        hints: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::goose::Row;
    use crate::core::tools::{Outcome, decide};
    use crate::core::verdict::{Policy, State, judge};

    const T: bool = true;
    const F: bool = false;

    /// `(id, version_id, is_applied)` rows, and the build's file versions.
    type Vector = (&'static [(i64, i64, bool)], &'static [i64]);

    /// `docs/goose.md`'s vectors (rows, files), plus the version-only forms.
    const VECTORS: &[Vector] = &[
        (&[], &[1, 2]),
        (&[(1, 0, T)], &[1, 2]),
        (&[(1, 0, T), (2, 1, T), (3, 2, T)], &[1, 2]),
        (&[(1, 0, T), (2, 1, T), (3, 3, T)], &[1, 2, 3]),
        (&[(1, 0, T), (2, 1, T), (3, 3, T), (4, 2, T)], &[1, 2, 3]),
        (&[(1, 0, T), (2, 1, T), (3, 2, T), (4, 2, F)], &[1, 2]),
        (&[(1, 0, T), (2, 1, T), (3, 1, T)], &[1]),
        (&[(1, 0, T), (2, 1, T), (3, 2, T), (4, 5, T)], &[1, 2]),
    ];

    fn outcome(state: State) -> Option<Outcome> {
        match state {
            State::Ready => Some(Outcome::Ready),
            State::Behind => Some(Outcome::Behind),
            State::Ahead => Some(Outcome::Ahead),
            State::NoTable | State::DbError | State::Failed => None,
        }
    }

    #[test]
    fn the_shared_rule_agrees_with_the_goose_verdict() {
        for (spec, files) in VECTORS {
            let rows: Vec<Row> = spec
                .iter()
                .map(|&(id, version, applied)| Row {
                    id,
                    version,
                    applied,
                })
                .collect();
            for policy in [Policy::AtLeast, Policy::Exact] {
                let max = files.iter().copied().max().unwrap_or(0);
                for expect in [
                    Expectation {
                        version: max,
                        files: Some(files.to_vec()),
                        policy,
                    },
                    Expectation {
                        version: max,
                        files: None,
                        policy,
                    },
                ] {
                    let table = TableFacts::from_rows(
                        rows.clone(),
                        expect.files.as_deref(),
                        expect.version,
                    );
                    let verdict = judge(Some(&table), &expect, "goose_db_version");
                    assert_eq!(
                        outcome(verdict.state),
                        Some(decide(&facts(&table, &expect), policy)),
                        "{spec:?} {expect:?}"
                    );
                }
            }
        }
    }
}

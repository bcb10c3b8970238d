//! One read of the configured tool's table, folded as its rows stream in. Pure: no I/O.
//!
//! The database layer knows no tool: it runs the tool's [`Read`] inside its guarded
//! transaction and hands every row of the table, as text cells ([`Cells`]), to a [`Fold`] made
//! from the [`Expect`]. goose's rows go through goose's one-pass [`Scan`] (memory flat however
//! long the table); every other tool's rows are kept, up to [`tools::ROW_LIMIT`], and judged
//! at the end by the tool's rule. A row the tool would not have written is a [`RowError`]: the
//! database layer turns it into a rejection (waiting cannot fix it).

use crate::core::goose::{Row as GooseRow, Scan, TableFacts};
use crate::core::status::{AppliedAt, Newest};
use crate::core::tools::{self, Facts, Read, Row, RowError, Tool};
use crate::core::verdict::Expect;

/// One row of the answer, as text cells (`None` for SQL NULL, or past the last column).
pub trait Cells {
    /// The cell at `index`.
    fn cell(&self, index: usize) -> Option<&str>;
    /// How many cells the row has.
    fn width(&self) -> usize;
}

impl Cells for [Option<&str>] {
    fn cell(&self, index: usize) -> Option<&str> {
        self.get(index).copied().flatten()
    }
    fn width(&self) -> usize {
        self.len()
    }
}

/// What a read of the table found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// goose's table, folded.
    Goose(TableFacts),
    /// Another tool's table: its facts, and (for `status`'s listing) its rows.
    Tool {
        /// What the rows say against the build.
        facts: Facts,
        /// The rows, kept only when the fold was asked to (`status`).
        rows: Vec<Row>,
    },
}

/// The fold of one read (see the module comment).
#[derive(Debug)]
pub struct Fold<'a> {
    kind: Kind<'a>,
    /// Keep the rows in the [`Answer`] (`status` lists them).
    keep_rows: bool,
}

#[derive(Debug)]
enum Kind<'a> {
    Goose {
        scan: Scan<'a>,
        /// The version of the previous row, to hand on the newest row of each version once.
        previous: Option<i64>,
    },
    Tool {
        expected: &'a tools::Expected,
        rows: Vec<Row>,
    },
}

/// The read `expect`'s tool needs.
pub fn read_of(expect: &Expect) -> Read {
    expect.tool().read()
}

impl<'a> Fold<'a> {
    /// A fold for `expect`; `keep_rows` for `status`.
    pub fn new(expect: &'a Expect, keep_rows: bool) -> Fold<'a> {
        let kind = match expect {
            Expect::Goose(e) => Kind::Goose {
                scan: Scan::new(e.files.as_deref(), e.version),
                previous: None,
            },
            Expect::Tool { expected, .. } => Kind::Tool {
                expected,
                rows: Vec::new(),
            },
        };
        Fold { kind, keep_rows }
    }

    /// Takes the next row. For goose, returns the newest row of a version the first time the
    /// version is seen (with its `tstamp` when the read asked for it: `status` streams these).
    pub fn push(&mut self, row: &(impl Cells + ?Sized)) -> Result<Option<Newest>, RowError> {
        match &mut self.kind {
            Kind::Goose { scan, previous } => {
                let parsed = goose_row(row)?;
                scan.push(parsed)
                    .map_err(|_| not_goose("rows arrived out of order"))?;
                if *previous == Some(parsed.version) {
                    return Ok(None);
                }
                *previous = Some(parsed.version);
                Ok(Some(Newest {
                    version: parsed.version,
                    applied: parsed.applied,
                    applied_at: row.cell(3).and_then(AppliedAt::parse),
                }))
            }
            Kind::Tool { expected, rows } => {
                if rows.len() >= tools::ROW_LIMIT {
                    return Err(not_the_tools(
                        expected.tool(),
                        &format!("more than {} rows", tools::ROW_LIMIT),
                    ));
                }
                rows.push(
                    (0..row.width())
                        .map(|i| row.cell(i).map(str::to_string))
                        .collect(),
                );
                Ok(None)
            }
        }
    }

    /// What the rows say, once every row was pushed.
    pub fn finish(self) -> Result<Answer, RowError> {
        match self.kind {
            Kind::Goose { scan, .. } => Ok(Answer::Goose(scan.finish())),
            Kind::Tool { expected, rows } => {
                let facts = expected
                    .facts(&rows)
                    .map_err(|e| not_the_tools(expected.tool(), &e.0))?;
                let rows = if self.keep_rows { rows } else { Vec::new() };
                Ok(Answer::Tool { facts, rows })
            }
        }
    }
}

/// A table that does not hold what goose writes.
fn not_goose(detail: &str) -> RowError {
    RowError(format!(
        "the version table has unexpected contents (id, version_id, is_applied): is it goose's table? ({detail})"
    ))
}

/// A table that does not hold what `tool` writes.
fn not_the_tools(tool: Tool, detail: &str) -> RowError {
    RowError(format!(
        "the version table has unexpected contents ({detail}): is it {}'s table? (GATE_TOOL, GATE_TABLE)",
        tool.as_str()
    ))
}

/// One goose row in text form: `version_id`, `id`, `is_applied` (`t`/`f`).
fn goose_row(row: &(impl Cells + ?Sized)) -> Result<GooseRow, RowError> {
    let number = |index: usize, what: &str| {
        row.cell(index)
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| not_goose(&format!("{what} is not a 64-bit integer")))
    };
    Ok(GooseRow {
        version: number(0, "version_id")?,
        id: number(1, "id")?,
        applied: match row.cell(2) {
            Some("t") => true,
            Some("f") => false,
            _ => return Err(not_goose("is_applied is not a boolean")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::verdict::{Expectation, Policy};

    #[test]
    fn goose_rows_in_text_form() {
        let cells: [Option<&str>; 3] = [Some("20240101120000"), Some("2"), Some("f")];
        assert_eq!(
            goose_row(&cells[..]),
            Ok(GooseRow {
                id: 2,
                version: 20240101120000,
                applied: false
            })
        );
        for (version, id, applied) in [
            (Some("1"), Some("1"), Some("x")),
            (Some("a"), Some("1"), Some("t")),
            (None, Some("1"), Some("t")),
            (Some("1"), None, Some("t")),
            (Some("1"), Some("1"), None),
        ] {
            let cells = [version, id, applied];
            let e = goose_row(&cells[..]).expect_err("refused");
            assert!(e.0.contains("is it goose's table?"), "{e}");
        }
    }

    #[test]
    fn goose_hands_on_each_versions_newest_row_once() {
        let expect = Expect::Goose(Expectation {
            version: 2,
            files: None,
            policy: Policy::AtLeast,
        });
        let mut fold = Fold::new(&expect, false);
        let rows: [[Option<&str>; 4]; 3] = [
            [Some("1"), Some("3"), Some("t"), Some("2026-01-01 00:00:00")],
            [Some("1"), Some("2"), Some("f"), None],
            [Some("2"), Some("4"), Some("t"), None],
        ];
        let handed: Vec<i64> = rows
            .iter()
            .filter_map(|r| fold.push(&r[..]).expect("in order"))
            .map(|n| n.version)
            .collect();
        assert_eq!(handed, [1, 2]);
        assert!(matches!(fold.finish(), Ok(Answer::Goose(f)) if f.max_applied == Some(2)));
    }

    #[test]
    fn other_tools_rows_are_judged_at_the_end_and_bounded() {
        let expected = tools::Expected::build(
            Tool::Dbmate,
            tools::Sources {
                version: Some("002"),
                ..tools::Sources::default()
            },
        )
        .expect("valid");
        let expect = Expect::Tool {
            expected,
            policy: Policy::AtLeast,
        };
        let mut fold = Fold::new(&expect, true);
        for v in ["001", "002"] {
            assert_eq!(fold.push(&[Some(v)][..]), Ok(None));
        }
        match fold.finish() {
            Ok(Answer::Tool { facts, rows }) => {
                assert!(facts.reached);
                assert_eq!(rows.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        let mut fold = Fold::new(&expect, false);
        let e = fold
            .push(&[None][..])
            .and_then(|_| fold.finish().map(|_| None::<Newest>));
        assert!(
            e.is_err_and(|e| e
                .0
                .contains("is it dbmate's table? (GATE_TOOL, GATE_TABLE)")),
            "a NULL version"
        );
    }
}

//! `schema-gate status`: what `goose status` shows, from a `SELECT` alone. Pure: no I/O.
//!
//! `goose status` lists every migration file as applied (with its time) or pending, and creates
//! the version table if it is missing, so it needs write rights an operator's read-only role
//! lacks. This listing follows the gate's reading of "applied" (the newest row by `id`) and adds
//! what goose leaves out: versions applied in the database without a file in this build.

use serde::Serialize;
use std::fmt;

/// The newest row of one version, as the status query reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newest {
    /// `version_id`.
    pub version: i64,
    /// `is_applied` of its newest row.
    pub applied: bool,
    /// Its `tstamp` as `YYYY-MM-DD HH:MM:SS` (null in tables from goose before v3.22).
    pub tstamp: Option<String>,
}

/// One line of the listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The migration's version.
    pub version: i64,
    /// Its file in the migrations directory, if any.
    pub file: Option<String>,
    /// Whether its newest row says applied.
    pub applied: bool,
    /// When (the row's `tstamp`, as stored: goose writes the server's local time), if applied.
    pub applied_at: Option<String>,
}

/// The whole listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// The version table read.
    pub table: String,
    /// Every migration file, in version order (without a directory: every applied version).
    pub migrations: Vec<Entry>,
    /// Versions applied in the database without a file in the directory (goose never shows
    /// these).
    pub without_file: Vec<Entry>,
}

/// Builds the listing from the newest row of each version (ascending by version) and the
/// migration files (version, name), ascending, when a directory was given.
pub fn listing(table: &str, newest: &[Newest], files: Option<&[(i64, String)]>) -> Listing {
    let find = |version: i64| {
        newest
            .binary_search_by_key(&version, |n| n.version)
            .ok()
            .map(|at| &newest[at])
    };
    let entry = |version: i64, file: Option<String>| {
        let row = find(version).filter(|n| n.applied);
        Entry {
            version,
            file,
            applied: row.is_some(),
            applied_at: row.and_then(|n| n.tstamp.clone()),
        }
    };
    let applied_versions = newest.iter().filter(|n| n.applied && n.version != 0);
    match files {
        Some(files) => Listing {
            table: table.to_string(),
            migrations: files
                .iter()
                .map(|(version, name)| entry(*version, Some(name.clone())))
                .collect(),
            without_file: applied_versions
                .filter(|n| files.binary_search_by_key(&n.version, |f| f.0).is_err())
                .map(|n| entry(n.version, None))
                .collect(),
        },
        None => Listing {
            table: table.to_string(),
            migrations: applied_versions.map(|n| entry(n.version, None)).collect(),
            without_file: Vec::new(),
        },
    }
}

/// goose's layout: `    Applied At                  Migration`, then one line per migration,
/// the time in Go's ANSIC form (`Mon Jan  2 15:04:05 2006`) or `Pending`.
impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "    Applied At                  Migration")?;
        writeln!(f, "    =======================================")?;
        for e in &self.migrations {
            writeln!(f, "    {:<24} -- {}", when(e), what(e))?;
        }
        if !self.without_file.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "    Applied in {} without a file in the migrations directory:",
                self.table
            )?;
            for e in &self.without_file {
                writeln!(f, "    {:<24} -- {}", when(e), what(e))?;
            }
        }
        Ok(())
    }
}

fn when(e: &Entry) -> String {
    match (&e.applied_at, e.applied) {
        (_, false) => "Pending".to_string(),
        (Some(at), true) => ansic(at).unwrap_or_else(|| at.clone()),
        (None, true) => "(applied, no time)".to_string(),
    }
}

fn what(e: &Entry) -> String {
    e.file
        .clone()
        .unwrap_or_else(|| format!("version {}", e.version))
}

/// `YYYY-MM-DD HH:MM:SS` as Go's `time.ANSIC` prints it: `Mon Apr 27 03:43:55 2026`.
pub fn ansic(stamp: &str) -> Option<String> {
    let (date, time) = stamp.split_once(' ')?;
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || time.len() < 8 {
        return None;
    }
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Days since 1970-01-01 (a Thursday), Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let weekday = DAYS[days.rem_euclid(7) as usize];
    Some(format!(
        "{weekday} {} {day:>2} {} {year}",
        MONTHS[(month - 1) as usize],
        time.get(..8)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: i64, applied: bool, at: &str) -> Newest {
        Newest {
            version,
            applied,
            tstamp: Some(at.to_string()),
        }
    }

    #[test]
    fn goose_time_format() {
        assert_eq!(
            ansic("2026-04-27 03:43:55").as_deref(),
            Some("Mon Apr 27 03:43:55 2026")
        );
        assert_eq!(
            ansic("2006-01-02 15:04:05").as_deref(),
            Some("Mon Jan  2 15:04:05 2006")
        );
        assert_eq!(
            ansic("2000-02-29 00:00:00").as_deref(),
            Some("Tue Feb 29 00:00:00 2000")
        );
        assert_eq!(ansic("garbage"), None);
    }

    #[test]
    fn files_in_order_with_pending_and_versions_without_a_file() {
        let newest = [
            row(0, true, "2026-04-27 03:40:00"),
            row(1, true, "2026-04-27 03:43:55"),
            row(2, false, "2026-04-28 10:00:00"),
            row(5, true, "2026-05-01 12:00:00"),
        ];
        let files = [
            (1, "00001_init.sql".to_string()),
            (2, "00002_b.sql".to_string()),
            (3, "00003_c.sql".to_string()),
        ];
        let l = listing("goose_db_version", &newest, Some(&files));
        let states: Vec<(i64, bool)> = l
            .migrations
            .iter()
            .map(|e| (e.version, e.applied))
            .collect();
        assert_eq!(states, vec![(1, true), (2, false), (3, false)]);
        assert_eq!(l.without_file.len(), 1);
        assert_eq!(l.without_file[0].version, 5);
        let text = l.to_string();
        assert!(
            text.contains("    Mon Apr 27 03:43:55 2026 -- 00001_init.sql\n"),
            "{text}"
        );
        assert!(
            text.contains("    Pending                  -- 00002_b.sql\n"),
            "{text}"
        );
        assert!(
            text.contains("    Fri May  1 12:00:00 2026 -- version 5\n"),
            "{text}"
        );
    }

    #[test]
    fn without_a_directory_every_applied_version() {
        let newest = [
            row(0, true, "2026-04-27 03:40:00"),
            row(1, true, "2026-04-27 03:43:55"),
        ];
        let l = listing("t", &newest, None);
        assert_eq!(l.migrations.len(), 1);
        assert!(l.without_file.is_empty());
    }
}

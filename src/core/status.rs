//! `schema-gate status`: what `goose status` shows, from a `SELECT` alone, for goose and (through
//! the same framing, [`Text::line`] and [`Json::line`]) every other tool's listing
//! (`core::tools::lines`). Pure: no I/O.
//!
//! `goose status` lists every migration file as applied (with its time) or pending, and creates
//! the version table if it is missing, so it needs write rights an operator's read-only role
//! lacks. This listing follows the gate's reading of "applied" (the newest row by `id`) and adds
//! what goose leaves out: versions applied in the database without a file in this build.
//!
//! The listing streams: the version table can hold millions of rows, and memory must stay flat.
//! The rows arrive sorted by version and the files are sorted by version, so one merge
//! ([`Listing`]) walks both once. A version without a file is an [`Entry`] to write at once;
//! a file's entry waits (one small slot per file, which the build's file list already costs)
//! until the table has been read, since only then is a file with no row known to be pending.
//! The output is therefore: the versions without a file, then every file in order, then the
//! verdict. [`Text`] and [`Json`] frame the entries as they come (goose's layout, or one JSON
//! document); the mode writes what they produce.

use crate::core::tools::lines::{Line, LineState};
use crate::core::verdict::Verdict;
use serde::{Serialize, Serializer};
use std::fmt::Write as _;

/// When a migration was applied: goose's `tstamp`.
///
/// goose declares `tstamp timestamp NOT NULL DEFAULT now()`: a `timestamp without time zone`,
/// the wall clock of the migrating session's `TimeZone`. It is read as UTC, as goose's own Go
/// drivers (pgx, lib/pq) read it; on a server whose `TimeZone` is not UTC the instant is off by
/// that offset (`docs/contract.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedAt {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    millis: u16,
}

impl AppliedAt {
    /// Parses the status query's `YYYY-MM-DD HH:MM:SS` (an optional `.fff…` fraction is kept to
    /// the millisecond). `None` for anything else.
    pub fn parse(text: &str) -> Option<AppliedAt> {
        let (date, time) = text.split_once(' ')?;
        let mut ymd = date.splitn(3, '-');
        let year = ymd.next()?.parse::<i64>().ok()?;
        let month = number(ymd.next()?, 1, 12)?;
        let day = number(ymd.next()?, 1, days_in_month(year, month))?;
        let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
        let mut hms = clock.splitn(3, ':');
        let hour = number(hms.next()?, 0, 23)?;
        let minute = number(hms.next()?, 0, 59)?;
        let second = number(hms.next()?, 0, 60)?;
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let millis = fraction
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0u16, |ms, b| ms * 10 + u16::from(b - b'0'));
        Some(AppliedAt {
            year,
            month,
            day,
            hour,
            minute,
            second,
            millis,
        })
    }

    /// RFC 3339 UTC with milliseconds, as `/status` writes times: `2026-04-27T03:43:55.000Z`.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }

    /// Go's `time.ANSIC`, as `goose status` prints it: `Mon Apr 27 03:43:55 2026`.
    pub fn ansic(&self) -> String {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        // Days since 1970-01-01 (a Thursday), Howard Hinnant's days_from_civil.
        let (month, day) = (i64::from(self.month), i64::from(self.day));
        let y = if month <= 2 { self.year - 1 } else { self.year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
        let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
        format!(
            "{} {} {:>2} {:02}:{:02}:{:02} {}",
            DAYS[days.rem_euclid(7) as usize],
            MONTHS[usize::from(self.month - 1)],
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }
}

impl Serialize for AppliedAt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

fn number(text: &str, min: u8, max: u8) -> Option<u8> {
    let n = text.parse::<u8>().ok()?;
    (min..=max).contains(&n).then_some(n)
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The newest row of one version, as the status query reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Newest {
    /// `version_id`.
    pub version: i64,
    /// `is_applied` of its newest row.
    pub applied: bool,
    /// Its `tstamp` (null in tables from goose before v3.22, or not a time the gate reads).
    pub applied_at: Option<AppliedAt>,
}

/// One line of the listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry<'f> {
    /// The migration's version.
    pub version: i64,
    /// Its file in the migrations directory (as [`display_name`] shows it), if any.
    pub file: Option<&'f str>,
    /// Whether its newest row says applied.
    pub applied: bool,
    /// When, if applied (see [`AppliedAt`] for the time zone).
    pub applied_at: Option<AppliedAt>,
}

impl<'f> Entry<'f> {
    fn of(newest: Option<&Newest>, version: i64, file: Option<&'f str>) -> Entry<'f> {
        let applied = newest.filter(|n| n.applied);
        Entry {
            version,
            file,
            applied: applied.is_some(),
            applied_at: applied.and_then(|n| n.applied_at),
        }
    }
}

/// Which part of the listing an entry belongs to (JSON `without_file` or `migrations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Versions applied in the database without a file in the migrations directory (goose
    /// never shows these). Written first, as the rows stream in.
    WithoutFile,
    /// Every migration file, in version order (without a directory: every applied version).
    Migrations,
}

/// The one-pass merge of the table's versions and the migration files.
#[derive(Debug)]
pub struct Listing<'f> {
    files: Option<&'f [(i64, String)]>,
    /// Per file, the newest row of its version once the merge has passed it.
    rows: Vec<Option<Newest>>,
    /// The first file whose version the rows have not yet reached.
    next: usize,
}

impl<'f> Listing<'f> {
    /// A merge against the migration files `(version, name)`, ascending; `None`: no directory,
    /// so every applied version is listed as a migration.
    pub fn new(files: Option<&'f [(i64, String)]>) -> Listing<'f> {
        Listing {
            files,
            rows: vec![None; files.map_or(0, <[_]>::len)],
            next: 0,
        }
    }

    /// Takes the newest row of the next version (versions strictly ascending, as the status
    /// query sorts them) and returns the entry to write at once, if any: an applied version
    /// without a file (without a directory: any applied version). Version 0 (the row goose
    /// writes when it creates the table) is never listed, as goose never lists it.
    pub fn push(&mut self, newest: Newest) -> Option<(Section, Entry<'f>)> {
        let section = match self.files {
            None => Section::Migrations,
            Some(files) => {
                while files.get(self.next).is_some_and(|f| f.0 < newest.version) {
                    self.next += 1;
                }
                if files.get(self.next).is_some_and(|f| f.0 == newest.version) {
                    self.rows[self.next] = Some(newest);
                    self.next += 1;
                    return None;
                }
                Section::WithoutFile
            }
        };
        (newest.applied && newest.version != 0)
            .then(|| (section, Entry::of(Some(&newest), newest.version, None)))
    }

    /// Once the table has been read (or found missing: then every file is pending, as goose
    /// lists them): every file's entry, in version order.
    pub fn files(self) -> impl Iterator<Item = (Section, Entry<'f>)> {
        let files = self.files.unwrap_or_default();
        files.iter().zip(self.rows).map(|((version, name), row)| {
            let entry = Entry::of(row.as_ref(), *version, Some(name.as_str()));
            (Section::Migrations, entry)
        })
    }
}

/// A file name as the listing shows it: UTF-8 as it is, every byte that is not UTF-8 as `\xNN`,
/// control characters as `\xNN` (or `\u{…}`), a backslash doubled, so that any name is one
/// readable line that says exactly which bytes it holds. Never U+FFFD, which would hide them.
pub fn display_name(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_ascii_control() => {
                    let _ = write!(out, "\\x{:02x}", u32::from(c));
                }
                c if c.is_control() => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// goose's header.
const HEADER: &str =
    "    Applied At                  Migration\n    =======================================\n";

/// goose's layout, streamed: `    Applied At                  Migration`, then one line per
/// migration, the time in Go's ANSIC form (`Mon Jan  2 15:04:05 2006`) or `Pending`. The
/// versions without a file come first, under their own heading; then goose's block; then the
/// verdict line.
#[derive(Debug)]
pub struct Text {
    table: String,
    section: Option<Section>,
}

impl Text {
    /// Framing for a listing of `table`.
    pub fn new(table: &str) -> Text {
        Text {
            table: table.to_string(),
            section: None,
        }
    }

    /// Appends `entry` (with its section's heading, the first time) to `out`.
    pub fn entry(&mut self, section: Section, entry: &Entry<'_>, out: &mut String) {
        let when = match (entry.applied, entry.applied_at) {
            (false, _) => "Pending".to_string(),
            (true, Some(at)) => at.ansic(),
            (true, None) => "(applied, no time)".to_string(),
        };
        self.write(section, &when, entry.file, &entry.version, out);
    }

    /// Appends another tool's `line` as [`Text::entry`] does: its time (or `Applied` where the
    /// tool records none), `Failed` or `Pending`.
    pub fn line(&mut self, section: Section, line: &Line, out: &mut String) {
        let when = match (line.state, line.applied_at) {
            (LineState::Pending, _) => "Pending".to_string(),
            (LineState::Failed, _) => "Failed".to_string(),
            (LineState::Applied, Some(at)) => at.ansic(),
            (LineState::Applied, None) => "Applied".to_string(),
        };
        self.write(section, &when, line.file.as_deref(), &line.version, out);
    }

    fn write(
        &mut self,
        section: Section,
        when: &str,
        file: Option<&str>,
        version: &dyn std::fmt::Display,
        out: &mut String,
    ) {
        if self.section != Some(section) {
            self.open(section, out);
        }
        let _ = match file {
            Some(file) => writeln!(out, "    {when:<24} -- {file}"),
            None => writeln!(out, "    {when:<24} -- version {version}"),
        };
    }

    /// Appends the end: goose's header if no migration was listed (and the listing is
    /// `complete`: the table was read to its end, or found missing), then the verdict's line.
    pub fn finish(&mut self, complete: bool, verdict: Option<&Verdict>, out: &mut String) {
        if complete && self.section != Some(Section::Migrations) {
            self.open(Section::Migrations, out);
        }
        if let Some(verdict) = verdict {
            let _ = writeln!(out, "{verdict}");
        }
    }

    fn open(&mut self, section: Section, out: &mut String) {
        if self.section.is_some() {
            out.push('\n');
        }
        match section {
            Section::WithoutFile => {
                let _ = writeln!(
                    out,
                    "    Applied in {} without a file in the migrations directory:",
                    self.table
                );
            }
            Section::Migrations => out.push_str(HEADER),
        }
        self.section = Some(section);
    }
}

/// One JSON document on one line, streamed:
/// `{"table":…,"without_file":[…],"migrations":[…],"verdict":{…}}`. A part the read never
/// reached (a database error first) is `null`; `verdict` is `null` only when a signal stopped
/// the gate before it had one.
#[derive(Debug)]
pub struct Json {
    table: String,
    section: Option<Section>,
    first: bool,
}

impl Json {
    /// Framing for a listing of `table`.
    pub fn new(table: &str) -> Json {
        Json {
            table: serde_json::to_string(table).unwrap_or_else(|_| "null".into()),
            section: None,
            first: true,
        }
    }

    /// Appends `entry` to its array in `out`, opening the document and arrays as needed.
    pub fn entry(&mut self, section: Section, entry: &Entry<'_>, out: &mut String) {
        self.item(section, entry, out);
    }

    /// Appends another tool's `line` (`{"version", "file", "applied", "state", "applied_at"}`).
    pub fn line(&mut self, section: Section, line: &Line, out: &mut String) {
        self.item(section, line, out);
    }

    fn item(&mut self, section: Section, item: &impl Serialize, out: &mut String) {
        if self.section.is_none() {
            let _ = write!(out, "{{\"table\":{},\"without_file\":[", self.table);
            self.section = Some(Section::WithoutFile);
        }
        if section == Section::Migrations && self.section == Some(Section::WithoutFile) {
            out.push_str("],\"migrations\":[");
            self.section = Some(Section::Migrations);
            self.first = true;
        }
        if !self.first {
            out.push(',');
        }
        self.first = false;
        out.push_str(&serde_json::to_string(item).unwrap_or_else(|_| "null".into()));
    }

    /// Closes the document: the arrays (`complete`: the table was read to its end, or found
    /// missing; else the parts not reached are `null`), then the verdict.
    pub fn finish(&mut self, complete: bool, verdict: Option<&Verdict>, out: &mut String) {
        let rest = if complete { "[]" } else { "null" };
        match self.section {
            None => {
                let _ = write!(
                    out,
                    "{{\"table\":{},\"without_file\":{rest},\"migrations\":{rest}",
                    self.table
                );
            }
            Some(Section::WithoutFile) => {
                let _ = write!(out, "],\"migrations\":{rest}");
            }
            Some(Section::Migrations) => out.push(']'),
        }
        let verdict = verdict
            .and_then(|v| serde_json::to_string(v).ok())
            .unwrap_or_else(|| "null".into());
        let _ = writeln!(out, ",\"verdict\":{verdict}}}");
        self.section = Some(Section::Migrations);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::verdict::{Expectation, Policy, judge};

    fn at(text: &str) -> AppliedAt {
        AppliedAt::parse(text).expect("a time")
    }

    fn row(version: i64, applied: bool, when: &str) -> Newest {
        Newest {
            version,
            applied,
            applied_at: Some(at(when)),
        }
    }

    fn files(list: &[(i64, &str)]) -> Vec<(i64, String)> {
        list.iter().map(|(v, n)| (*v, n.to_string())).collect()
    }

    /// Runs the merge over `rows` and renders it with both framings: (text, JSON).
    fn render(
        rows: &[Newest],
        files: Option<&[(i64, String)]>,
        complete: bool,
        verdict: Option<&Verdict>,
    ) -> (String, serde_json::Value) {
        let (mut text, mut json) = (Text::new("goose_db_version"), Json::new("goose_db_version"));
        let (mut t, mut j) = (String::new(), String::new());
        let mut listing = Listing::new(files);
        let mut entries = Vec::new();
        for newest in rows {
            entries.extend(listing.push(*newest));
        }
        if complete {
            entries.extend(listing.files());
        }
        for (section, entry) in &entries {
            text.entry(*section, entry, &mut t);
            json.entry(*section, entry, &mut j);
        }
        text.finish(complete, verdict, &mut t);
        json.finish(complete, verdict, &mut j);
        assert!(j.ends_with("}\n") && !j.trim_end().contains('\n'), "{j}");
        (t, serde_json::from_str(&j).expect("one JSON document"))
    }

    #[test]
    fn times_as_goose_prints_them_and_as_status_writes_them() {
        for (stored, goose, rfc) in [
            (
                "2026-04-27 03:43:55",
                "Mon Apr 27 03:43:55 2026",
                "2026-04-27T03:43:55.000Z",
            ),
            (
                "2006-01-02 15:04:05.999999",
                "Mon Jan  2 15:04:05 2006",
                "2006-01-02T15:04:05.999Z",
            ),
            (
                "2000-02-29 00:00:00.5",
                "Tue Feb 29 00:00:00 2000",
                "2000-02-29T00:00:00.500Z",
            ),
            (
                "1969-12-31 23:59:59",
                "Wed Dec 31 23:59:59 1969",
                "1969-12-31T23:59:59.000Z",
            ),
        ] {
            let t = at(stored);
            assert_eq!(t.ansic(), goose, "{stored}");
            assert_eq!(t.rfc3339(), rfc, "{stored}");
        }
        // The same format as /status's times (crate::time::rfc3339).
        let epoch =
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(951_782_400_123);
        assert_eq!(
            at("2000-02-29 00:00:00.123").rfc3339(),
            crate::time::rfc3339(epoch)
        );
        for bad in [
            "garbage",
            "2026-13-01 00:00:00",
            "2026-02-30 00:00:00",
            "2026-01-01 24:00:00",
            "2026-01-01 00:00",
            "2026-01-01 00:00:00.x",
            "infinity",
            "",
        ] {
            assert_eq!(AppliedAt::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn files_in_order_with_pending_and_versions_without_a_file() {
        let rows = [
            row(0, true, "2026-04-27 03:40:00"),
            row(1, true, "2026-04-27 03:43:55"),
            row(2, false, "2026-04-28 10:00:00"),
            row(4, true, "2026-04-30 09:00:00"),
            row(5, true, "2026-05-01 12:00:00"),
        ];
        let files = files(&[
            (1, "00001_init.sql"),
            (2, "00002_b.sql"),
            (3, "00003_c.sql"),
        ]);
        let (text, json) = render(&rows, Some(&files), true, None);
        assert_eq!(
            text,
            "    Applied in goose_db_version without a file in the migrations directory:\n\
             \x20   Thu Apr 30 09:00:00 2026 -- version 4\n\
             \x20   Fri May  1 12:00:00 2026 -- version 5\n\
             \n\
             \x20   Applied At                  Migration\n\
             \x20   =======================================\n\
             \x20   Mon Apr 27 03:43:55 2026 -- 00001_init.sql\n\
             \x20   Pending                  -- 00002_b.sql\n\
             \x20   Pending                  -- 00003_c.sql\n"
        );
        assert_eq!(
            json,
            serde_json::json!({
                "table": "goose_db_version",
                "without_file": [
                    {"version": 4, "file": null, "applied": true, "applied_at": "2026-04-30T09:00:00.000Z"},
                    {"version": 5, "file": null, "applied": true, "applied_at": "2026-05-01T12:00:00.000Z"},
                ],
                "migrations": [
                    {"version": 1, "file": "00001_init.sql", "applied": true, "applied_at": "2026-04-27T03:43:55.000Z"},
                    {"version": 2, "file": "00002_b.sql", "applied": false, "applied_at": null},
                    {"version": 3, "file": "00003_c.sql", "applied": false, "applied_at": null},
                ],
                "verdict": null,
            })
        );
    }

    #[test]
    fn a_version_without_a_file_between_files_and_below_them() {
        let rows = [
            row(1, true, "2026-01-01 00:00:01"),
            row(2, true, "2026-01-01 00:00:02"),
            row(3, true, "2026-01-01 00:00:03"),
            row(7, true, "2026-01-01 00:00:07"),
        ];
        let files = files(&[(3, "3_c.sql"), (5, "5_e.sql"), (6, "6_f.sql")]);
        let (_, json) = render(&rows, Some(&files), true, None);
        let versions = |key: &str| -> Vec<(i64, bool)> {
            json[key]
                .as_array()
                .expect("array")
                .iter()
                .map(|e| (e["version"].as_i64().unwrap_or(-1), e["applied"] == true))
                .collect()
        };
        assert_eq!(versions("without_file"), [(1, true), (2, true), (7, true)]);
        assert_eq!(versions("migrations"), [(3, true), (5, false), (6, false)]);
    }

    #[test]
    fn a_missing_table_lists_every_file_as_pending() {
        let files = files(&[(1, "00001_init.sql"), (2, "00002_b.sql")]);
        let expect = Expectation {
            version: 2,
            files: Some(vec![1, 2]),
            policy: Policy::AtLeast,
        };
        let verdict = judge(None, &expect, "goose_db_version");
        let (text, json) = render(&[], Some(&files), true, Some(&verdict));
        assert_eq!(
            text,
            format!(
                "{HEADER}    Pending                  -- 00001_init.sql\n    \
                 Pending                  -- 00002_b.sql\n{verdict}\n"
            )
        );
        assert_eq!(json["without_file"], serde_json::json!([]));
        assert_eq!(json["migrations"][1]["applied"], false);
        assert_eq!(json["verdict"]["state"], "no_table");
    }

    #[test]
    fn without_a_directory_every_applied_version_streams() {
        let rows = [
            row(0, true, "2026-04-27 03:40:00"),
            row(1, true, "2026-04-27 03:43:55"),
            row(2, false, "2026-04-27 03:44:00"),
        ];
        let mut listing = Listing::new(None);
        let streamed: Vec<i64> = rows
            .iter()
            .filter_map(|r| listing.push(*r))
            .map(|(section, e)| {
                assert_eq!(section, Section::Migrations);
                e.version
            })
            .collect();
        assert_eq!(streamed, [1]);
        assert_eq!(listing.files().count(), 0);
        let (text, json) = render(&rows, None, true, None);
        assert_eq!(
            text,
            format!("{HEADER}    Mon Apr 27 03:43:55 2026 -- version 1\n")
        );
        assert_eq!(json["without_file"], serde_json::json!([]));
        assert_eq!(json["migrations"][0]["version"], 1);
        // Nothing applied at all: goose's header alone.
        let (text, json) = render(&[], None, true, None);
        assert_eq!(text, HEADER);
        assert_eq!(json["migrations"], serde_json::json!([]));
    }

    #[test]
    fn an_unfinished_read_is_still_one_document() {
        let files = files(&[(1, "1_a.sql")]);
        let rows = [
            row(0, true, "2026-01-01 00:00:00"),
            row(9, true, "2026-01-01 00:00:09"),
        ];
        // A database error after some rows: what was listed, then null for what was not.
        let (text, json) = render(&rows, Some(&files), false, None);
        assert!(text.ends_with("-- version 9\n"), "{text}");
        assert_eq!(json["without_file"][0]["version"], 9);
        assert_eq!(json["migrations"], serde_json::Value::Null);
        // Before any row.
        let (text, json) = render(&[], Some(&files), false, None);
        assert_eq!(text, "");
        assert_eq!(json["without_file"], serde_json::Value::Null);
        assert_eq!(json["table"], "goose_db_version");
    }

    #[test]
    fn names_that_are_not_utf8_are_escaped() {
        assert_eq!(display_name(b"00001_init.sql"), "00001_init.sql");
        assert_eq!(display_name(b"3_\xff.sql"), "3_\\xff.sql");
        assert_eq!(display_name("4_café.sql".as_bytes()), "4_café.sql");
        assert_eq!(display_name(b"5_a\nb\\c.sql"), "5_a\\x0ab\\\\c.sql");
        assert_eq!(display_name(b"6_\xe2\x82.sql"), "6_\\xe2\\x82.sql");
        assert_eq!(display_name("7_\u{85}.sql".as_bytes()), "7_\\u{85}.sql");
        let json = serde_json::to_string(&Entry {
            version: 3,
            file: Some(&display_name(b"3_\xff.sql")),
            applied: false,
            applied_at: None,
        })
        .expect("JSON");
        assert!(json.contains(r#""file":"3_\\xff.sql""#), "{json}");
    }
}

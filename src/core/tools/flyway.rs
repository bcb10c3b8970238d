//! Flyway (13, open-source edition): `flyway_schema_history`, one row per applied migration,
//! baseline, repair. Pure: no I/O.
//!
//! `docs/tools/flyway.md` names the source of each rule and the runs of Flyway 13.12.0 that
//! confirmed it (`scripts/tools/characterise-flyway.sh`). In short:
//!
//! - **Names** (`ResourceNameParser.parse`): the suffix `.sql` in any case is stripped, then the
//!   prefix `V` (versioned), `R` (repeatable) or `B` (baseline migration), case-sensitive; the
//!   rest splits at the first `__` into version and description. A name that does not parse is
//!   skipped (`validateMigrationNaming` is off by default). Locations are scanned recursively.
//! - **Versions** (`MigrationVersion`): `_` reads as `.`, parts split at a `.` followed by a
//!   digit, each part a `BigInteger` (a sign is allowed on the first), trailing zero parts
//!   dropped: `1_2` = `1.2`, `1.0` = `1`, `01.3` = `1.3`, `1.10` > `1.9`. Two files with one
//!   version are refused. The history stores the version as written, `_` turned to `.`.
//! - **Checksums** (`ChecksumCalculator`): CRC-32 over the script's lines read as UTF-8, without
//!   their line terminators, a leading byte-order mark dropped; stored as a signed 32-bit int.
//! - **Rows** (`MigrationInfoServiceImpl`, `MigrationInfoImpl.getState`): a versioned migration
//!   is applied when its latest row succeeded; a `BASELINE` row (the `baseline` command) or a
//!   `SQL_BASELINE` row (a `B` script on an empty database) covers every version at or below it;
//!   a `DELETE` row (`repair` of a missing migration) cancels the version's earlier rows; a row
//!   with `success = false` is failed. A pending version below the highest applied one is
//!   *ignored*: `migrate` refuses it unless `outOfOrder`. A repeatable is applied when the latest
//!   row with its description carries the file's checksum, else *outdated* (re-applied by the
//!   next `migrate`).
//! - Flyway 13.12.0 on PostgreSQL never left a `success = false` row in our runs, not even for a
//!   script with `executeInTransaction=false`: `DbMigrate.applyMigrations` inserts it, and the
//!   schema-history transaction then rolls it back. The rule still handles such rows (older
//!   Flyway releases, other editions, rows written by hand).

use super::lines::{Line, LineState, Lines};
use super::{
    DIR_VAR, Entry, ExpectError, FILE_VAR, Facts, Id, Listing, Read, Row, RowError, Sources,
    VERSION_VAR, bool_cell, cell, manifest_lines, show,
};
use crate::core::status::AppliedAt;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The table Flyway creates (`flyway.table` overrides it), in its default schema.
pub const DEFAULT_TABLE: &str = "flyway_schema_history";

/// The check's `SELECT`, in rank order; `status` adds `installed_on`.
pub const READ: Read = Read {
    columns: "installed_rank, version, description, type, script, checksum, success",
    status_columns: "installed_rank, version, description, type, script, checksum, success, \
                     to_char(installed_on, 'YYYY-MM-DD HH24:MI:SS')",
    tail: "ORDER BY installed_rank LIMIT 100001",
};

/// Flyway scans every file under its locations; the directory rule hashes `.sql` scripts.
pub fn wants_contents(path: &[u8]) -> bool {
    path.len() >= 4 && path[path.len() - 4..].eq_ignore_ascii_case(b".sql")
}

// ---------------------------------------------------------------------------------------------
// Checksums

/// The CRC-32 table (IEEE 802.3, reflected, `java.util.zip.CRC32`), made at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// `java.util.zip.CRC32` over `bytes`, continuing from `crc`.
pub fn crc32(crc: u32, bytes: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Flyway's checksum of one script (`ChecksumCalculator.calculateChecksumForResource`): the
/// script is read as UTF-8 (malformed bytes become U+FFFD, as Java's decoder does), line by
/// line with `BufferedReader.readLine` (terminators `\n`, `\r`, `\r\n`), a byte-order mark at
/// the start of the first line is dropped, and each line's UTF-8 bytes feed one CRC-32. The
/// terminators never reach it, so only the text between them counts.
pub fn checksum(contents: &[u8]) -> i32 {
    let text = String::from_utf8_lossy(contents);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut crc = 0;
    for piece in text.split(['\r', '\n']) {
        crc = crc32(crc, piece.as_bytes());
    }
    crc as i32
}

// ---------------------------------------------------------------------------------------------
// Versions

/// One part of a version: a `BigInteger`, kept as sign and digits (no leading zeros; zero is
/// empty and never negative).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    negative: bool,
    digits: String,
}

impl Ord for Part {
    fn cmp(&self, other: &Part) -> Ordering {
        let magnitude = self
            .digits
            .len()
            .cmp(&other.digits.len())
            .then_with(|| self.digits.cmp(&other.digits));
        match (self.negative, other.negative) {
            (false, false) => magnitude,
            (true, true) => magnitude.reverse(),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Part {
    fn partial_cmp(&self, other: &Part) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A Flyway version (`MigrationVersion`): compared by its numeric parts, shown as Flyway
/// stores it (the text with `_` turned to `.`).
#[derive(Debug, Clone)]
pub struct Version {
    parts: Vec<Part>,
    text: String,
}

impl Version {
    /// Parses a version as `MigrationVersion.fromVersion` does for a migration's name.
    pub fn parse(raw: &str) -> Result<Version, String> {
        let text = raw.replace('_', ".");
        let invalid =
            || format!("Version may only contain 0..9 and . (dot). Invalid version: {text}");
        if ["current", "next", "latest"]
            .iter()
            .any(|word| text.eq_ignore_ascii_case(word))
        {
            return Err(format!(
                "{text:?} is one of Flyway's symbolic versions, not a migration's"
            ));
        }
        // Java's String.split on `\.(?=\d)`: split at a dot followed by a digit; trailing empty
        // strings are dropped (none can arise: each split point is followed by a digit).
        let bytes = text.as_bytes();
        let mut pieces = Vec::new();
        let mut start = 0;
        for i in 0..bytes.len() {
            if bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                pieces.push(&text[start..i]);
                start = i + 1;
            }
        }
        pieces.push(&text[start..]);
        let mut parts = Vec::new();
        for (index, piece) in pieces.iter().enumerate() {
            // new BigInteger(piece): an optional sign, then digits. A later piece starts with a
            // digit by construction, so only the first can carry a sign.
            let (negative, digits) = match piece.as_bytes().first() {
                Some(b'-') => (true, &piece[1..]),
                Some(b'+') => (false, &piece[1..]),
                _ => (false, *piece),
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            let _ = index;
            let digits = digits.trim_start_matches('0').to_string();
            parts.push(Part {
                negative: negative && !digits.is_empty(),
                digits,
            });
        }
        // tokenize: trailing zero parts (after the first) are dropped.
        while parts.len() > 1 && parts.last().is_some_and(|p| p.digits.is_empty()) {
            parts.pop();
        }
        Ok(Version { parts, text })
    }

    /// The version as Flyway writes it in the history table and prints it.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn id(&self) -> Id {
        Id::Text(self.text.clone())
    }
}

impl Ord for Version {
    /// `MigrationVersion.compareTo`: part by part, a missing part counting as zero.
    fn cmp(&self, other: &Version) -> Ordering {
        let zero = Part {
            negative: false,
            digits: String::new(),
        };
        for i in 0..self.parts.len().max(other.parts.len()) {
            let a = self.parts.get(i).unwrap_or(&zero);
            let b = other.parts.get(i).unwrap_or(&zero);
            match a.cmp(b) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

// ---------------------------------------------------------------------------------------------
// Names

/// The kind of a script, by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `V<version>__<description>.sql`.
    Versioned,
    /// `R__<description>.sql`.
    Repeatable,
    /// `B<version>__<description>.sql`: applied instead of the versions at or below it, on an
    /// empty database only.
    Baseline,
}

/// What Flyway makes of one file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    /// A migration script.
    Migration {
        /// Its kind.
        kind: Kind,
        /// Its version (none for a repeatable).
        version: Option<String>,
        /// Its description, `_` read as a space.
        description: String,
    },
    /// Not a migration, or an invalid name Flyway skips (README, `.conf`, callbacks, `v1__x`,
    /// `V1x__y.sql`, `R1__x.sql`).
    Ignored,
}

/// Classifies a file name (the last component) as `ResourceNameParser.parse` does. A name that
/// is not UTF-8 is read with U+FFFD for the bad bytes (Java decodes names through the platform
/// charset; not checked against it): such a script still counts, it is never skipped.
pub fn classify_file_name(name: &[u8]) -> FileName {
    let name = String::from_utf8_lossy(name);
    let name = name.as_ref();
    if name.len() < 4 || !name[name.len() - 4..].eq_ignore_ascii_case(".sql") {
        return FileName::Ignored;
    }
    let stem = &name[..name.len() - 4];
    let kind = match stem.as_bytes().first() {
        Some(b'V') => Kind::Versioned,
        Some(b'R') => Kind::Repeatable,
        Some(b'B') => Kind::Baseline,
        _ => return FileName::Ignored,
    };
    let rest = &stem[1..];
    let (version, description) = match rest.find("__") {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, ""),
    };
    let description = description.replace('_', " ");
    match kind {
        Kind::Repeatable if version.is_empty() => FileName::Migration {
            kind,
            version: None,
            description,
        },
        Kind::Repeatable => FileName::Ignored,
        _ if version.is_empty() || Version::parse(version).is_err() => FileName::Ignored,
        _ => FileName::Migration {
            kind,
            version: Some(version.to_string()),
            description,
        },
    }
}

/// One script of the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Its version (none for a repeatable).
    pub version: Option<Version>,
    /// Its description.
    pub description: String,
    /// Its path relative to its location, as Flyway records it in `script`.
    pub script: String,
    /// Its checksum, when its contents were read.
    pub checksum: Option<i32>,
}

impl Script {
    fn id(&self) -> Id {
        match &self.version {
            Some(v) => v.id(),
            None => Id::Text(self.script.clone()),
        }
    }
}

/// What the build expects from Flyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// `V` scripts (or manifest versions), ascending.
    versioned: Vec<Script>,
    /// `R` scripts, by description.
    repeatable: Vec<Script>,
    /// `B` scripts, ascending.
    baseline: Vec<Script>,
    /// Whether a directory or a manifest was given (else only `version`).
    listed: bool,
    /// `GATE_EXPECT_VERSION`.
    version: Option<Version>,
}

impl Expected {
    /// From directories (Flyway's `locations`, merged), a version, a manifest of versions, or
    /// several, which must agree.
    pub fn build(sources: Sources<'_>) -> Result<Expected, ExpectError> {
        let mut expected = Expected {
            versioned: Vec::new(),
            repeatable: Vec::new(),
            baseline: Vec::new(),
            listed: false,
            version: None,
        };
        if let Some(listings) = sources.listings {
            expected.read_listings(listings)?;
        }
        if let Some(text) = sources.manifest {
            let mut listed = Vec::new();
            for (line, id) in manifest_lines(text)? {
                let version = Version::parse(id).map_err(|why| {
                    ExpectError::new(FILE_VAR, format!("line {}: {why}", line + 1))
                })?;
                listed.push(Script {
                    version: Some(version),
                    description: String::new(),
                    script: id.to_string(),
                    checksum: None,
                });
            }
            listed.sort_by(|a, b| a.version.cmp(&b.version));
            if let Some(pair) = listed.windows(2).find(|w| w[0].version == w[1].version) {
                return Err(ExpectError::new(
                    FILE_VAR,
                    format!("lists version {} twice", pair[1].script),
                ));
            }
            if expected.listed {
                let from_dir: Vec<_> = expected.versioned.iter().map(|s| &s.version).collect();
                let from_file: Vec<_> = listed.iter().map(|s| &s.version).collect();
                if from_dir != from_file {
                    return Err(ExpectError::new(
                        FILE_VAR,
                        "lists other versions than the migrations directories hold",
                    ));
                }
            } else {
                expected.versioned = listed;
                expected.listed = true;
            }
        }
        if let Some(text) = sources.version {
            let version = Version::parse(text).map_err(|why| {
                ExpectError::new(
                    VERSION_VAR,
                    format!("{text:?} is not a Flyway version: {why}"),
                )
            })?;
            if expected.listed {
                let newest = expected.newest();
                if newest.as_ref() != Some(&version) {
                    return Err(ExpectError::new(
                        VERSION_VAR,
                        format!(
                            "is {text}, but the newest migration the build has is {}: make them agree",
                            newest.map_or("none".to_string(), |v| v.text.clone())
                        ),
                    ));
                }
            }
            expected.version = Some(version);
        }
        Ok(expected)
    }

    fn read_listings(&mut self, listings: &[Listing]) -> Result<(), ExpectError> {
        let mut scripts = Vec::new();
        for listing in listings {
            for entry in &listing.entries {
                if let Some(script) = script_of(entry)
                    .map_err(|why| ExpectError::new(DIR_VAR, format!("{}: {why}", listing.dir)))?
                {
                    scripts.push(script);
                }
            }
        }
        for (kind, script) in scripts {
            match kind {
                Kind::Versioned => self.versioned.push(script),
                Kind::Repeatable => self.repeatable.push(script),
                Kind::Baseline => self.baseline.push(script),
            }
        }
        for list in [&mut self.versioned, &mut self.baseline] {
            list.sort_by(|a, b| a.version.cmp(&b.version));
            if let Some(pair) = list.windows(2).find(|w| w[0].version == w[1].version) {
                return Err(ExpectError::new(
                    DIR_VAR,
                    format!(
                        "Found more than one migration with version {}: {} and {}",
                        pair[1].version.as_ref().map_or("", |v| v.text()),
                        pair[0].script,
                        pair[1].script
                    ),
                ));
            }
        }
        self.repeatable
            .sort_by(|a, b| a.description.cmp(&b.description));
        if let Some(pair) = self
            .repeatable
            .windows(2)
            .find(|w| w[0].description == w[1].description)
        {
            return Err(ExpectError::new(
                DIR_VAR,
                format!(
                    "Found more than one repeatable migration with description {:?}: {} and {}",
                    pair[1].description, pair[0].script, pair[1].script
                ),
            ));
        }
        if self.versioned.is_empty() && self.repeatable.is_empty() && self.baseline.is_empty() {
            let dirs: Vec<&str> = listings.iter().map(|l| l.dir.as_str()).collect();
            return Err(ExpectError::new(
                DIR_VAR,
                format!(
                    "no Flyway migrations (V1__name.sql, R__name.sql) in {}",
                    dirs.join(", ")
                ),
            ));
        }
        self.listed = true;
        Ok(())
    }

    /// The newest version the build has: its newest `V` (or `B`) script.
    fn newest(&self) -> Option<Version> {
        let v = self.versioned.last().and_then(|s| s.version.clone());
        let b = self.baseline.last().and_then(|s| s.version.clone());
        v.max(b)
    }

    /// The expected version: `GATE_EXPECT_VERSION`, or the newest script's.
    pub fn target(&self) -> Option<Id> {
        self.version
            .clone()
            .or_else(|| self.newest())
            .map(|v| v.id())
    }
}

fn script_of(entry: &Entry) -> Result<Option<(Kind, Script)>, String> {
    if entry.dir {
        return Ok(None);
    }
    let FileName::Migration {
        kind,
        version,
        description,
    } = classify_file_name(entry.file_name())
    else {
        return Ok(None);
    };
    let script = String::from_utf8_lossy(&entry.path).into_owned();
    let version = match version {
        Some(v) => Some(Version::parse(&v).map_err(|why| format!("{}: {why}", show(&entry.path)))?),
        None => None,
    };
    Ok(Some((
        kind,
        Script {
            version,
            description,
            script,
            checksum: entry.contents.as_deref().map(checksum),
        },
    )))
}

// ---------------------------------------------------------------------------------------------
// Rows

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
struct History {
    /// Versioned migrations: the latest row that still counts, by version.
    versions: BTreeMap<VersionKey, HistoryRow>,
    /// The highest successful baseline (`baseline` command or `B` script).
    baseline: Option<Version>,
    /// Repeatables by description: their rows in rank order since the last `DELETE`.
    repeatables: BTreeMap<String, Vec<HistoryRow>>,
}

/// A version as a map key (ordered and compared as Flyway compares versions).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct VersionKey(Version);

fn fold(rows: Vec<HistoryRow>) -> Result<History, RowError> {
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

/// The row rule.
pub fn facts(rows: &[Row], expected: &Expected) -> Result<Facts, RowError> {
    let history = fold(read_rows(rows)?)?;
    let mut facts = Facts {
        empty: rows.is_empty(),
        ..Facts::default()
    };
    let applied_max = history
        .versions
        .iter()
        .filter(|(_, r)| r.success)
        .map(|(k, _)| k.0.clone())
        .next_back();
    // What `flyway info` calls current: the highest version with a row, a failed one too
    // (`MigrationState.FAILED` counts as applied there), or the baseline.
    let recorded_max = history.versions.keys().map(|k| k.0.clone()).next_back();
    let current = recorded_max.max(history.baseline.clone());
    if let Some(c) = &current {
        facts.current.push(c.id());
    }
    for (key, row) in &history.versions {
        if !row.success {
            facts.failed.push(key.0.id());
        }
    }
    if !facts.failed.is_empty() {
        facts.hints.push(
            "Flyway recorded a migration with success = false (on PostgreSQL a failed \
             transactional migration is rolled back and recorded nowhere): flyway migrate \
             refuses until flyway repair removes the row and the schema is fixed by hand"
                .to_string(),
        );
    }

    if !expected.listed {
        let target = expected.version.clone();
        facts.reached = match (&current, &target) {
            (Some(c), Some(t)) => c >= t,
            _ => false,
        };
        if let Some(t) = &target {
            facts.ahead = history
                .versions
                .iter()
                .filter(|(k, r)| r.success && k.0 > *t)
                .map(|(k, _)| k.0.id())
                .collect();
        }
        return Ok(facts);
    }

    // A `B` script stands in for every version at or below it, on an empty history only.
    let fresh = history.versions.is_empty() && history.baseline.is_none();
    let baseline_script = if fresh {
        expected.baseline.last()
    } else {
        None
    };
    let baseline = history
        .baseline
        .clone()
        .or_else(|| baseline_script.and_then(|s| s.version.clone()));
    if let Some(script) = baseline_script {
        facts.pending.push(script.id());
    }
    let mut ignored = Vec::new();
    for script in &expected.versioned {
        let Some(version) = &script.version else {
            continue;
        };
        match history.versions.get(&VersionKey(version.clone())) {
            Some(row) if row.success => {
                if let (Some(recorded), Some(shipped)) = (row.checksum, script.checksum)
                    && recorded != shipped
                {
                    facts.checksum_mismatch.push(version.id());
                }
            }
            Some(_) => {}
            None if baseline.as_ref().is_some_and(|b| version <= b) => {}
            None => {
                facts.pending.push(version.id());
                if applied_max.as_ref().is_some_and(|max| version < max) {
                    ignored.push(version.text().to_string());
                }
            }
        }
    }
    if !ignored.is_empty() {
        facts.hints.push(format!(
            "version(s) {} are below the highest applied version and were never applied: \
             Flyway calls them ignored, and flyway migrate refuses to run (validate: \"Detected \
             resolved migration not applied to database\") unless -outOfOrder=true",
            ignored.join(", ")
        ));
    }
    let newest_file = expected.newest();
    let mut missing = Vec::new();
    for (key, row) in &history.versions {
        let known = expected
            .versioned
            .iter()
            .any(|s| s.version.as_ref() == Some(&key.0));
        if row.success && !known {
            facts.ahead.push(key.0.id());
            if newest_file.as_ref().is_some_and(|n| key.0 < *n) {
                missing.push(key.0.text().to_string());
            }
        }
    }
    if !missing.is_empty() {
        facts.hints.push(format!(
            "version(s) {} are applied without a script in this build, below its newest: \
             Flyway calls them missing, and flyway validate and migrate fail (\"Detected applied \
             migration not resolved locally\") until flyway repair marks them deleted",
            missing.join(", ")
        ));
    }
    for script in &expected.repeatable {
        let rows = history.repeatables.get(&script.description);
        let latest = rows.and_then(|r| r.last());
        match latest {
            None => facts.pending.push(script.id()),
            Some(row) if !row.success => facts.failed.push(script.id()),
            Some(row) if script.checksum.is_none() || row.checksum == script.checksum => {}
            Some(_) => {
                let earlier = rows
                    .is_some_and(|r| r.iter().any(|x| x.success && x.checksum == script.checksum));
                if earlier {
                    // This build's definition was applied, then replaced by another one: a
                    // newer release's (or a rollback that flyway migrate would undo).
                    facts.ahead.push(script.id());
                } else {
                    facts.pending.push(script.id());
                }
            }
        }
    }
    for (description, rows) in &history.repeatables {
        let known = expected
            .repeatable
            .iter()
            .any(|s| s.description == *description);
        if let Some(latest) = rows.last()
            && !known
        {
            if latest.success {
                facts.ahead.push(Id::Text(latest.script.clone()));
            } else {
                facts.failed.push(Id::Text(latest.script.clone()));
            }
        }
    }
    facts.reached = facts.pending.is_empty();
    Ok(facts)
}

/// `status`'s listing, as `flyway info` lists it: every `V` script by version (covered by a
/// baseline: applied, without a time), a `B` script while it is pending, every `R` script; each
/// applied, failed or pending by the row rule, with its `installed_on`; then (first) what is
/// applied without a script.
pub fn lines(rows: &[Row], expected: &Expected) -> Result<Lines, RowError> {
    let facts = facts(rows, expected)?;
    let history = fold(read_rows(rows)?)?;
    let state = |id: &Id| {
        if facts.failed.contains(id) {
            LineState::Failed
        } else if facts.pending.contains(id) {
            LineState::Pending
        } else {
            LineState::Applied
        }
    };
    let when = |id: &Id| -> Option<AppliedAt> {
        let text = id.to_string();
        match Version::parse(&text) {
            Ok(v) => history
                .versions
                .get(&VersionKey(v))
                .and_then(|r| r.installed_on),
            Err(_) => history
                .repeatables
                .values()
                .filter_map(|rows| rows.last())
                .find(|r| r.script == text)
                .and_then(|r| r.installed_on),
        }
    };
    let mut out = Lines::default();
    if !expected.listed {
        // Only a version: what the history holds.
        for (key, row) in &history.versions {
            let id = key.0.id();
            let state = if row.success {
                LineState::Applied
            } else {
                LineState::Failed
            };
            out.migrations
                .push(Line::new(id, None, state, row.installed_on));
        }
        return Ok(out);
    }
    let baselines = expected
        .baseline
        .iter()
        .filter(|s| facts.pending.contains(&s.id()));
    let scripts: Vec<&Script> = expected
        .versioned
        .iter()
        .chain(baselines)
        .chain(&expected.repeatable)
        .collect();
    for script in &scripts {
        let id = script.id();
        let file = script
            .script
            .to_ascii_lowercase()
            .ends_with(".sql")
            .then(|| script.script.clone());
        out.migrations
            .push(Line::new(id.clone(), file, state(&id), when(&id)));
    }
    for id in facts.ahead.iter().chain(facts.failed.iter()) {
        if !scripts.iter().any(|s| s.id() == *id) {
            out.without_file
                .push(Line::new(id.clone(), None, state(id), when(id)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tools::{Outcome, decide};
    use crate::core::verdict::Policy::{AtLeast, Exact};

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    /// A history row: (rank, version, type, script, checksum, success).
    fn row(
        rank: i64,
        version: Option<&str>,
        kind: &str,
        script: &str,
        checksum: Option<i32>,
        success: bool,
    ) -> Row {
        vec![
            Some(rank.to_string()),
            version.map(str::to_string),
            Some(script.trim_end_matches(".sql").to_string()),
            Some(kind.to_string()),
            Some(script.to_string()),
            checksum.map(|c| c.to_string()),
            Some(if success { "t" } else { "f" }.to_string()),
        ]
    }

    /// A scripted row `V<version>__x.sql` that succeeded with `checksum`.
    fn ok(rank: i64, version: &str, checksum: i32) -> Row {
        row(
            rank,
            Some(version),
            "SQL",
            &format!("V{version}__x.sql"),
            Some(checksum),
            true,
        )
    }

    fn build(files: &[(&str, &str)]) -> Expected {
        let listing = Listing {
            dir: "db/migration".into(),
            entries: files
                .iter()
                .map(|(name, body)| Entry::with_contents(name, body))
                .collect(),
        };
        Expected::build(Sources {
            listings: Some(&[listing]),
            ..Sources::default()
        })
        .unwrap()
    }

    fn texts(ids: &[Id]) -> Vec<String> {
        ids.iter().map(Id::to_string).collect()
    }

    const SELECT_1: i32 = 78787420;

    #[test]
    fn the_read() {
        assert_eq!(
            READ.select("public.flyway_schema_history", "", false),
            "SELECT installed_rank, version, description, type, script, checksum, success \
             FROM public.flyway_schema_history ORDER BY installed_rank LIMIT 100001"
        );
        assert!(
            READ.status_columns
                .ends_with("to_char(installed_on, 'YYYY-MM-DD HH24:MI:SS')")
        );
    }

    #[test]
    fn the_listing_follows_flyway_info() {
        let e = build(&[
            ("V1__a.sql", "SELECT 1;\n"),
            ("V2__b.sql", "SELECT 1;\n"),
            ("R__v.sql", "SELECT 1;\n"),
        ]);
        let mut first = ok(1, "1", SELECT_1);
        first.push(Some("2026-04-27 03:43:55".into()));
        let rows = [first, ok(2, "7", SELECT_1)];
        let l = lines(&rows, &e).unwrap();
        let shown: Vec<(String, LineState, bool)> = l
            .migrations
            .iter()
            .map(|l| (l.version.to_string(), l.state, l.applied_at.is_some()))
            .collect();
        use LineState::*;
        assert_eq!(
            shown,
            [
                ("1".into(), Applied, true),
                ("2".into(), Pending, false),
                ("R__v.sql".into(), Pending, false)
            ]
        );
        assert_eq!(l.migrations[0].file.as_deref(), Some("V1__a.sql"));
        assert_eq!(l.without_file.len(), 1);
        assert_eq!(l.without_file[0].version, Id::from("7"));
    }

    /// The checksums Flyway 13.12.0 recorded in characterise-flyway.sh ("migrate", "info").
    #[test]
    fn checksums_match_flyway() {
        assert_eq!(checksum(b"CREATE TABLE a (id int);\n"), -623083431);
        assert_eq!(
            checksum(b"CREATE TABLE b (id int);\r\nINSERT INTO b VALUES (1);\r\n"),
            914031549
        );
        assert_eq!(
            checksum(b"\xef\xbb\xbfCREATE TABLE c (id int);\n"),
            -2102380136
        );
        assert_eq!(
            checksum(b"CREATE TABLE d (id int);\nSELECT 1/0;\n"),
            1458861281
        );
        assert_eq!(checksum(b"CREATE TABLE d (id int);\n"), -1416942565);
        assert_eq!(checksum(b"SELECT 1;\n"), SELECT_1);
        assert_eq!(checksum(b""), 0);
        // Terminators never count: \n, \r\n, \r and none at all hash alike.
        assert_eq!(checksum(b"SELECT 1;"), SELECT_1);
        assert_eq!(checksum(b"SELECT 1;\r"), SELECT_1);
        // The standard check value of CRC-32.
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
    }

    /// "versions: migrate": the order Flyway applied 1.2, 01.3, 1.9, 1.10, 2.0, 8, 10 in.
    #[test]
    fn versions_compare_as_flyway_compares_them() {
        let order = ["-3", "1", "1.2", "01.3", "1.9", "1.10", "+2", "8", "10"];
        for pair in order.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1_2"), v("1.2"));
        assert_eq!(v("1_2").text(), "1.2");
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("2.0.0"), v("2"));
        assert_eq!(v("01.3"), v("1.3"));
        assert_eq!(v("01.3").text(), "01.3");
        assert_eq!(v("-0"), v("0"));
        for bad in [
            "1.", "1..2", ".1", "", "1.-2", "1x", "latest", "Current", "1 2",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
    }

    /// "versions: info" and "names: …": which names are migrations.
    #[test]
    fn file_names_follow_the_resource_name_parser() {
        use Kind::*;
        let c = |n: &str| classify_file_name(n.as_bytes());
        let m = |kind, version: Option<&str>, description: &str| FileName::Migration {
            kind,
            version: version.map(str::to_string),
            description: description.to_string(),
        };
        assert_eq!(c("V1__a.sql"), m(Versioned, Some("1"), "a"));
        assert_eq!(c("V1.1__b_crlf.sql"), m(Versioned, Some("1.1"), "b crlf"));
        assert_eq!(c("V1_2__c.sql"), m(Versioned, Some("1_2"), "c"));
        assert_eq!(
            c("V8__upper_suffix.SQL"),
            m(Versioned, Some("8"), "upper suffix")
        );
        assert_eq!(c("V4__.sql"), m(Versioned, Some("4"), ""));
        assert_eq!(c("V+2__b.sql"), m(Versioned, Some("+2"), "b"));
        assert_eq!(c("V-3__c.sql"), m(Versioned, Some("-3"), "c"));
        assert_eq!(c("R__v.sql"), m(Repeatable, None, "v"));
        assert_eq!(c("B6__base.sql"), m(Baseline, Some("6"), "base"));
        // Not UTF-8: still a migration, never silently skipped.
        assert_eq!(
            classify_file_name(b"V5__caf\xe9.sql"),
            m(Versioned, Some("5"), "caf\u{fffd}")
        );
        for skipped in [
            "v7__lower.sql",
            "V9_no_separator.sql",
            "V1x__bad.sql",
            "V1.__d.sql",
            "V__e.sql",
            "R1__bad.sql",
            "notes.txt",
            "V3__d_fails.sql.conf",
            "beforeMigrate.sql",
            "U1__undo.sql",
        ] {
            assert_eq!(c(skipped), FileName::Ignored, "{skipped}");
        }
    }

    /// "versions: V1.2 beside V1_2": "Found more than one migration with version 1.2".
    #[test]
    fn duplicate_versions_are_refused() {
        let listing = [Listing {
            dir: "sql".into(),
            entries: vec![Entry::file("V1_2__c.sql"), Entry::file("V1.2__dup.sql")],
        }];
        let err = Expected::build(Sources {
            listings: Some(&listing),
            ..Sources::default()
        })
        .unwrap_err();
        assert!(
            err.message
                .contains("more than one migration with version 1.2"),
            "{err}"
        );
        let listing = [Listing {
            dir: "sql".into(),
            entries: vec![Entry::file("V2__a.sql"), Entry::file("V2.0__b.sql")],
        }];
        assert!(
            Expected::build(Sources {
                listings: Some(&listing),
                ..Sources::default()
            })
            .is_err()
        );
    }

    /// "migrate" then "info after migrate": all three SUCCESS; "validate" passes.
    #[test]
    fn applied_scripts_are_ready() {
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V2__b.sql", "SELECT 1;\n")]);
        let f = facts(&[ok(1, "1", SELECT_1), ok(2, "2", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["2"]);
        let f = facts(&[ok(1, "1", SELECT_1)], &e).unwrap();
        assert_eq!(texts(&f.pending), ["2"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
    }

    /// "migrate: V3 fails half-way (transactional)": nothing recorded, V3 PENDING.
    #[test]
    fn a_failed_transactional_migration_is_just_pending() {
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V3__d.sql", "SELECT 1;\n")]);
        let f = facts(&[ok(1, "1", SELECT_1)], &e).unwrap();
        assert_eq!(texts(&f.pending), ["3"]);
        assert!(f.failed.is_empty());
    }

    /// A `success = false` row (hand-written: Flyway 13.12.0 rolled its own back).
    #[test]
    fn success_false_is_failed() {
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V2__b.sql", "SELECT 1;\n")]);
        let rows = [
            ok(1, "1", SELECT_1),
            row(2, Some("2"), "SQL", "V2__b.sql", Some(SELECT_1), false),
        ];
        let f = facts(&rows, &e).unwrap();
        assert_eq!(texts(&f.failed), ["2"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Failed);
        // A failed row of a version the build does not have is failed too.
        let e = build(&[("V1__a.sql", "SELECT 1;\n")]);
        let f = facts(&rows, &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Failed);
    }

    /// "out of order: V4 added below 5": IGNORED, validate and migrate fail; with outOfOrder
    /// it is applied at rank 6 and shows OUT_OF_ORDER, validate passes.
    #[test]
    fn a_version_below_the_highest_is_ignored_then_out_of_order() {
        let files = [
            ("V1__a.sql", "SELECT 1;\n"),
            ("V4__e.sql", "SELECT 1;\n"),
            ("V5__f.sql", "SELECT 1;\n"),
        ];
        let e = build(&files);
        let rows = [ok(1, "1", SELECT_1), ok(2, "5", SELECT_1)];
        let f = facts(&rows, &e).unwrap();
        assert_eq!(texts(&f.pending), ["4"]);
        assert!(
            f.hints.iter().any(|h| h.contains("outOfOrder")),
            "{:?}",
            f.hints
        );
        let rows = [rows[0].clone(), rows[1].clone(), ok(3, "4", SELECT_1)];
        let f = facts(&rows, &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        assert_eq!(texts(&f.current), ["5"]);
    }

    /// "missing: V3's file deleted (below 5)": MISSING_SUCCESS, validate fails; "missing: V5's
    /// file deleted" (above every file): FUTURE_SUCCESS, validate passes. Both are ahead here.
    #[test]
    fn applied_without_a_file_is_ahead() {
        let rows = [
            ok(1, "1", SELECT_1),
            ok(2, "3", SELECT_1),
            ok(3, "5", SELECT_1),
        ];
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V5__f.sql", "SELECT 1;\n")]);
        let f = facts(&rows, &e).unwrap();
        assert_eq!(texts(&f.ahead), ["3"]);
        assert!(
            f.hints.iter().any(|h| h.contains("missing")),
            "{:?}",
            f.hints
        );
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V3__d.sql", "SELECT 1;\n")]);
        let f = facts(&rows, &e).unwrap();
        assert_eq!(texts(&f.ahead), ["5"]);
        assert!(f.hints.is_empty(), "{:?}", f.hints);
    }

    /// "missing: repair" writes a DELETE row; "deleted, file back": IGNORED (not applied).
    #[test]
    fn a_delete_row_cancels_the_version() {
        let rows = [
            ok(1, "1", SELECT_1),
            ok(2, "2", SELECT_1),
            ok(3, "3", SELECT_1),
            row(4, Some("2"), "DELETE", "V2__x.sql", Some(SELECT_1), true),
        ];
        let e = build(&[("V1__a.sql", "SELECT 1;\n"), ("V3__c.sql", "SELECT 1;\n")]);
        let f = facts(&rows, &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        let e = build(&[
            ("V1__a.sql", "SELECT 1;\n"),
            ("V2__b.sql", "SELECT 1;\n"),
            ("V3__c.sql", "SELECT 1;\n"),
        ]);
        let f = facts(&rows, &e).unwrap();
        assert_eq!(texts(&f.pending), ["2"]);
    }

    /// "checksum: V1 edited": info still SUCCESS, validate fails "Migration checksum mismatch".
    #[test]
    fn checksum_mismatch() {
        let e = build(&[("V1__a.sql", "CREATE TABLE a2 (id int);\n")]);
        let f = facts(&[ok(1, "1", -623083431)], &e).unwrap();
        assert_eq!(texts(&f.checksum_mismatch), ["1"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        // After "checksum: repair" the row carries the new checksum.
        let f = facts(&[ok(1, "1", -809328633)], &e).unwrap();
        assert!(f.checksum_mismatch.is_empty());
    }

    /// "baseline at 2": a BASELINE row; V1 BELOW_BASELINE, V2 BASELINE_IGNORED, V3 PENDING.
    #[test]
    fn a_baseline_covers_what_is_below_it() {
        let e = build(&[
            ("V1__t1.sql", "SELECT 1;\n"),
            ("V2__t2.sql", "SELECT 1;\n"),
            ("V3__t3.sql", "SELECT 1;\n"),
        ]);
        let base = row(
            1,
            Some("2"),
            "BASELINE",
            "<< Flyway Baseline >>",
            None,
            true,
        );
        let f = facts(std::slice::from_ref(&base), &e).unwrap();
        assert_eq!(texts(&f.pending), ["3"]);
        assert_eq!(texts(&f.current), ["2"]);
        assert!(f.ahead.is_empty());
        let f = facts(&[base, ok(2, "3", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }

    /// "baseline migration: migrate on an empty database": only B6 and V7 run; V1..V5 are
    /// BELOW_BASELINE.
    #[test]
    fn a_baseline_script_on_an_empty_database() {
        let e = build(&[
            ("V1__a.sql", "SELECT 1;\n"),
            ("V5__e.sql", "SELECT 1;\n"),
            ("B6__base.sql", "SELECT 1;\n"),
            ("V7__after.sql", "SELECT 1;\n"),
        ]);
        let f = facts(&[], &e).unwrap();
        assert_eq!(texts(&f.pending), ["6", "7"]);
        let rows = [
            row(
                1,
                Some("6"),
                "SQL_BASELINE",
                "B6__base.sql",
                Some(SELECT_1),
                true,
            ),
            ok(2, "7", SELECT_1),
        ];
        let f = facts(&rows, &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        // On a history that V scripts made, a B script is not needed.
        let rows: Vec<Row> = ["1", "5", "7"]
            .iter()
            .enumerate()
            .map(|(i, v)| ok(i as i64 + 1, v, SELECT_1))
            .collect();
        let f = facts(&rows, &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }

    /// "repeatable: …": PENDING, SUCCESS; changed: OUTDATED + PENDING (validate fails);
    /// re-applied: SUPERSEDED + SUCCESS; deleted: MISSING_SUCCESS.
    #[test]
    fn repeatables_follow_their_latest_checksum() {
        let v1 = "CREATE OR REPLACE VIEW v AS SELECT 1 AS x;\n";
        let v2 = "CREATE OR REPLACE VIEW v AS SELECT 2 AS x;\n";
        let (c1, c2) = (checksum(v1.as_bytes()), checksum(v2.as_bytes()));
        assert_eq!((c1, c2), (-861875769, -45560998));
        let rep = |rank, c| {
            let mut r = row(rank, None, "SQL", "R__v.sql", Some(c), true);
            r[2] = Some("v".to_string());
            r
        };
        let old = build(&[("R__v.sql", v1)]);
        let new = build(&[("R__v.sql", v2)]);
        assert_eq!(texts(&facts(&[], &old).unwrap().pending), ["R__v.sql"]);
        assert_eq!(
            decide(&facts(&[rep(1, c1)], &old).unwrap(), Exact),
            Outcome::Ready
        );
        // Changed file, old row: outdated, pending.
        let f = facts(&[rep(1, c1)], &new).unwrap();
        assert_eq!(texts(&f.pending), ["R__v.sql"]);
        // Re-applied: ready for the new build; the old build's definition was superseded.
        let both = [rep(1, c1), rep(2, c2)];
        assert_eq!(decide(&facts(&both, &new).unwrap(), Exact), Outcome::Ready);
        let f = facts(&both, &old).unwrap();
        assert_eq!(texts(&f.ahead), ["R__v.sql"]);
        assert_eq!(decide(&f, AtLeast), Outcome::Ready);
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        // Deleted from the build: ahead.
        let none = build(&[("V1__a.sql", "SELECT 1;\n")]);
        let f = facts(&[ok(1, "1", SELECT_1), rep(2, c2)], &none).unwrap();
        assert_eq!(texts(&f.ahead), ["R__v.sql"]);
    }

    #[test]
    fn expected_version_only() {
        let e = Expected::build(Sources {
            version: Some("1.10"),
            ..Sources::default()
        })
        .unwrap();
        let f = facts(&[ok(1, "1.9", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, AtLeast), Outcome::Behind);
        let f = facts(&[ok(1, "1.9", SELECT_1), ok(2, "1.10", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
        let f = facts(&[ok(1, "1.10", SELECT_1), ok(2, "2", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ahead);
        let base = row(
            1,
            Some("5"),
            "BASELINE",
            "<< Flyway Baseline >>",
            None,
            true,
        );
        assert_eq!(
            decide(&facts(&[base], &e).unwrap(), AtLeast),
            Outcome::Ready
        );
        assert!(
            Expected::build(Sources {
                version: Some("latest"),
                ..Sources::default()
            })
            .is_err()
        );
    }

    #[test]
    fn sources_must_agree() {
        let listing = [Listing {
            dir: "sql".into(),
            entries: vec![Entry::file("V1__a.sql"), Entry::file("sub/V1_1__b.sql")],
        }];
        assert!(
            Expected::build(Sources {
                listings: Some(&listing),
                version: Some("1.1"),
                manifest: Some("1\n1.1\n"),
            })
            .is_ok()
        );
        assert!(
            Expected::build(Sources {
                listings: Some(&listing),
                version: Some("1"),
                manifest: None,
            })
            .is_err()
        );
        assert!(
            Expected::build(Sources {
                listings: Some(&listing),
                version: None,
                manifest: Some("1\n"),
            })
            .is_err()
        );
        assert!(
            Expected::build(Sources {
                manifest: Some("1.0\n1\n"),
                ..Sources::default()
            })
            .is_err()
        );
    }

    #[test]
    fn nested_scripts_keep_their_path() {
        let e = build(&[("sub/V10__nested.sql", "SELECT 1;\n")]);
        assert_eq!(e.versioned[0].script, "sub/V10__nested.sql");
        assert_eq!(e.target(), Some(Id::from("10")));
    }

    #[test]
    fn rows_that_are_not_flyways() {
        let e = build(&[("V1__a.sql", "SELECT 1;\n")]);
        let mut bad = ok(1, "1", SELECT_1);
        bad[5] = Some("x".into());
        assert!(facts(&[bad], &e).is_err());
        let mut bad = ok(1, "1", SELECT_1);
        bad[1] = Some("one".into());
        assert!(facts(&[bad], &e).is_err());
        let schema = row(
            1,
            Some("0"),
            "SCHEMA",
            "<< Flyway Schema Creation >>",
            None,
            true,
        );
        let f = facts(&[schema, ok(2, "1", SELECT_1)], &e).unwrap();
        assert_eq!(decide(&f, Exact), Outcome::Ready);
    }
}

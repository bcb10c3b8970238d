//! Flyway's scripts: names as `ResourceNameParser.parse` reads them, and what a build expects
//! (its `V`, `R` and `B` scripts from the locations, a manifest of versions, or a version).
//! Pure: no I/O.

use super::super::{
    DIR_VAR, Entry, ExpectError, FILE_VAR, Id, Listing, Sources, VERSION_VAR, manifest_lines, show,
};
use super::version::{Version, checksum};

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
    pub(super) fn id(&self) -> Id {
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
    pub(super) versioned: Vec<Script>,
    /// `R` scripts, by description.
    pub(super) repeatable: Vec<Script>,
    /// `B` scripts, ascending.
    pub(super) baseline: Vec<Script>,
    /// Whether a directory or a manifest was given (else only `version`).
    pub(super) listed: bool,
    /// `GATE_EXPECT_VERSION`.
    pub(super) version: Option<Version>,
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
                            newest.map_or("none".to_string(), |v| v.text().to_string())
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
    pub(super) fn newest(&self) -> Option<Version> {
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

//! Flyway's versions (`MigrationVersion`: compared by numeric parts, shown as written) and
//! checksums (`ChecksumCalculator`: CRC-32 over the script's lines). Pure: no I/O.

use super::super::Id;
use std::cmp::Ordering;

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

    pub(super) fn id(&self) -> Id {
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

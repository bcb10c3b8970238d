//! The migrations directory, listed by goose's rules (see `docs/goose.md`), or by the configured
//! tool's ([`list_directories`]); and the `GATE_EXPECT_FILE` manifest. The edge: the rules
//! themselves are the core's.

use crate::core::tools::{Entry, Listing, Scan, Tool};
use std::path::Path;

/// Lists a migrations directory by goose's rules and returns its versions, ascending.
///
/// goose globs `*.sql` and `*.go` by *name* (top level only): every entry with such a name
/// counts, whatever it is (a file, a symlink as in a ConfigMap mount, a dangling symlink, a
/// directory), and names are bytes, not UTF-8. An entry goose would see is never skipped here:
/// its version is expected.
pub fn scan_migrations(dir: &Path) -> Result<Vec<(i64, String)>, String> {
    use std::os::unix::ffi::OsStrExt;
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        names.push(entry.file_name());
    }
    let versions: Vec<(i64, String)> =
        crate::core::goose::migration_files(names.iter().map(|n| n.as_bytes()))
            .map_err(|why| format!("{}: {why}", dir.display()))?
            .into_iter()
            .map(|(version, name)| (version, crate::core::status::display_name(name)))
            .collect();
    if versions.is_empty() {
        return Err(format!(
            "no goose migration files (NNN_name.sql or .go) in {}",
            dir.display()
        ));
    }
    Ok(versions)
}

/// At most this much of the build's migration files is read (Flyway hashes every script,
/// Alembic reads every revision file): the gate's memory at start-up must stay bounded.
pub const CONTENTS_BUDGET: u64 = 64 << 20;
/// At most this many entries are listed, over every directory and level.
const ENTRY_BUDGET: usize = 100_000;
/// At most this many levels below a directory (Flyway's scan is recursive; symlinks are
/// followed, so a loop must end).
const MAX_DEPTH: usize = 16;

/// Lists `GATE_MIGRATIONS_DIR` (several directories, `:`-separated) the way `tool` lists its
/// migrations ([`Tool::scan`]): one level, or (Flyway) every level below but hidden
/// directories, following symlinks, with the contents of the files the tool's rule reads.
/// Which directories a tool accepts, and how many, is the tool's rule (`core::tools`).
pub fn list_directories(spec: &str, tool: Tool) -> Result<Vec<Listing>, String> {
    let scan = tool.scan();
    let mut budget = Budget {
        contents: CONTENTS_BUDGET,
        entries: ENTRY_BUDGET,
    };
    let mut listings = Vec::new();
    for dir in spec.split(':').filter(|d| !d.is_empty()) {
        let mut entries = Vec::new();
        walk(Path::new(dir), &[], scan, 0, &mut entries, &mut budget)?;
        listings.push(Listing {
            dir: dir.to_string(),
            entries,
        });
    }
    if listings.is_empty() {
        return Err("names no directory".to_string());
    }
    Ok(listings)
}

/// What is left to read.
struct Budget {
    contents: u64,
    entries: usize,
}

/// Lists `root/prefix` into `entries` (paths relative to `root`).
fn walk(
    root: &Path,
    prefix: &[u8],
    scan: Scan,
    depth: usize,
    entries: &mut Vec<Entry>,
    budget: &mut Budget,
) -> Result<(), String> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let here = root.join(std::ffi::OsStr::from_bytes(prefix));
    let read =
        std::fs::read_dir(&here).map_err(|e| format!("cannot read {}: {e}", here.display()))?;
    for entry in read {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", here.display()))?;
        let name = entry.file_name().into_vec();
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            [prefix, b"/", &name].concat()
        };
        let full = here.join(entry.file_name());
        // Followed, as the tools follow symlinks (a ConfigMap mount is one).
        let dir = std::fs::metadata(&full).is_ok_and(|m| m.is_dir());
        budget.entries = budget
            .entries
            .checked_sub(1)
            .ok_or_else(|| format!("{} holds more than {ENTRY_BUDGET} entries", root.display()))?;
        let contents = if !dir && (scan.wants_contents)(&path) {
            Some(read_contents(&full, budget)?)
        } else {
            None
        };
        entries.push(Entry {
            path: path.clone(),
            dir,
            contents,
        });
        if dir && scan.recursive && !name.starts_with(b".") && depth < MAX_DEPTH {
            walk(root, &path, scan, depth + 1, entries, budget)?;
        }
    }
    Ok(())
}

fn read_contents(path: &Path, budget: &mut Budget) -> Result<Vec<u8>, String> {
    let bytes = crate::files::read_capped(path, budget.contents).map_err(|why| {
        format!("{why} (the migration files the gate reads are limited to 64 MiB together)")
    })?;
    budget.contents -= bytes.len() as u64;
    Ok(bytes)
}

/// Reads the `GATE_EXPECT_FILE` manifest: a regular file of at most 4 MiB, UTF-8.
pub fn read_manifest(path: &Path) -> Result<String, String> {
    let bytes = crate::files::read_capped(path, crate::files::CERTIFICATES)?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flyway_lists_every_level_but_hidden_directories() {
        let dir = std::env::temp_dir().join(format!("sg-list-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["sub", ".hidden", "..data"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        for file in [
            "V1__a.sql",
            "sub/V4__s.sql",
            ".hidden/V2__h.sql",
            "..data/V3__d.sql",
        ] {
            std::fs::write(dir.join(file), "SELECT 1;\n").expect("write");
        }
        let spec = format!("{}:", dir.display());
        let listings = list_directories(&spec, Tool::Flyway).expect("listed");
        assert_eq!(listings.len(), 1);
        let mut paths: Vec<String> = listings[0]
            .entries
            .iter()
            .filter(|e| !e.dir)
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect();
        paths.sort();
        assert_eq!(paths, ["V1__a.sql", "sub/V4__s.sql"]);
        assert!(
            listings[0]
                .entries
                .iter()
                .all(|e| e.dir || e.contents.is_some())
        );
        let flat = list_directories(dir.to_str().expect("utf-8"), Tool::Dbmate).expect("listed");
        assert!(flat[0].entries.iter().all(|e| !e.path.contains(&b'/')));
        assert!(flat[0].entries.iter().all(|e| e.contents.is_none()));
        assert!(list_directories(":", Tool::Dbmate).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}

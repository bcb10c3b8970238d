//! The migrations directory, listed by goose's rules (see `docs/goose.md`).

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

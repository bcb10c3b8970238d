//! The layering stays one-way as the core grows (one module per tool under `core::tools`):
//! `exit.rs`, the floor, imports nothing of the crate, and the pure core imports only itself,
//! `exit` and `time`, never the edges (`config`, `postgres`, `modes`, `cli`, `logging`, ...).
//! Each error type gives its own exit code instead (`ConfigError::exit_code`,
//! `CheckError::exit_code`, `State::exit_code`). Read from the source, so a new tool's module
//! that reaches for an edge fails here, not in review.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<module>` a file names (in `use` lines and paths alike).
fn crate_modules(text: &str) -> Vec<String> {
    let needle = concat!("crate", "::");
    text.match_indices(needle)
        .map(|(at, _)| {
            text[at + needle.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn the_floor_and_the_core_import_nothing_above_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let exit = std::fs::read_to_string(src.join("exit.rs")).expect("exit.rs");
    assert_eq!(crate_modules(&exit), Vec::<String>::new(), "exit.rs");
    let mut files = Vec::new();
    sources(&src.join("core"), &mut files);
    assert!(files.len() > 10, "{files:?}");
    let mut wrong = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source");
        for module in crate_modules(&text) {
            if !["core", "exit", "time"].contains(&module.as_str()) {
                wrong.push(format!("{}: crate::{module}", file.display()));
            }
        }
    }
    assert_eq!(wrong, Vec::<String>::new(), "the pure core imports an edge");
}

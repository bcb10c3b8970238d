//! The tool settings: `GATE_TOOL`, the table (`GATE_TABLE`, for goose in one alias group with
//! `GOOSE_TABLE`), and every other tool's expectation (its directories listed by its own rules,
//! `GATE_EXPECT_VERSION` in its syntax, the `GATE_EXPECT_FILE` manifest).

use super::{ConfigError, Sources, choice, log_alias_choice, migrations, validate_table};
use crate::core::tools::{self, Tool};
use crate::core::verdict::{Expect, Policy};
use std::path::Path;

/// `GATE_TOOL`: one of the tools the gate knows, spelt exactly (a typo must not pick another).
pub(super) fn tool(sources: &Sources) -> Result<Tool, ConfigError> {
    let options: Vec<(&str, Tool)> = Tool::ALL.iter().map(|t| (t.as_str(), *t)).collect();
    choice(sources, "GATE_TOOL", &options)
}

/// The version table: for goose `GATE_TABLE` or `GOOSE_TABLE` (one alias group: a flag beats
/// the environment, then `GATE_TABLE` wins), else goose's default; for every other tool
/// `GATE_TABLE`, else the tool's default (goose's `GOOSE_TABLE` is not theirs: ignored, with a
/// warning). Validated as goose takes a name.
pub(super) fn table(sources: &Sources, tool: Tool) -> Result<String, ConfigError> {
    let (var, table) = if tool == Tool::Goose {
        let group = sources.alias(&["GATE_TABLE", "GOOSE_TABLE"]);
        log_alias_choice(&group);
        let var = group.used.map_or("GOOSE_TABLE", |(var, _)| var);
        (var, sources.value(var).unwrap_or_default().to_string())
    } else {
        if sources.get("GOOSE_TABLE").is_some() {
            tracing::warn!(
                "{} is goose's and is ignored with GATE_TOOL={}: name the table with GATE_TABLE \
                 (default {})",
                sources.name("GOOSE_TABLE"),
                tool.as_str(),
                tool.default_table()
            );
        }
        let table = sources.get("GATE_TABLE").unwrap_or(tool.default_table());
        ("GATE_TABLE", table.to_string())
    };
    validate_table(&table).map_err(|why| {
        ConfigError(format!(
            "{}: {} {why}",
            sources.name(var),
            sources.show(var, &table)
        ))
    })?;
    Ok(table)
}

/// What counts as ready for a tool other than goose: its migrations directories (listed by its
/// own rules), `GATE_EXPECT_VERSION` in its own syntax, the `GATE_EXPECT_FILE` manifest, or
/// several (then they must agree), under `GATE_POLICY`.
pub(super) fn tool_expectation(sources: &Sources, tool: Tool) -> Result<Expect, ConfigError> {
    let name = |var: &str| sources.name(var);
    if sources.get("GOOSE_MIGRATION_DIR").is_some() {
        tracing::warn!(
            "{} is goose's and is ignored with GATE_TOOL={}: use GATE_MIGRATIONS_DIR",
            name("GOOSE_MIGRATION_DIR"),
            tool.as_str()
        );
    }
    let (dirs, version, file) = (
        sources.get("GATE_MIGRATIONS_DIR"),
        sources.get("GATE_EXPECT_VERSION"),
        sources.get("GATE_EXPECT_FILE"),
    );
    if dirs.is_none() && version.is_none() && file.is_none() {
        return Err(ConfigError(
            "no expectation: set GATE_MIGRATIONS_DIR (--migrations-dir), GATE_EXPECT_VERSION \
             (--expect-version) or GATE_EXPECT_FILE (--expect-file)"
                .to_string(),
        ));
    }
    let listings = dirs
        .map(|spec| migrations::list_directories(spec, tool))
        .transpose()
        .map_err(|why| ConfigError(format!("{}: {why}", name("GATE_MIGRATIONS_DIR"))))?;
    let manifest = file
        .map(|path| migrations::read_manifest(Path::new(path)))
        .transpose()
        .map_err(|why| ConfigError(format!("{}: {why}", name("GATE_EXPECT_FILE"))))?;
    let policy = choice(
        sources,
        "GATE_POLICY",
        &[("at-least", Policy::AtLeast), ("exact", Policy::Exact)],
    )?;
    let sources_of = tools::Sources {
        listings: listings.as_deref(),
        version,
        manifest: manifest.as_deref(),
    };
    let expected = tools::Expected::build(tool, sources_of).map_err(|e| {
        ConfigError(format!(
            "{}: {} (GATE_TOOL={})",
            name(e.variable),
            e.message,
            tool.as_str()
        ))
    })?;
    Ok(Expect::Tool { expected, policy })
}

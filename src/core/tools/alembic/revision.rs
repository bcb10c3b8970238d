//! Alembic's revision files, read statically in the form `alembic revision` generates
//! (`Script._from_path` executes them; the gate cannot, and refuses any other form). Pure.

use std::collections::BTreeMap;

/// One revision: its parents through `down_revision` and its `depends_on`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revision {
    /// `down_revision` (several for a merge, none for a base).
    pub down: Vec<String>,
    /// `depends_on`.
    pub depends: Vec<String>,
}

/// The revisions of a build, by id.
pub type Graph = BTreeMap<String, Revision>;

/// Reads the identifiers out of a revision file in the form `alembic revision` writes: the
/// module-level lines `revision…= '…'`, `down_revision…= …` and (optional) `depends_on…= …`,
/// each a string, `None`, or a tuple or list of strings on one line, with or without a type
/// annotation. Anything else is refused: only executing the file could tell.
pub fn parse_revision_file(contents: &str) -> Result<(String, Revision), String> {
    let mut revision = None;
    let mut down = None;
    let mut depends = None;
    for line in contents.lines() {
        for (name, slot) in [
            ("revision", &mut revision),
            ("down_revision", &mut down),
            ("depends_on", &mut depends),
        ] {
            if let Some(value) = assignment(line, name) {
                if slot.is_some() {
                    return Err(format!("{name} is assigned twice"));
                }
                *slot = Some(literal(value).map_err(|why| format!("{name}: {why}"))?);
            }
        }
    }
    let revision = match revision {
        Some(ids) if ids.len() == 1 => ids.into_iter().next().unwrap_or_default(),
        Some(_) => return Err("revision is not one string".to_string()),
        None => return Err("no `revision = '…'` line".to_string()),
    };
    let Some(down) = down else {
        return Err("no `down_revision = …` line".to_string());
    };
    Ok((
        revision,
        Revision {
            down,
            depends: depends.unwrap_or_default(),
        },
    ))
}

/// The value text of a module-level `name = …` or `name: annotation = …` line.
fn assignment<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?;
    let rest = match rest.chars().next()? {
        ':' => {
            let at = rest.find('=')?;
            &rest[at..]
        }
        ' ' | '\t' | '=' => rest.trim_start(),
        _ => return None,
    };
    let rest = rest.strip_prefix('=')?;
    if rest.starts_with('=') {
        return None;
    }
    Some(rest.trim())
}

/// A Python literal: `None`, a quoted string, or a tuple or list of them (one line).
fn literal(text: &str) -> Result<Vec<String>, String> {
    let text = text.split_once(" #").map_or(text, |(v, _)| v).trim();
    if text == "None" {
        return Ok(Vec::new());
    }
    let inner = match (text.chars().next(), text.chars().last()) {
        (Some('('), Some(')')) | (Some('['), Some(']')) => &text[1..text.len() - 1],
        _ => return string(text).map(|s| vec![s]),
    };
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(string)
        .collect()
}

fn string(text: &str) -> Result<String, String> {
    let quoted = |q: char| {
        text.len() >= 2
            && text.starts_with(q)
            && text.ends_with(q)
            && !text[1..text.len() - 1].contains([q, '\\'])
    };
    if quoted('\'') || quoted('"') {
        let inner = &text[1..text.len() - 1];
        if inner.is_empty() {
            return Err("an empty revision id".to_string());
        }
        Ok(inner.to_string())
    } else {
        Err(format!("{text:?} is not a plain string literal"))
    }
}

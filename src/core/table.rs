//! The version table's name, as goose takes it and Postgres reads it. Pure: no I/O.
//!
//! goose pastes `-table` / `GOOSE_TABLE` into its SQL as given (`fmt.Sprintf("%s")`), so whatever
//! Postgres parses as a table reference works in goose: `name` or `schema.name`, each part either
//! unquoted (Postgres folds it to lower case) or quoted (`"Goose_Versions"`, kept exactly, `""`
//! standing for one quote). [`TableName::parse`] accepts that much and nothing else (no
//! whitespace, no third part, no control character), and keeps each part as Postgres stores it;
//! [`TableName::sql`] quotes every part back, so the gate's query names exactly the relation
//! goose's does, whatever the name holds.

/// A validated table name: an optional schema and the table, each as Postgres stores it
/// (unquoted parts folded to lower case, quoted parts unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    schema: Option<String>,
    name: String,
}

/// Postgres truncates identifiers to this many bytes (`NAMEDATALEN - 1`).
const MAX_IDENTIFIER: usize = 63;

impl TableName {
    /// Parses `name`, `schema.name`, with quoted parts as goose accepts them (see the module
    /// comment). The error says what is wrong, to follow the variable's name and value.
    pub fn parse(text: &str) -> Result<TableName, &'static str> {
        let parts = split(text)?;
        if parts.len() > 2 {
            return Err("has too many dots: use name or schema.name");
        }
        for part in &parts {
            if part.text.len() > MAX_IDENTIFIER {
                return Err("has a part longer than 63 bytes (Postgres would truncate it)");
            }
        }
        // Unquoted, a reserved word is a syntax error (goose fails on it too). After a dot
        // Postgres takes any word, so only the first part can clash; quoting lifts the clash.
        if parts
            .first()
            .is_some_and(|first| !first.quoted && RESERVED_WORDS.contains(&first.text.as_str()))
        {
            return Err(
                "starts with an SQL reserved word, which cannot name a table unquoted (goose fails on it too): quote it (\"order\")",
            );
        }
        let mut parts = parts.into_iter().map(|p| p.text);
        let (schema, name) = match (parts.next(), parts.next()) {
            (Some(name), None) => (None, name),
            (Some(schema), Some(name)) => (Some(schema), name),
            _ => return Err("is empty: use name or schema.name"),
        };
        if let Some(schema) = &schema {
            if schema.starts_with("pg_temp") || schema.starts_with("pg_toast_temp") {
                return Err(
                    "names a temporary schema: goose's table never lives there (a temporary table vanishes with the session that made it)",
                );
            }
        }
        Ok(TableName { schema, name })
    }

    /// The schema, as Postgres stores it, when the name is schema-qualified.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The table, as Postgres stores it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name as SQL: every part quoted (`"ops"."Goose_Versions"`), so Postgres reads exactly
    /// the parts above, never a keyword, never anything but one identifier per part.
    pub fn sql(&self) -> String {
        match &self.schema {
            Some(schema) => format!(
                "{}.{}",
                quote_identifier(schema),
                quote_identifier(&self.name)
            ),
            None => quote_identifier(&self.name),
        }
    }
}

/// `text` as one quoted SQL identifier: `"…"`, each `"` doubled.
pub fn quote_identifier(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// One dot-separated part, unescaped (quoted) or folded (unquoted).
struct Part {
    text: String,
    quoted: bool,
}

/// Splits on the dots outside quotes, unescaping quoted parts and folding unquoted ones.
fn split(text: &str) -> Result<Vec<Part>, &'static str> {
    const UNQUOTED: &str = "is not a table name: each part must match [A-Za-z_][A-Za-z0-9_$]* or be quoted (\"Name\", with \"\" for a quote inside)";
    let mut parts = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let part = if chars.peek() == Some(&'"') {
            chars.next();
            let mut inner = String::new();
            loop {
                match chars.next() {
                    None => {
                        return Err(
                            "has an unterminated quoted part (a \" without its closing \")",
                        );
                    }
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        inner.push('"');
                    }
                    Some('"') => break,
                    Some(c) if c.is_control() => {
                        return Err("has a control character in a quoted part");
                    }
                    Some(c) => inner.push(c),
                }
            }
            if inner.is_empty() {
                return Err("has an empty quoted part (\"\"), which Postgres refuses");
            }
            if chars.peek().is_some_and(|c| *c != '.') {
                return Err(
                    "has text right after a quoted part: quote the whole part, and join parts with a dot",
                );
            }
            Part {
                text: inner,
                quoted: true,
            }
        } else {
            let mut word = String::new();
            while let Some(c) = chars.peek().copied() {
                if c == '.' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            let mut letters = word.chars();
            let first_ok = matches!(letters.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
            if !first_ok || !letters.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                return Err(UNQUOTED);
            }
            // Postgres folds unquoted identifiers to lower case (ASCII only, as here).
            Part {
                text: word.to_ascii_lowercase(),
                quoted: false,
            }
        };
        parts.push(part);
        match chars.next() {
            None => return Ok(parts),
            Some('.') if parts.len() >= 3 => {
                return Err("has too many dots: use name or schema.name");
            }
            Some('.') => {}
            Some(_) => return Err(UNQUOTED),
        }
    }
}

/// Postgres's reserved and type/function-name keywords (15, plus 16's `system_user`): none can
/// be a schema or an unqualified table name without quotes.
const RESERVED_WORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> (Option<String>, String) {
        let t = TableName::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        (t.schema().map(str::to_string), t.name().to_string())
    }

    #[test]
    fn unquoted_parts_fold_to_lower_case() {
        assert_eq!(parts("goose_db_version"), (None, "goose_db_version".into()));
        assert_eq!(
            parts("OPS.Goose_Versions"),
            (Some("ops".into()), "goose_versions".into())
        );
        assert_eq!(
            parts("app.Goose$v2"),
            (Some("app".into()), "goose$v2".into())
        );
        assert_eq!(
            parts("public.order"),
            (Some("public".into()), "order".into())
        );
    }

    #[test]
    fn quoted_parts_keep_their_case_and_unescape() {
        assert_eq!(parts("\"Goose_Versions\""), (None, "Goose_Versions".into()));
        assert_eq!(
            parts("myschema.\"Goose_Versions\""),
            (Some("myschema".into()), "Goose_Versions".into())
        );
        assert_eq!(
            parts("MySchema.\"T\""),
            (Some("myschema".into()), "T".into())
        );
        assert_eq!(
            parts("\"My\"\"Schema\".\"a.b\""),
            (Some("My\"Schema".into()), "a.b".into())
        );
        assert_eq!(parts("\"order\""), (None, "order".into()));
        assert_eq!(
            parts("\"x; DROP TABLE y\""),
            (None, "x; DROP TABLE y".into())
        );
        assert_eq!(parts("\"Größe\""), (None, "Größe".into()));
    }

    #[test]
    fn sql_quotes_every_part_back() {
        let sql = |text: &str| TableName::parse(text).map(|t| t.sql());
        assert_eq!(sql("goose_db_version"), Ok("\"goose_db_version\"".into()));
        assert_eq!(sql("OPS.Goose"), Ok("\"ops\".\"goose\"".into()));
        assert_eq!(sql("\"My\"\"S\".\"T\""), Ok("\"My\"\"S\".\"T\"".into()));
        // What is quoted back parses back to the same parts.
        for text in ["a", "A.b", "\"x\"\"y\".\"z.w\"", "\"order\"", "s.\"T\""] {
            let once = TableName::parse(text).expect("valid");
            assert_eq!(TableName::parse(&once.sql()), Ok(once), "{text}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "",
            "a.b.c",
            "\"a\".\"b\".\"c\"",
            "a;drop",
            "1abc",
            "a.",
            ".a",
            "a b",
            "a-b",
            "\"unterminated",
            "\"a\"b",
            "a\"b\"",
            "\"\"",
            "s.\"\"",
            "\"a\nb\"",
            " a",
            "a .b",
            "\"a\" .b",
            "pg_temp.goose_db_version",
            "PG_TEMP.goose_db_version",
            "pg_temp_3.goose_db_version",
            "\"pg_temp\".goose_db_version",
        ] {
            assert!(TableName::parse(bad).is_err(), "{bad:?} accepted");
        }
        for reserved in ["order", "ORDER", "user", "select.goose", "left"] {
            let e = TableName::parse(reserved).expect_err(reserved);
            assert!(e.contains("reserved word"), "{reserved}: {e}");
        }
        let long = format!("\"{}\"", "x".repeat(64));
        assert!(TableName::parse(&long).is_err());
        assert!(TableName::parse(&format!("\"{}\"", "x".repeat(63))).is_ok());
        // 63 bytes after unescaping: 31 doubled quotes and one letter.
        let escaped = format!("\"{}x\"", "\"\"".repeat(31));
        assert_eq!(TableName::parse(&escaped).map(|t| t.name().len()), Ok(32));
    }
}

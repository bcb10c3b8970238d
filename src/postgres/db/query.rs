//! What the check's transaction runs, and how its answer is read.
//!
//! The table a check reads must be the one the migration tool's Job writes (goose's, or the
//! configured tool's), whatever else shares the server connection. Through a transaction-mode pooler the gate's transaction runs on a
//! server connection other clients of the same server user used before, and they may have left
//! session state on it: a temporary table (searched *first*, before `public`), a session-level
//! `SET search_path`, or a `search_path` that lists a schema holding look-alike functions. So,
//! in one simple-protocol message (one round trip, read-only, no DDL, nothing left behind):
//!
//! ```sql
//! BEGIN READ ONLY; SET LOCAL SESSION AUTHORIZATION DEFAULT; SET LOCAL role TO DEFAULT;
//!                                                         -- nor its SET SESSION AUTHORIZATION or SET ROLE
//! SET LOCAL search_path TO DEFAULT;                       -- unqualified names: nor its SET search_path
//! SELECT pg_catalog.set_config(E'search_path', E'…', true);  -- the DSN's runtime parameters
//! SET LOCAL statement_timeout = '5000ms'; SET LOCAL lock_timeout = '5000ms';
//! SET LOCAL row_security = off;                           -- rows filtered for the gate: an error
//! SELECT pg_catalog.set_config('schema_gate.search_path', pg_catalog.current_setting('search_path'), true);
//! SET LOCAL search_path = pg_catalog, pg_temp;            -- what follows is parsed against the catalog only
//! WITH … SELECT … AS schema_gate_resolved, …;             -- resolution: one row
//! SELECT version_id, id, is_applied FROM "goose_db_version"   -- the tool's Read (goose's here)
//!   WHERE (SELECT current_setting('schema_gate.table_oid')) <> '0' ORDER BY version_id, id DESC;
//! SELECT … AS schema_gate_same;                           -- the rows came from the resolved table
//! COMMIT
//! ```
//!
//! The resolution statement splits the configured path as Postgres does (`SplitIdentifierString`:
//! quoted entries kept, unquoted ones folded), drops every `pg_temp` entry (and any named temporary
//! schema), sets `pg_temp` last, resolves the name with `to_regclass`, and answers with the
//! schema-qualified table it found, whether that is a temporary table (a rejection), the schemas
//! on the path before it (anywhere, if it resolved nowhere) that exist but the gate may not use
//! (`USAGE`: Postgres skips them silently, goose's role may not; a rejection), and the
//! `search_path` set for the gate's role or database. Its last act sets the path to
//! `pg_catalog, <resolved schema>, pg_temp` and remembers the table's OID in
//! `schema_gate.table_oid` (`0` when the read must not happen): the rows' `SELECT` then finds
//! the resolved table first and reads nothing on a rejection, and `schema_gate_same` confirms
//! that the name still resolves to that OID, so a table dropped in between never lets a
//! temporary one be read in its place. Every value pasted into the SQL is an `E'…'` literal
//! (backslashes and quotes escaped) or a quoted identifier, and every function the first
//! statements call is schema-qualified, so no session setting and no schema on the path can
//! change what the SQL means. A schema-qualified name skips the path: the schema must exist (else
//! `no_table`) and be usable (else a rejection naming it).

use super::CheckError;
use crate::core::table::TableName;
use crate::core::tools::Read;
use crate::postgres::dsn::Target;
use std::time::Duration;
use tokio_postgres::SimpleQueryRow;

/// The SQL of a check and of `status`'s read, built once.
pub(super) struct CheckSql {
    /// The check's transaction.
    pub check: String,
    /// The same, reading each row's `tstamp` too.
    pub status: String,
}

/// An `E'…'` literal: backslashes and quotes escaped, so it means the same whatever
/// `standard_conforming_strings` the server connection was left with.
pub(super) fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// Splits a `search_path` value into its entries as Postgres's `SplitIdentifierString` does:
/// `"…"` entries kept (`""` is a quote), unquoted ones folded to lower case (ASCII), each cut to
/// 63 bytes (`::name`); rows `(ord, entry)`.
const SPLIT_PATH: &str = "SELECT m.ord, (CASE WHEN left(m.token[1], 1) = '\"' \
     THEN replace(substr(m.token[1], 2, length(m.token[1]) - 2), '\"\"', '\"') \
     ELSE translate(m.token[1], 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') END)::name AS entry \
     FROM regexp_matches(current_setting('schema_gate.search_path'), \
     E'(\"(?:[^\"]|\"\")*\"|[^ \\t\\n\\r\\f,\"][^ \\t\\n\\r\\f,]*)', 'g') WITH ORDINALITY AS m(token, ord)";

/// A temporary schema: this session's or another's.
const TEMPORARY: &str = "(n.oid = pg_my_temp_schema() OR pg_is_other_temp_schema(n.oid))";

impl CheckSql {
    /// The transactions for the tool's `read` of `table` (validated), with the DSN's runtime
    /// parameters and the query timeout. Every tool's read goes through the same resolution and
    /// guard: none can be shadowed by a temporary table or a session's search_path.
    pub(super) fn new(
        target: &Target,
        table: &TableName,
        read: &Read,
        query_timeout: Duration,
    ) -> CheckSql {
        // The session user and the role, too, are the session's own, not what another client
        // SET on the connection (SET SESSION AUTHORIZATION, where the pooler logs in as a
        // superuser, makes "$user" another role's).
        let mut head =
            "BEGIN READ ONLY; SET LOCAL SESSION AUTHORIZATION DEFAULT; SET LOCAL role TO DEFAULT; "
                .to_string();
        if table.schema().is_none() {
            head.push_str("SET LOCAL search_path TO DEFAULT; ");
        }
        for (name, value) in &target.runtime_params {
            head.push_str(&format!(
                "SELECT pg_catalog.set_config({}, {}, true); ",
                literal(name),
                literal(value)
            ));
        }
        // After the runtime parameters, so that none of them (statement_timeout=0) can lift them.
        // row_security = off: a table whose rows row-level security would filter for the gate
        // is an error (42501), never a subset of goose's rows judged as if it were all of them.
        let ms = query_timeout.as_millis().max(1);
        head.push_str(&format!(
            "SET LOCAL statement_timeout = '{ms}ms'; SET LOCAL lock_timeout = '{ms}ms'; \
             SET LOCAL row_security = off; "
        ));
        if table.schema().is_none() {
            head.push_str(
                "SELECT pg_catalog.set_config('schema_gate.search_path', \
                 pg_catalog.current_setting('search_path'), true); ",
            );
        }
        head.push_str("SET LOCAL search_path = pg_catalog, pg_temp; ");
        head.push_str(&resolution(table));
        head.push_str("; ");
        let from = table.sql();
        let guard = "WHERE (SELECT current_setting('schema_gate.table_oid')) <> '0'";
        // Unqualified, the name resolves again after the read: to the same table, or the read
        // may have found another one (dropped and replaced in between). Qualified, the read
        // names the schema itself.
        let same = match table.schema() {
            None => format!(
                "SELECT coalesce(to_regclass({})::oid::text = \
                 current_setting('schema_gate.table_oid'), false) AS schema_gate_same; COMMIT",
                literal(&from)
            ),
            Some(_) => "COMMIT".to_string(),
        };
        CheckSql {
            check: format!("{head}{}; {same}", read.select(&from, guard, false)),
            status: format!("{head}{}; {same}", read.select(&from, guard, true)),
        }
    }
}

/// The resolution statement (see the module comment): parsed with `search_path` =
/// `pg_catalog, pg_temp`, so every name in it is the catalog's.
fn resolution(table: &TableName) -> String {
    let name = literal(&table.sql());
    let Some(schema) = table.schema() else {
        return format!(
            "WITH path AS MATERIALIZED ({SPLIT_PATH}), \
             kept AS MATERIALIZED (SELECT p.ord, p.entry, \
               CASE WHEN p.entry = '$user' THEN current_user ELSE p.entry END AS nsp FROM path p \
               WHERE p.entry <> 'pg_temp' AND NOT EXISTS \
               (SELECT FROM pg_namespace n WHERE n.nspname = p.entry AND {TEMPORARY})), \
             searched AS MATERIALIZED (SELECT set_config('search_path', coalesce((SELECT \
               string_agg(quote_ident(k.entry), ', ' ORDER BY k.ord) || ', ' FROM kept k), '') \
               || 'pg_temp', true) AS path), \
             found AS MATERIALIZED (SELECT to_regclass(CASE WHEN s.path IS NOT NULL THEN {name} END) \
               AS rel FROM searched s), \
             rel AS MATERIALIZED (SELECT c.oid, c.relowner, n.nspname, c.relname, {TEMPORARY} AS temporary \
               FROM found f JOIN pg_class c ON c.oid = f.rel::oid \
               JOIN pg_namespace n ON n.oid = c.relnamespace), \
             before AS MATERIALIZED (SELECT k.ord, k.nsp FROM kept k WHERE k.ord < coalesce(\
               (SELECT min(k2.ord) FROM kept k2, rel r WHERE k2.nsp = r.nspname), \
               CASE WHEN (SELECT r.temporary FROM rel r) IS DISTINCT FROM false \
               THEN 9223372036854775807 ELSE 0 END)), \
             blocked AS MATERIALIZED (SELECT string_agg(quote_ident(n.nspname), ', ' ORDER BY b.ord) \
               AS schemas FROM before b JOIN pg_namespace n ON n.nspname = b.nsp \
               WHERE NOT has_schema_privilege(n.oid, 'USAGE')) \
             SELECT (SELECT quote_ident(r.nspname) || '.' || quote_ident(r.relname) FROM rel r) \
               AS schema_gate_resolved, \
             coalesce((SELECT r.temporary FROM rel r), false) AS temporary, \
             (SELECT b.schemas FROM blocked b) AS blocked, \
             {ROLE_SEARCH_PATH} AS role_search_path, \
             coalesce((SELECT {} FROM rel r WHERE NOT r.temporary), false) AS writable, \
             set_config('schema_gate.table_oid', coalesce((SELECT r.oid::text FROM rel r \
               WHERE NOT r.temporary AND (SELECT b.schemas FROM blocked b) IS NULL), '0'), true) \
               AS table_oid, \
             set_config('search_path', 'pg_catalog, ' || coalesce((SELECT quote_ident(r.nspname) \
               || ', ' FROM rel r WHERE NOT r.temporary), '') || 'pg_temp', true) AS read_path",
            writable('r')
        );
    };
    // Schema-qualified: the schema must exist and be usable; the table is looked up in it
    // exactly as Postgres looks up a qualified name (and the read names the schema itself).
    let schema = literal(schema);
    let relname = literal(table.name());
    let usable = "has_schema_privilege(n.oid, 'USAGE')";
    let lookup = format!("FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = {relname}");
    format!(
        "SELECT (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) {lookup} \
           AND {usable}) AS schema_gate_resolved, \
         false AS temporary, \
         CASE WHEN NOT {usable} THEN quote_ident(n.nspname) END AS blocked, \
         NULL::text AS role_search_path, \
         coalesce((SELECT {} {lookup} AND {usable}), false) AS writable, \
         set_config('schema_gate.table_oid', CASE WHEN {usable} \
           THEN coalesce((SELECT c.oid::text {lookup}), '0') ELSE '0' END, true) AS table_oid \
         FROM (VALUES (1)) AS one(x) LEFT JOIN pg_namespace n ON n.nspname = {schema}",
        writable('c')
    )
}

/// The rejection of a name that resolved to a temporary table (never the tool's).
fn temporary(
    tool: &str,
    variable: &str,
    table: &str,
    resolution: &Resolution,
    context: &str,
) -> CheckError {
    let resolved = resolution
        .resolved
        .as_deref()
        .unwrap_or("a temporary table");
    CheckError {
        message: format!(
            "{table} resolves to {resolved}, a temporary table of this server connection \
             (another client of a pooler leaves its temporary tables on the connection), \
             and no schema on the search_path holds a table of that name: it is never \
             {tool}'s table; name the table schema-qualified (e.g. {variable}=public.{table}) \
             and revoke TEMPORARY on the database from PUBLIC{context}"
        ),
        rejected: true,
    }
}

/// The rejection of a schema the gate may not use where the table could be.
fn blocked_schema(
    tool: &str,
    table: &str,
    qualified: bool,
    blocked: &str,
    resolution: &Resolution,
    context: &str,
) -> CheckError {
    let place = match &resolution.resolved {
        Some(resolved) => {
            format!("on the search_path before {resolved}, where {table} resolved")
        }
        None => format!("on the search_path, where {table} is found nowhere else"),
    };
    let message = if qualified {
        format!(
            "the gate's role has no USAGE on schema {blocked}, which holds {table}: \
                 GRANT USAGE ON SCHEMA {blocked} TO the gate's role"
        )
    } else {
        format!(
            "the gate's role has no USAGE on schema(s) {blocked}, {place}: {tool} may keep \
                 its table there, so the gate cannot tell which table {tool} migrates; GRANT \
                 USAGE on it to the gate's role, take it off the search_path, or name the table \
                 schema-qualified{context}"
        )
    };
    CheckError {
        message,
        rejected: true,
    }
}

/// Whether the gate's own role may change the rows it trusts (`r`: the resolved table): it owns
/// the table (or is a member of its owner, even without inheriting), holds a writing privilege
/// on it or on one of its columns, or is a superuser. Whoever holds such credentials
/// can mark migrations applied (on PostgreSQL 13 and 14 every role may create
/// `public.goose_db_version` before goose's first run), so the gate says so (a `warn`). `t` is
/// the alias of the table's `pg_class` row.
fn writable(t: char) -> String {
    format!(
        "(has_table_privilege({t}.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') \
         OR has_any_column_privilege({t}.oid, 'INSERT, UPDATE') OR pg_has_role({t}.relowner, 'MEMBER'))"
    )
}

/// The `search_path` that `ALTER ROLE … [IN DATABASE …] SET` or `ALTER DATABASE … SET` gives the
/// session's role here, most specific first, as Postgres applies them at login.
const ROLE_SEARCH_PATH: &str = "(SELECT substr(c.setting, 13) FROM pg_db_role_setting s \
     CROSS JOIN LATERAL unnest(s.setconfig) AS c(setting) \
     WHERE left(c.setting, 12) = 'search_path=' \
     AND s.setrole IN (0::oid, to_regrole(quote_ident(session_user))::oid) \
     AND s.setdatabase IN (0::oid, (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())) \
     ORDER BY s.setrole <> 0::oid DESC, s.setdatabase <> 0::oid DESC LIMIT 1)";

/// What the resolution statement answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Resolution {
    /// The table the name resolved to, schema-qualified (`quote_ident`), if any.
    pub resolved: Option<String>,
    /// Whether that is a temporary table.
    pub temporary: bool,
    /// Schemas the gate may not use that could hold the table (see the module comment).
    pub blocked: Option<String>,
    /// The role- or database-level `search_path`, if any.
    pub role_search_path: Option<String>,
    /// Whether the gate's role may write the resolved table ([`WRITABLE`]).
    pub writable: bool,
}

impl Resolution {
    /// Whether the rows of what it resolved to may be judged: a table, neither temporary nor
    /// behind a schema the gate may not use.
    pub(super) fn readable(&self) -> bool {
        self.resolved.is_some() && !self.temporary && self.blocked.is_none()
    }
}

/// Which statement a row comes from, by its first column's name.
pub(super) enum RowKind {
    /// The resolution statement's one row.
    Resolution(Resolution),
    /// A row of the version table (its first column is the tool's first column).
    Version,
    /// `schema_gate_same`: whether the rows came from the resolved table.
    Same(bool),
    /// A `set_config` result: nothing to read.
    Other,
}

impl RowKind {
    /// Classifies one row of the check's answer; `first_column` is the tool's
    /// ([`Read::first_column`]).
    pub(super) fn of(row: &SimpleQueryRow, first_column: &str) -> RowKind {
        let text = |i: usize| row.try_get(i).ok().flatten();
        match row.columns().first().map(|c| c.name()) {
            Some(name) if name == first_column => RowKind::Version,
            Some("schema_gate_resolved") => RowKind::Resolution(Resolution {
                resolved: text(0).map(str::to_string),
                temporary: text(1) == Some("t"),
                blocked: text(2).map(str::to_string),
                role_search_path: text(3).map(str::to_string),
                writable: text(4) == Some("t"),
            }),
            Some("schema_gate_same") => RowKind::Same(text(0) == Some("t")),
            _ => RowKind::Other,
        }
    }
}

/// How the rows' part of the transaction ended.
pub(super) enum Ending {
    /// Every statement ran; `same` is `schema_gate_same`'s answer, if it came.
    Completed { same: Option<bool> },
    /// A statement failed; `missing` when the failure says the table or schema does not exist.
    Failed { error: CheckError, missing: bool },
}

/// Whether the rows read are the table's (`Ok(true)`), the table does not exist (`Ok(false)`),
/// or the check failed, given what the resolution said (`None`: it never answered) and how the
/// transaction ended. `tool` (`GATE_TOOL`'s spelling) and `table`, the configured name, are for
/// messages; `qualified` when the name names its schema.
pub(super) fn conclude(
    tool: &str,
    table: &str,
    qualified: bool,
    resolution: Option<&Resolution>,
    ending: Ending,
) -> Result<bool, CheckError> {
    let Some(resolution) = resolution else {
        return match ending {
            Ending::Failed { error, .. } => Err(error),
            Ending::Completed { .. } => Err(CheckError {
                message: "the check's answer lacks its resolution row (a pooler or server that \
                          drops results?)"
                    .to_string(),
                rejected: true,
            }),
        };
    };
    let variable = if tool == "goose" {
        "GOOSE_TABLE"
    } else {
        "GATE_TABLE"
    };
    let context = match &resolution.role_search_path {
        Some(path) => format!(" (the gate's role or database sets search_path = {path})"),
        None => String::new(),
    };
    if resolution.temporary {
        return Err(temporary(tool, variable, table, resolution, &context));
    }
    if let Some(blocked) = &resolution.blocked {
        return Err(blocked_schema(
            tool, table, qualified, blocked, resolution, &context,
        ));
    }
    if resolution.resolved.is_none() {
        return match ending {
            Ending::Failed {
                error,
                missing: false,
            } => Err(error),
            _ => Ok(false),
        };
    }
    match ending {
        Ending::Completed { same: Some(true) } => Ok(true),
        Ending::Completed { same: None } if qualified => Ok(true),
        Ending::Completed { .. } => Err(CheckError {
            message: format!(
                "{table} changed while the check read it (dropped or replaced): trying again"
            ),
            rejected: false,
        }),
        // Dropped between the resolution and the read.
        Ending::Failed { missing: true, .. } => Ok(false),
        Ending::Failed { error, .. } => Err(row_security(error)),
    }
}

/// The server's "query would be affected by row-level security policy", with what to do: the
/// gate must read every row goose's role reads, or it judges a subset as if it were the table.
fn row_security(error: CheckError) -> CheckError {
    if !error.message.contains("row-level security") {
        return error;
    }
    CheckError {
        message: format!(
            "{}: the gate must read every row of the version table that goose reads; disable \
             row-level security on it (ALTER TABLE … DISABLE ROW LEVEL SECURITY) or run the \
             gate as a role that bypasses it (BYPASSRLS)",
            error.message
        ),
        rejected: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(name: &str) -> Resolution {
        Resolution {
            resolved: Some(name.to_string()),
            ..Resolution::default()
        }
    }

    fn failed(missing: bool) -> Ending {
        Ending::Failed {
            error: CheckError {
                message: "boom".into(),
                rejected: false,
            },
            missing,
        }
    }

    fn sql(table: &str, dsn: &str) -> CheckSql {
        let target = crate::postgres::dsn::Params::parse(dsn, "DATABASE_URL")
            .and_then(|p| p.resolve(None, Some("u")))
            .expect("valid DSN");
        let table = TableName::parse(table).expect("valid table");
        CheckSql::new(
            &target,
            &table,
            &crate::core::tools::Tool::Goose.read(),
            Duration::from_secs(5),
        )
    }

    #[test]
    fn the_order_of_the_transaction() {
        let unqualified = sql("goose_db_version", "postgres://u@h/d?search_path=a%27b");
        let at = |needle: &str| {
            unqualified
                .check
                .find(needle)
                .unwrap_or_else(|| panic!("{needle} missing: {}", unqualified.check))
        };
        // Reset, then the DSN's parameters (escaped), then the timeouts, then the capture of the
        // path, the catalog-only path, the resolution, the read, the confirmation.
        let order = [
            at("BEGIN READ ONLY; SET LOCAL SESSION AUTHORIZATION DEFAULT; \
                SET LOCAL role TO DEFAULT; SET LOCAL search_path TO DEFAULT; "),
            at("SELECT pg_catalog.set_config(E'search_path', E'a''b', true)"),
            at("SET LOCAL statement_timeout = '5000ms'"),
            at("SET LOCAL row_security = off; "),
            at("'schema_gate.search_path', pg_catalog.current_setting('search_path')"),
            at("SET LOCAL search_path = pg_catalog, pg_temp; WITH path"),
            at("AS schema_gate_resolved"),
            at("FROM \"goose_db_version\" WHERE"),
            at("AS schema_gate_same; COMMIT"),
        ];
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{}",
            unqualified.check
        );
        assert!(unqualified.status.contains("to_char(tstamp"));
        // Qualified: no path at all, and the read names the schema.
        let qualified = sql("Ops.\"Goose\"\"s\"", "postgres://u@h/d");
        assert!(
            !qualified.check.contains("search_path TO DEFAULT"),
            "{}",
            qualified.check
        );
        assert!(
            !qualified.check.contains("schema_gate_same"),
            "{}",
            qualified.check
        );
        assert!(
            qualified
                .check
                .contains("FROM \"ops\".\"Goose\"\"s\" WHERE"),
            "{}",
            qualified.check
        );
        assert!(
            qualified.check.contains("n.nspname = E'ops'"),
            "{}",
            qualified.check
        );
        assert!(
            qualified.check.contains("c.relname = E'Goose\"s'"),
            "{}",
            qualified.check
        );
    }

    #[test]
    fn literals_survive_quotes_and_backslashes() {
        assert_eq!(literal("a'b\\c"), "E'a''b\\\\c'");
        assert_eq!(literal("\"x\""), "E'\"x\"'");
    }

    #[test]
    fn a_temporary_or_blocked_resolution_is_a_rejection() {
        let temp = Resolution {
            resolved: Some("pg_temp_3.goose_db_version".into()),
            temporary: true,
            ..Resolution::default()
        };
        let e = conclude(
            "goose",
            "goose_db_version",
            false,
            Some(&temp),
            Ending::Completed { same: Some(true) },
        )
        .expect_err("temporary");
        assert!(
            e.rejected && e.message.contains("pg_temp_3.goose_db_version"),
            "{e}"
        );
        let blocked = Resolution {
            blocked: Some("hidden".into()),
            ..resolved("public.goose_db_version")
        };
        let e = conclude(
            "goose",
            "goose_db_version",
            false,
            Some(&blocked),
            failed(true),
        )
        .expect_err("blocked");
        assert!(e.rejected && e.message.contains("schema(s) hidden"), "{e}");
        assert!(e.message.contains("before public.goose_db_version"), "{e}");
        let nowhere = Resolution {
            blocked: Some("hidden".into()),
            ..Resolution::default()
        };
        let e = conclude(
            "goose",
            "goose_db_version",
            false,
            Some(&nowhere),
            failed(true),
        )
        .expect_err("nowhere");
        assert!(
            e.rejected && e.message.contains("found nowhere else"),
            "{e}"
        );
        let e = conclude(
            "goose",
            "hidden.goose_db_version",
            true,
            Some(&nowhere),
            failed(false),
        )
        .expect_err("q");
        assert!(
            e.rejected && e.message.contains("schema hidden, which holds"),
            "{e}"
        );
    }

    #[test]
    fn unresolved_is_no_table_and_a_changed_table_is_retried() {
        let none = Resolution::default();
        assert_eq!(
            conclude("goose", "t", false, Some(&none), failed(true)),
            Ok(false)
        );
        assert_eq!(
            conclude(
                "goose",
                "t",
                false,
                Some(&none),
                Ending::Completed { same: Some(false) }
            ),
            Ok(false)
        );
        assert!(conclude("goose", "t", false, Some(&none), failed(false)).is_err());
        let ok = resolved("public.t");
        assert_eq!(
            conclude(
                "goose",
                "t",
                false,
                Some(&ok),
                Ending::Completed { same: Some(true) }
            ),
            Ok(true)
        );
        let changed = conclude(
            "goose",
            "t",
            false,
            Some(&ok),
            Ending::Completed { same: Some(false) },
        );
        assert!(changed.is_err_and(|e| !e.rejected));
        assert_eq!(
            conclude("goose", "t", false, Some(&ok), failed(true)),
            Ok(false)
        );
        assert!(conclude("goose", "t", false, None, failed(false)).is_err());
        assert!(
            conclude("goose", "t", false, None, Ending::Completed { same: None })
                .is_err_and(|e| e.rejected)
        );
    }
}

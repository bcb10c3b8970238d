//! Property tests for every parser a user's input reaches: durations, DSNs (URL and key=value),
//! table names, migration file names, the command line. They must never panic, must round-trip
//! what they accept, and must never put a password into an error message.

use proptest::prelude::*;
use schema_gate::config::{parse_duration, validate_table};
use schema_gate::core::goose::{FileName, classify_file_name, migration_versions};
use schema_gate::core::table::{TableName, quote_identifier};
use schema_gate::postgres::dsn::Params;
use schema_gate::time::show_duration;
use std::time::Duration;

/// A password-looking secret that is unlikely to occur by chance in a message.
fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&()*+,./:;<=>?@\\[\\]^_{|}~ '\"\\\\-]{1,24}".prop_map(|s| format!("Zq9{s}"))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn quote_kv(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn durations_never_panic(text in "\\PC{0,40}") {
        let _ = parse_duration(&text);
    }

    #[test]
    fn durations_round_trip(ms in 0u64..(366 * 24 * 3_600_000)) {
        let d = Duration::from_millis(ms);
        prop_assert_eq!(parse_duration(&show_duration(d)), Ok(d));
    }

    #[test]
    fn durations_with_units(n in 0u64..100_000, unit in prop::sample::select(vec!["ms", "s", "m", "h", ""])) {
        let text = format!("{n}{unit}");
        let factor = match unit { "ms" => 1, "m" => 60_000, "h" => 3_600_000, _ => 1000 };
        let parsed = parse_duration(&text);
        if n * factor <= 366 * 24 * 3_600_000 {
            prop_assert_eq!(parsed, Ok(Duration::from_millis(n * factor)));
        } else {
            prop_assert!(parsed.is_err());
        }
    }

    #[test]
    fn negative_and_signed_durations_refused(n in 1u64..1_000_000, sign in prop::sample::select(vec!["-", "+"])) {
        let text = format!("{sign}{n}s");
        prop_assert!(parse_duration(&text).is_err());
    }

    #[test]
    fn table_names_never_panic_and_round_trip(text in "\\PC{0,80}") {
        if validate_table(&text).is_ok() {
            let name = TableName::parse(&text).expect("validated");
            // What the gate's SQL says names exactly the same parts.
            prop_assert_eq!(TableName::parse(&name.sql()), Ok(name.clone()));
            for part in name.schema().into_iter().chain([name.name()]) {
                prop_assert!(!part.is_empty() && part.len() <= 63);
                prop_assert!(!part.chars().any(char::is_control));
            }
            if !text.contains('"') {
                let parts: Vec<&str> = text.split('.').collect();
                prop_assert!(parts.len() <= 2);
                for part in parts {
                    prop_assert!(part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$'));
                    prop_assert!(!part.starts_with(|c: char| c.is_ascii_digit() || c == '$'));
                }
            }
        }
    }

    #[test]
    fn any_quoted_name_is_read_back_exactly(schema in "[^\\p{Cc}]{1,15}", table in "[^\\p{Cc}]{1,15}") {
        let text = format!("{}.{}", quote_identifier(&schema), quote_identifier(&table));
        if schema.starts_with("pg_temp") || schema.starts_with("pg_toast_temp") {
            prop_assert!(validate_table(&text).is_err());
        } else {
            let name = TableName::parse(&text).expect("a quoted name");
            prop_assert_eq!(name.schema(), Some(schema.as_str()));
            prop_assert_eq!(name.name(), table.as_str());
            prop_assert_eq!(name.sql(), text);
        }
    }

    #[test]
    fn hostile_table_names_refused(
        base in "[a-z_]{1,10}",
        evil in prop::sample::select(vec![";", "'", "\"", " ", "--", "/*", "(", ")", "\\", "\n", ".x.y", "\u{0}"]),
    ) {
        let name = format!("{base}{evil}");
        prop_assert!(validate_table(&name).is_err());
    }

    #[test]
    fn migration_names_never_panic(name in prop::collection::vec(any::<u8>(), 0..40)) {
        let _ = classify_file_name(&name);
    }

    #[test]
    fn migration_versions_parse(version in 1i64..i64::MAX, width in 1usize..20, stem in "[a-z_]{0,12}") {
        let name = format!("{version:0width$}_{stem}.sql");
        prop_assert_eq!(classify_file_name(name.as_bytes()), FileName::Migration(version));
        let go = format!("{version:0width$}_{stem}.go");
        prop_assert_eq!(classify_file_name(go.as_bytes()), FileName::Migration(version));
        let signed = format!("+{version}_{stem}.sql");
        prop_assert_eq!(classify_file_name(signed.as_bytes()), FileName::Migration(version));
    }

    #[test]
    fn duplicate_versions_always_refused(version in 1i64..1_000_000, a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
        let first = format!("{version}_{a}.sql");
        let second = format!("{version:08}_{b}.sql");
        prop_assert!(migration_versions([first.as_bytes(), second.as_bytes()]).is_err());
    }

    #[test]
    fn dsn_parser_never_panics(text in "\\PC{0,120}") {
        if let Ok(params) = Params::parse(&text, "DATABASE_URL") {
            let _ = params.resolve(None, Some("u"));
        }
    }

    #[test]
    fn url_passwords_round_trip_and_stay_secret(password in secret(), user in "[a-z]{1,8}", port in 1u16..) {
        let url = format!("postgres://{user}:{}@db.example:{port}/app", percent_encode(&password));
        let target = Params::parse(&url, "DATABASE_URL").and_then(|p| p.resolve(None, None));
        let target = target.map_err(|e| e.0);
        prop_assert!(target.is_ok(), "{:?}", target);
        let target = target.unwrap_or_else(|_| unreachable!());
        prop_assert_eq!(target.pg.get_password(), Some(password.as_bytes()));
        let shown = format!("{target:?}");
        prop_assert!(!shown.contains(&password));
    }

    #[test]
    fn key_value_passwords_round_trip(password in secret()) {
        let dsn = format!("host=db user=u password={} dbname=app", quote_kv(&password));
        let target = Params::parse(&dsn, "GOOSE_DBSTRING").and_then(|p| p.resolve(None, None));
        prop_assert!(target.is_ok());
        let target = target.unwrap_or_else(|_| unreachable!());
        prop_assert_eq!(target.pg.get_password(), Some(password.as_bytes()));
    }

    #[test]
    fn broken_dsns_never_echo_the_password(
        password in secret(),
        breakage in prop::sample::select(vec![
            "?sslmode=bogus", "?port=x", "?connect_timeout=soon", "?sslcrl=/x", "%zz", "?channel_binding=x",
            "?bad;key=1", "?target_session_attrs=primary", "?hostaddr=nope", "?sslrootcert=/nonexistent",
        ]),
    ) {
        let url = format!("postgres://u:{}@db:5432/app{breakage}", percent_encode(&password));
        let result = Params::parse(&url, "DATABASE_URL").and_then(|p| p.resolve(None, None));
        match result {
            Ok(_) => prop_assert!(false, "{breakage} accepted"),
            Err(e) => {
                prop_assert!(e.0.starts_with("DATABASE_URL: "), "{}", e.0);
                prop_assert!(!e.0.contains(&password), "{} leaks the password", e.0);
            }
        }
        // The same in key=value form, where a forgotten key makes the password a bare word.
        let kv = format!("host=db user=u {}", quote_kv(&password));
        if let Err(e) = Params::parse(&kv, "GOOSE_DBSTRING") {
            prop_assert!(!e.0.contains(&password), "{} leaks the password", e.0);
        }
    }

    /// A password with unescaped reserved characters (generated base64 passwords hold '/')
    /// turns the URL into something else; whatever the parser makes of it, no piece of the
    /// password may appear in an error.
    #[test]
    fn unescaped_passwords_are_never_echoed(
        pieces in prop::collection::vec("[QXZ]{3,8}", 1..4),
        separators in prop::collection::vec(prop::sample::select(vec!['/', '?', '#', '@', ':']), 3),
        tail in prop::sample::select(vec!["@db:5432/app", "@db/app", "", "/app"]),
        origin in prop::sample::select(vec!["DATABASE_URL", "GOOSE_DBSTRING"]),
    ) {
        let mut password = String::new();
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                password.push(separators[i - 1]);
            }
            password.push_str(piece);
        }
        let url = format!("postgres://gate:{password}{tail}");
        let result = Params::parse(&url, origin).and_then(|p| p.resolve(None, None));
        if let Err(e) = result {
            for piece in &pieces {
                prop_assert!(!e.0.contains(piece.as_str()), "{} leaks {piece} of {url}", e.0);
            }
        }
    }

    #[test]
    fn command_lines_never_panic(args in prop::collection::vec("\\PC{0,20}", 0..6)) {
        let _ = schema_gate::cli::parse(args.into_iter().map(std::ffi::OsString::from));
    }
}

//! Where the database is and who the gate is there: libpq's connection string, read like libpq.
//!
//! A DSN arrives as a `postgres://` URL or a libpq `key=value` string (from `DATABASE_URL`,
//! `DATABASE_URL_FILE` or `GOOSE_DBSTRING`); libpq's `PG*` variables fill what it leaves out, and
//! the password file (`PGPASSFILE`, else `~/.pgpass`) fills a missing password. The result is a
//! [`Target`]: a `tokio_postgres::Config` plus what tokio-postgres cannot express (the six
//! `sslmode`s, certificate files, runtime parameters), resolved before any connection is tried so
//! that every mistake is a start-up error naming its variable.
//!
//! Secrets: nothing here ever formats a password or a whole DSN. Errors name a parameter and, for
//! parameters that are not secret, the offending value.

mod auth;
mod hygiene;
mod keys;
mod options;
mod pgpass;
mod resolve;
mod settings;
mod syntax;

pub use auth::{AuthMethod, RequireAuth};
pub use keys::{KeySupport, key_support};
pub use pgpass::pgpass_lookup;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One parameter's value and the variable or flag it came from (named in errors).
#[derive(Clone)]
struct Value {
    text: String,
    origin: String,
}

/// Parameters by libpq key, in the order libpq would resolve them, and the names no runtime
/// parameter may take (the gate's own variables). `Debug` hides the password.
#[derive(Clone, Default)]
pub struct Params {
    values: BTreeMap<String, Value>,
    reserved: Vec<String>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in &self.values {
            if key == "password" {
                map.entry(key, &"<redacted>");
            } else {
                map.entry(key, &value.text);
            }
        }
        map.finish()
    }
}

/// libpq's `sslmode`, all six (tokio-postgres knows three; see `crate::postgres::tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain connection only.
    Disable,
    /// Plain first; TLS if the server refuses a plain connection.
    Allow,
    /// TLS if the server offers it (libpq's default); no certificate check.
    Prefer,
    /// TLS always; no certificate check unless `sslrootcert` is given (then as `verify-ca`).
    Require,
    /// TLS, certificate chain checked, host name not.
    VerifyCa,
    /// TLS, chain and host name checked.
    VerifyFull,
}

/// Where trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// `sslrootcert=system`, or `verify-*` without `sslrootcert`: the platform's CA bundle.
    System,
    /// A PEM file of CA certificates.
    File(PathBuf),
}

/// TLS settings libpq takes and tokio-postgres leaves to the TLS connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The libpq `sslmode`.
    pub mode: SslMode,
    /// Trust anchors when the certificate is verified; `None` when it is not.
    pub roots: Option<RootCerts>,
    /// Whether a host-name mismatch fails (`verify-full`).
    pub check_host: bool,
    /// Client certificate and key files (`sslcert`, `sslkey`).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Send SNI (`sslsni`, default on; Neon routes on it).
    pub sni: bool,
}

/// Everything needed to open a connection, resolved and validated. `Debug` hides the password
/// and the values of runtime parameters (a mistyped password key must not reach a debug log).
#[derive(Clone)]
pub struct Target {
    /// Host(s), port(s), user, password, dbname, application name, timeouts.
    pub pg: tokio_postgres::Config,
    /// One configuration per host, in the DSN's order: libpq tries the hosts one by one, each
    /// within its own `connect_timeout`, and so does the gate (a silent first host must not eat
    /// the whole attempt).
    pub per_host: Vec<tokio_postgres::Config>,
    /// TLS mode and certificate sources.
    pub tls: TlsSettings,
    /// Unknown DSN keys are runtime parameters, as lib/pq and pgx treat them (e.g.
    /// `search_path`); sent with `set_config(…, true)` inside the check's transaction because a
    /// transaction-mode pooler cannot carry startup parameters.
    pub runtime_params: Vec<(String, String)>,
    /// The DSN's `connect_timeout` (or `PGCONNECT_TIMEOUT`), if any.
    pub connect_timeout: Option<Duration>,
    /// Which authentication requests the gate answers (`require_auth`; see [`RequireAuth`]).
    pub require_auth: RequireAuth,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .runtime_params
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        f.debug_struct("Target")
            .field("pg", &self.pg)
            .field("hosts", &self.per_host.len())
            .field("tls", &self.tls)
            .field("runtime_params", &names)
            .field("connect_timeout", &self.connect_timeout)
            .field("require_auth", &self.require_auth)
            .finish()
    }
}

/// A connection-string mistake, already naming its variable or flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnError(pub String);

impl fmt::Display for DsnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DsnError {}

fn err(origin: &str, message: impl fmt::Display) -> DsnError {
    DsnError(format!("{origin}: {message}"))
}

/// Whether `text` starts like a URL (`scheme://`): only then is it read as one, so a key=value
/// string whose password holds `://` stays a key=value string.
fn has_url_scheme(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

impl Params {
    /// Parses a `postgres://` / `postgresql://` URL or a libpq `key=value` string.
    /// `origin` names the variable or flag it came from. Near misses (quotes, a JDBC URL, white
    /// space around a URL, a byte-order mark, an env-file line) are refused, naming the fix.
    pub fn parse(dsn: &str, origin: &str) -> Result<Params, DsnError> {
        if let Some(why) = hygiene::diagnose(dsn) {
            return Err(err(origin, why));
        }
        let pairs = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
            syntax::parse_url(dsn).map_err(|m| err(origin, m))?
        } else if has_url_scheme(dsn) {
            return Err(err(
                origin,
                "URL scheme must be postgres:// or postgresql:// (or give key=value pairs)",
            ));
        } else {
            syntax::parse_key_values(dsn).map_err(|m| err(origin, m))?
        };
        let mut params = Params::default();
        for (key, text) in pairs {
            params.values.insert(
                key,
                Value {
                    text,
                    origin: origin.to_string(),
                },
            );
        }
        Ok(params)
    }

    /// Sets `key` from `variable`'s value unless the DSN already has it (libpq's `PG*` rule).
    pub fn fill(&mut self, key: &str, variable: &str, value: Option<&str>) {
        if let Some(text) = value
            && !self.values.contains_key(key)
        {
            self.set(key, variable, text);
        }
    }

    /// Sets `key` from `variable`'s value whatever the DSN says (a `--pg*` flag).
    pub fn set(&mut self, key: &str, variable: &str, text: &str) {
        self.values.insert(
            key.to_string(),
            Value {
                text: text.to_string(),
                origin: variable.to_string(),
            },
        );
    }

    /// `key`'s value and where it came from, for messages; never the password's.
    pub fn shown(&self, key: &str) -> Option<(&str, &str)> {
        if key == "password" {
            return None;
        }
        self.get(key).map(|v| (v.text.as_str(), v.origin.as_str()))
    }

    /// Names no runtime parameter may take (the gate's own variables, compared
    /// case-insensitively): `DATABASE_URL=…` read as a parameter is an env-file mistake, and its
    /// value would travel to the server.
    pub fn reserve(&mut self, names: impl IntoIterator<Item = String>) {
        self.reserved.extend(names);
    }

    /// The value of `key`; an empty value counts as unset, as in libpq.
    fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key).filter(|v| !v.text.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::Host;

    fn resolve(dsn: &str) -> Result<Target, DsnError> {
        Params::parse(dsn, "DATABASE_URL")?.resolve(None, Some("osuser"))
    }

    #[test]
    fn url_with_everything() {
        let t = resolve(
            "postgres://gate:s%40cret@db.example.com:6543/app?sslmode=verify-full&application_name=x&search_path=app",
        )
        .expect("valid");
        assert_eq!(t.pg.get_user(), Some("gate"));
        assert_eq!(t.pg.get_password(), Some(&b"s@cret"[..]));
        assert_eq!(t.pg.get_dbname(), Some("app"));
        assert_eq!(t.pg.get_hosts(), &[Host::Tcp("db.example.com".into())]);
        assert_eq!(t.pg.get_ports(), &[6543]);
        assert_eq!(t.pg.get_application_name(), Some("x"));
        assert_eq!(t.tls.mode, SslMode::VerifyFull);
        assert!(t.tls.check_host);
        assert_eq!(t.tls.roots, Some(RootCerts::System));
        assert_eq!(t.runtime_params, vec![("search_path".into(), "app".into())]);
    }

    #[test]
    fn url_multi_host_and_ipv6() {
        let t = resolve("postgresql://u@[::1]:5433,other:5434/d").expect("valid");
        assert_eq!(
            t.pg.get_hosts(),
            &[Host::Tcp("::1".into()), Host::Tcp("other".into())]
        );
        assert_eq!(t.pg.get_ports(), &[5433, 5434]);
    }

    #[test]
    fn key_value_with_quotes() {
        let t =
            resolve(r"host=localhost port=5432 user=gate password='it\'s a secret' dbname = app")
                .expect("valid");
        assert_eq!(t.pg.get_password(), Some(&b"it's a secret"[..]));
        assert_eq!(t.pg.get_dbname(), Some("app"));
        assert_eq!(t.pg.get_application_name(), Some("schema-gate"));
    }

    #[test]
    fn defaults_like_libpq() {
        let t = resolve("host=/tmp/sock").expect("valid");
        assert_eq!(t.pg.get_user(), Some("osuser"));
        assert_eq!(t.pg.get_dbname(), Some("osuser"));
        assert_eq!(t.pg.get_ports(), &[5432]);
        assert_eq!(t.tls.mode, SslMode::Prefer);
        assert_eq!(t.tls.roots, None);
        assert!(t.tls.sni);
    }

    #[test]
    fn env_fills_only_what_is_missing() {
        let mut p = Params::parse("postgres://a@h/db", "DATABASE_URL").expect("parses");
        p.fill("user", "PGUSER", Some("b"));
        p.fill("port", "PGPORT", Some("7777"));
        p.fill("password", "PGPASSWORD", Some("pw"));
        let t = p.resolve(None, None).expect("valid");
        assert_eq!(t.pg.get_user(), Some("a"));
        assert_eq!(t.pg.get_ports(), &[7777]);
        assert_eq!(t.pg.get_password(), Some(&b"pw"[..]));
    }

    #[test]
    fn errors_name_origin_and_never_the_password() {
        let mut p = Params::parse("postgres://u:hunter2@h/db", "DATABASE_URL").expect("parses");
        p.fill("port", "PGPORT", Some("99999"));
        let e = p.resolve(None, None).unwrap_err().0;
        assert!(e.starts_with("PGPORT: "), "{e}");
        assert!(!e.contains("hunter2"));

        let e = resolve("postgres://u:hunter2@h/db?sslmode=verify-everything")
            .unwrap_err()
            .0;
        assert!(e.starts_with("DATABASE_URL: sslmode"), "{e}");
        assert!(!e.contains("hunter2"));

        let e = resolve("host=h hunter2").unwrap_err().0;
        assert!(!e.contains("hunter2"), "{e}");
        let e = resolve("postgres://u:hunter2%zz@h/db").unwrap_err().0;
        assert!(!e.contains("hunter2"), "{e}");
        let e = resolve("mysql://u:hunter2@h/db").unwrap_err().0;
        assert!(!e.contains("hunter2"), "{e}");
        let e = resolve("host=h password='hunter2").unwrap_err().0;
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn unescaped_reserved_characters_in_a_url_password_are_never_quoted() {
        for url in [
            "postgres://gate:S3cr3t/xyz@db:5432/app",
            "postgres://gate:S3cr3t?x@db:5432/app",
            "postgres://gate:S3cr3t#x/y@db:5432/app",
            "postgres://gate:S3cr3t",
            "postgres://gate:12345678/xyz@db/app",
        ] {
            let e = resolve(url).expect_err(url).0;
            assert!(e.starts_with("DATABASE_URL: "), "{e}");
            assert!(
                !e.contains("S3cr3t") && !e.contains("12345678"),
                "{url}: {e}"
            );
            assert!(e.contains("percent-encode"), "{url}: {e}");
        }
        // Percent-encoded, the same passwords work.
        let t = resolve("postgres://gate:S3cr3t%2Fxyz@db:5432/app").expect("valid");
        assert_eq!(t.pg.get_password(), Some(&b"S3cr3t/xyz"[..]));
    }

    #[test]
    fn key_value_passwords_may_hold_a_scheme_separator() {
        // proptest's shrunk case: a key=value string is not a URL because a value holds "://".
        let t = resolve("host=db user=u password='Zq9://' dbname=app").expect("valid");
        assert_eq!(t.pg.get_password(), Some(&b"Zq9://"[..]));
        assert!(resolve("mysql://u@h/db").is_err());
    }

    #[test]
    fn misspelt_password_keys_are_refused_without_their_value() {
        for key in [
            "passwd", "pwd", "pasword", "passowrd", "PASSWORD", "db_pass",
        ] {
            let e = resolve(&format!("host=h {key}=hunter2")).expect_err(key).0;
            assert!(e.contains("misspelt") && e.contains(key), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        assert!(resolve("host=h search_path=app").is_ok());
        assert!(resolve("host=h application_name=x").is_ok());
    }

    #[test]
    fn one_configuration_per_host() {
        let t = resolve("postgres://u@a:1,b:2,c/db").expect("valid");
        assert_eq!(t.per_host.len(), 3);
        assert_eq!(t.per_host[1].get_hosts(), &[Host::Tcp("b".into())]);
        assert_eq!(t.per_host[1].get_ports(), &[2]);
        assert_eq!(t.per_host[2].get_ports(), &[5432]);
        assert_eq!(t.per_host[2].get_user(), Some("u"));
        let shown = format!(
            "{:?}",
            resolve("host=h search_path=Zq9value").expect("valid")
        );
        assert!(
            !shown.contains("Zq9value") && shown.contains("search_path"),
            "{shown}"
        );
    }

    #[test]
    fn params_debug_hides_password() {
        let p = Params::parse("postgres://u:hunter2@h/db", "X").expect("parses");
        let shown = format!("{p:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let t = p.resolve(None, None).expect("valid");
        let shown = format!("{t:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let e = resolve("host=h sslcrl=/x").unwrap_err().0;
        assert!(e.contains("sslcrl"), "{e}");
        assert!(resolve("host=h sslmode=require sslrootcert=system").is_err());
        assert!(resolve("host=h sslcert=/etc/hostname").is_err());
        assert!(resolve("host=h channel_binding=maybe").is_err());
        assert!(resolve("host=h bad;name=1").is_err());
        assert!(resolve("postgres://h/db?search_path=a%5Cb").is_err());
        assert!(resolve("host=h gssencmode=disable").is_ok());
    }

    #[test]
    fn require_with_root_cert_verifies_chain() {
        let t = resolve("host=h sslmode=require sslrootcert=/etc/hostname").expect("valid");
        assert_eq!(t.tls.roots, Some(RootCerts::File("/etc/hostname".into())));
        assert!(!t.tls.check_host);
        assert!(resolve("host=h sslrootcert=/nonexistent/ca.pem").is_err());
    }

    #[test]
    fn jdbc_ssl_true_and_connect_timeout() {
        let t = resolve("postgres://h/db?ssl=true&connect_timeout=1").expect("valid");
        assert_eq!(t.tls.mode, SslMode::Require);
        assert_eq!(t.connect_timeout, Some(Duration::from_secs(2)));
        assert!(resolve("postgres://h/db?connect_timeout=soon").is_err());
    }

    #[test]
    fn pgpass_matching() {
        let text = "# comment\nother:*:*:*:nope\nh:5432:db:u:pa\\:ss\n*:*:*:*:fallback\n";
        assert_eq!(
            pgpass_lookup(text, "h", "5432", "db", "u").as_deref(),
            Some("pa:ss")
        );
        assert_eq!(
            pgpass_lookup(text, "x", "1", "db", "u").as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_lookup("h:1:d:u\n", "h", "1", "d", "u"), None);
    }

    #[test]
    fn options_settings_are_runtime_parameters_never_startup_options() {
        for dsn in [
            "postgres://u@h/d?options=-c%20search_path%3Dlagging",
            "host=h options='-c search_path=lagging'",
            "host=h options=--search-path=lagging",
            r"host=h options=-csearch_path=lagging",
        ] {
            let t = resolve(dsn).expect(dsn);
            assert_eq!(
                t.runtime_params,
                vec![("search_path".into(), "lagging".into())],
                "{dsn}"
            );
            assert_eq!(t.pg.get_options(), None, "{dsn}");
            assert!(
                t.per_host.iter().all(|c| c.get_options().is_none()),
                "{dsn}"
            );
        }
        let t = resolve(r"host=h options='-c search_path=my\\ schema,public' geqo=off")
            .expect("escaped space");
        assert_eq!(
            t.runtime_params,
            vec![
                ("search_path".into(), "my schema,public".into()),
                ("geqo".into(), "off".into())
            ]
        );
        // Anything else in options is refused, naming options.
        for bad in [
            "-B 100",
            "-c search_path",
            "search_path=a",
            "-c password=Zq9x",
            "-c scram_client_key=Zq9x",
            "--oauth-client-secret=Zq9x",
            "-c SCRAM_SERVER_KEY=Zq9x",
            "-c sslmode=Zq9x",
            "-c user=Zq9x",
        ] {
            let e = resolve(&format!("host=h options='{bad}'"))
                .expect_err(bad)
                .0;
            assert!(e.starts_with("DATABASE_URL: "), "{bad}: {e}");
            assert!(
                e.contains("options") || e.contains("password"),
                "{bad}: {e}"
            );
            assert!(!e.contains("Zq9x"), "{bad}: {e}");
        }
        // libpq keys that are server settings too pass, as settings.
        let t = resolve("host=h options='-c application_name=x -c client_encoding=UTF8'")
            .expect("settings");
        assert_eq!(t.runtime_params.len(), 2, "{:?}", t.runtime_params);
        let e = resolve("host=h search_path=a options='-c search_path=b'")
            .unwrap_err()
            .0;
        assert!(e.contains("given twice"), "{e}");
        // PGOPTIONS fills options when the DSN has none.
        let mut p = Params::parse("host=h", "DATABASE_URL").expect("parses");
        p.fill("options", "PGOPTIONS", Some("-c search_path=app"));
        let t = p.resolve(None, Some("u")).expect("valid");
        assert_eq!(t.runtime_params, vec![("search_path".into(), "app".into())]);
        let mut p = Params::parse("host=h", "DATABASE_URL").expect("parses");
        p.fill("options", "PGOPTIONS", Some("-e"));
        assert!(
            p.resolve(None, Some("u"))
                .unwrap_err()
                .0
                .starts_with("PGOPTIONS: ")
        );
    }

    #[test]
    fn neon_endpoint_only_where_sni_does_not_name_the_host() {
        let by_name = resolve("postgres://u@ep-x.eu-central-1.aws.neon.tech/d?sslmode=require&options=endpoint%3Dep-x")
            .expect("valid");
        assert_eq!(by_name.per_host[0].get_options(), None);
        assert_eq!(by_name.pg.get_options(), None);
        assert!(by_name.runtime_params.is_empty());
        for dsn in [
            "postgres://u@10.0.0.7/d?sslmode=require&options=endpoint%3Dep-x",
            "postgres://u@[::1]/d?sslmode=require&options=project%3Dep-x",
            "host=ep-x.neon.tech hostaddr=10.0.0.7 sslmode=require options=endpoint=ep-x",
            "host=ep-x.neon.tech sslsni=0 sslmode=require options=endpoint=ep-x",
        ] {
            let t = resolve(dsn).expect(dsn);
            assert_eq!(t.per_host[0].get_options(), Some("endpoint=ep-x"), "{dsn}");
            assert_eq!(t.pg.get_options(), Some("endpoint=ep-x"), "{dsn}");
        }
        // Mixed hosts: each its own.
        let t = resolve("postgres://u@ep-x.neon.tech,10.0.0.7/d?options=endpoint%3Dep-x&options=endpoint%3Dep-x")
            .expect("valid");
        assert_eq!(t.per_host[0].get_options(), None);
        assert_eq!(t.per_host[1].get_options(), Some("endpoint=ep-x"));
        assert_eq!(t.pg.get_options(), None);
        let t = resolve("host=ep-x.neon.tech options='endpoint=ep-x -c search_path=app'")
            .expect("valid");
        assert_eq!(t.runtime_params, vec![("search_path".into(), "app".into())]);
    }

    #[test]
    fn libpq_keys_reach_the_tokio_postgres_config() {
        use tokio_postgres::config::TargetSessionAttrs;
        let t = resolve("host=a,b hostaddr=10.0.0.1,10.0.0.2 target_session_attrs=read-write")
            .expect("valid");
        assert_eq!(
            t.pg.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
        assert!(
            t.per_host
                .iter()
                .all(|c| c.get_target_session_attrs() == TargetSessionAttrs::ReadWrite)
        );
        assert_eq!(
            t.per_host[1].get_hostaddrs(),
            &["10.0.0.2".parse::<std::net::IpAddr>().expect("ip")]
        );
        let t = resolve("host=h target_session_attrs=any").expect("valid");
        assert_eq!(t.pg.get_target_session_attrs(), TargetSessionAttrs::Any);
        let mut p = Params::parse("host=h", "DATABASE_URL").expect("parses");
        p.fill(
            "target_session_attrs",
            "PGTARGETSESSIONATTRS",
            Some("read-write"),
        );
        p.fill("hostaddr", "PGHOSTADDR", Some("127.0.0.9"));
        let t = p.resolve(None, Some("u")).expect("valid");
        assert_eq!(
            t.per_host[0].get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
        assert_eq!(
            t.per_host[0].get_hostaddrs(),
            &["127.0.0.9".parse::<std::net::IpAddr>().expect("ip")]
        );
        for bad in ["primary", "standby", "prefer-standby", "rw"] {
            let mut p = Params::parse("host=h", "DATABASE_URL").expect("parses");
            p.fill("target_session_attrs", "PGTARGETSESSIONATTRS", Some(bad));
            let e = p.resolve(None, Some("u")).unwrap_err().0;
            assert!(e.starts_with("PGTARGETSESSIONATTRS: "), "{e}");
        }
        // A --pg* flag overrides the DSN's key; a PG* variable only fills.
        let mut p = Params::parse("postgres://u@h:5432/app", "DATABASE_URL").expect("parses");
        p.set("port", "--pgport", "6543");
        p.fill("dbname", "PGDATABASE", Some("other"));
        let t = p.resolve(None, Some("u")).expect("valid");
        assert_eq!(t.pg.get_ports(), &[6543]);
        assert_eq!(t.pg.get_dbname(), Some("app"));
    }

    #[test]
    fn misspelt_libpq_keys_are_refused_naming_both() {
        for (key, meant) in [
            ("ssl_mode", "sslmode"),
            ("SSLMODE", "sslmode"),
            ("sslMode", "sslmode"),
            ("ssl-mode", "sslmode"),
            ("sslmod", "sslmode"),
            ("sslrootcrt", "sslrootcert"),
            ("ssl_root_cert", "sslrootcert"),
            ("channel_bind", "channel_binding"),
            ("channelbinding", "channel_binding"),
            ("target_session_attr", "target_session_attrs"),
            ("targetsessionattrs", "target_session_attrs"),
            ("ssl_cert", "sslcert"),
            ("sslnegociation", "sslnegotiation"),
            ("hostname", "host"),
            ("username", "user"),
            ("database", "dbname"),
            ("Options", "options"),
            ("ssl", "sslmode"),
        ] {
            let e = resolve(&format!("host=h {key}=Zq9value")).expect_err(key).0;
            assert!(
                e.contains(&format!("{key:?}")) && e.contains(&format!("write {meant}")),
                "{key}: {e}"
            );
            assert!(!e.contains("Zq9value"), "{e}");
        }
        // Real settings are not mistaken for misspelt keys.
        for setting in [
            "search_path",
            "statement_timeout",
            "lock_timeout",
            "idle_in_transaction_session_timeout",
            "timezone",
            "TimeZone",
            "datestyle",
            "geqo",
            "role",
            "work_mem",
            "client_min_messages",
            "tcp_keepalives_idle",
            "default_transaction_isolation",
            "extra_float_digits",
            "intervalstyle",
            "jit",
            "plan_cache_mode",
            "myext.flag",
        ] {
            let t = resolve(&format!("host=h {setting}=1")).expect(setting);
            assert_eq!(t.runtime_params.len(), 1, "{setting}");
        }
    }

    #[test]
    fn setting_names_and_reserved_variable_names() {
        for bad in ["a.b.c", "1abc", "a-b", "a$b", ".a", "a.", "x.1y", "é"] {
            let e = resolve(&format!("postgres://h/d?{bad}=1"))
                .expect_err(bad)
                .0;
            assert!(e.contains("not a setting name"), "{bad}: {e}");
        }
        for good in ["_x", "A.b_1", "search_path"] {
            assert!(
                resolve(&format!("postgres://h/d?{good}=1")).is_ok(),
                "{good}"
            );
        }
        let mut p = Params::parse(
            "DATABASE_URL=host=h user=u password=Zq9secret",
            "DATABASE_URL_FILE",
        )
        .expect("parses as key=value");
        p.reserve(["DATABASE_URL".to_string(), "PGHOST".to_string()]);
        let e = p.resolve(None, Some("u")).unwrap_err().0;
        assert!(
            e.starts_with("DATABASE_URL_FILE: ") && e.contains("variable DATABASE_URL"),
            "{e}"
        );
        assert!(!e.contains("Zq9secret"), "{e}");
        let mut p = Params::parse("host=h pghost=x", "DATABASE_URL").expect("parses");
        p.reserve(["PGHOST".to_string()]);
        assert!(
            p.resolve(None, Some("u"))
                .unwrap_err()
                .0
                .contains("variable PGHOST")
        );
    }

    #[test]
    fn verify_ca_needs_a_root_certificate() {
        let e = resolve("host=h sslmode=verify-ca").unwrap_err().0;
        assert!(
            e.starts_with("DATABASE_URL: ")
                && e.contains("sslrootcert")
                && e.contains("verify-full"),
            "{e}"
        );
        let mut p = Params::parse("host=h", "DATABASE_URL").expect("parses");
        p.fill("sslmode", "PGSSLMODE", Some("verify-ca"));
        assert!(
            p.resolve(None, Some("u"))
                .unwrap_err()
                .0
                .starts_with("PGSSLMODE: ")
        );
        let t = resolve("host=h sslmode=verify-ca sslrootcert=/etc/hostname").expect("valid");
        assert_eq!(t.tls.roots, Some(RootCerts::File("/etc/hostname".into())));
        // verify-full checks the host name: the platform's roots are a safe default.
        let t = resolve("host=h sslmode=verify-full").expect("valid");
        assert_eq!(t.tls.roots, Some(RootCerts::System));
    }

    #[test]
    fn gss_encryption_cannot_be_required() {
        assert!(resolve("host=h gssencmode=prefer").is_ok());
        assert!(resolve("host=h gssencmode=disable").is_ok());
        let e = resolve("host=h gssencmode=require").unwrap_err().0;
        assert!(e.contains("GSSAPI"), "{e}");
    }

    #[test]
    fn every_libpq_18_key_is_classified() {
        // libpq 18's PQconninfoOptions (fe-connect.c), every keyword.
        for key in [
            "service",
            "user",
            "password",
            "passfile",
            "channel_binding",
            "connect_timeout",
            "dbname",
            "host",
            "hostaddr",
            "port",
            "client_encoding",
            "options",
            "application_name",
            "fallback_application_name",
            "keepalives",
            "keepalives_idle",
            "keepalives_interval",
            "keepalives_count",
            "tcp_user_timeout",
            "sslmode",
            "sslnegotiation",
            "sslcompression",
            "sslcert",
            "sslkey",
            "sslcertmode",
            "sslpassword",
            "sslkeylogfile",
            "sslrootcert",
            "sslcrl",
            "sslcrldir",
            "sslsni",
            "requirepeer",
            "require_auth",
            "min_protocol_version",
            "max_protocol_version",
            "ssl_min_protocol_version",
            "ssl_max_protocol_version",
            "gssencmode",
            "krbsrvname",
            "gsslib",
            "gssdelegation",
            "replication",
            "target_session_attrs",
            "load_balance_hosts",
            "scram_client_key",
            "scram_server_key",
            "servicefile",
            "oauth_issuer",
            "oauth_client_id",
            "oauth_client_secret",
            "oauth_scope",
        ] {
            assert_ne!(key_support(key), KeySupport::Unknown, "{key}");
        }
    }
}

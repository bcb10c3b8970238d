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

mod pgpass;
mod resolve;
mod syntax;

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

/// Parameters by libpq key, in the order libpq would resolve them. `Debug` hides the password.
#[derive(Clone, Default)]
pub struct Params(BTreeMap<String, Value>);

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in &self.0 {
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

/// libpq parameters schema-gate uses.
const SUPPORTED: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslsni",
    "sslnegotiation",
    "connect_timeout",
    "application_name",
    "fallback_application_name",
    "channel_binding",
    "options",
    "target_session_attrs",
    "load_balance_hosts",
    "keepalives",
    "keepalives_idle",
];

/// libpq parameters that do not change what the gate reads or how safely: accepted, unused.
const HARMLESS: &[&str] = &[
    "client_encoding",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "sslcompression",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    // pgx-only keys a goose `pgx` DSN may carry; they steer pgx's own statement cache.
    "default_query_exec_mode",
    "statement_cache_capacity",
    "description_cache_capacity",
];

/// libpq parameters whose security or routing meaning the gate cannot honour: refused rather than
/// silently ignored.
const UNSUPPORTED: &[&str] = &[
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslcertmode",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "require_auth",
    "requiressl",
    "service",
    "servicefile",
    "replication",
    "gssdelegation",
];

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

/// A parameter name that is most likely a misspelt `password` (`passwd`, `pwd`, `pasword`):
/// refused, because as a runtime parameter its value (the password) would travel to the server
/// and the intended password would be missing.
fn looks_like_password(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("pass") || key.contains("pwd") || edit_distance(&key, "password") <= 2
}

/// Levenshtein distance between two short ASCII strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<u8> = b.bytes().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn is_known(key: &str) -> bool {
    SUPPORTED.contains(&key) || HARMLESS.contains(&key) || UNSUPPORTED.contains(&key)
}

impl Params {
    /// Parses a `postgres://` / `postgresql://` URL or a libpq `key=value` string.
    /// `origin` names the variable or flag it came from.
    pub fn parse(dsn: &str, origin: &str) -> Result<Params, DsnError> {
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
            params.0.insert(
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
            && !self.0.contains_key(key)
        {
            self.0.insert(
                key.to_string(),
                Value {
                    text: text.to_string(),
                    origin: variable.to_string(),
                },
            );
        }
    }

    /// The value of `key`; an empty value counts as unset, as in libpq.
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.text.is_empty())
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
}

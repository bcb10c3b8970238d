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

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_postgres::config::{ChannelBinding, LoadBalanceHosts, TargetSessionAttrs};

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
    "sslnegotiation",
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
            parse_url(dsn).map_err(|m| err(origin, m))?
        } else if has_url_scheme(dsn) {
            return Err(err(
                origin,
                "URL scheme must be postgres:// or postgresql:// (or give key=value pairs)",
            ));
        } else {
            parse_key_values(dsn).map_err(|m| err(origin, m))?
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

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.text.is_empty())
    }

    /// Resolves into a [`Target`]. `home` is for `~/.pgpass`; `os_user` is libpq's default user.
    pub fn resolve(
        mut self,
        home: Option<&Path>,
        os_user: Option<&str>,
    ) -> Result<Target, DsnError> {
        let mut pg = tokio_postgres::Config::new();
        let mut runtime_params = Vec::new();

        for (key, value) in &self.0 {
            if UNSUPPORTED.contains(&key.as_str()) {
                return Err(err(
                    &value.origin,
                    format!("parameter {key:?} is not supported by schema-gate"),
                ));
            }
            if !is_known(key) {
                // lib/pq and pgx send unknown keys as runtime parameters; so do we (set_config).
                if looks_like_password(key) {
                    return Err(err(
                        &value.origin,
                        format!(
                            "parameter {key:?} looks like a misspelt \"password\" (its value is not shown): name it password"
                        ),
                    ));
                }
                if !valid_guc_name(key) {
                    return Err(err(
                        &value.origin,
                        "a parameter name is not a valid setting name",
                    ));
                }
                if value.text.contains(['\\', '\0']) {
                    return Err(err(
                        &value.origin,
                        format!("runtime parameter {key:?}: backslashes are not accepted"),
                    ));
                }
                runtime_params.push((key.clone(), value.text.clone()));
            }
        }

        // Hosts and ports: comma-separated lists, as libpq; hostaddr alone also names the hosts.
        let hosts: Vec<String> = match self.get("host").or_else(|| self.get("hostaddr")) {
            Some(v) => v.text.split(',').map(|h| h.trim().to_string()).collect(),
            None => vec![String::new()],
        };
        let mut hostaddrs: Vec<IpAddr> = Vec::new();
        if let Some(v) = self.get("hostaddr") {
            let addrs: Vec<&str> = v.text.split(',').map(str::trim).collect();
            if addrs.len() != hosts.len() {
                return Err(err(
                    &v.origin,
                    "hostaddr must list as many addresses as host",
                ));
            }
            for addr in addrs {
                let ip: IpAddr = addr.parse().map_err(|_| {
                    err(&v.origin, format!("hostaddr {addr:?} is not an IP address"))
                })?;
                hostaddrs.push(ip);
            }
        }
        let port_list: Vec<String> = match self.get("port") {
            Some(v) => v.text.split(',').map(str::to_string).collect(),
            None => vec![String::new()],
        };
        let port_origin = self
            .get("port")
            .map(|v| v.origin.clone())
            .unwrap_or_default();
        if port_list.len() != 1 && port_list.len() != hosts.len() {
            return Err(err(
                &port_origin,
                "port must list one port, or one per host",
            ));
        }
        let mut ports: Vec<u16> = Vec::new();
        for port in &port_list {
            ports.push(if port.is_empty() {
                5432
            } else {
                port.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| {
                        err(
                            &port_origin,
                            format!("port {port:?} is not a number in 1..65535"),
                        )
                    })?
            });
        }

        let user = match self.get("user") {
            Some(v) => v.text.clone(),
            None => os_user.map(str::to_string).ok_or_else(|| {
                DsnError("no database user: set it in the DSN or PGUSER".to_string())
            })?,
        };
        pg.user(&user);
        let dbname = self
            .get("dbname")
            .map_or_else(|| user.clone(), |v| v.text.clone());
        pg.dbname(&dbname);

        if let Some(v) = self.get("password") {
            pg.password(v.text.as_bytes());
        } else if let Some(password) =
            self.password_from_file(home, (&hosts[0], ports[0]), &user, &dbname)?
        {
            pg.password(password.as_bytes());
        }

        let app = self
            .get("application_name")
            .or_else(|| self.get("fallback_application_name"))
            .map_or("schema-gate", |v| v.text.as_str());
        pg.application_name(app);

        if let Some(v) = self.get("options") {
            pg.options(&v.text);
        }
        let connect_timeout = match self.get("connect_timeout") {
            // libpq: seconds; 0 or negative means wait forever; values below 2 count as 2.
            Some(v) => match v.text.trim().parse::<i64>() {
                Ok(secs) if secs <= 0 => None,
                Ok(secs) => Some(Duration::from_secs(secs.max(2) as u64)),
                Err(_) => {
                    return Err(err(
                        &v.origin,
                        format!(
                            "connect_timeout {:?} is not a whole number of seconds",
                            v.text
                        ),
                    ));
                }
            },
            None => None,
        };
        if let Some(v) = self.get("channel_binding") {
            pg.channel_binding(match v.text.as_str() {
                "disable" => ChannelBinding::Disable,
                "prefer" => ChannelBinding::Prefer,
                "require" => ChannelBinding::Require,
                other => {
                    return Err(err(
                        &v.origin,
                        format!("channel_binding {other:?} is not one of disable, prefer, require"),
                    ));
                }
            });
        }
        if let Some(v) = self.get("target_session_attrs") {
            pg.target_session_attrs(match v.text.as_str() {
                "any" => TargetSessionAttrs::Any,
                "read-write" => TargetSessionAttrs::ReadWrite,
                "read-only" => TargetSessionAttrs::ReadOnly,
                other => {
                    return Err(err(
                        &v.origin,
                        format!("target_session_attrs {other:?} is not one of any, read-write, read-only"),
                    ));
                }
            });
        }
        if let Some(v) = self.get("load_balance_hosts") {
            pg.load_balance_hosts(match v.text.as_str() {
                "disable" => LoadBalanceHosts::Disable,
                "random" => LoadBalanceHosts::Random,
                other => {
                    return Err(err(
                        &v.origin,
                        format!("load_balance_hosts {other:?} is not one of disable, random"),
                    ));
                }
            });
        }
        if let Some(v) = self.get("keepalives") {
            pg.keepalives(parse_flag(v, "keepalives")?);
        }
        if let Some(v) = self.get("keepalives_idle") {
            let secs = v.text.trim().parse::<u64>().map_err(|_| {
                err(
                    &v.origin,
                    format!("keepalives_idle {:?} is not a number of seconds", v.text),
                )
            })?;
            pg.keepalives_idle(Duration::from_secs(secs.max(1)));
        }

        let tls = self.tls_settings(home)?;
        self.0.remove("password");
        // Everything but the hosts is set: one configuration per host, and one with them all.
        let mut per_host = Vec::new();
        let mut all = pg.clone();
        for (i, host) in hosts.iter().enumerate() {
            let port = ports.get(i).copied().unwrap_or(ports[0]);
            let mut one = pg.clone();
            for config in [&mut all, &mut one] {
                if host.is_empty() {
                    config.host_path("/var/run/postgresql");
                } else if host.starts_with('/') {
                    config.host_path(host);
                } else {
                    config.host(host);
                }
                config.port(port);
                if let Some(ip) = hostaddrs.get(i) {
                    config.hostaddr(*ip);
                }
            }
            per_host.push(one);
        }
        Ok(Target {
            pg: all,
            per_host,
            tls,
            runtime_params,
            connect_timeout,
        })
    }

    fn tls_settings(&self, home: Option<&Path>) -> Result<TlsSettings, DsnError> {
        let mode = match self.get("sslmode") {
            None => SslMode::Prefer,
            Some(v) => match v.text.as_str() {
                "disable" => SslMode::Disable,
                "allow" => SslMode::Allow,
                "prefer" => SslMode::Prefer,
                "require" => SslMode::Require,
                "verify-ca" => SslMode::VerifyCa,
                "verify-full" => SslMode::VerifyFull,
                other => {
                    return Err(err(
                        &v.origin,
                        format!(
                            "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        ),
                    ));
                }
            },
        };
        let given_roots = match self.get("sslrootcert") {
            None => None,
            Some(v) if v.text == "system" => Some(RootCerts::System),
            Some(v) => Some(RootCerts::File(readable(v, "sslrootcert")?)),
        };
        if given_roots == Some(RootCerts::System) && !matches!(mode, SslMode::VerifyFull) {
            // libpq 16: sslrootcert=system requires verify-full (it would be pointless otherwise).
            if let Some(v) = self.get("sslrootcert") {
                return Err(err(
                    &v.origin,
                    "sslrootcert=system needs sslmode=verify-full",
                ));
            }
        }
        let default_root = home
            .map(|h| h.join(".postgresql/root.crt"))
            .filter(|p| p.is_file());
        let roots = match mode {
            SslMode::Disable => None,
            // libpq: with a root certificate given, require (and prefer/allow) verify the chain.
            SslMode::Allow | SslMode::Prefer | SslMode::Require => given_roots,
            // Without sslrootcert libpq reads ~/.postgresql/root.crt; schema-gate then falls back
            // to the platform's CA bundle instead of failing.
            SslMode::VerifyCa | SslMode::VerifyFull => Some(
                given_roots
                    .or(default_root.map(RootCerts::File))
                    .unwrap_or(RootCerts::System),
            ),
        };
        let client_cert = match (self.get("sslcert"), self.get("sslkey")) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some((readable(cert, "sslcert")?, readable(key, "sslkey")?)),
            (Some(v), None) => return Err(err(&v.origin, "sslcert is given without sslkey")),
            (None, Some(v)) => return Err(err(&v.origin, "sslkey is given without sslcert")),
        };
        let sni = match self.get("sslsni") {
            Some(v) => parse_flag(v, "sslsni")?,
            None => true,
        };
        Ok(TlsSettings {
            mode,
            check_host: mode == SslMode::VerifyFull,
            roots,
            client_cert,
            sni,
        })
    }

    /// libpq's password file: `PGPASSFILE`/`passfile`, else `~/.pgpass`. As libpq does, the
    /// default file is skipped with a warning when it is not a readable regular file, and any
    /// password file is ignored (with a warning) when group- or world-readable. A file named
    /// explicitly must be a readable regular file of at most 1 MiB: anything else is an error.
    fn password_from_file(
        &self,
        home: Option<&Path>,
        (host, port): (&str, u16),
        user: &str,
        dbname: &str,
    ) -> Result<Option<String>, DsnError> {
        let (path, origin) = match self.get("passfile") {
            Some(v) => (PathBuf::from(&v.text), Some(v.origin.clone())),
            None => match home {
                Some(home) => (home.join(".pgpass"), None),
                None => return Ok(None),
            },
        };
        let bytes = match (
            crate::files::read_capped(&path, crate::files::SMALL),
            &origin,
        ) {
            (Ok(bytes), _) => bytes,
            (Err(why), Some(origin)) => {
                return Err(err(origin, format!("password file: {why}")));
            }
            (Err(_), None) if !path.exists() && std::fs::symlink_metadata(&path).is_err() => {
                return Ok(None);
            }
            (Err(why), None) => {
                tracing::warn!("password file ~/.pgpass ignored: {why}");
                return Ok(None);
            }
        };
        if let Ok(meta) = std::fs::metadata(&path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    file = %path.display(),
                    "password file has group or world access; ignored, as libpq does (chmod 0600, or defaultMode: 0400 on the Secret volume)"
                );
                return Ok(None);
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let host = if host.is_empty() || host.starts_with('/') {
            "localhost"
        } else {
            host
        };
        Ok(pgpass_lookup(&text, host, &port.to_string(), dbname, user))
    }
}

fn parse_flag(v: &Value, key: &str) -> Result<bool, DsnError> {
    match v.text.as_str() {
        "1" => Ok(true),
        "0" => Ok(false),
        other => Err(err(&v.origin, format!("{key} {other:?} is not 0 or 1"))),
    }
}

/// A certificate or key file named by `key`: must be a readable regular file within the cap.
fn readable(v: &Value, key: &str) -> Result<PathBuf, DsnError> {
    let path = PathBuf::from(&v.text);
    crate::files::check_readable(&path, crate::files::CERTIFICATES)
        .map_err(|why| err(&v.origin, format!("{key}: {why}")))?;
    Ok(path)
}

/// A runtime-parameter name as Postgres spells settings (`search_path`, `myext.flag`).
fn valid_guc_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Finds the password for (host, port, dbname, user) in `.pgpass` text: the first line whose
/// fields match, `*` matching anything, `\:` and `\\` escaping.
pub fn pgpass_lookup(
    text: &str,
    host: &str,
    port: &str,
    dbname: &str,
    user: &str,
) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |field: &str, want: &str| field == "*" || field == want;
        if matches(&fields[0], host)
            && matches(&fields[1], port)
            && matches(&fields[2], dbname)
            && matches(&fields[3], user)
        {
            return Some(fields[4..].join(":"));
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    if let Some(f) = fields.last_mut() {
                        f.push(next);
                    }
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

/// How to write reserved characters in a URL's password, for errors that hint at them.
const RESERVED: &str =
    "if a password holds '/', '?', '#', '@' or ':', percent-encode them (%2F, %3F, %23, %40, %3A)";

/// `postgres://user:password@host1:5432,host2/db?key=value` → (key, value) pairs.
fn parse_url(url: &str) -> Result<Vec<(String, String)>, String> {
    let rest = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
        .unwrap_or(url);
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };
    // A password with an unescaped '/', '?' or '#' ends the authority early: the rest of the
    // password then looks like a port, a path or a query. Never quote that text.
    if !authority.contains('@') && path.is_some_and(|p| p.contains('@')) {
        return Err(format!(
            "the URL has an '@' after its host part (in a database name, write it as %40): {RESERVED}"
        ));
    }
    let mut pairs = Vec::new();
    let (userinfo, hostlist) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            pairs.push(("user".to_string(), decode(user, "user name")?));
        }
        if let Some(password) = password {
            pairs.push(("password".to_string(), decode(password, "password")?));
        }
    }
    if !hostlist.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for item in hostlist.split(',') {
            let (host, port) = if let Some(inner) = item.strip_prefix('[') {
                let (addr, after) = inner
                    .split_once(']')
                    .ok_or("an IPv6 host in [brackets] is not closed")?;
                let port = match after {
                    "" => "",
                    p => p
                        .strip_prefix(':')
                        .ok_or("unexpected text after an IPv6 host")?,
                };
                (addr.to_string(), port)
            } else {
                match item.rsplit_once(':') {
                    Some((h, p)) => (decode(h, "host")?, p),
                    None => (decode(item, "host")?, ""),
                }
            };
            let port_ok = port.is_empty()
                || port.bytes().all(|b| b.is_ascii_digit())
                    && port.parse::<u16>().is_ok_and(|p| p > 0);
            if !port_ok {
                // The text after ':' may be part of a password with an unescaped reserved
                // character: name the part, never quote it.
                return Err(format!(
                    "the text after ':' in the URL's host part is not a port number in 1..65535; {RESERVED}"
                ));
            }
            hosts.push(host);
            ports.push(port.to_string());
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            pairs.push(("host".to_string(), hosts.join(",")));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            pairs.push(("port".to_string(), ports.join(",")));
        }
    }
    if let Some(path) = path
        && !path.is_empty()
    {
        pairs.push(("dbname".to_string(), decode(path, "database name")?));
    }
    if let Some(query) = query {
        for item in query.split('&').filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or("a URL query parameter has no '=value'")?;
            let key = decode(key, "parameter name")?;
            let value = decode(value, "parameter value")?;
            // libpq maps the JDBC-style ssl=true onto sslmode=require.
            if key == "ssl" && value == "true" {
                pairs.push(("sslmode".to_string(), "require".to_string()));
            } else {
                pairs.push((key, value));
            }
        }
    }
    Ok(pairs)
}

/// Percent-decodes one URL component; `what` names it in errors (never its value).
fn decode(text: &str, what: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in the {what}"))?;
            if hex == 0 {
                return Err(format!("%00 in the {what}"));
            }
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("the {what} is not UTF-8 after %-decoding"))
}

/// libpq `key = value` pairs; values may be 'single quoted' with `\'` and `\\` escapes.
fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            // Never echo an unknown word: it may be a password typed without its key.
            return Err(if is_known(&key) {
                format!("missing '=' after {key:?}")
            } else {
                format!(
                    "expected a postgres:// URL or key=value pairs (no '=' after the word at byte {start})"
                )
            });
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, escaped)) => value.push(escaped),
                        None => break,
                    },
                    '\'' => {
                        closed = true;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            if !closed {
                return Err("unterminated quoted value".to_string());
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(format!("empty parameter name at byte {start}"));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
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

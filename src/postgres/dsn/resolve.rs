//! Resolving parameters into a [`Target`]: hosts and ports, identity, password, options, TLS.

use super::options::{Options, parse_options};
use super::{DsnError, Params, RequireAuth, RootCerts, SslMode, Target, TlsSettings, Value, err};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_postgres::config::{
    ChannelBinding, LoadBalanceHosts, SslNegotiation, TargetSessionAttrs,
};

/// The hosts of a DSN, in order: names (or socket directories), pinned addresses (`hostaddr`,
/// if given), and ports (one, or one per host).
struct Hosts {
    names: Vec<String>,
    addrs: Vec<IpAddr>,
    ports: Vec<u16>,
}

impl Params {
    /// Resolves into a [`Target`]. `home` is for `~/.pgpass`; `os_user` is libpq's default user.
    pub fn resolve(
        mut self,
        home: Option<&Path>,
        os_user: Option<&str>,
    ) -> Result<Target, DsnError> {
        let options = match self.get("options") {
            Some(v) => parse_options(&v.text).map_err(|why| err(&v.origin, why))?,
            None => Options::default(),
        };
        let runtime_params = self.runtime_params(&options.settings)?;
        let Hosts {
            names: hosts,
            addrs: hostaddrs,
            ports,
        } = self.hosts()?;
        let mut pg = tokio_postgres::Config::new();
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
        let connect_timeout = self.options(&mut pg)?;
        let require_auth = match self.get("require_auth") {
            Some(v) => RequireAuth::parse(&v.text)
                .map_err(|why| err(&v.origin, format!("require_auth {:?}: {why}", v.text)))?,
            None => RequireAuth::default(),
        };
        let tls = self.tls_settings(home)?;
        self.ssl_negotiation(&mut pg, tls.mode)?;
        self.values.remove("password");
        // Everything but the hosts is set: one configuration per host, and one with them all.
        let mut per_host = Vec::new();
        let mut all = pg.clone();
        let mut endpoint_sent = 0;
        for (i, host) in hosts.iter().enumerate() {
            let port = ports.get(i).copied().unwrap_or(ports[0]);
            let addr = hostaddrs.get(i).copied();
            let mut one = pg.clone();
            for config in [&mut all, &mut one] {
                add_host(config, host, port, addr);
            }
            if let Some(id) = &options.endpoint {
                if sni_names(host, addr, &tls) {
                    tracing::info!(
                        host = %host,
                        "options endpoint={id} not sent: TLS SNI already names the endpoint (Neon routes on it)"
                    );
                } else {
                    one.options(format!("endpoint={id}"));
                    endpoint_sent += 1;
                }
            }
            per_host.push(one);
        }
        if let Some(id) = &options.endpoint
            && endpoint_sent == hosts.len()
        {
            all.options(format!("endpoint={id}"));
        }
        Ok(Target {
            pg: all,
            per_host,
            tls,
            runtime_params,
            connect_timeout,
            require_auth,
        })
    }

    /// Hosts, their pinned addresses, and ports: comma-separated lists, as libpq; `hostaddr`
    /// alone also names the hosts; one port, or one per host.
    fn hosts(&self) -> Result<Hosts, DsnError> {
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
                hostaddrs.push(addr.parse().map_err(|_| {
                    err(&v.origin, format!("hostaddr {addr:?} is not an IP address"))
                })?);
            }
        }
        let (port_list, port_origin) = match self.get("port") {
            Some(v) => (
                v.text.split(',').map(str::to_string).collect(),
                v.origin.clone(),
            ),
            None => (vec![String::new()], String::new()),
        };
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
        Ok(Hosts {
            names: hosts,
            addrs: hostaddrs,
            ports,
        })
    }

    /// The remaining libpq options onto `pg`; returns the DSN's `connect_timeout`, which the
    /// gate applies per host itself.
    fn options(&self, pg: &mut tokio_postgres::Config) -> Result<Option<Duration>, DsnError> {
        let app = self
            .get("application_name")
            .or_else(|| self.get("fallback_application_name"))
            .map_or("schema-gate", |v| v.text.as_str());
        pg.application_name(app);
        // `options` never goes to the server as such: see `options.rs` (settings become runtime
        // parameters; Neon's endpoint is set per host in `resolve`).
        if let Some(v) = self.get("gssencmode") {
            one_of(v, "gssencmode", &[("disable", ()), ("prefer", ())]).map_err(|e| {
                DsnError(format!(
                    "{e} (schema-gate never uses GSSAPI encryption, so it cannot honour require)"
                ))
            })?;
        }
        if let Some(v) = self.get("channel_binding") {
            pg.channel_binding(one_of(
                v,
                "channel_binding",
                &[
                    ("disable", ChannelBinding::Disable),
                    ("prefer", ChannelBinding::Prefer),
                    ("require", ChannelBinding::Require),
                ],
            )?);
        }
        if let Some(v) = self.get("target_session_attrs") {
            pg.target_session_attrs(
                one_of(
                    v,
                    "target_session_attrs",
                    &[
                        ("any", TargetSessionAttrs::Any),
                        ("read-write", TargetSessionAttrs::ReadWrite),
                        ("read-only", TargetSessionAttrs::ReadOnly),
                    ],
                )
                .map_err(|e| {
                    DsnError(format!(
                        "{e} (libpq's primary, standby and prefer-standby are not supported)"
                    ))
                })?,
            );
        }
        if let Some(v) = self.get("load_balance_hosts") {
            pg.load_balance_hosts(one_of(
                v,
                "load_balance_hosts",
                &[
                    ("disable", LoadBalanceHosts::Disable),
                    ("random", LoadBalanceHosts::Random),
                ],
            )?);
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
        match self.get("connect_timeout") {
            // libpq: seconds; 0 or negative means wait forever; values below 2 count as 2.
            Some(v) => match v.text.trim().parse::<i64>() {
                Ok(secs) if secs <= 0 => Ok(None),
                Ok(secs) => Ok(Some(Duration::from_secs(secs.max(2) as u64))),
                Err(_) => Err(err(
                    &v.origin,
                    format!(
                        "connect_timeout {:?} is not a whole number of seconds",
                        v.text
                    ),
                )),
            },
            None => Ok(None),
        }
    }

    /// `sslnegotiation` (libpq 17): `postgres` (the SSLRequest first) or `direct` (TLS at once,
    /// PostgreSQL 17+), which, as in libpq, needs an `sslmode` that never falls back to plaintext.
    fn ssl_negotiation(
        &self,
        pg: &mut tokio_postgres::Config,
        mode: SslMode,
    ) -> Result<(), DsnError> {
        let Some(v) = self.get("sslnegotiation") else {
            return Ok(());
        };
        let negotiation = one_of(
            v,
            "sslnegotiation",
            &[
                ("postgres", SslNegotiation::Postgres),
                ("direct", SslNegotiation::Direct),
            ],
        )?;
        if negotiation == SslNegotiation::Direct
            && matches!(mode, SslMode::Disable | SslMode::Allow | SslMode::Prefer)
        {
            return Err(err(
                &v.origin,
                "sslnegotiation=direct needs sslmode require, verify-ca or verify-full (direct TLS never falls back to plaintext)",
            ));
        }
        pg.ssl_negotiation(negotiation);
        Ok(())
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
            // Without sslrootcert libpq reads ~/.postgresql/root.crt and refuses without one.
            // verify-ca skips the host name: against the platform's public roots it would accept
            // any certificate for any host, so it is refused too.
            SslMode::VerifyCa => match given_roots.or(default_root.map(RootCerts::File)) {
                Some(roots) => Some(roots),
                None => {
                    let origin = self.get("sslmode").map_or("", |v| v.origin.as_str());
                    return Err(err(
                        origin,
                        "sslmode=verify-ca needs sslrootcert (the CA that signed the server's certificate): without it, against public roots, verify-ca (which skips the host name) would accept any certificate for any host. Give sslrootcert=/path/to/ca.pem, or use sslmode=verify-full",
                    ));
                }
            },
            // verify-full checks the host name, so the platform's CA bundle is a safe default.
            SslMode::VerifyFull => Some(
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
}

/// Adds one host (a name, a socket directory, or the default socket) to `config`.
fn add_host(config: &mut tokio_postgres::Config, host: &str, port: u16, addr: Option<IpAddr>) {
    if host.is_empty() {
        config.host_path("/var/run/postgresql");
    } else if host.starts_with('/') {
        config.host_path(host);
    } else {
        config.host(host);
    }
    config.port(port);
    if let Some(ip) = addr {
        config.hostaddr(ip);
    }
}

/// `v`'s value among a parameter's fixed spellings.
fn one_of<T: Copy>(v: &Value, key: &str, options: &[(&str, T)]) -> Result<T, DsnError> {
    options
        .iter()
        .find(|(spelling, _)| *spelling == v.text)
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let accepted: Vec<&str> = options.iter().map(|(s, _)| *s).collect();
            err(
                &v.origin,
                format!("{key} {:?} is not one of {}", v.text, accepted.join(", ")),
            )
        })
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

/// Whether TLS's SNI carries `host`'s name to the server (Neon routes on it): a TLS mode, SNI
/// on, a DNS name (not an IP literal or a socket directory) and no `hostaddr` pinning an address.
fn sni_names(host: &str, addr: Option<IpAddr>, tls: &TlsSettings) -> bool {
    tls.mode != SslMode::Disable
        && tls.sni
        && addr.is_none()
        && !host.is_empty()
        && !host.starts_with('/')
        && host.parse::<IpAddr>().is_err()
}

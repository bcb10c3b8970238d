//! Opening the socket to one host, as libpq does: TCP to `hostaddr` when the DSN pins one, else
//! to each address the host name resolves to in turn; or the Unix socket `DIR/.s.PGSQL.PORT`.
//! The gate opens it itself (and hands it to `Config::connect_raw`) so that every byte the
//! server sends passes the frame cap, and so that it knows the address it reached: the cancel
//! request goes there, without a second name lookup on the way out.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::Host;

/// Where one connection attempt goes: named in every connection error, and where a cancel
/// request is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A TCP host: its name (for the certificate and SNI), its port, and the address reached
    /// (once connected; `hostaddr` pins it beforehand).
    Tcp {
        /// The host as the DSN names it.
        host: String,
        /// The port.
        port: u16,
        /// The address connected to, or pinned by `hostaddr`.
        addr: Option<SocketAddr>,
    },
    /// A Unix-domain socket.
    Unix {
        /// `DIR/.s.PGSQL.PORT`.
        path: PathBuf,
    },
}

impl Place {
    /// The place one host's configuration names.
    pub fn of(config: &tokio_postgres::Config) -> Place {
        let port = config.get_ports().first().copied().unwrap_or(5432);
        match config.get_hosts().first() {
            Some(Host::Tcp(host)) => Place::Tcp {
                host: host.clone(),
                port,
                addr: config
                    .get_hostaddrs()
                    .first()
                    .map(|ip| SocketAddr::new(*ip, port)),
            },
            Some(Host::Unix(dir)) => Place::Unix {
                path: dir.join(format!(".s.PGSQL.{port}")),
            },
            None => Place::Unix {
                path: format!("/var/run/postgresql/.s.PGSQL.{port}").into(),
            },
        }
    }

    /// libpq's wording: `server at "db" (10.0.0.5), port 5432`, `server on socket "…"`.
    pub fn describe(&self) -> String {
        format!("server {}", self.locate())
    }

    /// `at "db" (10.0.0.5), port 5432` or `on socket "…"`.
    pub fn locate(&self) -> String {
        match self {
            Place::Tcp { host, port, addr } => match addr {
                Some(addr) if addr.ip().to_string() != *host => {
                    format!("at \"{host}\" ({}), port {port}", addr.ip())
                }
                _ => format!("at \"{host}\", port {port}"),
            },
            Place::Unix { path } => format!("on socket \"{}\"", path.display()),
        }
    }
}

/// A connected socket, TCP or Unix.
pub enum Socket {
    /// TCP (no Nagle delay: the gate's messages are small and each waits for an answer).
    Tcp(TcpStream),
    /// A Unix-domain socket.
    Unix(UnixStream),
}

/// Connects to `place`, trying each address a host name resolves to in turn; returns the socket
/// and the place with the address actually reached, or each address's failure (at least one).
/// `keepalive`: TCP keepalive idle time.
pub async fn open(
    place: &Place,
    keepalive: Option<std::time::Duration>,
) -> Result<(Socket, Place), Vec<(Place, io::Error)>> {
    let (host, port, pinned) = match place {
        Place::Unix { path } => {
            return match UnixStream::connect(path).await {
                Ok(stream) => Ok((Socket::Unix(stream), place.clone())),
                Err(e) => Err(vec![(place.clone(), e)]),
            };
        }
        Place::Tcp { host, port, addr } => (host, *port, *addr),
    };
    let addrs: Vec<SocketAddr> = match pinned {
        Some(addr) => vec![addr],
        None => match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(addrs) => addrs.collect(),
            Err(e) => return Err(vec![(place.clone(), e)]),
        },
    };
    let mut failures = Vec::new();
    for addr in addrs {
        let tried = Place::Tcp {
            host: host.clone(),
            port,
            addr: Some(addr),
        };
        match tcp(addr, keepalive).await {
            Ok(stream) => return Ok((Socket::Tcp(stream), tried)),
            Err(e) => failures.push((tried, e)),
        }
    }
    if failures.is_empty() {
        let none = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
        failures.push((place.clone(), none));
    }
    Err(failures)
}

/// One TCP connection, without Nagle's delay, with keepalive as the DSN asks.
async fn tcp(addr: SocketAddr, keepalive: Option<std::time::Duration>) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let socket = socket2::SockRef::from(&stream);
    match keepalive {
        Some(idle) => socket.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(idle))?,
        None => socket.set_keepalive(false)?,
    }
    Ok(stream)
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            Socket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Socket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_named_as_libpq_names_them() {
        let mut config = tokio_postgres::Config::new();
        config.host("db.example.com").port(6543);
        assert_eq!(
            Place::of(&config).describe(),
            "server at \"db.example.com\", port 6543"
        );
        config.hostaddr("10.0.0.5".parse().expect("ip"));
        assert_eq!(
            Place::of(&config).describe(),
            "server at \"db.example.com\" (10.0.0.5), port 6543"
        );
        let mut unix = tokio_postgres::Config::new();
        unix.host_path("/run/pg").port(5433);
        assert_eq!(
            Place::of(&unix).describe(),
            "server on socket \"/run/pg/.s.PGSQL.5433\""
        );
    }
}

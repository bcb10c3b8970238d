//! A scripted fake PostgreSQL server for what no real server does on demand: hostile messages
//! (oversized lengths, forged error text), a query that never ends with a cancel that is never
//! answered. It speaks just enough of the protocol (SSLRequest, startup, trust authentication,
//! simple query), optionally inside TLS (rustls, with the certificates of [`super::certs`]).

use super::*;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// What a [`PgWire`] does once a client has sent its startup message.
#[derive(Clone, Debug)]
pub enum Script {
    /// An authentication message (`R`) whose header claims 0x7FFFFFF0 bytes, then `MiB` MiB of
    /// filler, then silence.
    HugeAuth(usize),
    /// A normal start-up; the query's answer is a `DataRow` claiming 300 MB, then `MiB` MiB of
    /// filler, then silence.
    HugeRow(usize),
    /// A FATAL ErrorResponse with this message, then close.
    Error(String),
    /// A normal start-up; the query is never answered, and a cancel request's connection is
    /// read and held open, never closed.
    Stall,
    /// AuthenticationCleartextPassword; counts answers holding [`PASSWORD`] in
    /// [`PgWire::passwords`], then refuses the login (a MITM harvesting the password).
    AskCleartext,
}

/// A fake server on a loopback port; stops on drop.
pub struct PgWire {
    pub port: u16,
    /// Queries received (simple `Q` messages).
    pub queries: Arc<AtomicUsize>,
    /// Cancel requests received.
    pub cancels: Arc<AtomicUsize>,
    /// Password messages received that held [`PASSWORD`] ([`Script::AskCleartext`]).
    pub passwords: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl PgWire {
    /// Serves `script` in plaintext (answering `N` to an SSLRequest).
    pub fn start(script: Script) -> PgWire {
        PgWire::start_with(script, None)
    }

    /// Serves `script` inside TLS (answering `S` to an SSLRequest) with these server files.
    pub fn start_tls(script: Script, cert: &Path, key: &Path) -> PgWire {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .expect("cert")
            .collect::<Result<_, _>>()
            .expect("cert");
        let key = PrivateKeyDer::from_pem_file(key).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
        PgWire::start_with(script, Some(Arc::new(config)))
    }

    fn start_with(script: Script, tls: Option<Arc<rustls::ServerConfig>>) -> PgWire {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let (queries, cancels) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let passwords = Arc::new(AtomicUsize::new(0));
        let server = PgWire {
            port,
            queries: queries.clone(),
            cancels: cancels.clone(),
            passwords: passwords.clone(),
            stop: stop.clone(),
        };
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (script, tls) = (script.clone(), tls.clone());
                let counters = (queries.clone(), cancels.clone(), passwords.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &script, tls, &counters);
                });
            }
        });
        server
    }

    /// `postgres://gate:PASSWORD@127.0.0.1:port/app` plus `extra` query parameters.
    pub fn url(&self, extra: &str) -> String {
        let sep = if extra.is_empty() { "" } else { "?" };
        format!(
            "postgres://gate:{PASSWORD}@127.0.0.1:{}/app{sep}{extra}",
            self.port
        )
    }
}

impl Drop for PgWire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One connection: the SSLRequest (or cancel request), the startup message, then the script.
fn serve(
    mut stream: std::net::TcpStream,
    script: &Script,
    tls: Option<Arc<rustls::ServerConfig>>,
    (queries, cancels, passwords): &(Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>),
) -> std::io::Result<()> {
    let mut body = read_packet(&mut stream)?;
    if code(&body) == 80_877_102 {
        cancels.fetch_add(1, Ordering::SeqCst);
        // Held open, never closed: a pooler that never answers the cancel.
        std::thread::sleep(Duration::from_secs(60));
        return Ok(());
    }
    if code(&body) == 80_877_103 {
        match tls {
            Some(config) => {
                stream.write_all(b"S")?;
                let connection =
                    rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
                let mut tls = rustls::StreamOwned::new(connection, stream);
                read_packet(&mut tls)?;
                return play(&mut tls, script, queries, passwords);
            }
            None => stream.write_all(b"N")?,
        }
        body = read_packet(&mut stream)?;
    }
    let _ = body;
    play(&mut stream, script, queries, passwords)
}

/// The script, after the startup message.
fn play(
    stream: &mut impl ReadWrite,
    script: &Script,
    queries: &AtomicUsize,
    passwords: &AtomicUsize,
) -> std::io::Result<()> {
    match script {
        Script::AskCleartext => {
            stream.write_all(&message(b'R', &3u32.to_be_bytes()))?;
            let mut header = [0u8; 5];
            stream.read_exact(&mut header)?;
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            let mut body = vec![0u8; len.saturating_sub(4).min(4096)];
            stream.read_exact(&mut body)?;
            if String::from_utf8_lossy(&body).contains(PASSWORD) {
                passwords.fetch_add(1, Ordering::SeqCst);
            }
            stream.write_all(&error_response("password authentication failed"))
        }
        Script::HugeAuth(mib) => {
            stream.write_all(&[b'R', 0x7f, 0xff, 0xff, 0xf0])?;
            filler(stream, *mib)
        }
        Script::Error(text) => stream.write_all(&error_response(text)),
        Script::HugeRow(_) | Script::Stall => {
            stream.write_all(&ready_for_query())?;
            // The query.
            let mut header = [0u8; 5];
            stream.read_exact(&mut header)?;
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            let mut query = vec![0u8; len.saturating_sub(4)];
            stream.read_exact(&mut query)?;
            queries.fetch_add(1, Ordering::SeqCst);
            if let Script::HugeRow(mib) = script {
                stream.write_all(&row_description())?;
                stream.write_all(&[b'D', 0x11, 0xe1, 0xa3, 0x00])?; // 300,000,000 bytes
                filler(stream, *mib)?;
            }
            std::thread::sleep(Duration::from_secs(60));
            Ok(())
        }
    }
}

/// Read + Write, for plaintext and TLS alike.
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// `mib` MiB of zeros, as fast as the client takes them; then silence for a minute.
fn filler(stream: &mut impl Write, mib: usize) -> std::io::Result<()> {
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..mib {
        stream.write_all(&chunk)?;
    }
    stream.flush()?;
    std::thread::sleep(Duration::from_secs(60));
    Ok(())
}

fn read_packet(stream: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    let mut body = vec![0u8; len.saturating_sub(4).min(1 << 16)];
    stream.read_exact(&mut body)?;
    Ok(body)
}

fn code(body: &[u8]) -> u32 {
    body.get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// AuthenticationOk, BackendKeyData, ReadyForQuery: a trust login.
fn ready_for_query() -> Vec<u8> {
    let mut out = message(b'R', &0u32.to_be_bytes());
    let mut key = 4242u32.to_be_bytes().to_vec();
    key.extend_from_slice(&777u32.to_be_bytes());
    out.extend(message(b'K', &key));
    out.extend(message(b'Z', b"I"));
    out
}

/// A RowDescription of the check's three columns (text format).
fn row_description() -> Vec<u8> {
    let mut body = 3u16.to_be_bytes().to_vec();
    for name in ["version_id", "id", "is_applied"] {
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(&[0; 6]); // table oid, column number
        body.extend_from_slice(&25u32.to_be_bytes()); // text
        body.extend_from_slice(&(-1i16).to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0u16.to_be_bytes());
    }
    message(b'T', &body)
}

/// A FATAL ErrorResponse (SQLSTATE 28000, a rejection) with `text` as its message.
pub fn error_response(text: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (code, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "28000"),
        (b'M', text),
    ] {
        fields.push(code);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    message(b'E', &fields)
}

//! A fake server for network faults a real one does not produce on demand.

use super::*;
use std::io::Read;
use std::time::Duration;

/// How a [`FakeServer`] misbehaves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Accepts and never answers.
    Silent,
    /// Accepts and closes at once.
    CloseAtOnce,
    /// Answers the startup message like a PostgreSQL that is still starting (SQLSTATE 57P03).
    StartingUp,
}

/// A TCP server on loopback that injects one network fault (what a real server does only by
/// accident). Stops on drop.
pub struct FakeServer {
    pub port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(fault: Fault) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                match fault {
                    Fault::Silent => held.push(stream),
                    Fault::CloseAtOnce => drop(stream),
                    Fault::StartingUp => {
                        std::thread::spawn(move || {
                            let _ = answer_starting_up(&mut stream);
                        });
                    }
                }
            }
        });
        FakeServer {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }
}

impl FakeServer {
    /// How many connections it has accepted: how many attempts a gate has made.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Reads an optional SSLRequest (answers 'N') and the startup message, then sends the FATAL
/// ErrorResponse PostgreSQL sends while it starts up, and closes.
fn answer_starting_up(stream: &mut std::net::TcpStream) -> std::io::Result<()> {
    use std::io::Write;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    loop {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        stream.read_exact(&mut body)?;
        if body.len() >= 4 && body[..4] == 80_877_103u32.to_be_bytes() {
            stream.write_all(b"N")?; // no TLS here; the client goes on in plain text
            continue;
        }
        break;
    }
    let mut fields = Vec::new();
    for (code, text) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "57P03"),
        (b'M', "the database system is starting up"),
    ] {
        fields.push(code);
        fields.extend_from_slice(text.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&((fields.len() + 4) as u32).to_be_bytes());
    message.extend_from_slice(&fields);
    stream.write_all(&message)
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

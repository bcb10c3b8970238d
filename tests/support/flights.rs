//! A TCP proxy that counts round trips: every time the server speaks after the client did is
//! one flight back. In plaintext it also reads the client's messages (startup, then one type
//! byte per message), so a test can say exactly what the gate sent.

use super::*;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

/// What a [`FlightCounter`] saw, over every connection.
#[derive(Debug, Default, Clone)]
pub struct Flights {
    /// Client connections.
    pub connections: usize,
    /// Server flights that answered a client flight: round trips.
    pub round_trips: usize,
    /// The client's messages in order: `SSLRequest`, `startup`, then type bytes (`p`, `Q`, `X`…).
    pub sent: Vec<String>,
    /// Every byte each client connection sent, in order (inside TLS: the TLS records).
    pub client_bytes: Vec<Vec<u8>>,
}

impl Flights {
    /// How many TLS ClientHello messages connection `id` sent after its 8-byte SSLRequest (a
    /// second one answers a HelloRetryRequest: a whole round trip more).
    pub fn client_hellos(&self, id: usize) -> usize {
        let bytes = self
            .client_bytes
            .get(id)
            .map_or(&[][..], |b| b.get(8..).unwrap_or(&[]));
        let mut at = 0;
        let mut hellos = 0;
        // TLS records: type (22 = handshake), version (2), length (2), then the payload, whose
        // first byte is the handshake type (1 = ClientHello). rustls sends each hello alone.
        while at + 5 <= bytes.len() {
            let len = usize::from(u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]));
            if bytes[at] == 22 && bytes.get(at + 5) == Some(&1) {
                hellos += 1;
            }
            at += 5 + len;
        }
        hellos
    }

    /// How many of the client's messages were `what`.
    pub fn count(&self, what: &str) -> usize {
        self.sent.iter().filter(|m| *m == what).count()
    }
}

#[derive(Default)]
struct State {
    flights: Flights,
    /// Whether the client spoke last on its connection (by connection number).
    client_last: Vec<bool>,
}

/// A proxy from a loopback port to `127.0.0.1:upstream`. Stops taking connections on drop.
pub struct FlightCounter {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl FlightCounter {
    pub fn start(upstream: u16) -> FlightCounter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let id = {
                    let mut s = shared.lock().expect("state");
                    s.flights.connections += 1;
                    s.client_last.push(false);
                    s.flights.client_bytes.push(Vec::new());
                    s.client_last.len() - 1
                };
                let (c2, s2) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let up = shared.clone();
                std::thread::spawn(move || pump(client, server, &up, id, true));
                let down = shared.clone();
                std::thread::spawn(move || pump(s2, c2, &down, id, false));
            }
        });
        FlightCounter { port, state }
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Flights {
        self.state.lock().expect("state").flights.clone()
    }
}

/// Copies `from` → `to`, counting flights; `upstream`: these are the client's bytes.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    state: &Mutex<State>,
    id: usize,
    upstream: bool,
) {
    let mut reader = ClientMessages::default();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        {
            let mut s = state.lock().expect("state");
            let client_last = s.client_last[id];
            if !upstream && client_last {
                s.flights.round_trips += 1;
            }
            s.client_last[id] = upstream;
            if upstream {
                let sent = reader.feed(&buf[..n]);
                s.flights.sent.extend(sent);
                s.flights.client_bytes[id].extend_from_slice(&buf[..n]);
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// The client's side of the protocol in plaintext: untagged SSLRequest/startup first, then
/// tagged messages. (Inside TLS this reads nonsense; tests read `sent` for plaintext only.)
#[derive(Default)]
struct ClientMessages {
    buffer: Vec<u8>,
    started: bool,
}

impl ClientMessages {
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            let (tagged, at) = if self.started { (true, 1) } else { (false, 0) };
            if self.buffer.len() < at + 4 {
                return out;
            }
            let len = u32::from_be_bytes([
                self.buffer[at],
                self.buffer[at + 1],
                self.buffer[at + 2],
                self.buffer[at + 3],
            ]) as usize;
            if self.buffer.len() < at + len {
                return out;
            }
            let message: Vec<u8> = self.buffer.drain(..at + len).collect();
            if tagged {
                out.push((message[0] as char).to_string());
            } else if message.get(4..8) == Some(&80_877_103u32.to_be_bytes()[..]) {
                out.push("SSLRequest".to_string());
            } else {
                out.push("startup".to_string());
                self.started = true;
            }
        }
    }
}

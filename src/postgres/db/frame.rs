//! A cap on every message the server sends: [`Capped`] watches the backend's message headers as
//! the bytes pass and fails the read as soon as a header claims more than [`MAX_MESSAGE`].
//!
//! tokio-postgres's codec has no frame cap: it buffers whatever length a header claims, so a
//! hostile server, or a wrong endpoint under the default `sslmode=prefer` (an HTTP server's
//! `HTTP/1.1` reads as a message of 1.4 GB), made the gate allocate gigabytes. The gate opens
//! the socket itself and hands tokio-postgres a capped stream instead:
//!
//! - plaintext: on the raw socket. With `prefer`/`require` the first byte read is the server's
//!   one-byte answer to the SSLRequest, not a message: after `S` the rest is TLS records
//!   (rustls bounds those) and the cap moves inside TLS; after anything else messages follow.
//! - TLS: `crate::postgres::tls` wraps the decrypted stream in a [`Capped`] too.
//!
//! Nothing is buffered here: the header is checked in the bytes the caller's buffer already
//! holds, so a violation costs at most one read.
//!
//! The cap bounds one message, not how many: tokio-postgres keeps every notice of the login and
//! every parameter name it is told, so floods of small messages are bounded too ([`MAX_LOGIN`]
//! before the first ReadyForQuery, [`MAX_STATUS`] of ParameterStatus between two).

use crate::postgres::dsn::{AuthMethod, RequireAuth};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The largest backend message the gate accepts, header included. The gate reads short rows
/// (three or four small columns), errors and the start-up messages: nothing near this.
pub const MAX_MESSAGE: u32 = 1 << 20;

/// The most the server may send before its first ReadyForQuery (authentication, parameters,
/// notices, the key data), headers included: room for one message of [`MAX_MESSAGE`] and a
/// login (a real one is under 1 KiB). tokio-postgres keeps every notice and parameter of the
/// login until it completes, so this bounds what a wrong endpoint or a MITM can make it hold
/// by flooding small messages.
pub const MAX_LOGIN: u64 = 2 << 20;

/// The most ParameterStatus bytes the server may send between two ReadyForQuery messages once
/// logged in. tokio-postgres keeps every parameter name it is told (a map for the connection's
/// life); a real server reports a changed parameter or two, if any, per check.
pub const MAX_STATUS: u64 = 256 << 10;

/// What the next bytes from the server are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Protocol messages: a type byte, a 4-byte length (counting itself), the body.
    Messages,
    /// The one-byte answer to an SSLRequest; `S` means TLS follows, anything else messages.
    SslAnswer,
    /// TLS records, not messages (the cap applies inside TLS).
    Passthrough,
}

/// A header that claimed more than [`MAX_MESSAGE`]: the server is not PostgreSQL, or hostile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageTooLarge {
    /// The message's type byte.
    pub tag: u8,
    /// The length its header claimed.
    pub claimed: u32,
}

impl std::fmt::Display for MessageTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = if self.tag.is_ascii_graphic() {
            format!("{:?}", self.tag as char)
        } else {
            format!("0x{:02x}", self.tag)
        };
        write!(
            f,
            "the server sent a message (type {tag}) claiming {} bytes, more than the {} KiB the gate accepts: not a PostgreSQL server (a wrong port?), or a hostile one",
            self.claimed,
            MAX_MESSAGE / 1024
        )
    }
}

impl std::error::Error for MessageTooLarge {}

/// More small messages than a PostgreSQL server sends: a flood, each message within
/// [`MAX_MESSAGE`], that tokio-postgres would keep (see [`MAX_LOGIN`], [`MAX_STATUS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    /// What was flooded.
    pub what: &'static str,
    /// The budget it went over, in bytes.
    pub budget: u64,
}

impl std::fmt::Display for Flood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server sent more than {} KiB of {}: not a PostgreSQL server (a wrong port?), or a hostile one",
            self.budget / 1024,
            self.what
        )
    }
}

impl std::error::Error for Flood {}

/// An authentication request the gate will not answer (`require_auth`, or the password in clear
/// text to a TCP server the gate cannot tell is the server: unencrypted, or TLS whose certificate
/// was not verified): refused before tokio-postgres sees it, so nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthRefused {
    /// What the server asked for.
    pub method: AuthMethod,
    /// Whether only the connection's being unauthenticated (plaintext, or TLS with an unverified
    /// certificate) made it a refusal.
    pub cleartext: bool,
}

impl std::fmt::Display for AuthRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.method, self.cleartext) {
            (_, true) => f.write_str(
                "the server asked for the password in clear text over a connection that does not \
                 prove it is the server (unencrypted, or TLS whose certificate was not verified): \
                 refused, the password was not sent (anyone between the gate and the server could \
                 answer and read it; use sslmode=verify-full, or sslrootcert with the server's CA, \
                 or allow it with require_auth=password)",
            ),
            (AuthMethod::None, false) => f.write_str(
                "the server did not ask the gate to authenticate, which require_auth does not \
                 allow (it does not list none): refused",
            ),
            (method, false) => write!(
                f,
                "the server asked for {} authentication, which require_auth does not allow: refused",
                method.name()
            ),
        }
    }
}

impl std::error::Error for AuthRefused {}

/// Whether `error`'s chain holds a [`MessageTooLarge`] or a [`Flood`]: the server is not
/// PostgreSQL, or hostile.
pub fn is_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    in_chain(error, |e| e.is::<MessageTooLarge>() || e.is::<Flood>())
}

/// Whether `error`'s chain holds an [`AuthRefused`]: a setting, not the network, stopped the
/// login, and waiting will not change it.
pub fn is_auth_refusal(error: &(dyn std::error::Error + 'static)) -> bool {
    in_chain(error, |e| e.is::<AuthRefused>())
}

/// Whether `error`'s chain holds an [`AuthRefused`] for the password in clear text that only the
/// connection's being unauthenticated made a refusal: with `sslmode=allow`, a plaintext
/// connection the gate turned away, so TLS is tried next, as after a server's own refusal.
pub fn is_cleartext_refusal(error: &(dyn std::error::Error + 'static)) -> bool {
    in_chain(error, |e| {
        e.downcast_ref::<AuthRefused>()
            .is_some_and(|refused| refused.cleartext)
    })
}

/// Whether `found` holds for an error of `error`'s chain (or the error an `io::Error` wraps).
fn in_chain(
    error: &(dyn std::error::Error + 'static),
    found: impl Fn(&(dyn std::error::Error + 'static)) -> bool,
) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if found(e) {
            return true;
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref())
            && found(inner)
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// Why [`Capped`] failed a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    TooLarge(MessageTooLarge),
    Flood(Flood),
    Auth(AuthRefused),
}

impl Refusal {
    fn into_io(self) -> io::Error {
        match self {
            Refusal::TooLarge(e) => io::Error::new(io::ErrorKind::InvalidData, e),
            Refusal::Flood(e) => io::Error::new(io::ErrorKind::InvalidData, e),
            Refusal::Auth(e) => io::Error::new(io::ErrorKind::PermissionDenied, e),
        }
    }
}

/// A stream whose reads fail once the server claims a message larger than [`MAX_MESSAGE`].
pub struct Capped<S> {
    inner: S,
    framing: Framing,
    /// Header bytes seen so far (at a message boundary).
    header: [u8; 5],
    have: usize,
    /// Body bytes of the current message still to pass.
    remaining: u64,
    /// Whether a ReadyForQuery has passed (the login is over).
    logged_in: bool,
    /// Bytes of the login so far (until the first ReadyForQuery), at most [`MAX_LOGIN`].
    login: u64,
    /// ParameterStatus bytes since the last ReadyForQuery, at most [`MAX_STATUS`].
    status: u64,
    /// What the caller wants to know about the login, if anything, and what it may use.
    watch: Option<Arc<Watch>>,
    /// Whether these are the messages inside TLS with the server's certificate verified (only
    /// there may the password travel in clear text: unverified TLS ends wherever a MITM wants).
    verified_tls: bool,
    /// Bytes of the current authentication request's code read so far (`Some` while the
    /// four are not all in).
    auth_have: Option<usize>,
    auth_code: [u8; 4],
    /// Whether the server has asked for a method (so AuthenticationOk ends an exchange).
    asked: bool,
    /// The refusal that failed a read: every later read fails with it too. The failed read's
    /// bytes were taken from the stream and dropped, so what follows is out of step with the
    /// message boundaries; a caller that read on would parse the next bytes as the refused
    /// message's rest (four bytes `0 0 0 3` after a refused header would be the code of a
    /// clear-text request the watcher never saw).
    refused: Option<Refusal>,
}

/// How far a connection got, as the server's messages show it: what an error message needs
/// (a pooler that took the login and never became ready has no server) and the cancel (a
/// plaintext session's cancel goes plaintext).
#[derive(Debug, Default)]
pub struct Watch {
    /// The server answered the SSLRequest with `S`.
    pub encrypted: AtomicBool,
    /// An authentication message arrived: the server (or pooler) took up the login.
    pub authenticating: AtomicBool,
    /// ReadyForQuery arrived.
    pub ready: AtomicBool,
    /// What the login may use.
    pub rule: AuthRule,
}

/// Which authentication requests a connection answers: `require_auth`, and whether the
/// connection is local (a Unix socket, where the gate's own rule about clear text does not
/// apply: no one is between the gate and the server).
#[derive(Debug, Default, Clone, Copy)]
pub struct AuthRule {
    /// The DSN's `require_auth`.
    pub require: RequireAuth,
    /// Over a Unix socket.
    pub local: bool,
}

impl Watch {
    /// A watch for a login under `rule`.
    pub fn new(rule: AuthRule) -> Watch {
        Watch {
            rule,
            ..Watch::default()
        }
    }
}

impl<S> Capped<S> {
    /// Wraps `inner`, whose next bytes are `framing`.
    pub fn new(inner: S, framing: Framing) -> Capped<S> {
        Capped {
            inner,
            framing,
            header: [0; 5],
            have: 0,
            remaining: 0,
            logged_in: false,
            login: 0,
            status: 0,
            watch: None,
            verified_tls: false,
            auth_have: None,
            auth_code: [0; 4],
            asked: false,
            refused: None,
        }
    }

    /// Like [`Capped::new`], telling `watch` how far the login gets.
    pub fn watched(inner: S, framing: Framing, watch: Option<Arc<Watch>>) -> Capped<S> {
        Capped {
            watch,
            ..Capped::new(inner, framing)
        }
    }

    /// The messages inside TLS (`inner` is the decrypted stream), telling `watch` how far the
    /// login gets; `verified`: the server's certificate was checked (a chain to trusted roots),
    /// so the TLS session ends at the server, not at whoever answered.
    pub fn inside_tls(inner: S, watch: Option<Arc<Watch>>, verified: bool) -> Capped<S> {
        Capped {
            verified_tls: verified,
            ..Capped::watched(inner, Framing::Messages, watch)
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Follows the message boundaries through `bytes`, just read.
    fn scan(&mut self, mut bytes: &[u8]) -> Result<(), Refusal> {
        while !bytes.is_empty() {
            match self.framing {
                Framing::Passthrough => return Ok(()),
                Framing::SslAnswer => {
                    self.framing = if bytes[0] == b'S' {
                        self.note(|w| &w.encrypted);
                        Framing::Passthrough
                    } else {
                        Framing::Messages
                    };
                    bytes = &bytes[1..];
                }
                Framing::Messages if self.remaining > 0 && self.auth_have.is_some() => {
                    let have = self.auth_have.unwrap_or(0);
                    let take = bytes.len().min(4 - have);
                    self.auth_code[have..have + take].copy_from_slice(&bytes[..take]);
                    self.remaining -= take as u64;
                    bytes = &bytes[take..];
                    if have + take == 4 {
                        self.auth_have = None;
                        self.authentication(u32::from_be_bytes(self.auth_code))?;
                    } else {
                        self.auth_have = Some(have + take);
                    }
                }
                Framing::Messages if self.remaining > 0 => {
                    let skip = bytes.len().min(self.remaining as usize);
                    self.remaining -= skip as u64;
                    bytes = &bytes[skip..];
                }
                Framing::Messages => {
                    let take = bytes.len().min(5 - self.have);
                    self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
                    self.have += take;
                    bytes = &bytes[take..];
                    if self.have == 5 {
                        self.have = 0;
                        let [tag, a, b, c, d] = self.header;
                        let claimed = u32::from_be_bytes([a, b, c, d]);
                        if claimed > MAX_MESSAGE - 1 {
                            return Err(Refusal::TooLarge(MessageTooLarge { tag, claimed }));
                        }
                        // A length below 4 is the codec's own error; pass it on.
                        self.remaining = u64::from(claimed.saturating_sub(4));
                        self.budget(tag, 1 + u64::from(claimed))?;
                        match tag {
                            b'R' => {
                                self.note(|w| &w.authenticating);
                                if self.remaining >= 4 {
                                    self.auth_have = Some(0);
                                }
                            }
                            b'Z' => self.note(|w| &w.ready),
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Counts a message of type `tag` and `size` bytes against the login's budget (until the
    /// first ReadyForQuery) or, after it, ParameterStatus messages against theirs.
    fn budget(&mut self, tag: u8, size: u64) -> Result<(), Refusal> {
        if !self.logged_in {
            self.login += size;
            if self.login > MAX_LOGIN {
                return Err(Refusal::Flood(Flood {
                    what: "messages before it was ready (authentication, parameters, notices)",
                    budget: MAX_LOGIN,
                }));
            }
        } else if tag == b'S' {
            self.status += size;
            if self.status > MAX_STATUS {
                return Err(Refusal::Flood(Flood {
                    what: "parameter status messages",
                    budget: MAX_STATUS,
                }));
            }
        }
        if tag == b'Z' {
            self.logged_in = true;
            self.status = 0;
        }
        Ok(())
    }

    /// An authentication request with `code`: refused when the rule does not allow its method
    /// (see [`AuthRefused`]), before the caller reads it.
    fn authentication(&mut self, code: u32) -> Result<(), Refusal> {
        let Some(method) = AuthMethod::of_request(code) else {
            return Ok(());
        };
        if method == AuthMethod::None && self.asked {
            return Ok(()); // the end of an exchange, not a login without one
        }
        self.asked = true;
        let rule = self.watch.as_ref().map(|w| w.rule).unwrap_or_default();
        if !rule.require.allows(method) {
            return Err(Refusal::Auth(AuthRefused {
                method,
                cleartext: false,
            }));
        }
        if method == AuthMethod::Password
            && !self.verified_tls
            && !rule.local
            && !rule.require.names(AuthMethod::Password)
        {
            return Err(Refusal::Auth(AuthRefused {
                method,
                cleartext: true,
            }));
        }
        Ok(())
    }

    /// Sets one of the watch's flags.
    fn note(&self, flag: impl Fn(&Watch) -> &AtomicBool) {
        if let Some(watch) = &self.watch {
            flag(watch).store(true, Ordering::Relaxed);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(refusal) = self.refused {
            return Poll::Ready(Err(refusal.into_io()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let this = &mut *self;
        match this.scan(&buf.filled()[before..]) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(refusal) => {
                buf.set_filled(before);
                this.refused = Some(refusal);
                Poll::Ready(Err(refusal.into_io()))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(tag: u8, body: usize) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body as u32 + 4).to_be_bytes());
        m.extend(std::iter::repeat_n(b'x', body));
        m
    }

    /// Feeds `bytes` in `chunk`-sized reads; the first oversized header, if any.
    fn feed(framing: Framing, bytes: &[u8], chunk: usize) -> Result<(), MessageTooLarge> {
        feed_all(framing, bytes, chunk).map_err(|refusal| match refusal {
            Refusal::TooLarge(e) => e,
            Refusal::Flood(f) => panic!("a flood, not an oversized header: {f}"),
            Refusal::Auth(a) => panic!("an authentication refusal, not an oversized header: {a}"),
        })
    }

    /// An authentication request (`R`) with `code` and `extra` body bytes after it.
    fn request(code: u32, extra: usize) -> Vec<u8> {
        let mut m = vec![b'R'];
        m.extend_from_slice(&(8 + extra as u32).to_be_bytes());
        m.extend_from_slice(&code.to_be_bytes());
        m.extend(std::iter::repeat_n(b'x', extra));
        m
    }

    /// Feeds `bytes` in `chunk`-sized reads to a login under `require_auth` (`None`: unset),
    /// plaintext TCP unless `tls` (`Some(verified)`) or `local`; the refusal, if any.
    fn login(
        bytes: &[u8],
        chunk: usize,
        require_auth: Option<&str>,
        tls: Option<bool>,
        local: bool,
    ) -> Option<AuthRefused> {
        let require = require_auth.map_or_else(RequireAuth::default, |r| {
            RequireAuth::parse(r).expect("a valid require_auth")
        });
        let watch = Some(Arc::new(Watch::new(AuthRule { require, local })));
        let mut capped = match tls {
            Some(verified) => Capped::inside_tls((), watch, verified),
            None => Capped::watched((), Framing::Messages, watch),
        };
        match bytes.chunks(chunk).try_for_each(|c| capped.scan(c)) {
            Ok(()) => None,
            Err(Refusal::Auth(a)) => Some(a),
            Err(other) => panic!("not an authentication refusal: {other:?}"),
        }
    }

    #[test]
    fn the_password_never_goes_in_clear_over_plaintext_tcp_unless_require_auth_names_it() {
        let mut clear = request(3, 0);
        clear.extend(message(b'Z', 1));
        for chunk in [1, 2, 3, 5, 6, 7, 8, 100] {
            assert_eq!(
                login(&clear, chunk, None, None, false),
                Some(AuthRefused {
                    method: AuthMethod::Password,
                    cleartext: true
                }),
                "{chunk}"
            );
            // Not named, merely not forbidden: still refused.
            assert!(login(&clear, chunk, Some("!md5"), None, false).is_some());
            assert_eq!(
                login(&clear, chunk, None, Some(true), false),
                None,
                "inside TLS, the certificate verified"
            );
            assert!(
                login(&clear, chunk, None, Some(false), false).is_some(),
                "inside TLS with a certificate nobody checked: a MITM's, perhaps"
            );
            assert_eq!(
                login(&clear, chunk, Some("password"), Some(false), false),
                None
            );
            assert_eq!(
                login(&clear, chunk, None, None, true),
                None,
                "a Unix socket"
            );
            assert_eq!(
                login(&clear, chunk, Some("password"), None, false),
                None,
                "allowed by name"
            );
            assert_eq!(
                login(&clear, chunk, Some("scram-sha-256,password"), None, false),
                None
            );
        }
        let refusal = login(&clear, 100, None, None, false).expect("refused");
        assert!(
            refusal.to_string().contains("require_auth=password"),
            "{refusal}"
        );
    }

    #[test]
    fn require_auth_is_honoured_as_libpq_honours_it() {
        let md5 = request(5, 4);
        let scram = {
            let mut m = request(10, 14); // "SCRAM-SHA-256\0"
            m.extend(request(11, 20));
            m.extend(request(12, 20));
            m.extend(request(0, 0));
            m
        };
        let trust = request(0, 0);
        let refused = |method| {
            Some(AuthRefused {
                method,
                cleartext: false,
            })
        };
        for chunk in [1, 3, 9, 100] {
            assert_eq!(
                login(&md5, chunk, None, None, false),
                None,
                "md5 by default"
            );
            assert_eq!(login(&scram, chunk, None, None, false), None);
            assert_eq!(
                login(&trust, chunk, None, None, false),
                None,
                "trust by default"
            );
            assert_eq!(
                login(&md5, chunk, Some("scram-sha-256"), None, false),
                refused(AuthMethod::Md5)
            );
            assert_eq!(
                login(&scram, chunk, Some("scram-sha-256"), None, false),
                None,
                "the exchange's own AuthenticationOk is no login without authentication"
            );
            assert_eq!(
                login(&trust, chunk, Some("scram-sha-256"), Some(true), false),
                refused(AuthMethod::None)
            );
            assert_eq!(
                login(&trust, chunk, Some("!none"), None, false),
                refused(AuthMethod::None)
            );
            assert_eq!(login(&trust, chunk, Some("none"), None, false), None);
            assert_eq!(
                login(&md5, chunk, Some("!md5"), Some(true), true),
                refused(AuthMethod::Md5)
            );
        }
    }

    /// Feeds `bytes` in `chunk`-sized reads; the first refusal, if any.
    fn feed_all(framing: Framing, bytes: &[u8], chunk: usize) -> Result<(), Refusal> {
        let mut capped = Capped::new((), framing);
        bytes.chunks(chunk).try_for_each(|c| capped.scan(c))
    }

    #[test]
    fn floods_of_small_messages_are_bounded() {
        let notice = message(b'N', 60_000);
        let mut login = message(b'R', 4);
        login.extend(notice.repeat(40));
        assert!(matches!(
            feed_all(Framing::Messages, &login, 4096),
            Err(Refusal::Flood(Flood {
                budget: MAX_LOGIN,
                ..
            }))
        ));
        // After the login, notices pass (tokio-postgres keeps none), parameters are budgeted
        // between two ReadyForQuery messages.
        let mut session = message(b'R', 4);
        session.extend(message(b'Z', 1));
        session.extend(notice.repeat(40));
        let status = message(b'S', 60_000);
        for _ in 0..3 {
            session.extend(status.repeat(4));
            session.extend(message(b'Z', 1));
        }
        assert_eq!(feed_all(Framing::Messages, &session, 4096), Ok(()));
        session.extend(status.repeat(5));
        assert!(matches!(
            feed_all(Framing::Messages, &session, 4096),
            Err(Refusal::Flood(Flood {
                budget: MAX_STATUS,
                ..
            }))
        ));
    }

    #[test]
    fn messages_up_to_the_cap_pass_in_any_split() {
        let mut stream = message(b'R', 4);
        stream.extend(message(b'D', (MAX_MESSAGE - 5) as usize));
        stream.extend(message(b'Z', 1));
        for chunk in [1, 2, 3, 5, 7, 4096, stream.len()] {
            assert_eq!(feed(Framing::Messages, &stream, chunk), Ok(()), "{chunk}");
        }
    }

    #[test]
    fn a_header_over_the_cap_fails_however_it_is_split() {
        let mut stream = message(b'Z', 1);
        stream.extend([b'R', 0x7f, 0xff, 0xff, 0xf0]);
        for chunk in [1, 2, 3, 6, 100] {
            assert_eq!(
                feed(Framing::Messages, &stream, chunk),
                Err(MessageTooLarge {
                    tag: b'R',
                    claimed: 0x7fff_fff0
                }),
                "{chunk}"
            );
        }
        assert!(
            feed(
                Framing::Messages,
                &message(b'D', MAX_MESSAGE as usize - 4),
                64
            )
            .is_err()
        );
        // An HTTP server's answer: "TP/1" is a 1.4 GB length.
        assert!(feed(Framing::Messages, b"HTTP/1.1 400 Bad Request\r\n", 64).is_err());
    }

    #[test]
    fn the_ssl_answer_is_one_byte_then_tls_or_messages() {
        let mut refused = vec![b'N'];
        refused.extend(message(b'R', 4));
        assert_eq!(feed(Framing::SslAnswer, &refused, 1), Ok(()));
        let mut hostile = vec![b'N', b'R', 0x7f, 0xff, 0xff, 0xf0];
        assert!(feed(Framing::SslAnswer, &hostile, 3).is_err());
        // After 'S', TLS records follow: not framed here.
        hostile[0] = b'S';
        assert_eq!(feed(Framing::SslAnswer, &hostile, 3), Ok(()));
        assert_eq!(feed(Framing::Passthrough, &hostile[1..], 3), Ok(()));
    }

    #[test]
    fn the_login_is_followed() {
        let watch = Arc::new(Watch::default());
        let mut capped = Capped::watched((), Framing::SslAnswer, Some(watch.clone()));
        let mut stream = vec![b'N'];
        stream.extend(message(b'R', 4)); // an authentication request
        capped.scan(&stream[..5]).expect("fits");
        assert!(
            !watch.authenticating.load(Ordering::Relaxed),
            "half a header"
        );
        capped.scan(&stream[5..]).expect("fits");
        assert!(watch.authenticating.load(Ordering::Relaxed));
        assert!(!watch.ready.load(Ordering::Relaxed) && !watch.encrypted.load(Ordering::Relaxed));
        capped.scan(&message(b'Z', 1)).expect("fits");
        assert!(watch.ready.load(Ordering::Relaxed));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn reads_fail_without_handing_out_the_header() {
        use tokio::io::AsyncReadExt;
        let mut bytes = message(b'Z', 1);
        bytes.extend([b'D', 0x10, 0, 0, 0]);
        let mut capped = Capped::new(&bytes[..], Framing::Messages);
        let mut out = Vec::new();
        let e = capped.read_to_end(&mut out).await.unwrap_err();
        assert!(is_too_large(&e), "{e}");
        assert!(e.to_string().contains("claiming 268435456 bytes"), "{e}");
        // Whatever the failing read held is dropped, the oversized header with it.
        assert!(!out.contains(&b'D'), "{out:?}");
    }

    #[tokio::test]
    async fn a_refusal_fails_every_later_read() {
        use tokio::io::AsyncReadExt;
        // A clear-text request (refused), then the four bytes a caller reading on would take
        // for the refused message's code: the watcher, out of step, would let them through.
        let mut bytes = request(3, 0);
        bytes.extend([0, 0, 0, 3]);
        let mut capped = Capped::new(&bytes[..], Framing::Messages);
        let mut buf = [0u8; 9];
        let e = capped.read(&mut buf).await.unwrap_err();
        assert!(is_auth_refusal(&e), "{e}");
        let again = capped.read(&mut buf).await;
        assert!(
            again.as_ref().is_err_and(|e| is_auth_refusal(e)),
            "{again:?}"
        );
    }
}

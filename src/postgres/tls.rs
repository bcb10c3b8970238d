//! libpq's certificate rules on rustls.
//!
//! tokio-postgres decides *whether* a connection uses TLS (disable / prefer / require); the rustls
//! `ClientConfig` built here alone decides *how* the server's certificate is checked:
//!
//! | sslmode | without `sslrootcert` | with `sslrootcert` |
//! |---|---|---|
//! | `allow`, `prefer`, `require` | encrypted, not verified | chain verified (libpq does so too) |
//! | `verify-ca` | chain against the platform's CAs | chain against the file |
//! | `verify-full` | chain and host name, platform's CAs | chain and host name against the file |
//!
//! Handshake signatures are always checked; "not verified" skips only the certificate's trust.
//! SNI is sent (Neon routes on it) unless `sslsni=0`; rustls never sends it for an IP literal.
//! With `sslnegotiation=direct` the ALPN protocol `postgresql` is offered (PostgreSQL 17+ drops a
//! direct TLS connection without it).
//!
//! [`Tls`] hands tokio-postgres a connector whose stream caps every message the server sends
//! inside TLS (`db::frame`), as the raw socket does for plaintext.

use crate::postgres::db::frame::{Capped, Watch};
use crate::postgres::dsn::{RootCerts, TlsSettings};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::TlsConnect;

/// rustls with ring, cut to what PostgreSQL servers and poolers negotiate. Built field by field:
/// `ring::default_provider()` names every suite ring has, which links all of their code.
///
/// - TLS 1.3 and 1.2 (poolers and managed servers still negotiate 1.2), with the AES-GCM suites
///   only (ECDHE key exchange, ECDSA or RSA certificates for 1.2): not ChaCha20-Poly1305, whose
///   vectorised code is ~50 KB (docs/design.md, "Binary size"). OpenSSL, and so PostgreSQL and
///   PgBouncer, offer AES-GCM unless configured otherwise; a server restricted to ChaCha20 alone
///   (`ssl_tls13_ciphers`, `ssl_ciphers`) is refused.
/// - Key exchange P-256 first: a TLS 1.3 client sends a key share for its first group only, and
///   PostgreSQL up to 17 accepts P-256 alone (`ssl_ecdh_curve` defaults to `prime256v1`), so
///   rustls's default X25519 first costs a HelloRetryRequest, one whole round trip more on every
///   cold TLS check (`bench/wan.py`: 7 against 6). X25519 (PostgreSQL 18's `ssl_groups`
///   default), P-384, PgBouncer and Neon's proxy accept P-256 too.
/// - Every signature algorithm ring verifies, as rustls's ring provider lists them: RSA PKCS#1
///   and PSS, ECDSA P-256/P-384, Ed25519, for certificate chains and handshake signatures.
fn provider() -> rustls::crypto::CryptoProvider {
    use rustls::crypto::ring::cipher_suite as suite;
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    rustls::crypto::CryptoProvider {
        // rustls's own order (its DEFAULT_CIPHER_SUITES), less ChaCha20.
        cipher_suites: vec![
            suite::TLS13_AES_256_GCM_SHA384,
            suite::TLS13_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        kx_groups: vec![SECP256R1, X25519, SECP384R1],
        signature_verification_algorithms: SIGNATURES,
        secure_random: &Ring,
        key_provider: &Ring,
    }
}

/// What certificates and handshakes may be signed with (the table of rustls's ring provider:
/// for TLS 1.3 the first entry of a scheme's mapping is the one used).
const SIGNATURES: WebPkiSupportedAlgorithms = {
    use webpki::ring as alg;
    WebPkiSupportedAlgorithms {
        all: &[
            alg::ECDSA_P256_SHA256,
            alg::ECDSA_P256_SHA384,
            alg::ECDSA_P384_SHA256,
            alg::ECDSA_P384_SHA384,
            alg::ED25519,
            alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            alg::RSA_PKCS1_2048_8192_SHA256,
            alg::RSA_PKCS1_2048_8192_SHA384,
            alg::RSA_PKCS1_2048_8192_SHA512,
            alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        mapping: &[
            (
                SignatureScheme::ECDSA_NISTP384_SHA384,
                &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
            ),
            (
                SignatureScheme::ECDSA_NISTP256_SHA256,
                &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
            ),
            (SignatureScheme::ED25519, &[alg::ED25519]),
            (
                SignatureScheme::RSA_PSS_SHA512,
                &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA384,
                &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA256,
                &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA512,
                &[alg::RSA_PKCS1_2048_8192_SHA512],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA384,
                &[alg::RSA_PKCS1_2048_8192_SHA384],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA256,
                &[alg::RSA_PKCS1_2048_8192_SHA256],
            ),
        ],
    }
};

/// ring's randomness and private-key loading (`sslkey`), the two parts of the provider that
/// `default_provider()` would otherwise be needed for. (rustls's own wipes the key's DER after
/// loading it; the PEM text it was parsed from, `connector`'s `key_pem`, was never wiped, so
/// wiping the DER alone protected nothing.)
#[derive(Debug)]
struct Ring;

impl rustls::crypto::SecureRandom for Ring {
    fn fill(&self, buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
        use ring::rand::SecureRandom;
        ring::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| rustls::crypto::GetRandomFailed)
    }
}

impl rustls::crypto::KeyProvider for Ring {
    fn load_private_key(
        &self,
        key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, Error> {
        rustls::crypto::ring::sign::any_supported_type(&key_der)
    }
}

/// Builds the TLS connector for these settings (`direct`: `sslnegotiation=direct`, which offers
/// ALPN). Errors (unreadable or empty certificate files) are configuration errors and name the
/// file.
pub fn connector(settings: &TlsSettings, direct: bool) -> Result<Tls, String> {
    let provider = Arc::new(provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?;
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match &settings.roots {
        None => Arc::new(Unverified { algorithms }),
        Some(roots) => {
            let roots = Arc::new(root_store(roots)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| format!("TLS set-up failed: {e}"))?;
            if settings.check_host {
                webpki
            } else {
                Arc::new(ChainOnly { inner: webpki })
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &settings.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert_path, key_path)) => {
            let cert_pem = crate::files::read_capped(cert_path, crate::files::CERTIFICATES)
                .map_err(|why| format!("sslcert: {why}"))?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("sslcert {}: {e}", cert_path.display()))?;
            let key_pem = crate::files::read_capped(key_path, crate::files::CERTIFICATES)
                .map_err(|why| format!("sslkey: {why}"))?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| format!("sslkey {}: {e}", key_path.display()))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("sslcert/sslkey {}: {e}", cert_path.display()))?
        }
    };
    config.enable_sni = settings.sni;
    if direct {
        config.alpn_protocols = vec![b"postgresql".to_vec()];
    }
    Ok(Tls {
        config: Arc::new(config),
        verified: settings.roots.is_some(),
    })
}

/// rustls, configured once, for every connection and cancel request.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    /// Whether the server's certificate is verified (a chain to `sslrootcert` or the platform's
    /// roots): only then does TLS prove the gate talks to the server, and only then may the
    /// password go in clear text inside it (`db::frame`).
    verified: bool,
}

impl Tls {
    /// The connector for one host: `name` is what the certificate is checked against (and the
    /// SNI); `watch` follows the login inside TLS. A name rustls cannot use (the empty one of a
    /// Unix socket, which never uses TLS) fails when the handshake starts, not here.
    pub fn for_host(&self, name: &str, watch: Option<Arc<Watch>>) -> CappedConnect {
        CappedConnect {
            config: self.config.clone(),
            name: name.to_owned(),
            watch,
            verified: self.verified,
        }
    }
}

/// A TLS connector (tokio-rustls) whose stream caps every message the server sends
/// (`db::frame`).
pub struct CappedConnect {
    config: Arc<ClientConfig>,
    name: String,
    watch: Option<Arc<Watch>>,
    verified: bool,
}

impl<S> TlsConnect<S> for CappedConnect
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Stream = Capped<tokio_rustls::client::TlsStream<S>>;
    type Error = std::io::Error;
    type Future = Handshake<S>;

    fn connect(self, stream: S) -> Self::Future {
        let inner = match ServerName::try_from(self.name) {
            Ok(name) => Ok(Box::new(
                tokio_rustls::TlsConnector::from(self.config).connect(name, stream),
            )),
            Err(e) => Err(Some(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                e,
            ))),
        };
        Handshake {
            inner,
            watch: self.watch,
            verified: self.verified,
        }
    }
}

/// The TLS handshake (boxed: rustls's connection state is large); its stream comes out capped.
pub struct Handshake<S> {
    inner: Result<Box<tokio_rustls::Connect<S>>, Option<std::io::Error>>,
    watch: Option<Arc<Watch>>,
    verified: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> std::future::Future for Handshake<S> {
    type Output = std::io::Result<Capped<tokio_rustls::client::TlsStream<S>>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let tls = match &mut self.inner {
            Ok(connect) => std::task::ready!(std::pin::Pin::new(connect.as_mut()).poll(cx))?,
            Err(error) => {
                let error = error.take().unwrap_or_else(|| {
                    std::io::Error::other("TLS handshake polled after it failed")
                });
                return std::task::Poll::Ready(Err(error));
            }
        };
        let watch = self.watch.take();
        std::task::Poll::Ready(Ok(Capped::inside_tls(tls, watch, self.verified)))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream
    for Capped<tokio_rustls::client::TlsStream<S>>
{
    /// `tls-server-end-point` (RFC 5929), for SCRAM-SHA-256-PLUS (`channel_binding`): the hash
    /// of the server's certificate, with the hash of its signature algorithm (SHA-256 for MD5
    /// and SHA-1), as PostgreSQL computes it; none for other algorithms (Ed25519, RSA-PSS),
    /// where PostgreSQL has none either.
    fn channel_binding(&self) -> tokio_postgres::tls::ChannelBinding {
        let (_, session) = self.get_ref().get_ref();
        session
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|cert| {
                let hash = end_point_hash(signature_algorithm(cert)?)?;
                Some(ring::digest::digest(hash, cert).as_ref().to_vec())
            })
            .map_or_else(
                tokio_postgres::tls::ChannelBinding::none,
                tokio_postgres::tls::ChannelBinding::tls_server_end_point,
            )
    }
}

/// The DER of a certificate's `signatureAlgorithm` OID (RFC 5280: `Certificate ::= SEQUENCE {
/// tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue }`), read without
/// decoding the rest; `None` for anything that is not shaped so.
fn signature_algorithm(cert: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = der(cert, SEQUENCE)?;
    let (_tbs, rest) = der(certificate, SEQUENCE)?;
    let (algorithm, _) = der(rest, SEQUENCE)?;
    let (oid, _) = der(algorithm, OID)?;
    Some(oid)
}

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;

/// One DER element with tag `tag` at the start of `input`: its contents and what follows it.
/// Definite lengths only (DER has no other), at most four length bytes.
fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, input) = input.split_first()?;
    let (&len, mut input) = input.split_first()?;
    if first != tag {
        return None;
    }
    let len = match len {
        0..=0x7f => usize::from(len),
        0x81..=0x84 => {
            let count = usize::from(len & 0x7f);
            let (bytes, rest) = input.split_at_checked(count)?;
            input = rest;
            bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
        }
        _ => return None,
    };
    input.split_at_checked(len)
}

/// The hash `tls-server-end-point` uses for a certificate signed with `oid` (RFC 5929 §4.1).
fn end_point_hash(oid: &[u8]) -> Option<&'static ring::digest::Algorithm> {
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01]; // 1.2.840.113549.1.1
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04]; // 1.2.840.10045.4
    match oid {
        // md5WithRSAEncryption, sha1WithRSAEncryption, sha256WithRSAEncryption
        [rsa @ .., 0x04 | 0x05 | 0x0b] if rsa == RSA => Some(&ring::digest::SHA256),
        [rsa @ .., 0x0c] if rsa == RSA => Some(&ring::digest::SHA384),
        [rsa @ .., 0x0d] if rsa == RSA => Some(&ring::digest::SHA512),
        // ecdsa-with-SHA1
        [ecdsa @ .., 0x01] if ecdsa == ECDSA => Some(&ring::digest::SHA256),
        // ecdsa-with-SHA256, -SHA384, -SHA512 (1.2.840.10045.4.3.x)
        [ecdsa @ .., 0x03, 0x02] if ecdsa == ECDSA => Some(&ring::digest::SHA256),
        [ecdsa @ .., 0x03, 0x03] if ecdsa == ECDSA => Some(&ring::digest::SHA384),
        [ecdsa @ .., 0x03, 0x04] if ecdsa == ECDSA => Some(&ring::digest::SHA512),
        _ => None,
    }
}

fn root_store(roots: &RootCerts) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match roots {
        RootCerts::File(path) => {
            let pem = crate::files::read_capped(path, crate::files::CERTIFICATES)
                .map_err(|why| format!("sslrootcert: {why}"))?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert {}: no usable CA certificate in it",
                    path.display()
                ));
            }
        }
        RootCerts::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(
                    "sslrootcert=system (or verify-ca/verify-full without sslrootcert): no CA certificates found on this system (set SSL_CERT_FILE or sslrootcert)"
                        .to_string(),
                );
            }
        }
    }
    Ok(store)
}

/// `prefer`/`require` without a root certificate: encryption without trust, as libpq.
#[derive(Debug)]
struct Unverified {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full WebPKI check, except that a host-name mismatch is accepted.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// True when the error chain shows the server's certificate was rejected (waiting cannot fix it).
pub fn is_certificate_rejection(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(Error::InvalidCertificate(_)) = e.downcast_ref::<Error>() {
            return true;
        }
        // io::Error::source() skips the wrapped error itself; look inside explicitly.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && is_certificate_rejection(inner)
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate's outline: `SEQUENCE { tbs SEQUENCE, AlgorithmIdentifier, BIT STRING }`,
    /// the outer length in long form (as every real certificate's is).
    fn certificate(oid: &[u8]) -> Vec<u8> {
        let tbs = [&[SEQUENCE, 100][..], &[0u8; 100]].concat();
        let algorithm = [
            &[SEQUENCE, oid.len() as u8 + 2, OID, oid.len() as u8][..],
            oid,
        ]
        .concat();
        let body = [&tbs[..], &algorithm, &[0x03, 2, 0, 0]].concat();
        [&[SEQUENCE, 0x82, 0, body.len() as u8][..], &body].concat()
    }

    #[test]
    fn the_signature_algorithm_is_read_past_the_tbs_certificate() {
        let ecdsa_sha384 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
        let cert = certificate(&ecdsa_sha384);
        assert_eq!(signature_algorithm(&cert), Some(&ecdsa_sha384[..]));
        // Cut anywhere, it is not a certificate.
        for len in 0..cert.len() {
            assert_eq!(signature_algorithm(&cert[..len]), None, "{len} bytes");
        }
        assert_eq!(
            signature_algorithm(&[0x31, 0]),
            None,
            "a SET is not a certificate"
        );
    }

    #[test]
    fn end_point_hashes_follow_rfc_5929() {
        let rsa = |n: u8| [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, n];
        let ecdsa = |n: &[u8]| [&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04][..], n].concat();
        let hash = |oid: &[u8]| end_point_hash(oid).map(|a| a.output_len());
        assert_eq!(hash(&rsa(0x04)), Some(32), "MD5 with RSA: SHA-256");
        assert_eq!(hash(&rsa(0x05)), Some(32), "SHA-1 with RSA: SHA-256");
        assert_eq!(hash(&rsa(0x0b)), Some(32));
        assert_eq!(hash(&rsa(0x0c)), Some(48));
        assert_eq!(hash(&rsa(0x0d)), Some(64));
        assert_eq!(hash(&rsa(0x0a)), None, "RSA-PSS names its hash elsewhere");
        assert_eq!(hash(&ecdsa(&[0x01])), Some(32), "ECDSA with SHA-1: SHA-256");
        assert_eq!(hash(&ecdsa(&[0x03, 0x02])), Some(32));
        assert_eq!(hash(&ecdsa(&[0x03, 0x03])), Some(48));
        assert_eq!(hash(&ecdsa(&[0x03, 0x04])), Some(64));
        assert_eq!(hash(&[0x2b, 0x65, 0x70]), None, "Ed25519 has no hash");
    }
}

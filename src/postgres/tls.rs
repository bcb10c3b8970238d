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

use crate::postgres::db::frame::{Capped, Framing, Watch};
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
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

/// rustls with ring, offering its key-exchange groups P-256 first. A TLS 1.3 client sends a key
/// share for its first group only; PostgreSQL up to 17 accepts P-256 alone (`ssl_ecdh_curve`
/// defaults to `prime256v1`), so rustls's default X25519 first costs a HelloRetryRequest, one
/// whole round trip more on every cold TLS check (measured by `bench/wan.py`: 7 against 6).
/// PostgreSQL 18 (`ssl_groups` `X25519:prime256v1`), PgBouncer and Neon's proxy accept P-256 too.
fn provider() -> rustls::crypto::CryptoProvider {
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    rustls::crypto::CryptoProvider {
        kx_groups: vec![SECP256R1, X25519, SECP384R1],
        ..rustls::crypto::ring::default_provider()
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
        make: tokio_postgres_rustls::MakeRustlsConnect::new(config),
    })
}

/// rustls, configured once, for every connection and cancel request.
#[derive(Clone)]
pub struct Tls {
    make: tokio_postgres_rustls::MakeRustlsConnect,
}

impl Tls {
    /// The connector for one host: `name` is what the certificate is checked against (and the
    /// SNI), over a stream of type `S`; `watch` follows the login inside TLS.
    pub fn for_host<S>(
        &self,
        name: &str,
        watch: Option<Arc<Watch>>,
    ) -> Result<CappedConnect<RustlsConnect<S>>, String>
    where
        MakeRustlsConnect: MakeTlsConnect<S>,
    {
        let mut make = self.make.clone();
        MakeTlsConnect::<S>::make_tls_connect(&mut make, name)
            .map(|inner| CappedConnect { inner, watch })
            .map_err(|e| {
                let e: Box<dyn std::error::Error + Send + Sync> = e.into();
                e.to_string()
            })
    }
}

/// tokio-postgres-rustls's connector for streams of type `S`.
pub type RustlsConnect<S> = <MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect;

/// A TLS connector whose stream caps every message the server sends (`db::frame`).
pub struct CappedConnect<T> {
    inner: T,
    watch: Option<Arc<Watch>>,
}

impl<S, T: TlsConnect<S>> TlsConnect<S> for CappedConnect<T>
where
    T::Stream: Unpin,
    T::Future: Unpin,
{
    type Stream = Capped<T::Stream>;
    type Error = T::Error;
    type Future = Handshake<T::Future>;

    fn connect(self, stream: S) -> Self::Future {
        Handshake {
            inner: self.inner.connect(stream),
            watch: self.watch,
        }
    }
}

/// The TLS handshake; its stream comes out capped.
pub struct Handshake<F> {
    inner: F,
    watch: Option<Arc<Watch>>,
}

impl<F, S, E> std::future::Future for Handshake<F>
where
    F: std::future::Future<Output = Result<S, E>> + Unpin,
{
    type Output = Result<Capped<S>, E>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let tls = std::task::ready!(std::pin::Pin::new(&mut self.inner).poll(cx))?;
        let watch = self.watch.take();
        std::task::Poll::Ready(Ok(Capped::watched(tls, Framing::Messages, watch)))
    }
}

impl<S: tokio_postgres::tls::TlsStream + Unpin> tokio_postgres::tls::TlsStream for Capped<S> {
    fn channel_binding(&self) -> tokio_postgres::tls::ChannelBinding {
        self.get_ref().channel_binding()
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

//! Optional TLS of the gRPC listener (rustls, as tonic uses it): a certificate and key make
//! it TLS-only; a client CA makes client certificates required. The serve loop
//! ([`super::serve`]) negotiates it with [`TlsAcceptor`] within the handshake timeout.

use std::fmt;
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;

use super::counters::{Close, Incoming};

/// The ALPN protocol of gRPC.
const ALPN_H2: &[u8] = b"h2";

/// The listener's certificate, key and optional client CA, read at start-up.
#[derive(Clone)]
pub struct TlsSettings {
    /// Where the certificate chain was read from (shown in logs).
    pub cert_file: PathBuf,
    /// Where the client CA was read from, when client certificates are required.
    pub client_ca_file: Option<PathBuf>,
    acceptor: TlsAcceptor,
}

impl TlsSettings {
    /// TLS from PEM contents: a certificate chain and its private key, and optionally the
    /// CA that client certificates must be signed by. Fails, saying why, when rustls cannot
    /// use them.
    pub fn new(
        cert_file: PathBuf,
        cert_pem: &[u8],
        key_pem: &[u8],
        client_ca: Option<(PathBuf, Vec<u8>)>,
    ) -> Result<Self, String> {
        let certs = certificates(cert_pem)?;
        let key = PrivateKeyDer::from_pem_reader(&mut Cursor::new(key_pem))
            .map_err(|e| format!("no usable private key (PKCS#8, PKCS#1 or SEC1): {e}"))?;
        let builder = ServerConfig::builder();
        let (client_ca_file, builder) = match client_ca {
            None => (None, builder.with_no_client_auth()),
            Some((path, pem)) => {
                let mut roots = RootCertStore::empty();
                let (added, _) = roots.add_parsable_certificates(certificates(&pem)?);
                if added == 0 {
                    return Err("the client CA file holds no usable certificate".to_owned());
                }
                let verifier = WebPkiClientVerifier::builder(roots.into())
                    .build()
                    .map_err(|e| format!("the client CA cannot verify clients: {e}"))?;
                (Some(path), builder.with_client_cert_verifier(verifier))
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("the certificate and key do not make a TLS identity: {e}"))?;
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(Self {
            cert_file,
            client_ca_file,
            acceptor: TlsAcceptor(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        })
    }

    /// What negotiates TLS on each connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_reader_iter(&mut Cursor::new(pem))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate chain: {e}"))
}

impl fmt::Debug for TlsSettings {
    // Never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("cert_file", &self.cert_file)
            .field("client_ca_file", &self.client_ca_file)
            .finish_non_exhaustive()
    }
}

/// Negotiates the listener's TLS on an accepted connection.
#[derive(Clone)]
pub struct TlsAcceptor(tokio_rustls::TlsAcceptor);

impl TlsAcceptor {
    /// The TLS stream over `io`, or `None` (logged) when the handshake fails or does not end
    /// within `timeout` (counted in `counters`).
    pub async fn accept<I>(
        &self,
        io: I,
        timeout: Option<Duration>,
        peer: SocketAddr,
        counters: &Incoming,
    ) -> Option<TlsStream<I>>
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = self.0.accept(io);
        let result = match timeout {
            Some(timeout) => tokio::time::timeout(timeout, handshake)
                .await
                .unwrap_or_else(|_| {
                    counters.count_closed(Close::HandshakeTimeout);
                    Err(std::io::Error::other("TLS handshake timed out"))
                }),
            None => handshake.await,
        };
        match result {
            Ok(stream) => Some(stream),
            Err(e) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                None
            }
        }
    }
}

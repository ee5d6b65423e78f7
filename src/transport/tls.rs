//! Optional TLS of the gRPC listener (tonic with rustls): a certificate and key make it
//! TLS-only; a client CA makes client certificates required.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// The listener's certificate, key and optional client CA, read at start-up.
#[derive(Clone)]
pub struct TlsSettings {
    /// Where the certificate chain was read from (shown in logs).
    pub cert_file: PathBuf,
    /// Where the client CA was read from, when client certificates are required.
    pub client_ca_file: Option<PathBuf>,
    identity: Identity,
    client_ca: Option<Certificate>,
}

impl TlsSettings {
    /// TLS from PEM contents: a certificate chain and its private key, and optionally the
    /// CA that client certificates must be signed by.
    pub fn new(
        cert_file: PathBuf,
        cert_pem: Vec<u8>,
        key_pem: Vec<u8>,
        client_ca: Option<(PathBuf, Vec<u8>)>,
    ) -> Self {
        let (client_ca_file, client_ca) = match client_ca {
            Some((path, pem)) => (Some(path), Some(Certificate::from_pem(pem))),
            None => (None, None),
        };
        Self {
            cert_file,
            client_ca_file,
            identity: Identity::from_pem(cert_pem, key_pem),
            client_ca,
        }
    }

    /// tonic's server TLS configuration; the TLS handshake must end within
    /// `handshake_timeout`.
    pub fn server_config(&self, handshake_timeout: Duration) -> ServerTlsConfig {
        let config = ServerTlsConfig::new()
            .identity(self.identity.clone())
            .timeout(handshake_timeout);
        match &self.client_ca {
            Some(ca) => config.client_ca_root(ca.clone()),
            None => config,
        }
    }
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

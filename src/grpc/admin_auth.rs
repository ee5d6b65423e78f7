//! Who may call `SchedulerAdmin`: with a token configured, callers that send
//! `authorization: Bearer <token>` (compared in constant time); without one, loopback
//! peers only, so a laptop works out of the box and a pod listening on `0.0.0.0` stays
//! closed until a token is set. Refusals are logged with the peer, never with the token.

use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// The authorization scheme, with its separating space.
const BEARER: &[u8] = b"Bearer ";

/// The interceptor that guards `SchedulerAdmin`.
#[derive(Clone)]
pub struct AdminGuard {
    token: Option<Arc<SecretString>>,
    /// How the token is set, named in the refusal of non-loopback callers.
    token_settings: Arc<str>,
}

impl AdminGuard {
    /// Guards with `token`, or loopback-only without one; `token_settings` names the
    /// settings that set it (e.g. `RADAR_ADMIN_TOKEN or RADAR_ADMIN_TOKEN_FILE`).
    pub fn new(token: Option<SecretString>, token_settings: &str) -> Self {
        Self {
            token: token.map(Arc::new),
            token_settings: Arc::from(token_settings),
        }
    }

    fn check(&self, peer: Option<SocketAddr>, header: Option<&[u8]>) -> Result<(), Status> {
        let Some(token) = &self.token else {
            return match peer {
                Some(peer) if peer.ip().is_loopback() => Ok(()),
                _ => Err(Status::permission_denied(format!(
                    "SchedulerAdmin answers only loopback callers until {} is set",
                    self.token_settings
                ))),
            };
        };
        let Some(header) = header else {
            return Err(Status::unauthenticated(
                "SchedulerAdmin requires `authorization: Bearer <token>`",
            ));
        };
        // The scheme is case-insensitive (RFC 9110); the token is not.
        let presented = match header.split_at_checked(BEARER.len()) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case(BEARER) => token,
            _ => &[],
        };
        let expected = token.expose_secret().as_bytes();
        // `ct_eq` on slices of different lengths is false without looking at the bytes;
        // the length of the token is not a secret worth protecting.
        if presented.is_empty() || !bool::from(presented.ct_eq(expected)) {
            return Err(Status::permission_denied("the admin token is not valid"));
        }
        Ok(())
    }
}

impl Interceptor for AdminGuard {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        // Set by tonic from the connection, plain TCP or TLS.
        let peer = request.remote_addr();
        let header = request
            .metadata()
            .get("authorization")
            .map(tonic::metadata::MetadataValue::as_bytes);
        match self.check(peer, header) {
            Ok(()) => Ok(request),
            Err(status) => {
                tracing::warn!(
                    peer = peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string()),
                    code = ?status.code(),
                    reason = status.message(),
                    "admin call refused"
                );
                Err(status)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    const TOKEN: &str = "0123456789abcdef0123";

    fn guard(token: Option<&str>) -> AdminGuard {
        AdminGuard::new(token.map(SecretString::from), "the admin token")
    }

    fn code(result: Result<(), Status>) -> Option<Code> {
        result.err().map(|s| s.code())
    }

    #[test]
    fn without_a_token_only_loopback_peers_pass() {
        let g = guard(None);
        assert_eq!(code(g.check(Some(([127, 0, 0, 1], 9).into()), None)), None);
        assert_eq!(code(g.check(Some("[::1]:9".parse().unwrap()), None)), None);
        assert_eq!(
            code(g.check(Some(([10, 0, 0, 7], 9).into()), None)),
            Some(Code::PermissionDenied)
        );
        assert_eq!(code(g.check(None, None)), Some(Code::PermissionDenied));
    }

    #[test]
    fn with_a_token_missing_is_unauthenticated_and_wrong_is_denied_even_on_loopback() {
        let g = guard(Some(TOKEN));
        let local = Some(([127, 0, 0, 1], 9).into());
        assert_eq!(code(g.check(local, None)), Some(Code::Unauthenticated));
        for wrong in [
            "Bearer 0123456789abcdef0124",
            "Bearer 0123456789abcdef012",
            "Bearer ",
            TOKEN,
            "Basic 0123456789abcdef0123",
        ] {
            let status = g.check(local, Some(wrong.as_bytes())).unwrap_err();
            assert_eq!(status.code(), Code::PermissionDenied, "{wrong}");
            assert!(!status.message().contains(TOKEN), "{status:?}");
        }
        let remote = Some(([10, 0, 0, 7], 9).into());
        let right = format!("Bearer {TOKEN}");
        assert_eq!(code(g.check(remote, Some(right.as_bytes()))), None);
        let lower = format!("bearer {TOKEN}");
        assert_eq!(code(g.check(remote, Some(lower.as_bytes()))), None);
    }
}

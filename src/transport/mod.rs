//! The listening side of the gRPC server, hardened against idle and abusive clients: a cap
//! on open connections, an accept loop that backs off (and says so once) when the process
//! runs out of file descriptors, and a deadline for the HTTP/2 preface. What tonic and
//! hyper already offer (a maximum connection age closed gracefully with GOAWAY, stream and
//! concurrency limits, keep-alive, load shedding, per-RPC timeout, message size) is set on
//! the tonic builder in [`crate::server`] from the same [`ConnectionLimits`].

mod incoming;
mod status_codes;
mod tls;

use std::time::Duration;

pub use incoming::{ConnIo, Incoming};
pub use status_codes::message_size_status;
pub use tls::TlsSettings;

/// Limits of the gRPC listener. Every field is a setting with a safe default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at most; further ones are closed at once and counted.
    pub max_connections: usize,
    /// Time a new connection has to send the HTTP/2 preface (or start TLS).
    pub handshake_timeout: Duration,
    /// A connection is closed gracefully (HTTP/2 GOAWAY: calls in flight finish, the
    /// client reconnects for new ones) after this long, idle or not.
    pub max_connection_age: Duration,
    /// Time the calls in flight get after the GOAWAY before the connection is closed.
    pub max_connection_age_grace: Duration,
    /// Interval of HTTP/2 keep-alive pings.
    pub keepalive_interval: Duration,
    /// A ping unanswered for this long closes the connection.
    pub keepalive_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection (advertised in SETTINGS).
    pub max_concurrent_streams: u32,
    /// Calls served at once per connection; beyond it, RESOURCE_EXHAUSTED at once.
    pub max_concurrent_calls_per_connection: usize,
    /// Largest decoded request message; beyond it, RESOURCE_EXHAUSTED.
    pub max_request_bytes: usize,
    /// Limit of one call (a shorter `grpc-timeout` from the client wins).
    pub rpc_timeout: Duration,
    /// Pause of the accept loop after it fails for lack of resources (too many open files).
    pub accept_backoff: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(5),
            max_connection_age: Duration::from_secs(300),
            max_connection_age_grace: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_concurrent_streams: 64,
            max_concurrent_calls_per_connection: 32,
            max_request_bytes: 16 * 1024,
            rpc_timeout: Duration::from_secs(10),
            accept_backoff: Duration::from_millis(100),
        }
    }
}

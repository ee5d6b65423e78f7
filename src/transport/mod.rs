//! The listening side of the gRPC server, hardened against idle and abusive clients: a cap
//! on open connections, an accept loop that backs off (and says so once) when the process
//! runs out of file descriptors, and a deadline for the HTTP/2 preface. What tonic and
//! hyper already offer (a maximum connection age closed gracefully with GOAWAY, stream and
//! concurrency limits, keep-alive, load shedding, per-RPC timeout, message size) is set on
//! the tonic builder in [`crate::server`], from the same settings
//! ([`crate::config::LimitsSettings`]).

mod incoming;
mod status_codes;
mod tls;

pub use incoming::{ConnIo, Incoming};
pub use status_codes::message_size_status;
pub use tls::TlsSettings;

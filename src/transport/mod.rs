//! The listening side of the service, hardened against idle and abusive clients. One serve
//! loop ([`serve`]) runs every listener: a cap on open connections in all and per peer
//! with room kept for new peers ([`peer`]), an accept loop that backs off (and says so
//! once) when the process runs out of file descriptors, a deadline for the HTTP/2 preface,
//! and a graceful close of connections idle for their idle timeout or past their maximum
//! age; each refusal and close counted by reason ([`counters`]). What each gRPC connection wraps around the routes (call deadline, calls at once,
//! HTTP 415 for non-gRPC requests) is in [`grpc_calls`]; HTTP/2 limits (streams, keep-alive)
//! are set on the hyper builder in [`crate::server`], from the same settings
//! ([`crate::config::LimitsSettings`]).

mod activity;
mod content_type;
pub mod counters;
mod deadline;
pub mod grpc_calls;
mod guarded_body;
pub mod http_listener;
mod incoming;
pub mod peer;
pub mod serve;
mod status_codes;
pub mod streams;
mod tls;

pub use activity::{Activity, TrackLayer};
pub use content_type::is_grpc;
pub use counters::{Close, Incoming, Listeners};
pub use incoming::ConnIo;
pub use peer::{ConnectionGate, PeerKey, PeerLimits, Refusal};
pub use serve::{ConnectionInfo, ConnectionPolicy, Listening};
pub use status_codes::message_size_status;
pub use streams::{StreamLimitLayer, streaming_paths};
pub use tls::{TlsAcceptor, TlsSettings};

//! RADAR Interrupções: answers ANEEL's "consumer units without power" question over gRPC
//! from a cache that a cron-scheduled job keeps warm.
// `unsafe_code = "forbid"` and clippy's pedantic lints are in Cargo.toml's [lints] for every
// target; missing docs are checked here because only the library's public items need them
// (the [lints] table cannot tell the library from the tests and benches).
#![warn(missing_docs)]

pub mod allocator;
pub mod answer;
pub mod cache;
pub mod clock;
pub mod completions;
pub mod config;
pub mod db;
pub mod descriptors;
pub mod domain;
pub mod grpc;
pub mod health;
pub mod http;
pub mod hygiene;
pub mod jobs;
pub mod locks;
pub mod metrics;
pub mod prepared;
pub mod proto;
pub mod scheduler;
pub mod server;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod transport;
pub mod version;

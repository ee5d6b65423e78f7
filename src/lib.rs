//! RADAR Interrupções: answers ANEEL's "consumer units without power" question over gRPC
//! from a cache that a cron-scheduled job keeps warm.
#![forbid(unsafe_code)]

pub mod answer;
pub mod cache;
pub mod clock;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod health;
pub mod jobs;
pub mod proto;
pub mod scheduler;
pub mod server;
pub mod source;
pub mod store;
pub mod telemetry;

//! RADAR Interrupções: answers ANEEL's "consumer units without power" question over gRPC
//! from a cache that a cron-scheduled job keeps warm.
#![forbid(unsafe_code)]

pub mod config;
pub mod domain;
pub mod proto;
pub mod source;

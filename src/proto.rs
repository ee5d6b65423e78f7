//! Code generated from `proto/` by `build.rs`, and the descriptor set for reflection.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `radar.interrupcoes.v1`: the ANEEL answer.
pub mod interrupcoes {
    /// Version 1 of the contract.
    pub mod v1 {
        tonic::include_proto!("radar.interrupcoes.v1");
    }
}

/// `radar.scheduler.v1`: operator view of the jobs.
pub mod scheduler {
    /// Version 1 of the contract.
    pub mod v1 {
        tonic::include_proto!("radar.scheduler.v1");
    }
}

/// Encoded `FileDescriptorSet` of every file in `proto/` and its imports, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("radar_descriptor");

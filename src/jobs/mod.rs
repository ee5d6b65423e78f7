//! Concrete jobs run by the scheduler.

pub mod cache_warmup;
pub mod retention_purge;
#[cfg(test)]
mod skew_tests;

pub use cache_warmup::{
    CacheWarmupJob, STORE_WRITE_STEP, SnapshotHistory, WARMUP_JOB_NAME, warm_up_until_loaded,
};
pub use retention_purge::{PURGE_JOB_NAME, PURGE_RETRY, RetentionPurgeJob};

//! Concrete jobs run by the scheduler.

pub mod cache_warmup;

pub use cache_warmup::{CacheWarmupJob, StartupRetry, WARMUP_JOB_NAME, warm_up_until_loaded};

//! Concrete jobs run by the scheduler.

pub mod cache_warmup;

pub use cache_warmup::{CacheWarmupJob, REJECTED_FACT, WARMUP_JOB_NAME, warm_up_until_loaded};

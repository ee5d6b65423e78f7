//! The job abstraction and the cron scheduler that runs jobs, wrapping tokio-cron-scheduler
//! behind a small interface of our own, with the guarantees operators expect: no overlapping
//! runs, a timeout per attempt, retries with backoff for transient failures, panics caught
//! and recorded, and a status per job.

mod backoff;
mod cron;
mod job;
mod liveness;
mod report;
mod runner;
mod service;
mod status;

pub use backoff::Backoff;
pub use cron::{CronError, CronSchedule};
pub use job::{Job, JobError, RunContext};
pub use liveness::worst_case;
pub use report::JobReport;
pub use runner::RetryPolicy;
pub use service::{SchedulerError, SchedulerService, TriggerResult};
pub use status::{JobStatus, RunOutcome, RunRecord, Trigger};

//! The job abstraction and the cron scheduler that runs jobs, wrapping tokio-cron-scheduler
//! behind a small interface of our own, with the guarantees operators expect: no overlapping
//! runs, a timeout per attempt, retries with backoff for transient failures, panics caught
//! and recorded as typed failures, cron ticks shared by the replicas when a job's spec says
//! so, and a status per job. Every time it reads comes from the injected [`Clock`].
//!
//! [`Clock`]: crate::clock::Clock

mod backoff;
pub mod cluster;
mod cron;
mod failure;
mod job;
mod liveness;
mod report;
mod runner;
mod service;
mod spec;
#[cfg(test)]
mod spec_tests;
mod status;

pub use backoff::Backoff;
pub use cluster::{AdoptClaimant, ClaimedTicks, TickClaims};
pub use cron::{CronError, CronSchedule};
pub use failure::{FailureKind, JobError, RunFailure};
pub use job::{Job, RunContext};
pub use liveness::worst_case;
pub use report::{FailedStep, JobReport};
pub use runner::RetryPolicy;
pub use service::{SchedulerError, SchedulerService, TriggerResult};
pub use spec::{Coordination, JobSpec};
pub use status::{JobStatus, RunOutcome, RunRecord, Trigger};

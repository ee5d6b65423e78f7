//! What a job is: one async entry point, [`Job::run`], that reports what an attempt did.
//! Its name, schedule, retry policy and coordination are not the job's: they are its
//! [`JobSpec`](super::JobSpec), given when it is registered.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::failure::JobError;
use super::report::JobReport;
use super::status::{RunRecord, Trigger};

/// What an attempt knows about its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunContext {
    /// The attempt, from 1.
    pub attempt: u32,
    /// What started the run.
    pub trigger: Trigger,
    /// For a cron run, the tick's scheduled fire time (from the schedule, not the clock, so
    /// that every replica names the tick alike).
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// A unit of scheduled work.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// One attempt of a run. The scheduler bounds it with a timeout and may drop the
    /// future at that point, so it must leave nothing half-done when dropped. For a
    /// cluster-coordinated tick it is called only on the replica that queries (the
    /// claimant, or a replica whose wait for the claimant ran out).
    async fn run(&self, run: RunContext) -> Result<JobReport, JobError>;

    /// Called once when a whole run ends in failure (error, timeout or panic), after the
    /// last attempt, before the run's one error line is logged. Returns what the failure
    /// leaves in place (e.g. "keeping the snapshot of ..., now stale"), which that line
    /// carries as `state`. The default does nothing and returns `None`.
    fn on_run_failed(&self, _run: &RunRecord) -> Option<String> {
        None
    }
}

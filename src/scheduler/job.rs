//! What a job is: a name and an async `execute` that reports what it did.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

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

/// Why an attempt failed, and whether another attempt may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// What went wrong, for operators. Never contains secrets.
    pub message: String,
    /// Whether the failure is transient: the scheduler retries it within the same run.
    pub transient: bool,
}

impl JobError {
    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: true,
        }
    }

    /// A failure that another attempt will not cure.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: false,
        }
    }
}

/// A unit of scheduled work.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// Unique name, used by `TriggerNow` and in logs.
    fn name(&self) -> &str;

    /// One attempt. `attempt` starts at 1. The scheduler bounds it with a timeout and may
    /// drop the future at that point, so it must leave nothing half-done when dropped.
    async fn execute(&self, attempt: u32) -> Result<JobReport, JobError>;

    /// One attempt, knowing what started the run. The default ignores the context and
    /// calls [`execute`](Self::execute); jobs that act differently per trigger override it.
    async fn execute_run(&self, run: RunContext) -> Result<JobReport, JobError> {
        self.execute(run.attempt).await
    }

    /// Called once when a whole run ends in failure (error, timeout or panic), after the
    /// last attempt, before the run's one error line is logged. Returns what the failure
    /// leaves in place (e.g. "keeping the snapshot of ..., now stale"), which that line
    /// carries as `state`. The default does nothing and returns `None`.
    fn on_run_failed(&self, _run: &RunRecord) -> Option<String> {
        None
    }
}

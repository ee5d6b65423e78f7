//! What a job is: a name and an async `execute`.

use async_trait::async_trait;

use super::RunRecord;

/// What a successful attempt produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Items produced (for the cache warm-up: items cached).
    pub items: u64,
    /// Input rows left out because they failed validation.
    pub rejected: u64,
}

/// Why an attempt failed, and whether another attempt may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// What went wrong, for operators. Never contains secrets.
    pub message: String,
    /// Whether the scheduler should retry within the same run.
    pub retryable: bool,
}

impl JobError {
    /// A failure worth retrying.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that another attempt will not cure.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

/// A unit of scheduled work.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// Unique name, used by `TriggerNow` and in logs.
    fn name(&self) -> &str;

    /// The cache key this job fills, if any: a field of every log line of its runs.
    fn cache_key(&self) -> Option<&str> {
        None
    }

    /// One attempt. `attempt` starts at 1. The scheduler bounds it with a timeout and may
    /// drop the future at that point, so it must leave nothing half-done when dropped.
    async fn execute(&self, attempt: u32) -> Result<JobReport, JobError>;

    /// Called once when a whole run ends in failure (error, timeout or panic), after the
    /// last attempt. The default does nothing.
    fn on_run_failed(&self, _run: &RunRecord) {}
}

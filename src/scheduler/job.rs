//! What a job is: a name and an async `execute` that reports what it did.

use async_trait::async_trait;

use super::RunRecord;

/// What a successful attempt produced: a count (for the cache warm-up, items cached; for a
/// purge, rows deleted) and named facts a job adds (for the warm-up, `rejected`). A new job
/// reports through these two, so the scheduler, its status and `ListJobs` need no new field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    /// The main quantity the attempt produced.
    pub count: u64,
    /// Further facts, as (name, value), in the order the job gives them.
    pub facts: Vec<(&'static str, String)>,
}

impl JobReport {
    /// A report of `count`, with no facts yet.
    pub fn new(count: u64) -> Self {
        Self {
            count,
            facts: Vec::new(),
        }
    }

    /// Adds the fact `name = value`.
    #[must_use]
    pub fn with_fact(mut self, name: &'static str, value: &dyn std::fmt::Display) -> Self {
        self.facts.push((name, value.to_string()));
        self
    }

    /// The value of the fact `name`, if the job reported it.
    pub fn fact(&self, name: &str) -> Option<&str> {
        self.facts
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
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

    /// Called once when a whole run ends in failure (error, timeout or panic), after the
    /// last attempt. The default does nothing.
    fn on_run_failed(&self, _run: &RunRecord) {}
}

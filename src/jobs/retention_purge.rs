//! `snapshot_retention_purge`: deletes stored snapshots and tick claims older than the
//! retention, in bounded batches (one short transaction each), so it never holds long locks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::scheduler::{Backoff, Job, JobError, JobReport, RetryPolicy, RunContext};
use crate::store::SnapshotStore;

/// The job's name, as `ListJobs` and `TriggerNow` know it.
pub const PURGE_JOB_NAME: &str = "snapshot_retention_purge";

/// How a purge run retries: its own, not the warm-up's (tuned to the source query). A purge
/// is a series of short transactions on the service's own database; a backlog (after the
/// retention was shortened) may take minutes, and a failure is usually the store being busy
/// or restarting, which a pause of tens of seconds outlasts. A purge that still fails is
/// harmless until the next day's run.
pub const PURGE_RETRY: RetryPolicy = RetryPolicy {
    attempt_timeout: Duration::from_secs(300),
    max_attempts: 3,
    backoff: Backoff {
        initial: Duration::from_secs(30),
        max: Duration::from_secs(120),
    },
};

/// Deletes what the retention no longer covers.
pub struct RetentionPurgeJob {
    store: Arc<dyn SnapshotStore>,
    clock: Arc<dyn Clock>,
    retention: chrono::Duration,
    batch_size: u32,
}

impl RetentionPurgeJob {
    /// Purges `store` of what is older than `retention` (by `clock`), `batch_size`
    /// snapshots or claims per transaction.
    pub fn new(
        store: Arc<dyn SnapshotStore>,
        clock: Arc<dyn Clock>,
        retention: chrono::Duration,
        batch_size: u32,
    ) -> Self {
        Self {
            store,
            clock,
            retention,
            batch_size,
        }
    }
}

#[async_trait]
impl Job for RetentionPurgeJob {
    async fn run(&self, _run: RunContext) -> Result<JobReport, JobError> {
        let cutoff = self.clock.now() - self.retention;
        let purged = self
            .store
            .purge(cutoff, self.batch_size)
            .await
            .map_err(|e| JobError::transient(e.to_string()).with_codes(e.code))?;
        tracing::info!(
            cutoff = %cutoff,
            snapshots = purged.snapshots,
            claims = purged.claims,
            batches = purged.batches,
            "retention purge done"
        );
        Ok(JobReport::new(purged.snapshots)
            .with_fact("cutoff", &cutoff.to_rfc3339())
            .with_fact("snapshots_deleted", &purged.snapshots)
            .with_fact("claims_deleted", &purged.claims)
            .with_fact("batches", &purged.batches))
    }
}

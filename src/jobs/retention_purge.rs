//! `snapshot_retention_purge`: deletes stored snapshots and tick claims older than the
//! retention, in bounded batches (one short transaction each), so it never holds long locks.

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::scheduler::{Job, JobError, JobReport};
use crate::store::SnapshotStore;

/// The job's name, as `ListJobs` and `TriggerNow` know it.
pub const PURGE_JOB_NAME: &str = "snapshot_retention_purge";

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
    fn name(&self) -> &str {
        PURGE_JOB_NAME
    }

    async fn execute(&self, _attempt: u32) -> Result<JobReport, JobError> {
        let cutoff = self.clock.now() - self.retention;
        let purged = self
            .store
            .purge(cutoff, self.batch_size)
            .await
            .map_err(|e| JobError::transient(e.to_string()))?;
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

//! `snapshot_retention_purge`: deletes stored snapshots and tick claims older than the
//! retention, in bounded batches (one short transaction each), so it never holds long locks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::{Clock, saturating_sub};
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
        // Saturating: a retention reaching before the calendar purges nothing, not panics.
        let cutoff = saturating_sub(self.clock.now(), self.retention);
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::clock::ManualClock;
    use crate::scheduler::Trigger;
    use crate::store::SqliteStore;
    use crate::store::contract_suite::snapshot;

    /// A retention reaching before the calendar (no setting allows it any more) purges
    /// nothing instead of panicking.
    #[tokio::test]
    async fn a_retention_beyond_the_calendar_purges_nothing_and_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::new(dir.path().join("s.sqlite")));
        store.save(&snapshot(0, true, 1)).await.unwrap();
        store.save(&snapshot(30, true, 1)).await.unwrap();
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let job = RetentionPurgeJob::new(
            store.clone(),
            Arc::new(ManualClock::new(now)),
            chrono::Duration::days(100_000_000),
            10,
        );
        let report = job
            .run(RunContext {
                attempt: 1,
                trigger: Trigger::Manual,
                scheduled_at: None,
            })
            .await
            .unwrap();
        assert_eq!(report.fact("snapshots_deleted"), Some("0"));
        assert!(store.oldest().await.unwrap().is_some());
    }
}

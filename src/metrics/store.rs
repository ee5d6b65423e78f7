//! The snapshot store's operations by outcome: every write, read, claim and purge the
//! service asks of the store, counted as it ends, so that a store that fails (or never
//! answers) shows in `/metrics` even while the live answer goes on refreshing.
//!
//! [`MeteredStore`] wraps the store the settings select; the jobs and the history both go
//! through it, so nothing reaches the store uncounted.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::store::schema::SchemaState;
use crate::store::{
    Claim, ClaimOutcome, PurgeReport, SaveOutcome, SnapshotStore, StoreError, StoredSnapshot,
};

/// What was asked of the store (the `operation` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    /// A snapshot written.
    Write,
    /// A snapshot (or the oldest collection time) read.
    Read,
    /// A cron tick claimed.
    Claim,
    /// Expired snapshots and claims deleted.
    Purge,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Write => "write",
            Operation::Read => "read",
            Operation::Claim => "claim",
            Operation::Purge => "purge",
        }
    }

    /// Every outcome the operation can end with: their series exist from the start at 0,
    /// so that the first failure is an increase Prometheus sees.
    fn outcomes(self) -> &'static [&'static str] {
        match self {
            Operation::Write => &[STORED, ALREADY_STORED, FAILED, ABANDONED],
            Operation::Read => &[FOUND, NOT_FOUND, FAILED, ABANDONED],
            Operation::Claim => &[CLAIMED, ALREADY_CLAIMED, FAILED, ABANDONED],
            Operation::Purge => &[PURGED, FAILED, ABANDONED],
        }
    }
}

const STORED: &str = "stored";
const ALREADY_STORED: &str = "already_stored";
const FOUND: &str = "found";
const NOT_FOUND: &str = "not_found";
const CLAIMED: &str = "claimed";
const ALREADY_CLAIMED: &str = "already_claimed";
const PURGED: &str = "purged";
/// The store answered with an error.
const FAILED: &str = "failed";
/// The caller stopped waiting before the store answered (the store timeout of a write, a
/// client that left during a read).
const ABANDONED: &str = "abandoned";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    store: String,
    operation: String,
    outcome: String,
}

/// The `radar_store_*` metrics.
#[derive(Clone)]
pub(super) struct StoreMetrics {
    operations: Family<OperationLabels, Counter>,
}

impl StoreMetrics {
    /// The store metrics, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            operations: Family::default(),
        };
        r.register(
            "radar_store_operations",
            "Snapshot store operations by store (sqlite, oracle), operation (write, read, claim, \
             purge) and outcome (failed: the store answered an error; abandoned: the caller \
             stopped waiting, e.g. the store timeout of a write)",
            m.operations.clone(),
        );
        m
    }

    fn count(&self, store: &'static str, operation: Operation, outcome: &'static str) {
        self.operations
            .get_or_create(&labels(store, operation, outcome))
            .inc();
    }

    /// Creates every series of `store` at 0.
    fn declare(&self, store: &'static str) {
        for operation in [
            Operation::Write,
            Operation::Read,
            Operation::Claim,
            Operation::Purge,
        ] {
            for outcome in operation.outcomes() {
                let _ = self
                    .operations
                    .get_or_create(&labels(store, operation, outcome));
            }
        }
    }
}

fn labels(store: &'static str, operation: Operation, outcome: &'static str) -> OperationLabels {
    OperationLabels {
        store: store.to_owned(),
        operation: operation.as_str().to_owned(),
        outcome: outcome.to_owned(),
    }
}

/// A [`SnapshotStore`] whose every operation is counted by outcome.
pub struct MeteredStore {
    inner: Arc<dyn SnapshotStore>,
    metrics: StoreMetrics,
}

impl MeteredStore {
    /// Counts the operations of `inner` in `metrics`.
    pub(super) fn new(inner: Arc<dyn SnapshotStore>, metrics: StoreMetrics) -> Self {
        metrics.declare(inner.name());
        Self { inner, metrics }
    }

    /// Runs `operation`, counting the outcome `outcome_of` gives its result, `failed` for
    /// an error, and `abandoned` when the caller drops it before it ends.
    async fn counted<T>(
        &self,
        operation: Operation,
        call: impl Future<Output = Result<T, StoreError>>,
        outcome_of: impl FnOnce(&T) -> &'static str,
    ) -> Result<T, StoreError> {
        let mut pending = Pending {
            metrics: &self.metrics,
            store: self.inner.name(),
            operation,
            ended: false,
        };
        let result = call.await;
        pending.ended = true;
        let outcome = match &result {
            Ok(value) => outcome_of(value),
            Err(_) => FAILED,
        };
        self.metrics.count(self.inner.name(), operation, outcome);
        result
    }
}

/// Counts an operation as abandoned if its future is dropped before it ends.
struct Pending<'a> {
    metrics: &'a StoreMetrics,
    store: &'static str,
    operation: Operation,
    ended: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.metrics.count(self.store, self.operation, ABANDONED);
        }
    }
}

fn found<T>(value: Option<&T>) -> &'static str {
    if value.is_some() { FOUND } else { NOT_FOUND }
}

#[async_trait]
impl SnapshotStore for MeteredStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn prepare(&self) -> Result<SchemaState, StoreError> {
        self.inner.prepare().await
    }

    fn db_system(&self) -> Option<crate::telemetry::spans::DbSystem> {
        self.inner.db_system()
    }

    async fn save(&self, snapshot: &StoredSnapshot) -> Result<SaveOutcome, StoreError> {
        self.counted(Operation::Write, self.inner.save(snapshot), |o| match o {
            SaveOutcome::Stored => STORED,
            SaveOutcome::AlreadyStored => ALREADY_STORED,
        })
        .await
    }

    async fn latest_at_or_before(
        &self,
        at: DateTime<Utc>,
    ) -> Result<Option<StoredSnapshot>, StoreError> {
        self.counted(Operation::Read, self.inner.latest_at_or_before(at), |v| {
            found(v.as_ref())
        })
        .await
    }

    async fn for_tick(&self, tick_at: DateTime<Utc>) -> Result<Option<StoredSnapshot>, StoreError> {
        self.counted(Operation::Read, self.inner.for_tick(tick_at), |v| {
            found(v.as_ref())
        })
        .await
    }

    async fn oldest(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.counted(Operation::Read, self.inner.oldest(), |v| found(v.as_ref()))
            .await
    }

    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.time_of_record().await
    }

    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, StoreError> {
        self.counted(Operation::Claim, self.inner.claim(claim), |o| match o {
            ClaimOutcome::Claimed => CLAIMED,
            ClaimOutcome::AlreadyClaimed { .. } => ALREADY_CLAIMED,
        })
        .await
    }

    async fn purge(
        &self,
        cutoff: DateTime<Utc>,
        batch_size: u32,
    ) -> Result<PurgeReport, StoreError> {
        self.counted(
            Operation::Purge,
            self.inner.purge(cutoff, batch_size),
            |_| PURGED,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::SqliteStore;
    use crate::store::contract_suite::{at, snapshot};

    fn value(
        metrics: &StoreMetrics,
        store: &'static str,
        operation: Operation,
        outcome: &str,
    ) -> u64 {
        metrics
            .operations
            .get_or_create(&OperationLabels {
                store: store.to_owned(),
                operation: operation.as_str().to_owned(),
                outcome: outcome.to_owned(),
            })
            .get()
    }

    /// A store that fails every call, or never answers a write.
    struct Broken {
        hangs: bool,
    }

    #[async_trait]
    impl SnapshotStore for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        async fn prepare(&self) -> Result<SchemaState, StoreError> {
            Err(StoreError::new("broken", None, "down"))
        }
        async fn save(&self, _: &StoredSnapshot) -> Result<SaveOutcome, StoreError> {
            if self.hangs {
                std::future::pending::<()>().await;
            }
            Err(StoreError::new(
                "broken",
                Some("SQLITE_FULL".into()),
                "disk full",
            ))
        }
        async fn latest_at_or_before(
            &self,
            _: DateTime<Utc>,
        ) -> Result<Option<StoredSnapshot>, StoreError> {
            Err(StoreError::new("broken", None, "down"))
        }
        async fn for_tick(&self, _: DateTime<Utc>) -> Result<Option<StoredSnapshot>, StoreError> {
            Err(StoreError::new("broken", None, "down"))
        }
        async fn oldest(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
            Err(StoreError::new("broken", None, "down"))
        }
        async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
            Err(StoreError::new("broken", None, "down"))
        }
        async fn claim(&self, _: &Claim) -> Result<ClaimOutcome, StoreError> {
            Err(StoreError::new("broken", None, "down"))
        }
        async fn purge(&self, _: DateTime<Utc>, _: u32) -> Result<PurgeReport, StoreError> {
            Err(StoreError::new("broken", None, "down"))
        }
    }

    fn registered() -> StoreMetrics {
        StoreMetrics::register(&mut Registry::default())
    }

    #[tokio::test]
    async fn each_operation_is_counted_by_what_it_did() {
        let metrics = registered();
        let dir = tempfile::tempdir().unwrap();
        let store = MeteredStore::new(
            Arc::new(SqliteStore::new(dir.path().join("store.sqlite"))),
            metrics.clone(),
        );
        let count = |operation, outcome| value(&metrics, "sqlite", operation, outcome);
        assert_eq!(count(Operation::Write, FAILED), 0, "declared at 0");
        store.save(&snapshot(30, true, 2)).await.unwrap();
        let mut again = snapshot(30, true, 2);
        again.id = "other".into();
        store.save(&again).await.unwrap();
        assert_eq!(count(Operation::Write, STORED), 1);
        assert_eq!(count(Operation::Write, ALREADY_STORED), 1);
        store.for_tick(at(30)).await.unwrap();
        store.latest_at_or_before(at(0)).await.unwrap();
        store.oldest().await.unwrap();
        assert_eq!(count(Operation::Read, FOUND), 2);
        assert_eq!(count(Operation::Read, NOT_FOUND), 1);
        let claim = |instance: &str| Claim {
            job: "warmup".into(),
            fire_at: at(30),
            instance: instance.into(),
            claimed_at: at(30),
        };
        store.claim(&claim("a")).await.unwrap();
        store.claim(&claim("b")).await.unwrap();
        assert_eq!(count(Operation::Claim, CLAIMED), 1);
        assert_eq!(count(Operation::Claim, ALREADY_CLAIMED), 1);
        store.purge(at(0), 10).await.unwrap();
        assert_eq!(count(Operation::Purge, PURGED), 1);
        assert_eq!(count(Operation::Write, FAILED), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_and_writes_nobody_waited_for_are_counted_apart() {
        let metrics = registered();
        let store = MeteredStore::new(Arc::new(Broken { hangs: false }), metrics.clone());
        let count = |operation, outcome| value(&metrics, "broken", operation, outcome);
        store.save(&snapshot(0, false, 1)).await.unwrap_err();
        store.latest_at_or_before(at(0)).await.unwrap_err();
        store
            .claim(&Claim {
                job: "warmup".into(),
                fire_at: at(0),
                instance: "a".into(),
                claimed_at: at(0),
            })
            .await
            .unwrap_err();
        assert_eq!(count(Operation::Write, FAILED), 1);
        assert_eq!(count(Operation::Read, FAILED), 1);
        assert_eq!(count(Operation::Claim, FAILED), 1);

        let hung = MeteredStore::new(Arc::new(Broken { hangs: true }), metrics.clone());
        let written = snapshot(0, false, 1);
        let write = hung.save(&written);
        assert!(
            tokio::time::timeout(Duration::from_secs(5), write)
                .await
                .is_err()
        );
        assert_eq!(count(Operation::Write, ABANDONED), 1, "the store timeout");
        assert_eq!(count(Operation::Write, FAILED), 1, "unchanged");
    }
}

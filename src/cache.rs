//! The snapshot cache: the last good answer, held in moka under one key, swapped whole.
//!
//! Readers get an `Arc` of either the old or the new snapshot, never a mix, and never wait
//! for a warm-up. A failed run never removes the snapshot: it only marks it stale.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::domain::{InterrupcaoAtiva, RowRejection};
use crate::hygiene::public_failure;

/// The key the current answer is cached under.
pub const CACHE_KEY: &str = "interrupcoes:ativas:v1";

/// One complete answer of the source, as loaded by the warm-up job.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When the source was queried.
    pub collected_at: DateTime<Utc>,
    /// Which source produced it (`sqlite`, `oracle`).
    pub source: String,
    /// The instance (replica) that queried the source.
    pub instance: String,
    /// The validated items, ordered by conjunto, then município.
    pub items: Vec<InterrupcaoAtiva>,
    /// Source rows left out by validation: their (conjunto, município) pairs are missing
    /// from `items`.
    pub rejected: Vec<RowRejection>,
}

/// A snapshot as a reader sees it now: with its age and staleness.
#[derive(Debug, Clone)]
pub struct SnapshotView {
    /// The snapshot (shared, immutable).
    pub snapshot: Arc<Snapshot>,
    /// How old it is.
    pub age: Duration,
    /// Why it is stale; `None` when fresh.
    pub stale_reason: Option<String>,
    /// Older than the hard limit: its numbers must not be reported as current.
    pub expired: bool,
}

/// Why there is no answer yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// The first load has not finished yet.
    #[error("no snapshot loaded yet: the first load is in progress")]
    FirstLoadInProgress,
    /// Every load so far failed; the kind and code of the last error are kept.
    #[error("no snapshot loaded yet: the last load failed at {at}: {error}; {}", next_load(*.transient))]
    LoadFailed {
        /// When the last run failed.
        at: DateTime<Utc>,
        /// Its error.
        error: String,
        /// Whether it was transient (retried with backoff until a snapshot loads) rather
        /// than permanent (not retried before the next scheduled run).
        transient: bool,
    },
}

/// What the service does after a failed load while no snapshot has loaded (see
/// `jobs::cache_warmup::warm_up_until_loaded`).
fn next_load(transient: bool) -> &'static str {
    if transient {
        "retrying"
    } else {
        "not retried (permanent failure) until the next scheduled run, or a TriggerNow \
         after the cause is fixed"
    }
}

#[derive(Debug, Clone)]
struct Failure {
    at: DateTime<Utc>,
    error: String,
    transient: bool,
}

/// Holds the current snapshot and the outcome of the last load.
pub struct SnapshotCache {
    cache: moka::future::Cache<&'static str, Arc<Snapshot>>,
    last_failure: RwLock<Option<Failure>>,
    max_age: Duration,
    hard_limit: Duration,
    loaded: watch::Sender<bool>,
    latest: watch::Sender<Option<Arc<Snapshot>>>,
}

impl SnapshotCache {
    /// An empty cache whose snapshots turn stale after `max_age`.
    pub fn new(max_age: Duration) -> Self {
        Self {
            // One entry, no time-to-live: a snapshot leaves only when replaced.
            cache: moka::future::Cache::builder().initial_capacity(1).build(),
            last_failure: RwLock::new(None),
            max_age,
            hard_limit: Duration::MAX,
            loaded: watch::channel(false).0,
            latest: watch::channel(None).0,
        }
    }

    /// Snapshots older than `hard_limit` are reported expired.
    #[must_use]
    pub fn with_hard_limit(mut self, hard_limit: Duration) -> Self {
        self.hard_limit = hard_limit;
        self
    }

    /// Replaces the snapshot and clears the last failure.
    pub async fn replace(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        self.cache.insert(CACHE_KEY, snapshot.clone()).await;
        self.latest.send_replace(Some(snapshot));
        *self.last_failure.write().expect("cache lock") = None;
        self.loaded
            .send_if_modified(|loaded| !std::mem::replace(loaded, true));
    }

    /// Records that a load failed, and whether the failure was transient. The snapshot, if
    /// any, stays and is reported stale. Readers see only the kind and native code of
    /// `error` (see [`public_failure`]).
    pub fn record_failure(&self, error: &str, transient: bool) {
        *self.last_failure.write().expect("cache lock") = Some(Failure {
            at: Utc::now(),
            error: public_failure(error),
            transient,
        });
    }

    /// Whether a snapshot has ever loaded.
    pub fn is_loaded(&self) -> bool {
        *self.loaded.borrow()
    }

    /// A receiver that turns `true` when the first snapshot loads.
    pub fn subscribe_loaded(&self) -> watch::Receiver<bool> {
        self.loaded.subscribe()
    }

    /// A receiver of every snapshot put in the cache: a slow reader sees only the newest
    /// (a watch channel keeps one value), never a backlog.
    pub fn subscribe_snapshots(&self) -> watch::Receiver<Option<Arc<Snapshot>>> {
        self.latest.subscribe()
    }

    /// Staleness and age of `snapshot` (one that was loaded here) at this moment.
    pub fn view(&self, snapshot: Arc<Snapshot>) -> SnapshotView {
        let failure = self.last_failure.read().expect("cache lock").clone();
        let age = (Utc::now() - snapshot.collected_at)
            .to_std()
            .unwrap_or_default();
        let stale_reason = staleness(snapshot.collected_at, age, self.max_age, failure.as_ref());
        SnapshotView {
            snapshot,
            age,
            stale_reason,
            expired: age > self.hard_limit,
        }
    }

    /// The current snapshot with its age and staleness, or why there is none.
    pub async fn current(&self) -> Result<SnapshotView, NotReady> {
        let Some(snapshot) = self.cache.get(&CACHE_KEY).await else {
            let failure = self.last_failure.read().expect("cache lock").clone();
            return Err(match failure {
                None => NotReady::FirstLoadInProgress,
                Some(Failure {
                    at,
                    error,
                    transient,
                }) => NotReady::LoadFailed {
                    at,
                    error,
                    transient,
                },
            });
        };
        Ok(self.view(snapshot))
    }
}

/// Stale when a load after the snapshot failed, or when it is older than `max_age`.
fn staleness(
    collected_at: DateTime<Utc>,
    age: Duration,
    max_age: Duration,
    failure: Option<&Failure>,
) -> Option<String> {
    match failure {
        Some(f) if f.at >= collected_at => Some(format!(
            "the last load failed at {}: {}",
            f.at.to_rfc3339(),
            f.error
        )),
        _ if age > max_age => Some(format!(
            "older than the {} s limit ({} s)",
            max_age.as_secs(),
            age.as_secs()
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(collected_at: DateTime<Utc>, n: i32) -> Snapshot {
        Snapshot {
            collected_at,
            source: "test".into(),
            instance: "test-1".into(),
            items: (0..n)
                .map(|i| InterrupcaoAtiva {
                    ide_conjunto: i,
                    ide_municipio: 1_400_100,
                    qtd_ucs_atendidas: 10,
                    qtd_ocorrencia_programada: 1,
                    qtd_ocorrencia_nao_programada: 0,
                })
                .collect(),
            rejected: Vec::new(),
        }
    }

    #[tokio::test]
    async fn before_the_first_load_it_says_why() {
        let cache = SnapshotCache::new(Duration::from_secs(3600));
        assert_eq!(
            cache.current().await.unwrap_err(),
            NotReady::FirstLoadInProgress
        );
        cache.record_failure(
            "ORA-12541: no listener at /opt/oracle/network (transient)",
            true,
        );
        let err = cache.current().await.unwrap_err().to_string();
        assert!(err.contains("transient source error (ORA-12541)"), "{err}");
        assert!(!err.contains("/opt"), "{err}");
        assert!(err.ends_with("; retrying"), "{err}");
        assert!(!cache.is_loaded());

        // A permanent failure is not retried at start-up: the text must not say it is.
        cache.record_failure(
            "DPI-1047: Cannot locate a 64-bit Oracle Client library",
            false,
        );
        let err = cache.current().await.unwrap_err().to_string();
        assert!(err.contains("DPI-1047"), "{err}");
        assert!(!err.contains("retrying"), "{err}");
        assert!(err.contains("not retried (permanent failure)"), "{err}");
    }

    #[tokio::test]
    async fn a_failure_keeps_the_snapshot_and_marks_it_stale_until_the_next_success() {
        let cache = SnapshotCache::new(Duration::from_secs(3600));
        let mut loaded = cache.subscribe_loaded();
        cache.replace(snapshot(Utc::now(), 3)).await;
        assert!(loaded.has_changed().unwrap());
        assert!(*loaded.borrow_and_update());

        let view = cache.current().await.unwrap();
        assert_eq!(view.snapshot.items.len(), 3);
        assert_eq!(view.stale_reason, None);

        cache.record_failure("attempt 1 timed out after 5 ms", true);
        let view = cache.current().await.unwrap();
        assert_eq!(view.snapshot.items.len(), 3, "the old snapshot stays");
        assert!(
            view.stale_reason
                .unwrap()
                .ends_with(": the source query timed out")
        );

        cache.replace(snapshot(Utc::now(), 5)).await;
        let view = cache.current().await.unwrap();
        assert_eq!(view.snapshot.items.len(), 5);
        assert_eq!(view.stale_reason, None);
        assert!(!loaded.has_changed().unwrap(), "loaded is published once");
    }

    #[tokio::test]
    async fn an_old_snapshot_is_stale_and_beyond_the_hard_limit_expired() {
        let cache =
            SnapshotCache::new(Duration::from_secs(60)).with_hard_limit(Duration::from_secs(120));
        cache
            .replace(snapshot(Utc::now() - chrono::Duration::seconds(121), 1))
            .await;
        assert!(cache.current().await.unwrap().expired);
        cache
            .replace(snapshot(Utc::now() - chrono::Duration::seconds(61), 1))
            .await;
        let view = cache.current().await.unwrap();
        assert!(!view.expired);
        assert!(view.age >= Duration::from_secs(61));
        assert!(
            view.stale_reason
                .unwrap()
                .starts_with("older than the 60 s limit")
        );
    }

    #[test]
    fn a_failure_before_the_snapshot_does_not_make_it_stale() {
        let now = Utc::now();
        let earlier = Failure {
            at: now - chrono::Duration::seconds(1),
            error: "x".into(),
            transient: true,
        };
        let max = Duration::from_secs(60);
        assert_eq!(staleness(now, Duration::ZERO, max, Some(&earlier)), None);
        assert_eq!(staleness(now, Duration::from_secs(60), max, None), None);
        assert!(staleness(now, Duration::from_secs(61), max, None).is_some());
    }
}

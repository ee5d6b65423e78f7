//! The snapshot cache: the last good answer, held in moka under one key, swapped whole.
//!
//! Readers get an `Arc` of either the old or the new snapshot, never a mix, and never wait
//! for a warm-up. A failed run never removes the snapshot: it only marks it stale. Ages are
//! read on the injected [`Clock`]; poisoned locks are taken over (see [`crate::locks`]).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::clock::{Clock, OFFSET_WARNING, SystemClock};
// The snapshot is a domain type; most of its readers know it as the cache's.
pub use crate::domain::Snapshot;
use crate::hygiene::public_failure;
use crate::locks::{read, write};
use crate::scheduler::RunFailure;

/// The key the current answer is cached under.
pub const CACHE_KEY: &str = "interrupcoes:ativas:v1";

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
    /// Notified at each event that may change the answer's state (see
    /// [`SnapshotCache::subscribe_changes`]).
    changes: watch::Sender<()>,
    clock: Arc<dyn Clock>,
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
            changes: watch::channel(()).0,
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads ages and stamps failures on `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Snapshots older than `hard_limit` are reported expired.
    #[must_use]
    pub fn with_hard_limit(mut self, hard_limit: Duration) -> Self {
        self.hard_limit = hard_limit;
        self
    }

    /// Past this age a snapshot is reported expired.
    pub fn hard_limit(&self) -> Duration {
        self.hard_limit
    }

    /// Replaces the snapshot and clears the last failure.
    pub async fn replace(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        self.cache.insert(CACHE_KEY, snapshot).await;
        *write(&self.last_failure) = None;
        self.loaded
            .send_if_modified(|loaded| !std::mem::replace(loaded, true));
        self.changes.send_replace(());
    }

    /// Records that a load failed. The snapshot, if any, stays and is reported stale.
    /// Readers see only the failure's kind and native codes (see [`public_failure`]), and
    /// whether it is retried.
    pub fn record_failure(&self, failure: &RunFailure) {
        *write(&self.last_failure) = Some(Failure {
            at: self.clock.now(),
            error: public_failure(failure),
            transient: failure.is_transient(),
        });
        self.changes.send_replace(());
    }

    /// Whether a snapshot has ever loaded.
    pub fn is_loaded(&self) -> bool {
        *self.loaded.borrow()
    }

    /// A receiver that turns `true` when the first snapshot loads.
    pub fn subscribe_loaded(&self) -> watch::Receiver<bool> {
        self.loaded.subscribe()
    }

    /// A receiver notified after each event that may change the answer's state: a
    /// snapshot replaced, or a load failed. What changes with time alone (stale, then
    /// expired, by age) is not notified: see [`Self::until_aged`].
    pub fn subscribe_changes(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }

    /// How long until `view` changes state by age alone: it turns stale (older than the
    /// staleness limit) or expired (older than the hard limit). `None` when age can change
    /// nothing more.
    pub fn until_aged(&self, view: &SnapshotView) -> Option<Duration> {
        let stale = view.stale_reason.is_none().then_some(self.max_age);
        let expired = (!view.expired).then_some(self.hard_limit);
        // The limits are exceeded, not reached: a moment past them.
        [stale, expired]
            .into_iter()
            .flatten()
            .map(|limit| {
                limit
                    .saturating_sub(view.age)
                    .saturating_add(Duration::from_millis(1))
            })
            .min()
    }

    /// Staleness and age of `snapshot` (one that was loaded here) at this moment.
    pub fn view(&self, snapshot: Arc<Snapshot>) -> SnapshotView {
        let failure = read(&self.last_failure).clone();
        let now = self.clock.now();
        let age = (now - snapshot.collected_at).to_std().unwrap_or_default();
        let stale_reason = staleness(
            snapshot.collected_at,
            now,
            age,
            self.max_age,
            failure.as_ref(),
        );
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
            let failure = read(&self.last_failure).clone();
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

/// Stale when a load after the snapshot failed, when it is stamped ahead of `now`, or
/// when it is older than `max_age`.
fn staleness(
    collected_at: DateTime<Utc>,
    now: DateTime<Utc>,
    age: Duration,
    max_age: Duration,
    failure: Option<&Failure>,
) -> Option<String> {
    let ahead = collected_at - now;
    match failure {
        Some(f) if f.at >= collected_at => Some(format!(
            "the last load failed at {}: {}",
            f.at.to_rfc3339(),
            f.error
        )),
        // Stamped before the clock was corrected to the store's time of record (the
        // start-up measurement failed or timed out, a later one succeeded): its age reads 0
        // and a later failure looks earlier than it, so it would pass for current until the
        // next load replaces it. Its true age is unknown: say so rather than guess. Past
        // the offset warning only, so that a re-measurement's jitter does not flap it.
        _ if ahead > OFFSET_WARNING => Some(format!(
            "collected at {}, {} s ahead of the current time (this replica's clock was \
             corrected to the store's time of record since): its age is unknown",
            collected_at.to_rfc3339(),
            ahead.num_seconds()
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
    use crate::clock::ManualClock;
    use crate::domain::InterrupcaoAtiva;
    use crate::scheduler::JobError;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, h, m, s).unwrap()
    }

    /// A cache whose clock the test moves.
    fn cache_at(max_age: Duration, now: DateTime<Utc>) -> (SnapshotCache, ManualClock) {
        let clock = ManualClock::new(now);
        let cache = SnapshotCache::new(max_age).with_clock(Arc::new(clock.clone()));
        (cache, clock)
    }

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
        cache.record_failure(&RunFailure::Failed(
            JobError::transient("ORA-12541: no listener at /opt/oracle/network (transient)")
                .with_codes(["ORA-12541".to_owned()]),
        ));
        let err = cache.current().await.unwrap_err().to_string();
        assert!(err.contains("transient source error (ORA-12541)"), "{err}");
        assert!(!err.contains("/opt"), "{err}");
        assert!(err.ends_with("; retrying"), "{err}");
        assert!(!cache.is_loaded());

        // A permanent failure is not retried at start-up: the text must not say it is.
        cache.record_failure(&RunFailure::Failed(
            JobError::permanent("DPI-1047: Cannot locate a 64-bit Oracle Client library")
                .with_codes(["DPI-1047".to_owned()]),
        ));
        let err = cache.current().await.unwrap_err().to_string();
        assert!(err.contains("DPI-1047"), "{err}");
        assert!(!err.contains("retrying"), "{err}");
        assert!(err.contains("not retried (permanent failure)"), "{err}");
    }

    #[tokio::test]
    async fn a_failure_keeps_the_snapshot_and_marks_it_stale_until_the_next_success() {
        let (cache, clock) = cache_at(Duration::from_secs(3600), at(12, 0, 0));
        let mut loaded = cache.subscribe_loaded();
        cache.replace(snapshot(at(12, 0, 0), 3)).await;
        assert!(loaded.has_changed().unwrap());
        assert!(*loaded.borrow_and_update());

        let view = cache.current().await.unwrap();
        assert_eq!(view.snapshot.items.len(), 3);
        assert_eq!(view.stale_reason, None);

        clock.set(at(12, 0, 5));
        cache.record_failure(&RunFailure::TimedOut {
            attempt: 1,
            limit: Duration::from_millis(5),
        });
        let view = cache.current().await.unwrap();
        assert_eq!(view.snapshot.items.len(), 3, "the old snapshot stays");
        assert!(
            view.stale_reason
                .unwrap()
                .ends_with(": the source query timed out")
        );

        clock.set(at(12, 0, 10));
        cache.replace(snapshot(at(12, 0, 10), 5)).await;
        let view = cache.current().await.unwrap();
        assert_eq!(view.snapshot.items.len(), 5);
        assert_eq!(view.stale_reason, None);
        assert!(!loaded.has_changed().unwrap(), "loaded is published once");
    }

    #[tokio::test]
    async fn an_old_snapshot_is_stale_and_beyond_the_hard_limit_expired() {
        let (cache, clock) = cache_at(Duration::from_secs(60), at(12, 0, 0));
        let cache = cache.with_hard_limit(Duration::from_secs(120));
        cache.replace(snapshot(at(12, 0, 0), 1)).await;
        clock.set(at(12, 2, 1));
        assert!(cache.current().await.unwrap().expired);
        cache.replace(snapshot(at(12, 1, 0), 1)).await;
        let view = cache.current().await.unwrap();
        assert!(!view.expired);
        assert_eq!(view.age, Duration::from_secs(61));
        assert!(
            view.stale_reason
                .unwrap()
                .starts_with("older than the 60 s limit")
        );
    }

    #[test]
    fn a_failure_before_the_snapshot_does_not_make_it_stale() {
        let now = at(12, 0, 0);
        let earlier = Failure {
            at: now - chrono::Duration::seconds(1),
            error: "x".into(),
            transient: true,
        };
        let max = Duration::from_secs(60);
        assert_eq!(
            staleness(now, now, Duration::ZERO, max, Some(&earlier)),
            None
        );
        assert_eq!(
            staleness(now, now, Duration::from_secs(60), max, None),
            None
        );
        assert!(staleness(now, now, Duration::from_secs(61), max, None).is_some());
    }

    #[tokio::test]
    async fn a_snapshot_stamped_ahead_of_the_corrected_clock_is_stale_with_its_age_unknown() {
        // Collected at 15:00 on a clock 3 h ahead, read once the clock says 12:00.
        let (cache, clock) = cache_at(Duration::from_secs(60), at(15, 0, 0));
        cache.replace(snapshot(at(15, 0, 0), 1)).await;
        assert_eq!(cache.current().await.unwrap().stale_reason, None);
        clock.set(at(12, 0, 0));
        let reason = cache.current().await.unwrap().stale_reason.unwrap();
        assert!(reason.contains("10800 s ahead"), "{reason}");
        assert!(reason.contains("its age is unknown"), "{reason}");
        // A re-measurement's jitter of a second is not taken for a wrong stamp.
        cache.replace(snapshot(at(12, 0, 1), 1)).await;
        assert_eq!(cache.current().await.unwrap().stale_reason, None);
    }
}

//! `interrupcao_cache_warmup`: queries the source (bypassing the cache) and replaces the
//! snapshot. Also run at start-up, retried with a capped backoff until a snapshot loads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::cache::{CACHE_KEY, Snapshot, SnapshotCache};
use crate::clock::{Clock, SystemClock};
use crate::domain::validate_rows;
use crate::scheduler::{
    Backoff, Job, JobError, JobReport, RunContext, RunRecord, SchedulerService, Trigger,
};
use crate::source::InterrupcaoSource;
use crate::store::{Claim, ClaimOutcome, SaveOutcome, SnapshotStore, StoreError, StoredSnapshot};

/// The job's name, as `ListJobs` and `TriggerNow` know it.
pub const WARMUP_JOB_NAME: &str = "interrupcao_cache_warmup";

/// The name of the fact that counts the source rows left out by validation.
pub const REJECTED_FACT: &str = "rejected";

/// How the warm-up shares snapshots with the other replicas through the store.
#[derive(Clone)]
pub struct SharedTicks {
    /// Where snapshots are stored and ticks claimed.
    pub store: Arc<dyn SnapshotStore>,
    /// How long after a tick's scheduled time the other replicas wait for the claimant's
    /// snapshot before querying the source themselves.
    pub claim_wait: Duration,
    /// How often they look for it meanwhile.
    pub claim_poll: Duration,
    /// Limit of one store write: past it the snapshot is served without being stored.
    pub store_timeout: Duration,
}

/// Loads a fresh snapshot from the source into the cache.
pub struct CacheWarmupJob {
    source: Arc<dyn InterrupcaoSource>,
    cache: Arc<SnapshotCache>,
    clock: Arc<dyn Clock>,
    instance: String,
    history: Option<SharedTicks>,
    store_write_failures: AtomicU64,
}

#[async_trait]
impl Job for CacheWarmupJob {
    fn name(&self) -> &str {
        WARMUP_JOB_NAME
    }

    async fn execute(&self, attempt: u32) -> Result<JobReport, JobError> {
        self.execute_run(RunContext {
            attempt,
            trigger: Trigger::Manual,
            scheduled_at: None,
        })
        .await
    }

    async fn execute_run(&self, run: RunContext) -> Result<JobReport, JobError> {
        let work = async {
            match (&self.history, run.trigger, run.scheduled_at) {
                (Some(history), Trigger::Cron, Some(tick)) => {
                    self.run_tick(history, run, tick).await
                }
                _ => self.query_and_load(run, None).await,
            }
        };
        work.instrument(tracing::info_span!("warmup", cache_key = CACHE_KEY))
            .await
    }

    fn on_run_failed(&self, run: &RunRecord) -> Option<String> {
        let error = run.error.clone().unwrap_or_else(|| run.outcome.to_string());
        self.cache.record_failure(&error, run.transient);
        let state = if self.cache.is_loaded() {
            "keeping the last good snapshot, now stale"
        } else {
            "no snapshot yet: the data service stays NOT_SERVING"
        };
        Some(state.to_owned())
    }
}

impl CacheWarmupJob {
    /// A warm-up from `source` into `cache`, on its own (no store), as instance `local`.
    pub fn new(source: Arc<dyn InterrupcaoSource>, cache: Arc<SnapshotCache>) -> Self {
        Self {
            source,
            cache,
            clock: Arc::new(SystemClock),
            instance: "local".to_owned(),
            history: None,
            store_write_failures: AtomicU64::new(0),
        }
    }

    /// Stores every snapshot and shares cron ticks through `history`, as `instance`.
    #[must_use]
    pub fn with_history(mut self, history: SharedTicks, instance: impl Into<String>) -> Self {
        self.history = Some(history);
        self.instance = instance.into();
        self
    }

    /// Stamps snapshots with `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Queries the source and validates its rows into a snapshot (not yet cached).
    async fn fetch_snapshot(&self, attempt: u32) -> Result<Snapshot, JobError> {
        // Milliseconds, as the store keeps it: the replica that queried serves exactly the
        // collection time that the others read back from the store.
        let collected_at = self.clock.now().trunc_subsecs(3);
        let started = std::time::Instant::now();
        // The error goes into the run's record and its one log line (scheduler::runner).
        let rows = self.source.fetch_interrupcoes().await.map_err(|e| {
            if e.is_transient() {
                JobError::transient(e.to_string())
            } else {
                JobError::permanent(e.to_string())
            }
        })?;
        let validated = validate_rows(rows);
        for rejection in &validated.rejected {
            tracing::warn!(
                conjunto = rejection.conjunto,
                municipio = rejection.municipio,
                reason = %rejection.reason,
                "source row rejected"
            );
        }
        let validated = validated
            .servable()
            .map_err(|e| JobError::permanent(e.to_string()))?;
        tracing::info!(
            source = self.source.name(),
            attempt,
            items = validated.items.len(),
            rejected = validated.rejected.len(),
            duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "source queried"
        );
        Ok(Snapshot {
            collected_at,
            source: self.source.name().to_owned(),
            instance: self.instance.clone(),
            rejected: validated.rejected,
            items: validated.items,
        })
    }

    /// Queries the source, stores the snapshot, and replaces the cached one. A failing
    /// store (an error, or no answer within the store timeout) is logged and counted, and
    /// the cache is replaced all the same: the live answer never depends on the store.
    async fn query_and_load(
        &self,
        run: RunContext,
        tick: Option<DateTime<Utc>>,
    ) -> Result<JobReport, JobError> {
        let snapshot = self.fetch_snapshot(run.attempt).await?;
        let rejected = snapshot.rejected.len();
        // Pairs left out are an undercount that must show: in the answer (the snapshot keeps
        // them), in the run's outcome (partial) and in the warnings.
        let mut report = JobReport::new(snapshot.items.len() as u64)
            .with_fact(REJECTED_FACT, &rejected)
            .partial_if(rejected > 0)
            .with_fact("mode", &"queried");
        let Some(history) = &self.history else {
            self.cache.replace(snapshot).await;
            return Ok(report);
        };
        let stored = StoredSnapshot {
            id: uuid::Uuid::new_v4().to_string(),
            tick_at: tick,
            trigger: run.trigger.as_str().to_owned(),
            snapshot,
        };
        let saved = tokio::time::timeout(history.store_timeout, history.store.save(&stored))
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::new(
                    history.store.name(),
                    None,
                    format!(
                        "no answer within {} ms (the store timeout)",
                        history.store_timeout.as_millis()
                    ),
                ))
            });
        match saved {
            Ok(SaveOutcome::Stored) => report = report.with_fact("stored", &stored.id),
            Ok(SaveOutcome::AlreadyStored) => {
                // Another replica queried the same tick past the deadline and stored first:
                // serve its snapshot, so that every replica answers alike after the tick.
                if let Some(tick) = tick
                    && let Ok(Some(theirs)) = history.store.for_tick(tick).await
                {
                    return Ok(self
                        .adopt(theirs, "queried after the deadline, adopted the stored one")
                        .await);
                }
            }
            Err(e) => {
                let failures = self.store_write_failures.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    error = %e,
                    store_write_failures = failures,
                    "storing the snapshot failed: it is served live, but missing from the history"
                );
                report = report
                    .with_fact("store_write", &format!("failed: {e}"))
                    .with_fact("store_write_failures", &failures);
            }
        }
        tracing::info!(
            items = stored.snapshot.items.len(),
            rejected = stored.snapshot.rejected.len(),
            "snapshot replaced"
        );
        self.cache.replace(stored.snapshot).await;
        Ok(report)
    }

    /// Serves a snapshot another replica stored, without touching the source.
    async fn adopt(&self, stored: StoredSnapshot, mode: &str) -> JobReport {
        let report = JobReport::new(stored.snapshot.items.len() as u64)
            .with_fact(REJECTED_FACT, &stored.snapshot.rejected.len())
            .with_fact("mode", &mode)
            .with_fact("snapshot_instance", &stored.snapshot.instance)
            .with_fact("snapshot_id", &stored.id);
        tracing::info!(
            from_instance = %stored.snapshot.instance,
            collected_at = %stored.snapshot.collected_at,
            items = report.count,
            "adopted the snapshot stored by another replica"
        );
        self.cache.replace(stored.snapshot).await;
        report
    }

    /// A cron tick shared by the replicas: claim it and query, or wait for the claimant's
    /// snapshot until the deadline (the tick's scheduled time plus the claim wait), then
    /// query. Without a reachable store, query as if alone.
    async fn run_tick(
        &self,
        history: &SharedTicks,
        run: RunContext,
        tick: DateTime<Utc>,
    ) -> Result<JobReport, JobError> {
        let claim = Claim {
            job: WARMUP_JOB_NAME.to_owned(),
            fire_at: tick,
            instance: self.instance.clone(),
            claimed_at: self.clock.now(),
        };
        let owner = match history.store.claim(&claim).await {
            Ok(ClaimOutcome::Claimed) => None,
            // A retry of our own claimed tick: still ours.
            Ok(ClaimOutcome::AlreadyClaimed { by }) if by == self.instance => None,
            Ok(ClaimOutcome::AlreadyClaimed { by }) => Some(by),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "snapshot store unavailable: querying the source on our own for this tick"
                );
                let report = self.query_and_load(run, Some(tick)).await?;
                return Ok(
                    report.with_fact("claim", &format!("store unavailable, queried alone: {e}"))
                );
            }
        };
        let Some(owner) = owner else {
            let report = self.query_and_load(run, Some(tick)).await?;
            return Ok(report.with_fact("claim", &"claimed"));
        };
        let wait = (tick + chrono::Duration::from_std(history.claim_wait).unwrap_or_default()
            - self.clock.now())
        .to_std()
        .unwrap_or_default();
        let give_up = tokio::time::Instant::now() + wait;
        tracing::info!(
            claimant = %owner,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "tick claimed by another replica: waiting for its snapshot"
        );
        loop {
            match history.store.for_tick(tick).await {
                Ok(Some(stored)) => {
                    let report = self.adopt(stored, "adopted").await;
                    return Ok(report.with_fact("claim", &format!("claimed by {owner}")));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "looking for the claimant's snapshot failed"),
            }
            let now = tokio::time::Instant::now();
            if now >= give_up {
                break;
            }
            tokio::time::sleep(history.claim_poll.min(give_up - now)).await;
        }
        tracing::warn!(
            claimant = %owner,
            "the claimant stored no snapshot by the deadline: querying the source ourselves"
        );
        let report = self.query_and_load(run, Some(tick)).await?;
        Ok(report.with_fact(
            "claim",
            &format!("claimed by {owner}, who stored nothing by the deadline"),
        ))
    }
}

/// Runs the warm-up now, and again with a capped backoff until a snapshot has loaded,
/// instead of waiting for the next cron tick. Only transient failures are retried this way:
/// after a permanent one (bad credentials, missing table, missing client library) retrying
/// cannot help and could lock the database account with repeated failed logins, so the
/// next cron run, or an operator's `TriggerNow` after the fix, tries again. Ends early when
/// `shutdown` is cancelled.
pub async fn warm_up_until_loaded(
    scheduler: SchedulerService,
    cache: Arc<SnapshotCache>,
    backoff: Backoff,
    shutdown: CancellationToken,
) {
    let mut failures = 0;
    while !cache.is_loaded() {
        let run = tokio::select! {
            run = scheduler.trigger(WARMUP_JOB_NAME, Trigger::Startup) => run,
            () = shutdown.cancelled() => return,
        };
        if cache.is_loaded() {
            return;
        }
        match run {
            Ok(result) if !result.run.transient => {
                // The failure itself was logged once, with the run; this says what follows.
                tracing::warn!(
                    "the start-up warm-up is not retried: the failure is permanent; the next \
                     scheduled run, or a TriggerNow after the cause is fixed, tries again"
                );
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "start-up warm-up could not run");
                return;
            }
        }
        failures += 1;
        let pause = backoff.after(failures);
        tracing::warn!(
            backoff_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
            "no snapshot loaded yet: retrying the warm-up"
        );
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RawInterrupcaoRow;
    use crate::scheduler::{CronSchedule, RetryPolicy};
    use crate::source::SourceError;
    use std::sync::Mutex;
    use std::time::Duration;
    use tokio::time::Instant;

    /// Fails with the scripted errors, then answers one row; records when it was called.
    struct Flaky {
        errors: Mutex<Vec<SourceError>>,
        calls: Mutex<Vec<Instant>>,
    }

    #[async_trait]
    impl InterrupcaoSource for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        async fn fetch_interrupcoes(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
            self.calls.lock().unwrap().push(Instant::now());
            match self.errors.lock().unwrap().pop() {
                Some(e) => Err(e),
                None => Ok(vec![RawInterrupcaoRow {
                    conjunto: Some(1),
                    municipio: Some(1_400_100),
                    qtd_ucs_atendidas: Some(10),
                    qtd_programada: Some(0),
                    qtd_nao_programada: Some(2),
                }]),
            }
        }
    }

    async fn run_startup(errors: Vec<SourceError>) -> (Arc<SnapshotCache>, Vec<Duration>) {
        let source = Arc::new(Flaky {
            errors: Mutex::new(errors),
            calls: Mutex::new(Vec::new()),
        });
        let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
        let scheduler = SchedulerService::new(
            chrono_tz::UTC,
            RetryPolicy {
                attempt_timeout: Duration::from_secs(60),
                max_attempts: 1,
                backoff: Backoff {
                    initial: Duration::from_secs(1),
                    max: Duration::from_secs(30),
                },
            },
        );
        scheduler
            .add_cron_job(
                Arc::new(CacheWarmupJob::new(source.clone(), cache.clone())),
                CronSchedule::parse("0 0 0 1 1 *").unwrap(),
            )
            .await
            .unwrap();
        let retry = Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(5),
        };
        let start = Instant::now();
        warm_up_until_loaded(scheduler, cache.clone(), retry, CancellationToken::new()).await;
        let offsets = source
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|t| t.duration_since(start))
            .collect();
        (cache, offsets)
    }

    fn transient() -> SourceError {
        SourceError::transient(Some("ORA-12541".into()), "no listener")
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_with_a_capped_backoff_until_loaded() {
        let (cache, calls) = run_startup(vec![transient(); 4]).await;
        assert!(cache.is_loaded());
        let secs: Vec<u64> = calls.iter().map(Duration::as_secs).collect();
        // Pauses of 2, 4, then 5, 5 (capped) seconds between the five runs.
        assert_eq!(secs, vec![0, 2, 6, 11, 16]);
    }

    /// A source that always answers `rows`.
    struct Fixed(Vec<RawInterrupcaoRow>);

    #[async_trait]
    impl InterrupcaoSource for Fixed {
        fn name(&self) -> &'static str {
            "fixed"
        }
        async fn fetch_interrupcoes(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
            Ok(self.0.clone())
        }
    }

    fn raw(conjunto: i64, municipio: i64) -> RawInterrupcaoRow {
        RawInterrupcaoRow {
            conjunto: Some(conjunto),
            municipio: Some(municipio),
            qtd_ucs_atendidas: Some(10),
            qtd_programada: Some(1),
            qtd_nao_programada: Some(0),
        }
    }

    use crate::telemetry::capture::Captured;

    #[tokio::test]
    async fn each_rejected_pair_is_a_warning_and_stays_listed_with_the_snapshot() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
        let mut too_many = raw(2, 1_400_100);
        too_many.qtd_ucs_atendidas = Some(3_000_000_000);
        let report = CacheWarmupJob::new(
            Arc::new(Fixed(vec![raw(1, 1_400_100), too_many])),
            cache.clone(),
        )
        .execute(1)
        .await
        .unwrap();
        assert_eq!((report.count, report.fact(REJECTED_FACT)), (1, Some("1")));
        assert!(report.partial, "a run that leaves pairs out says so");

        let logs = captured.text();
        let line = logs
            .lines()
            .find(|l| l.contains("source row rejected"))
            .unwrap_or_else(|| panic!("no rejection logged: {logs}"));
        assert!(line.contains("WARN"), "{line}");
        assert!(
            line.contains("conjunto=2") && line.contains("municipio=1400100"),
            "{line}"
        );
        assert!(line.contains("qtdUCsAtendidas"), "{line}");

        let snapshot = cache.current().await.unwrap().snapshot;
        assert_eq!(snapshot.items.len(), 1);
        assert_eq!(snapshot.rejected.len(), 1);
        assert_eq!(snapshot.rejected[0].conjunto, Some(2));
    }

    #[tokio::test]
    async fn a_source_whose_every_row_is_invalid_fails_the_run_and_keeps_the_snapshot() {
        let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
        let good = CacheWarmupJob::new(Arc::new(Fixed(vec![raw(1, 1_400_100)])), cache.clone());
        good.execute(1).await.unwrap();

        // A 6-digit IBGE code everywhere: a systematic problem, not a few bad rows.
        let bad_rows = vec![raw(1, 140_010), raw(2, 140_010)];
        let bad = CacheWarmupJob::new(Arc::new(Fixed(bad_rows)), cache.clone());
        let error = bad.execute(1).await.unwrap_err();
        assert!(!error.transient);
        assert!(
            error
                .message
                .starts_with("all 2 rows from the source failed validation")
        );
        assert!(error.message.contains("140010"), "{}", error.message);
        assert_eq!(
            cache.current().await.unwrap().snapshot.items.len(),
            1,
            "kept"
        );

        // Some bad rows among good ones: the good ones are served.
        let mixed = vec![raw(1, 140_010), raw(2, 1_400_100), raw(3, 1_400_050)];
        let report = CacheWarmupJob::new(Arc::new(Fixed(mixed)), cache.clone())
            .execute(1)
            .await
            .unwrap();
        assert_eq!((report.count, report.fact(REJECTED_FACT)), (2, Some("1")));

        // An empty answer (no outage anywhere) is a valid answer.
        let report = CacheWarmupJob::new(Arc::new(Fixed(vec![])), cache.clone())
            .execute(1)
            .await
            .unwrap();
        assert_eq!((report.count, report.fact(REJECTED_FACT)), (0, Some("0")));
        assert!(cache.current().await.unwrap().snapshot.items.is_empty());
    }

    #[tokio::test]
    async fn items_are_served_in_aneel_order_whatever_the_source_order() {
        let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
        let rows = vec![raw(10, 1_400_100), raw(9, 1_400_175), raw(9, 1_400_100)];
        CacheWarmupJob::new(Arc::new(Fixed(rows)), cache.clone())
            .execute(1)
            .await
            .unwrap();
        let keys: Vec<(i32, i32)> = cache
            .current()
            .await
            .unwrap()
            .snapshot
            .items
            .iter()
            .map(|i| (i.ide_conjunto, i.ide_municipio))
            .collect();
        assert_eq!(keys, vec![(9, 1_400_100), (9, 1_400_175), (10, 1_400_100)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_failure_stops_the_fast_retries() {
        let login = SourceError::permanent(Some("ORA-01017".into()), "invalid credentials");
        let (cache, calls) = run_startup(vec![login]).await;
        assert!(!cache.is_loaded());
        assert_eq!(calls.len(), 1, "a bad password is not retried at start-up");
    }
    /// A store that never answers a write (a hung database).
    struct HungStore;

    #[async_trait]
    impl SnapshotStore for HungStore {
        fn name(&self) -> &'static str {
            "hung"
        }
        async fn save(&self, _: &StoredSnapshot) -> Result<SaveOutcome, StoreError> {
            std::future::pending().await
        }
        async fn latest_at_or_before(
            &self,
            _: DateTime<Utc>,
        ) -> Result<Option<StoredSnapshot>, StoreError> {
            Ok(None)
        }
        async fn for_tick(&self, _: DateTime<Utc>) -> Result<Option<StoredSnapshot>, StoreError> {
            Ok(None)
        }
        async fn oldest(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
            Ok(None)
        }
        async fn claim(&self, _: &Claim) -> Result<ClaimOutcome, StoreError> {
            Ok(ClaimOutcome::Claimed)
        }
        async fn purge(
            &self,
            _: DateTime<Utc>,
            _: u32,
        ) -> Result<crate::store::PurgeReport, StoreError> {
            Ok(crate::store::PurgeReport::default())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_store_write_never_holds_back_the_live_snapshot() {
        let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
        let job = CacheWarmupJob::new(Arc::new(Fixed(vec![raw(4, 1_400_100)])), cache.clone())
            .with_history(
                SharedTicks {
                    store: Arc::new(HungStore),
                    claim_wait: Duration::from_secs(20),
                    claim_poll: Duration::from_millis(500),
                    store_timeout: Duration::from_secs(5),
                },
                "replica-a",
            );
        for (n, trigger, tick) in [
            (1, Trigger::Manual, None),
            (2, Trigger::Cron, Some(Utc::now())),
        ] {
            let report = job
                .execute_run(RunContext {
                    attempt: 1,
                    trigger,
                    scheduled_at: tick,
                })
                .await
                .unwrap();
            assert_eq!(
                report.fact("store_write"),
                Some("failed: snapshot store (hung): no answer within 5000 ms (the store timeout)")
            );
            assert_eq!(
                report.fact("store_write_failures"),
                Some(n.to_string().as_str())
            );
            assert_eq!(report.fact("mode"), Some("queried"));
        }
        let served = cache.current().await.unwrap();
        assert_eq!(served.snapshot.items[0].ide_conjunto, 4);
        assert_eq!(served.snapshot.instance, "replica-a");
    }
}

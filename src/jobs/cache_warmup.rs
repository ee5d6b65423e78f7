//! `interrupcao_cache_warmup`: queries the source (bypassing the cache) and replaces the
//! snapshot. Also run at start-up, retried with a capped backoff until a snapshot loads.
//! With a store, every snapshot is stored, and a replica that did not claim a cron tick
//! adopts the snapshot the claimant stored ([`AdoptClaimant`]); claiming and waiting are
//! the scheduler's (`scheduler::cluster`).

use opentelemetry_semantic_conventions::attribute as semconv;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::cache::{CACHE_KEY, Snapshot, SnapshotCache};
use crate::clock::{Clock, SystemClock};
use crate::domain::validate_rows;
use crate::scheduler::{
    AdoptClaimant, Backoff, Job, JobError, JobReport, RunContext, RunRecord, SchedulerService,
    Trigger,
};
use crate::source::{InterrupcaoSource, SourceError};
use crate::store::{SaveOutcome, SnapshotStore, StoreError, StoredSnapshot};
use crate::telemetry::spans;

/// The job's name, as `ListJobs` and `TriggerNow` know it.
pub const WARMUP_JOB_NAME: &str = "interrupcao_cache_warmup";

/// The step a run reports as failed when its snapshot is served but was not stored
/// (`ListJobs`' `degraded.step`).
pub const STORE_WRITE_STEP: &str = "store_write";

/// Where the warm-up keeps the history of its snapshots, shared with the other replicas.
#[derive(Clone)]
pub struct SnapshotHistory {
    /// Where snapshots are stored.
    pub store: Arc<dyn SnapshotStore>,
    /// Limit of one store write: past it the snapshot is served without being stored.
    pub store_timeout: Duration,
}

/// Loads a fresh snapshot from the source into the cache.
pub struct CacheWarmupJob {
    source: Arc<dyn InterrupcaoSource>,
    cache: Arc<SnapshotCache>,
    clock: Arc<dyn Clock>,
    instance: String,
    history: Option<SnapshotHistory>,
}

#[async_trait]
impl Job for CacheWarmupJob {
    async fn run(&self, run: RunContext) -> Result<JobReport, JobError> {
        self.query_and_load(run)
            .instrument(tracing::info_span!("warmup", cache_key = CACHE_KEY))
            .await
    }

    fn on_run_failed(&self, run: &RunRecord) -> Option<String> {
        if let Some(failure) = &run.error {
            self.cache.record_failure(failure);
        }
        let state = if self.cache.is_loaded() {
            "keeping the last good snapshot, now stale"
        } else {
            "no snapshot yet: the data service stays NOT_SERVING"
        };
        Some(state.to_owned())
    }
}

#[async_trait]
impl AdoptClaimant for CacheWarmupJob {
    /// Once the claimant stored its snapshot for `tick`: that snapshot, served here as it
    /// is, or a newer stored one. A replica that resumes after a pause runs its old tick,
    /// whose snapshot newer ones have replaced: serving it would go back in time.
    async fn adopt(&self, tick: DateTime<Utc>) -> Result<Option<JobReport>, JobError> {
        let Some(history) = &self.history else {
            return Ok(None);
        };
        let stored = history
            .store
            .for_tick(tick)
            .await
            .map_err(|e| store_job_error(&e))?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let newest = match history.store.latest_at_or_before(self.clock.now()).await {
            Ok(newest) => newest,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for a snapshot newer than the tick's");
                None
            }
        };
        Ok(Some(match newest {
            Some(newest) if newest.snapshot.collected_at > stored.snapshot.collected_at => {
                tracing::info!(
                    tick = %tick,
                    tick_collected_at = %stored.snapshot.collected_at,
                    "the tick's snapshot was superseded (a late tick): adopting the newest"
                );
                self.serve_stored(newest, "adopted the newest stored (the tick's is older)")
                    .await
            }
            _ => self.serve_stored(stored, "adopted").await,
        }))
    }
}

/// A source's failure as the job reports it: the same kind, its native codes (a stacked
/// Oracle message names several: the driver's text is read here, once, at the boundary),
/// and its text for operators.
fn source_job_error(e: &SourceError) -> JobError {
    let text = e.to_string();
    let error = if e.is_transient() {
        JobError::transient(text)
    } else {
        JobError::permanent(text)
    };
    error.with_codes(e.codes.clone())
}

/// A store's failure as the job reports it: worth retrying (the store is shared and may be
/// busy or restarting), with its native code.
fn store_job_error(e: &StoreError) -> JobError {
    JobError::transient(e.to_string()).with_codes(e.code.clone())
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
        }
    }

    /// Stores every snapshot in `history`, as `instance`.
    #[must_use]
    pub fn with_history(mut self, history: SnapshotHistory, instance: impl Into<String>) -> Self {
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
        let query = spans::db_client(self.source.db_system(), "SELECT", "interrupcoes_ativas");
        let rows = self
            .source
            .fetch_interrupcoes()
            .instrument(query.clone())
            .await
            .map_err(|e| {
                let error = source_job_error(&e);
                spans::mark_failed(&query, error.kind.as_str());
                error
            })?;
        spans::set_attribute(
            &query,
            semconv::DB_RESPONSE_RETURNED_ROWS,
            i64::try_from(rows.len()).unwrap_or(i64::MAX),
        );
        drop(query);
        let validation = tracing::info_span!("row_validation", otel.name = "row validation");
        let validated = validation.in_scope(|| validate_rows(rows));
        spans::set_attribute(
            &validation,
            "rejected",
            i64::try_from(validated.rejected.len()).unwrap_or(i64::MAX),
        );
        drop(validation);
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
            .map_err(|e| JobError::invalid_input(e.to_string()))?;
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

    /// Queries the source, stores the snapshot (for a cron run, as its tick's), and
    /// replaces the cached one. A failing store (an error, or no answer within the store
    /// timeout) makes the run `degraded` (served, not stored; the store's metrics count
    /// it), and the cache is replaced all the same: the live answer never depends on the
    /// store.
    async fn query_and_load(&self, run: RunContext) -> Result<JobReport, JobError> {
        let tick = run.scheduled_at.filter(|_| run.trigger == Trigger::Cron);
        let snapshot = self.fetch_snapshot(run.attempt).await?;
        let rejected = snapshot.rejected.len() as u64;
        // Pairs left out are an undercount that must show: in the answer (the snapshot keeps
        // them), in the run's outcome (partial) and in the warnings.
        let mut report = JobReport::new(snapshot.items.len() as u64)
            .with_rejected(rejected)
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
        let write = spans::db_client(history.store.db_system(), "INSERT", "snapshot");
        let saved = tokio::time::timeout(history.store_timeout, history.store.save(&stored))
            .instrument(write.clone())
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
        if let Err(e) = &saved {
            spans::mark_failed(&write, store_job_error(e).kind.as_str());
        }
        drop(write);
        match saved {
            Ok(SaveOutcome::Stored) => report = report.with_fact("stored", &stored.id),
            Ok(SaveOutcome::AlreadyStored) => {
                // Another replica queried the same tick past the deadline and stored first:
                // serve its snapshot, so that every replica answers alike after the tick.
                if let Some(tick) = tick
                    && let Ok(Some(theirs)) = history.store.for_tick(tick).await
                {
                    return Ok(self
                        .serve_stored(theirs, "queried after the deadline, adopted the stored one")
                        .await);
                }
            }
            Err(e) => {
                // The run's one warning line (scheduler::runner) carries the error.
                report = report.degraded_by(STORE_WRITE_STEP, store_job_error(&e));
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
    async fn serve_stored(&self, stored: StoredSnapshot, mode: &str) -> JobReport {
        let report = JobReport::new(stored.snapshot.items.len() as u64)
            .with_rejected(stored.snapshot.rejected.len() as u64)
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
            Ok(result) if !result.run.is_transient() => {
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
    use crate::clock::SystemClock;
    use crate::domain::RawInterrupcaoRow;
    use crate::scheduler::{CronSchedule, JobSpec, RetryPolicy};
    use crate::store::{Claim, ClaimOutcome};
    use std::sync::Mutex;
    use std::time::Duration;
    use tokio::time::Instant;

    /// The context of a first manual attempt.
    fn manual() -> RunContext {
        RunContext {
            attempt: 1,
            trigger: Trigger::Manual,
            scheduled_at: None,
        }
    }

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
        let scheduler = SchedulerService::new(chrono_tz::UTC, Arc::new(SystemClock));
        let retry = RetryPolicy {
            attempt_timeout: Duration::from_secs(60),
            max_attempts: 1,
            backoff: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(30),
            },
        };
        scheduler
            .add_job(JobSpec::new(
                WARMUP_JOB_NAME,
                Arc::new(CacheWarmupJob::new(source.clone(), cache.clone())),
                CronSchedule::parse("0 0 0 1 1 *").unwrap(),
                retry,
            ))
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
        .run(manual())
        .await
        .unwrap();
        assert_eq!((report.count, report.rejected), (1, Some(1)));
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
        good.run(manual()).await.unwrap();

        // A 6-digit IBGE code everywhere: a systematic problem, not a few bad rows.
        let bad_rows = vec![raw(1, 140_010), raw(2, 140_010)];
        let bad = CacheWarmupJob::new(Arc::new(Fixed(bad_rows)), cache.clone());
        let error = bad.run(manual()).await.unwrap_err();
        assert!(!error.is_transient());
        assert_eq!(error.kind, crate::scheduler::FailureKind::InvalidInput);
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
            .run(manual())
            .await
            .unwrap();
        assert_eq!((report.count, report.rejected), (2, Some(1)));

        // An empty answer (no outage anywhere) is a valid answer.
        let report = CacheWarmupJob::new(Arc::new(Fixed(vec![])), cache.clone())
            .run(manual())
            .await
            .unwrap();
        assert_eq!((report.count, report.rejected), (0, Some(0)));
        assert!(cache.current().await.unwrap().snapshot.items.is_empty());
    }

    #[tokio::test]
    async fn items_are_served_in_aneel_order_whatever_the_source_order() {
        let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
        let rows = vec![raw(10, 1_400_100), raw(9, 1_400_175), raw(9, 1_400_100)];
        CacheWarmupJob::new(Arc::new(Fixed(rows)), cache.clone())
            .run(manual())
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
        async fn prepare(&self) -> Result<crate::store::schema::SchemaState, StoreError> {
            std::future::pending().await
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
        async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
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
                SnapshotHistory {
                    store: Arc::new(HungStore),
                    store_timeout: Duration::from_secs(5),
                },
                "replica-a",
            );
        for (n, trigger, tick) in [
            (1, Trigger::Manual, None),
            (2, Trigger::Cron, Some(DateTime::<Utc>::UNIX_EPOCH)),
        ] {
            let report = job
                .run(RunContext {
                    attempt: 1,
                    trigger,
                    scheduled_at: tick,
                })
                .await
                .unwrap();
            let failed = report
                .degraded
                .as_ref()
                .unwrap_or_else(|| panic!("run {n}"));
            assert_eq!(failed.step, STORE_WRITE_STEP);
            assert!(failed.error.is_transient());
            assert_eq!(
                failed.error.message,
                "snapshot store (hung): no answer within 5000 ms (the store timeout)"
            );
            assert_eq!(report.fact("stored"), None);
            assert_eq!(report.fact("mode"), Some("queried"));
        }
        let served = cache.current().await.unwrap();
        assert_eq!(served.snapshot.items[0].ide_conjunto, 4);
        assert_eq!(served.snapshot.instance, "replica-a");
    }
}

//! `interrupcao_cache_warmup`: queries the source (bypassing the cache) and replaces the
//! snapshot. Also run at start-up, retried with a capped backoff until a snapshot loads.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::cache::{CACHE_KEY, Snapshot, SnapshotCache};
use crate::domain::validate_rows;
use crate::scheduler::{Backoff, Job, JobError, JobReport, RunRecord, SchedulerService, Trigger};
use crate::source::InterrupcaoSource;

/// The job's name, as `ListJobs` and `TriggerNow` know it.
pub const WARMUP_JOB_NAME: &str = "interrupcao_cache_warmup";

/// Loads a fresh snapshot from the source into the cache.
pub struct CacheWarmupJob {
    source: Arc<dyn InterrupcaoSource>,
    cache: Arc<SnapshotCache>,
}

impl CacheWarmupJob {
    /// A warm-up from `source` into `cache`.
    pub fn new(source: Arc<dyn InterrupcaoSource>, cache: Arc<SnapshotCache>) -> Self {
        Self { source, cache }
    }
}

/// The name of the fact that counts the source rows left out by validation.
pub const REJECTED_FACT: &str = "rejected";

#[async_trait]
impl Job for CacheWarmupJob {
    fn name(&self) -> &str {
        WARMUP_JOB_NAME
    }

    async fn execute(&self, attempt: u32) -> Result<JobReport, JobError> {
        self.warm_up(attempt)
            .instrument(tracing::info_span!("warmup", cache_key = CACHE_KEY))
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
    async fn warm_up(&self, attempt: u32) -> Result<JobReport, JobError> {
        let collected_at = Utc::now();
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
        let items = validated.items.len() as u64;
        let rejected = validated.rejected.len() as u64;
        // Pairs left out are an undercount that must show: in the answer (the snapshot keeps
        // them), in the run's outcome (partial) and in the warnings above.
        self.cache
            .replace(Snapshot {
                collected_at,
                source: self.source.name(),
                items: validated.items,
                rejected: validated.rejected,
            })
            .await;
        tracing::info!(
            source = self.source.name(),
            attempt,
            items,
            rejected,
            duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "snapshot replaced"
        );
        Ok(JobReport::new(items)
            .with_fact(REJECTED_FACT, &rejected)
            .partial_if(rejected > 0))
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
}

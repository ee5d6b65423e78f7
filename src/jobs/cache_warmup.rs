//! `interrupcao_cache_warmup`: queries the source (bypassing the cache) and replaces the
//! snapshot. Also run at start-up, retried with a capped backoff until a snapshot loads.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::cache::{CACHE_KEY, Snapshot, SnapshotCache};
use crate::domain::validate_rows;
use crate::scheduler::{Job, JobError, JobReport, RunRecord, SchedulerService, Trigger};
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

#[async_trait]
impl Job for CacheWarmupJob {
    fn name(&self) -> &str {
        WARMUP_JOB_NAME
    }

    fn cache_key(&self) -> Option<&str> {
        Some(CACHE_KEY)
    }

    async fn execute(&self, attempt: u32) -> Result<JobReport, JobError> {
        let collected_at = Utc::now();
        let started = std::time::Instant::now();
        let rows = self.source.fetch_interrupcoes().await.map_err(|e| {
            tracing::warn!(
                source = self.source.name(),
                attempt,
                error = %e,
                "source query failed"
            );
            if e.is_transient() {
                JobError::retryable(e.to_string())
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
        let report = JobReport {
            items: validated.items.len() as u64,
            rejected: validated.rejected.len() as u64,
        };
        self.cache
            .replace(Snapshot {
                collected_at,
                source: self.source.name(),
                items: validated.items,
                rejected: report.rejected,
            })
            .await;
        tracing::info!(
            source = self.source.name(),
            attempt,
            items = report.items,
            rejected = report.rejected,
            duration_ms = started.elapsed().as_millis() as u64,
            "snapshot replaced"
        );
        Ok(report)
    }

    fn on_run_failed(&self, run: &RunRecord) {
        let error = run.error.clone().unwrap_or_else(|| run.outcome.to_string());
        tracing::warn!(
            outcome = run.outcome.as_str(),
            "warm-up failed: keeping the last good snapshot, now stale"
        );
        self.cache.record_failure(error);
    }
}

/// How the start-up warm-up retries until the first snapshot loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartupRetry {
    /// Pause after the first failed run.
    pub initial_backoff: Duration,
    /// Upper bound of the pause (doubled after each failure).
    pub max_backoff: Duration,
}

impl Default for StartupRetry {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// Runs the warm-up now, and again with a capped backoff until a snapshot has loaded,
/// instead of waiting for the next cron tick. Ends early when `shutdown` is cancelled.
pub async fn warm_up_until_loaded(
    scheduler: SchedulerService,
    cache: Arc<SnapshotCache>,
    retry: StartupRetry,
    shutdown: CancellationToken,
) {
    let mut backoff = retry.initial_backoff.min(retry.max_backoff);
    while !cache.is_loaded() {
        let run = tokio::select! {
            run = scheduler.trigger(WARMUP_JOB_NAME, Trigger::Startup) => run,
            () = shutdown.cancelled() => return,
        };
        if let Err(e) = run {
            tracing::error!(error = %e, "start-up warm-up could not run");
        }
        if cache.is_loaded() {
            return;
        }
        tracing::warn!(
            backoff_ms = backoff.as_millis() as u64,
            "no snapshot loaded yet: retrying the warm-up"
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(retry.max_backoff);
    }
}

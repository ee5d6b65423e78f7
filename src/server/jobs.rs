//! The jobs the service runs, each with its spec (schedule, retry policy, coordination).
//! Adding a job is one entry in [`jobs`].

use std::sync::Arc;

use anyhow::Context;

use super::Backends;
use crate::cache::SnapshotCache;
use crate::clock::CorrectedClock;
use crate::config::ServiceSettings;
use crate::jobs::{
    CacheWarmupJob, PURGE_JOB_NAME, PURGE_RETRY, RetentionPurgeJob, SnapshotHistory,
    WARMUP_JOB_NAME,
};
use crate::scheduler::{Backoff, ClaimedTicks, JobSpec, RetryPolicy, SchedulerService};
use crate::store::StoreClaims;

/// A job's spec, and what start-up failed at if it cannot be scheduled.
pub(super) struct ScheduledJob {
    /// What start-up failed at if it cannot be scheduled (`scheduling the ... job`).
    pub what: &'static str,
    /// The job, its name, schedule, retry policy and coordination.
    pub spec: JobSpec,
}

/// Every job of the service: the cache warm-up (which also stores the snapshot; its cron
/// ticks are claimed by one replica and adopted by the others) and the retention purge of
/// the history (with its own retry policy, not the warm-up's).
pub(super) fn jobs(
    settings: &ServiceSettings,
    backends: &Backends,
    clock: &Arc<CorrectedClock>,
    cache: &Arc<SnapshotCache>,
) -> Vec<ScheduledJob> {
    let history = &settings.history;
    let warmup = Arc::new(
        CacheWarmupJob::new(backends.source.clone(), cache.clone())
            .with_clock(backends.clock.clone())
            .with_history(
                SnapshotHistory {
                    store: backends.store.clone(),
                    store_timeout: history.store_timeout,
                },
                history.instance_id.clone(),
            ),
    );
    let warmup_spec = JobSpec::new(
        WARMUP_JOB_NAME,
        warmup.clone(),
        settings.warmup_cron.clone(),
        retry_policy(settings),
    )
    .claimed(ClaimedTicks {
        claims: Arc::new(StoreClaims(backends.store.clone())),
        adopt: warmup,
        instance: history.instance_id.clone(),
        wait: history.claim_wait,
        poll: history.claim_poll,
        clock: clock.clone(),
    });
    let purge = RetentionPurgeJob::new(
        backends.store.clone(),
        backends.clock.clone(),
        history.retention,
        history.purge_batch_size,
    );
    vec![
        ScheduledJob {
            what: "scheduling the warm-up job",
            spec: warmup_spec,
        },
        ScheduledJob {
            what: "scheduling the retention purge job",
            spec: JobSpec::new(
                PURGE_JOB_NAME,
                Arc::new(purge),
                history.purge_cron.clone(),
                PURGE_RETRY,
            ),
        },
    ]
}

/// Registers every job with `scheduler`; fails naming the first job refused.
pub(super) async fn schedule_all(
    scheduler: &SchedulerService,
    jobs: Vec<ScheduledJob>,
) -> anyhow::Result<()> {
    for ScheduledJob { what, spec } in jobs {
        scheduler.add_job(spec).await.context(what)?;
    }
    Ok(())
}

/// The warm-up's attempts, timeout and backoff, from the settings' numbers.
pub(super) fn retry_policy(settings: &ServiceSettings) -> RetryPolicy {
    RetryPolicy {
        attempt_timeout: settings.job_timeout,
        max_attempts: settings.job_max_attempts,
        backoff: Backoff {
            initial: settings.job_retry_backoff,
            max: settings.job_retry_backoff_max,
        },
    }
}

/// Backoff of the start-up warm-up until a snapshot loads.
pub(super) fn startup_backoff(settings: &ServiceSettings) -> Backoff {
    Backoff {
        initial: settings
            .startup_retry_initial
            .min(settings.startup_retry_max),
        max: settings.startup_retry_max,
    }
}

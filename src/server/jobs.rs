//! The jobs the service runs, each with its schedule. Adding a job is one entry in
//! [`jobs`].

use std::sync::Arc;

use anyhow::Context;

use super::Backends;
use crate::cache::SnapshotCache;
use crate::config::ServiceSettings;
use crate::jobs::{CacheWarmupJob, RetentionPurgeJob, SharedTicks};
use crate::scheduler::{CronSchedule, Job, SchedulerService};

/// A job and when it runs.
pub(super) struct ScheduledJob {
    /// What start-up failed at if it cannot be scheduled (`scheduling the ... job`).
    pub what: &'static str,
    /// The job.
    pub job: Arc<dyn Job>,
    /// When it runs.
    pub schedule: CronSchedule,
}

/// Every job of the service: the cache warm-up (which also stores the snapshot and shares
/// the cron ticks with the other replicas) and the retention purge of the history.
pub(super) fn jobs(
    settings: &ServiceSettings,
    backends: &Backends,
    cache: &Arc<SnapshotCache>,
) -> Vec<ScheduledJob> {
    let history = &settings.history;
    let warmup = CacheWarmupJob::new(backends.source.clone(), cache.clone())
        .with_clock(backends.clock.clone())
        .with_history(
            SharedTicks {
                store: backends.store.clone(),
                claim_wait: history.claim_wait,
                claim_poll: history.claim_poll,
                store_timeout: history.store_timeout,
            },
            history.instance_id.clone(),
        );
    let purge = RetentionPurgeJob::new(
        backends.store.clone(),
        backends.clock.clone(),
        history.retention,
        history.purge_batch_size,
    );
    vec![
        ScheduledJob {
            what: "scheduling the warm-up job",
            job: Arc::new(warmup),
            schedule: settings.warmup_cron.clone(),
        },
        ScheduledJob {
            what: "scheduling the retention purge job",
            job: Arc::new(purge),
            schedule: history.purge_cron.clone(),
        },
    ]
}

/// Registers every job with `scheduler`; fails naming the first job refused.
pub(super) async fn schedule_all(
    scheduler: &SchedulerService,
    jobs: Vec<ScheduledJob>,
) -> anyhow::Result<()> {
    for ScheduledJob {
        what,
        job,
        schedule,
    } in jobs
    {
        scheduler.add_cron_job(job, schedule).await.context(what)?;
    }
    Ok(())
}

//! What a job is registered with: its name, schedule, retry policy and coordination. Adding
//! a job is one [`JobSpec`]; sharing its cron ticks between replicas is its `coordination`.

use std::sync::Arc;
use std::time::Duration;

use super::cluster::{ClaimedTicks, TICK_WAIT_LIMIT};
use super::cron::CronSchedule;
use super::job::Job;
use super::liveness::worst_case;
use super::runner::RetryPolicy;
use super::status::Trigger;

/// How a job's cron ticks are coordinated with other replicas.
#[derive(Clone, Default)]
pub enum Coordination {
    /// Every replica runs every tick on its own.
    #[default]
    Local,
    /// One replica claims each tick and runs it; the others adopt its result, or run the
    /// job themselves after the wait. Start-up and manual runs are always local.
    Claimed(ClaimedTicks),
}

/// A job and how the scheduler runs it.
#[derive(Clone)]
pub struct JobSpec {
    /// Unique name, used by `ListJobs`, `TriggerNow`, the metrics, the logs and the claims.
    pub name: String,
    /// The work.
    pub job: Arc<dyn Job>,
    /// When its cron ticks fire.
    pub schedule: CronSchedule,
    /// Attempts, attempt timeout and backoff of each of its runs.
    pub retry: RetryPolicy,
    /// Whether its ticks are shared with the other replicas.
    pub coordination: Coordination,
}

impl JobSpec {
    /// `job`, named `name`, run locally on `schedule` under `retry`.
    pub fn new(
        name: impl Into<String>,
        job: Arc<dyn Job>,
        schedule: CronSchedule,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            name: name.into(),
            job,
            schedule,
            retry,
            coordination: Coordination::Local,
        }
    }

    /// The same job with its cron ticks claimed through `ticks`.
    #[must_use]
    pub fn claimed(mut self, ticks: ClaimedTicks) -> Self {
        self.coordination = Coordination::Claimed(ticks);
        self
    }

    /// The longest a run of this job started by `trigger` may take before it counts as
    /// stuck: its retry policy's [`worst_case`], and for a claimed cron tick the step before
    /// its attempts too (reading the store's time of record, given at most the claim wait,
    /// then waiting at most [`TICK_WAIT_LIMIT`] for the tick to be due on it). Without that
    /// step a store clock a minute behind, during a source outage, would turn liveness
    /// NOT_SERVING and have every replica restarted mid-outage.
    pub fn worst_case(&self, trigger: Trigger) -> Duration {
        let attempts = worst_case(&self.retry);
        match (&self.coordination, trigger) {
            (Coordination::Claimed(ticks), Trigger::Cron) => attempts
                .saturating_add(ticks.wait)
                .saturating_add(TICK_WAIT_LIMIT),
            _ => attempts,
        }
    }
}

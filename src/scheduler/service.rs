//! `SchedulerService`: our interface over tokio-cron-scheduler. It owns the jobs (each
//! registered with its [`JobSpec`]), fires them on their cron, never runs a job twice at
//! once, and keeps each job's status. Poisoned locks are taken over (see [`crate::locks`]).

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::FutureExt;
use tokio::sync::watch;
use tokio_cron_scheduler::JobScheduler;
use uuid::Uuid;

use super::failure::RunFailure;
use super::liveness::{TickClock, run_overdue, ticks_overdue, worst_case};
use super::runner::run_job;
use super::spec::JobSpec;
use super::status::{JobStats, JobStatus, RunRecord, Trigger};
use crate::clock::Clock;
use crate::locks::lock;

/// Errors of the scheduler's interface.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// No job has that name.
    #[error("no job named {}", crate::hygiene::echo(.0))]
    UnknownJob(String),
    /// A job with that name is already registered.
    #[error("a job named {0:?} is already registered")]
    DuplicateJob(String),
    /// The cron engine failed.
    #[error("cron engine error: {0}")]
    Engine(String),
}

impl From<tokio_cron_scheduler::JobSchedulerError> for SchedulerError {
    fn from(e: tokio_cron_scheduler::JobSchedulerError) -> Self {
        SchedulerError::Engine(format!("{e:?}"))
    }
}

/// The result of `trigger`: the run's record, and whether the caller joined a run that was
/// already in progress, or got the last run back, instead of starting one.
#[derive(Debug, Clone)]
pub struct TriggerResult {
    /// The run that the call waited for.
    pub run: RunRecord,
    /// True when the call joined a run already in progress.
    pub joined: bool,
    /// True when a manual trigger came within the minimum interval of the last run's
    /// start: `run` is that run and the source was not queried again.
    pub reused_recent_run: bool,
}

/// Runs registered jobs on their cron schedule. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct SchedulerService {
    inner: Arc<Inner>,
}

/// How early the engine may wake for a tick and still have it named by its scheduled time.
const TICK_SLACK: chrono::Duration = chrono::Duration::milliseconds(500);

struct Inner {
    time_zone: Tz,
    clock: Arc<dyn Clock>,
    jobs: Mutex<BTreeMap<String, Arc<JobEntry>>>,
    /// The cron engine while started.
    engine: tokio::sync::Mutex<Option<JobScheduler>>,
    running: watch::Sender<bool>,
    run_seq: AtomicU64,
    /// A manual run within this interval of the last run's start returns that run.
    manual_min_interval: Mutex<Duration>,
    /// When the scheduler started, and when the last cron tick fired.
    ticks: Mutex<TickClock>,
    observers: Mutex<Vec<RunObserver>>,
}

/// Called with the job's name and the record of every finished run.
type RunObserver = Arc<dyn Fn(&str, &RunRecord) + Send + Sync>;

struct JobEntry {
    spec: Arc<JobSpec>,
    state: Mutex<JobState>,
}

/// How a launch went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Launched {
    /// A new run started.
    Started,
    /// The caller joined the run in progress.
    Joined,
    /// A manual trigger too soon after the last run: the last run is the answer.
    Reused,
}

/// What a launch does when a run is already in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    /// Wait for that run (`TriggerNow`, start-up).
    Join,
    /// Skip, counting a skipped tick (cron).
    Skip,
}

#[derive(Default)]
struct JobState {
    stats: JobStats,
    /// The run in progress: resolves to `Some(record)` when it ends.
    current: Option<watch::Receiver<Option<RunRecord>>>,
    /// The job's id in the engine while started.
    engine_id: Option<Uuid>,
    /// When the run in progress started (monotonic clock, for the liveness check).
    current_started: Option<tokio::time::Instant>,
    /// The run in progress's worst case ([`JobSpec::worst_case`] for its trigger).
    current_worst: Duration,
}

impl SchedulerService {
    /// A stopped scheduler whose cron expressions are evaluated in `time_zone`, reading the
    /// time (run records, ticks, claims, liveness) on `clock`.
    pub fn new(time_zone: Tz, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                time_zone,
                clock,
                jobs: Mutex::new(BTreeMap::new()),
                engine: tokio::sync::Mutex::new(None),
                running: watch::channel(false).0,
                run_seq: AtomicU64::new(0),
                manual_min_interval: Mutex::new(Duration::ZERO),
                ticks: Mutex::new(TickClock::default()),
                observers: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Manual triggers within `interval` of the last run's start return that run instead
    /// of starting another (the source is protected from callers). Zero turns this off.
    pub fn set_manual_min_interval(&self, interval: Duration) {
        *lock(&self.inner.manual_min_interval) = interval;
    }

    /// The shortest worst case of a run (see [`worst_case`]) among the registered jobs:
    /// how soon a stuck run can be noticed. `None` without jobs.
    pub fn shortest_worst_case(&self) -> Option<Duration> {
        self.inner
            .entries()
            .iter()
            .map(|entry| worst_case(&entry.spec.retry))
            .min()
    }

    /// Whether the scheduler looks stuck now: a run has exceeded its worst case, or no cron
    /// tick has fired for two periods. `None` when it is healthy.
    pub fn stuck(&self) -> Option<String> {
        let now = tokio::time::Instant::now();
        for entry in self.inner.entries() {
            let (started, worst) = {
                let state = lock(&entry.state);
                (state.current_started, state.current_worst)
            };
            if let Some(reason) = run_overdue(&entry.spec.name, started, now, worst) {
                return Some(reason);
            }
        }
        if !self.is_running() {
            return None;
        }
        let ticks = *lock(&self.inner.ticks);
        let utc_now = self.inner.clock.now();
        self.inner.entries().iter().find_map(|entry| {
            ticks_overdue(
                &entry.spec.name,
                &entry.spec.schedule,
                self.inner.time_zone,
                ticks,
                utc_now,
            )
        })
    }

    /// Registers the job of `spec`, to run on its schedule under its retry policy and
    /// coordination. If the scheduler is running, the job is scheduled at once.
    pub async fn add_job(&self, spec: JobSpec) -> Result<(), SchedulerError> {
        let name = spec.name.clone();
        let entry = Arc::new(JobEntry {
            spec: Arc::new(spec),
            state: Mutex::new(JobState::default()),
        });
        {
            let mut jobs = lock(&self.inner.jobs);
            if jobs.contains_key(&name) {
                return Err(SchedulerError::DuplicateJob(name));
            }
            jobs.insert(name, entry.clone());
        }
        if let Some(engine) = self.inner.engine.lock().await.as_ref() {
            self.inner.schedule_in(engine, &entry).await?;
        }
        Ok(())
    }

    /// Calls `observer` with the job name and record of every run that finishes from now
    /// on, before the run's waiters (`trigger`) are released.
    pub fn on_run_finished(&self, observer: impl Fn(&str, &RunRecord) + Send + Sync + 'static) {
        lock(&self.inner.observers).push(Arc::new(observer));
    }

    /// Starts firing cron ticks. Starting a running scheduler does nothing.
    pub async fn start(&self) -> Result<(), SchedulerError> {
        let mut engine_slot = self.inner.engine.lock().await;
        if engine_slot.is_some() {
            return Ok(());
        }
        let engine = JobScheduler::new().await?;
        for entry in self.inner.entries() {
            self.inner.schedule_in(&engine, &entry).await?;
        }
        engine.start().await?;
        *engine_slot = Some(engine);
        *lock(&self.inner.ticks) = TickClock {
            started: Some(self.inner.clock.now()),
            last_tick: None,
        };
        self.inner.running.send_replace(true);
        tracing::info!(time_zone = %self.inner.time_zone, "scheduler started");
        Ok(())
    }

    /// Stops firing cron ticks. Runs in progress finish; `trigger` still works.
    pub async fn stop(&self) -> Result<(), SchedulerError> {
        let Some(mut engine) = self.inner.engine.lock().await.take() else {
            return Ok(());
        };
        self.inner.running.send_replace(false);
        for entry in self.inner.entries() {
            lock(&entry.state).engine_id = None;
        }
        engine.shutdown().await?;
        tracing::info!("scheduler stopped");
        Ok(())
    }

    /// Whether cron ticks are being fired.
    pub fn is_running(&self) -> bool {
        *self.inner.running.borrow()
    }

    /// A receiver that sees every change of [`is_running`](Self::is_running).
    pub fn subscribe_running(&self) -> watch::Receiver<bool> {
        self.inner.running.subscribe()
    }

    /// Runs the job named `name` now and waits for that run's record. If it is already
    /// running, joins that run instead of starting another.
    pub async fn trigger(
        &self,
        name: &str,
        trigger: Trigger,
    ) -> Result<TriggerResult, SchedulerError> {
        self.run_and_wait(name, trigger, None).await
    }

    /// Runs the job named `name` as the cron tick scheduled at `scheduled_at` would (what
    /// the engine does at each tick, without waiting for the clock: for tests and tools),
    /// and waits for that run's record. Joins a run already in progress.
    pub async fn fire_tick(
        &self,
        name: &str,
        scheduled_at: DateTime<Utc>,
    ) -> Result<TriggerResult, SchedulerError> {
        self.run_and_wait(name, Trigger::Cron, Some(scheduled_at))
            .await
    }

    async fn run_and_wait(
        &self,
        name: &str,
        trigger: Trigger,
        scheduled_at: Option<DateTime<Utc>>,
    ) -> Result<TriggerResult, SchedulerError> {
        let entry = self
            .inner
            .entry(name)
            .ok_or_else(|| SchedulerError::UnknownJob(name.to_owned()))?;
        let (mut done, launched) = self
            .inner
            .launch(&entry, trigger, scheduled_at, Join::Join)
            .expect("Join::Join always yields a run");
        match launched {
            Launched::Joined => tracing::info!(
                job = name,
                trigger = trigger.as_str(),
                "joined the run in progress"
            ),
            Launched::Reused => tracing::info!(
                job = name,
                trigger = trigger.as_str(),
                "manual trigger within the minimum interval: returning the last run"
            ),
            Launched::Started => {}
        }
        let run = done
            .wait_for(Option::is_some)
            .await
            .map(|r| r.clone().expect("waited for Some"))
            .map_err(|_| SchedulerError::Engine("the run's task ended without a result".into()))?;
        Ok(TriggerResult {
            run,
            joined: launched == Launched::Joined,
            reused_recent_run: launched == Launched::Reused,
        })
    }

    /// The status of every job, ordered by name.
    pub async fn statuses(&self) -> Vec<JobStatus> {
        let engine = self.inner.engine.lock().await.clone();
        let mut out = Vec::new();
        for entry in self.inner.entries() {
            let (stats, running, engine_id) = {
                let state = lock(&entry.state);
                (
                    state.stats.clone(),
                    state.current.is_some(),
                    state.engine_id,
                )
            };
            let next_run = match (engine.clone(), engine_id) {
                (Some(mut engine), Some(id)) => engine
                    .next_tick_for_job(id)
                    .await
                    .ok()
                    .flatten()
                    .or_else(|| {
                        entry
                            .spec
                            .schedule
                            .next_after(self.inner.clock.now(), self.inner.time_zone)
                    }),
                _ => None,
            };
            out.push(JobStatus {
                name: entry.spec.name.clone(),
                cron: entry.spec.schedule.expression().to_owned(),
                time_zone: self.inner.time_zone.name().to_owned(),
                next_run,
                running,
                stats,
            });
        }
        out
    }
}

impl Inner {
    fn entries(&self) -> Vec<Arc<JobEntry>> {
        lock(&self.jobs).values().cloned().collect()
    }

    fn entry(&self, name: &str) -> Option<Arc<JobEntry>> {
        lock(&self.jobs).get(name).cloned()
    }

    /// Registers a cron tick in the engine that launches the job unless it is running.
    async fn schedule_in(
        self: &Arc<Self>,
        engine: &JobScheduler,
        entry: &Arc<JobEntry>,
    ) -> Result<(), SchedulerError> {
        let weak = Arc::downgrade(self);
        let tick_entry = entry.clone();
        let cron_job = tokio_cron_scheduler::Job::new_async_tz(
            entry.spec.schedule.with_seconds(),
            self.time_zone,
            move |_id, _lock| {
                let weak = weak.clone();
                let entry = tick_entry.clone();
                Box::pin(async move {
                    if let Some(inner) = weak.upgrade() {
                        inner.on_tick(&entry);
                    }
                })
            },
        )?;
        let id = engine.add(cron_job).await?;
        lock(&entry.state).engine_id = Some(id);
        Ok(())
    }

    /// A cron tick: start a run, or skip the tick when one is in progress. The engine
    /// fires at the scheduled time on this machine's own clock, so the tick is the
    /// schedule's latest fire time at or just after that clock's reading (the slack absorbs
    /// a wake-up a little early); a claimed tick then waits until it is due on the time of
    /// record (see [`super::cluster`]).
    fn on_tick(self: &Arc<Self>, entry: &Arc<JobEntry>) {
        lock(&self.ticks).last_tick = Some(self.clock.now());
        let scheduled_at = entry
            .spec
            .schedule
            .latest_at_or_before(self.clock.local_now() + TICK_SLACK, self.time_zone);
        if self
            .launch(entry, Trigger::Cron, scheduled_at, Join::Skip)
            .is_none()
        {
            let skipped = lock(&entry.state).stats.skipped_ticks;
            tracing::warn!(
                job = entry.spec.name.as_str(),
                skipped_ticks = skipped,
                "cron tick skipped: the previous run is still in progress"
            );
        }
    }

    /// Starts a run in its own task (so a caller that goes away does not cancel it), or,
    /// when one is in progress, joins it or skips (counting the skipped tick). The check
    /// and the start happen under one lock, so two callers never both start a run.
    fn launch(
        self: &Arc<Self>,
        entry: &Arc<JobEntry>,
        trigger: Trigger,
        scheduled_at: Option<DateTime<Utc>>,
        join: Join,
    ) -> Option<(watch::Receiver<Option<RunRecord>>, Launched)> {
        let mut state = lock(&entry.state);
        if let Some(current) = &state.current {
            return match join {
                Join::Join => Some((current.clone(), Launched::Joined)),
                Join::Skip => {
                    state.stats.skipped_ticks += 1;
                    None
                }
            };
        }
        if trigger == Trigger::Manual {
            let interval = *lock(&self.manual_min_interval);
            if let Some(last) = &state.stats.last_run {
                let since_start = (self.clock.now() - last.started_at)
                    .to_std()
                    .unwrap_or_default();
                if since_start < interval {
                    return Some((watch::channel(Some(last.clone())).1, Launched::Reused));
                }
            }
        }
        let (done_tx, done_rx) = watch::channel(None);
        state.current = Some(done_rx.clone());
        state.current_started = Some(tokio::time::Instant::now());
        state.current_worst = entry.spec.worst_case(trigger);
        drop(state);

        let run_id = self.run_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = entry.clone();
        let inner = self.clone();
        tokio::spawn(async move {
            // `run_job` catches panics of the job's attempts; this catches the rest (e.g. a
            // panicking `on_run_failed`), so a run can never stay "in progress" forever.
            let started_at = inner.clock.now();
            let record = AssertUnwindSafe(run_job(
                entry.spec.clone(),
                inner.clock.clone(),
                run_id,
                trigger,
                scheduled_at,
            ))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                let mut record = RunRecord::new(run_id, trigger, started_at);
                record.scheduled_at = scheduled_at;
                record.fail(RunFailure::Panicked {
                    message: "outside its attempts".to_owned(),
                    in_attempt: false,
                });
                record.finish(inner.clock.now());
                record
            });
            {
                let mut state = lock(&entry.state);
                state.stats.record(record.clone());
                state.current = None;
                state.current_started = None;
            }
            let observers = lock(&inner.observers).clone();
            for observer in observers {
                observer(&entry.spec.name, &record);
            }
            done_tx.send_replace(Some(record));
        });
        Some((done_rx, Launched::Started))
    }
}

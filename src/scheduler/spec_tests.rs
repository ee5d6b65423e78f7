//! Jobs registered with their own spec, run through the scheduler: a local job under its own
//! retry policy, and a job whose cron ticks are claimed by one replica and adopted by the
//! others. Time is the injected clock's (a `ManualClock`); tokio's is paused, so waits pass
//! at once and in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use super::cluster::{ClaimError, ClaimOutcome, TickClaim};
use super::*;
use crate::clock::{CorrectedClock, ManualClock};

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, h, m, s).unwrap()
}

fn retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempt_timeout: Duration::from_secs(60),
        max_attempts,
        backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5),
        },
    }
}

fn every_half_hour() -> CronSchedule {
    CronSchedule::parse("*/30 * * * *").unwrap()
}

/// Claims held in memory: the first claim of a (job, tick) wins.
#[derive(Default)]
struct MemoryClaims(Mutex<HashMap<(String, DateTime<Utc>), String>>);

#[async_trait]
impl TickClaims for MemoryClaims {
    async fn claim(&self, claim: &TickClaim) -> Result<ClaimOutcome, ClaimError> {
        let mut claims = self.0.lock().unwrap();
        let key = (claim.job.clone(), claim.fire_at);
        if let Some(by) = claims.get(&key) {
            return Ok(ClaimOutcome::AlreadyClaimed { by: by.clone() });
        }
        claims.insert(key, claim.instance.clone());
        Ok(ClaimOutcome::Claimed)
    }
    /// Like a SQLite file: the replicas share one clock.
    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, ClaimError> {
        Ok(None)
    }
}

/// Claims that cannot be reached (a store that is down).
struct DownClaims;

#[async_trait]
impl TickClaims for DownClaims {
    async fn claim(&self, _: &TickClaim) -> Result<ClaimOutcome, ClaimError> {
        Err("database is locked".into())
    }
    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, ClaimError> {
        Err("database is locked".into())
    }
}

/// A job that counts `value`, failing transiently first `failures` times; a cron run
/// publishes its count for its tick, where the other replicas adopt it.
struct Counting {
    value: u64,
    failures: Mutex<u32>,
    runs: Mutex<Vec<RunContext>>,
    polls: Mutex<u32>,
    published: Arc<Mutex<HashMap<DateTime<Utc>, u64>>>,
}

impl Counting {
    fn new(value: u64, published: &Arc<Mutex<HashMap<DateTime<Utc>, u64>>>) -> Arc<Self> {
        Arc::new(Self {
            value,
            failures: Mutex::new(0),
            runs: Mutex::new(Vec::new()),
            polls: Mutex::new(0),
            published: published.clone(),
        })
    }

    fn failing_first(self: Arc<Self>, failures: u32) -> Arc<Self> {
        *self.failures.lock().unwrap() = failures;
        self
    }

    fn runs(&self) -> usize {
        self.runs.lock().unwrap().len()
    }

    fn polls(&self) -> u32 {
        *self.polls.lock().unwrap()
    }
}

#[async_trait]
impl Job for Counting {
    async fn run(&self, run: RunContext) -> Result<JobReport, JobError> {
        self.runs.lock().unwrap().push(run);
        {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(JobError::transient("busy").with_codes(["SQLITE_BUSY".to_owned()]));
            }
        }
        if let Some(tick) = run.scheduled_at {
            self.published.lock().unwrap().insert(tick, self.value);
        }
        Ok(JobReport::new(self.value))
    }
}

#[async_trait]
impl AdoptClaimant for Counting {
    async fn adopt(&self, tick: DateTime<Utc>) -> Result<Option<JobReport>, JobError> {
        *self.polls.lock().unwrap() += 1;
        let published = self.published.lock().unwrap().get(&tick).copied();
        Ok(published.map(|value| JobReport::new(value).with_fact("mode", &"adopted")))
    }
}

/// A replica named `instance` on `clock`, running `job` as `shared` with its ticks claimed
/// in `claims` (wait 20 s, looking every 5 s).
async fn replica(
    instance: &str,
    clock: &ManualClock,
    job: &Arc<Counting>,
    claims: Arc<dyn TickClaims>,
) -> SchedulerService {
    let clock = Arc::new(CorrectedClock::new(Arc::new(clock.clone())));
    let scheduler = SchedulerService::new(chrono_tz::UTC, clock.clone());
    let spec =
        JobSpec::new("shared", job.clone(), every_half_hour(), retry(3)).claimed(ClaimedTicks {
            claims,
            adopt: job.clone(),
            instance: instance.to_owned(),
            wait: Duration::from_secs(20),
            poll: Duration::from_secs(5),
            clock,
        });
    scheduler.add_job(spec).await.unwrap();
    scheduler
}

#[tokio::test(start_paused = true)]
async fn a_local_job_runs_under_its_own_retry_policy_on_the_injected_clock() {
    let clock = ManualClock::new(at(12, 0, 0));
    let scheduler = SchedulerService::new(chrono_tz::UTC, Arc::new(clock.clone()));
    let published = Arc::default();
    let patient = Counting::new(4, &published).failing_first(1);
    let impatient = Counting::new(5, &published).failing_first(1);
    scheduler
        .add_job(JobSpec::new(
            "patient",
            patient.clone(),
            every_half_hour(),
            retry(3),
        ))
        .await
        .unwrap();
    scheduler
        .add_job(JobSpec::new(
            "impatient",
            impatient.clone(),
            every_half_hour(),
            retry(1),
        ))
        .await
        .unwrap();

    // Each job retries as its own spec says.
    let run = scheduler
        .trigger("patient", Trigger::Manual)
        .await
        .unwrap()
        .run;
    assert_eq!(
        (run.outcome, run.attempts, run.report.count),
        (RunOutcome::Succeeded, 2, 4)
    );
    assert_eq!(
        (run.started_at, run.finished_at),
        (at(12, 0, 0), at(12, 0, 0))
    );
    let run = scheduler
        .trigger("impatient", Trigger::Manual)
        .await
        .unwrap()
        .run;
    assert_eq!((run.outcome, run.attempts), (RunOutcome::Failed, 1));
    let Some(RunFailure::Failed(error)) = &run.error else {
        panic!("not a job error: {:?}", run.error);
    };
    assert_eq!(
        (error.kind, error.codes.as_slice()),
        (FailureKind::Transient, &["SQLITE_BUSY".to_owned()][..])
    );
    assert!(run.is_transient());

    // The minimum interval between manual runs is measured on the injected clock.
    scheduler.set_manual_min_interval(Duration::from_secs(60));
    clock.set(at(12, 0, 59));
    let again = scheduler.trigger("patient", Trigger::Manual).await.unwrap();
    assert!(again.reused_recent_run);
    assert_eq!(patient.runs(), 2, "no new attempt");
    clock.set(at(12, 1, 0));
    let later = scheduler.trigger("patient", Trigger::Manual).await.unwrap();
    assert!(!later.reused_recent_run);
    assert_eq!(later.run.started_at, at(12, 1, 0));
    assert_eq!(patient.runs(), 3);

    // A local job's cron tick runs without any claim.
    let tick = scheduler
        .fire_tick("patient", at(12, 30, 0))
        .await
        .unwrap()
        .run;
    assert_eq!(tick.report.fact("claim"), None);
    assert_eq!(tick.scheduled_at, Some(at(12, 30, 0)));
}

#[tokio::test(start_paused = true)]
async fn a_claimed_tick_runs_on_one_replica_and_the_others_adopt_its_result() {
    let clock = ManualClock::new(at(12, 0, 0));
    let claims: Arc<dyn TickClaims> = Arc::new(MemoryClaims::default());
    let published = Arc::default();
    // A's first attempt fails: its retry finds the tick already claimed, by itself.
    let job_a = Counting::new(7, &published).failing_first(1);
    let job_b = Counting::new(9, &published);
    let a = replica("a", &clock, &job_a, claims.clone()).await;
    let b = replica("b", &clock, &job_b, claims.clone()).await;
    let tick = at(12, 0, 0);

    let ran = a.fire_tick("shared", tick).await.unwrap().run;
    assert_eq!(
        (ran.outcome, ran.attempts, ran.report.count),
        (RunOutcome::Succeeded, 2, 7)
    );
    assert_eq!(ran.report.fact("claim"), Some("claimed"));

    clock.set(at(12, 0, 2));
    let adopted = b.fire_tick("shared", tick).await.unwrap().run;
    assert_eq!(adopted.outcome, RunOutcome::Succeeded);
    assert_eq!(adopted.report.count, 7, "the claimant's result");
    assert_eq!(adopted.report.fact("claim"), Some("claimed by a"));
    assert_eq!(adopted.report.fact("mode"), Some("adopted"));
    assert_eq!((job_b.runs(), job_b.polls()), (0, 1));

    // Start-up and manual runs are never claimed.
    let manual = b.trigger("shared", Trigger::Manual).await.unwrap().run;
    assert_eq!(
        (manual.report.count, manual.report.fact("claim")),
        (9, None)
    );
    assert_eq!(job_b.runs(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_replica_waits_for_the_claimant_until_the_deadline_on_the_injected_clock() {
    let claims = Arc::new(MemoryClaims::default());
    let (first, second) = (at(12, 0, 0), at(12, 30, 0));
    for tick in [first, second] {
        let claim = TickClaim {
            job: "shared".into(),
            fire_at: tick,
            instance: "dead".into(),
            claimed_at: tick,
        };
        claims.claim(&claim).await.unwrap();
    }
    let clock = ManualClock::new(first);
    let job = Counting::new(3, &Arc::default());
    let b = replica("b", &clock, &job, claims).await;

    // At the tick: the whole wait, looking every 5 s (at 0, 5, 10, 15 and 20 s).
    let run = b.fire_tick("shared", first).await.unwrap().run;
    assert_eq!(
        run.report.fact("claim"),
        Some("claimed by dead, who stored nothing by the deadline")
    );
    assert_eq!((run.report.count, job.runs(), job.polls()), (3, 1, 5));

    // The clock already past the deadline: one look, then the job runs.
    clock.set(second + chrono::Duration::seconds(25));
    let run = b.fire_tick("shared", second).await.unwrap().run;
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_eq!((job.runs(), job.polls()), (2, 6));
}

#[tokio::test(start_paused = true)]
async fn without_reachable_claims_a_replica_runs_its_tick_alone() {
    let clock = ManualClock::new(at(12, 0, 0));
    let job = Counting::new(2, &Arc::default());
    let b = replica("b", &clock, &job, Arc::new(DownClaims)).await;
    let run = b.fire_tick("shared", at(12, 0, 0)).await.unwrap().run;
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_eq!(
        run.report.fact("claim"),
        Some("store unavailable, queried alone: database is locked")
    );
    assert_eq!((job.runs(), job.polls()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn the_claim_and_the_wait_are_steps_of_the_runs_trace() {
    use crate::telemetry::testing::{attr, recording};
    let (subscriber, recorded) = recording();
    let _default = tracing::subscriber::set_default(subscriber);
    let clock = ManualClock::new(at(12, 0, 0));
    let claims: Arc<dyn TickClaims> = Arc::new(MemoryClaims::default());
    let published = Arc::default();
    let job_a = Counting::new(7, &published);
    let job_b = Counting::new(9, &published);
    let a = replica("a", &clock, &job_a, claims.clone()).await;
    let b = replica("b", &clock, &job_b, claims.clone()).await;
    let tick = at(12, 0, 0);
    a.fire_tick("shared", tick).await.unwrap();
    clock.set(at(12, 0, 2));
    b.fire_tick("shared", tick).await.unwrap();

    let claims = recorded.named("tick claim");
    assert_eq!(claims.len(), 2, "{claims:#?}");
    assert_eq!(attr(&claims[0], "owner").as_deref(), Some("this replica"));
    assert_eq!(attr(&claims[1], "owner").as_deref(), Some("a"));
    let wait = recorded.one("wait for claimant");
    assert_eq!(attr(&wait, "claimant").as_deref(), Some("a"));
    assert_eq!(attr(&wait, "adopted").as_deref(), Some("true"));
    // Both steps of b's run hang under its attempt, under its run.
    let runs = recorded.named("shared");
    let b_run = &runs[1];
    let b_attempt = recorded
        .named("attempt 1")
        .into_iter()
        .find(|s| s.parent_span_id == b_run.span_context.span_id())
        .unwrap();
    for step in [&claims[1], &wait] {
        assert_eq!(step.parent_span_id, b_attempt.span_context.span_id());
        assert_eq!(step.span_context.trace_id(), b_run.span_context.trace_id());
    }
}

#[tokio::test]
async fn a_claimed_cron_ticks_worst_case_counts_the_wait_for_the_time_of_record() {
    let clock = Arc::new(CorrectedClock::new(Arc::new(ManualClock::new(at(
        12, 0, 0,
    )))));
    let job = Counting::new(1, &Arc::default());
    let local = JobSpec::new("shared", job.clone(), every_half_hour(), retry(3));
    let attempts = worst_case(&retry(3));
    assert_eq!(local.worst_case(Trigger::Cron), attempts);
    let claimed = local.claimed(ClaimedTicks {
        claims: Arc::new(MemoryClaims::default()),
        adopt: job,
        instance: "a".to_owned(),
        wait: Duration::from_secs(20),
        poll: Duration::from_secs(5),
        clock,
    });
    assert_eq!(
        claimed.worst_case(Trigger::Cron),
        attempts + Duration::from_secs(20) + cluster::TICK_WAIT_LIMIT
    );
    // Start-up and manual runs never wait for a tick.
    assert_eq!(claimed.worst_case(Trigger::Manual), attempts);
    assert_eq!(claimed.worst_case(Trigger::Startup), attempts);
}

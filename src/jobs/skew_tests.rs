//! Replicas whose clocks disagree (issue 18, item 3): two replicas share a store whose clock
//! is the time of record (as Oracle's `SYSTIMESTAMP` is), one of them with a clock 60 s
//! ahead. With the offset measured at the claim, the fast replica claims the tick when it is
//! due and the other replica reports the true age of its snapshot; without the time of
//! record (what the service did before), the tick is claimed 60 s early and the age reported
//! is 60 s younger than the truth. A store whose clock is 3 h behind every replica (a
//! misset database host) does not stop the refreshes: the wait for the tick is cut at
//! [`TICK_WAIT_LIMIT`], and the start-up warm-up does not wait at all. Tokio's clock is
//! paused: waits pass at once, and the times read are exact.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use super::cache_warmup::{CacheWarmupJob, SnapshotHistory, WARMUP_JOB_NAME};
use crate::cache::SnapshotCache;
use crate::clock::{Clock, CorrectedClock};
use crate::domain::RawInterrupcaoRow;
use crate::scheduler::cluster::{ClaimError, ClaimOutcome, TICK_WAIT_LIMIT, TickClaim};
use crate::scheduler::{
    Backoff, ClaimedTicks, CronSchedule, JobSpec, RetryPolicy, SchedulerService, TickClaims,
    Trigger,
};
use crate::source::{InterrupcaoSource, SourceError};
use crate::store::{SqliteStore, StoreClaims};
use crate::telemetry::capture::Captured;

/// The tick both replicas fire for.
fn tick() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 12, 30, 0).unwrap()
}

/// A machine's clock: it follows tokio's (paused) time from `start`, `ahead` of the true
/// time; `ahead` zero is the true time itself, the store's.
struct MachineClock {
    start: DateTime<Utc>,
    since: tokio::time::Instant,
    ahead: chrono::Duration,
}

impl Clock for MachineClock {
    fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.since.elapsed()).unwrap() + self.ahead
    }
}

/// The store's claims, with the store's clock as the time of record (`None`: hidden, as
/// before the service read it), and every claim kept with the true time it was made at.
struct ClaimsWithClock {
    claims: StoreClaims,
    truth: Arc<dyn Clock>,
    record: bool,
    made: Mutex<Vec<(TickClaim, DateTime<Utc>)>>,
}

#[async_trait]
impl TickClaims for ClaimsWithClock {
    async fn claim(&self, claim: &TickClaim) -> Result<ClaimOutcome, ClaimError> {
        self.made
            .lock()
            .unwrap()
            .push((claim.clone(), self.truth.now()));
        self.claims.claim(claim).await
    }
    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, ClaimError> {
        Ok(self.record.then(|| self.truth.now()))
    }
}

/// A source that answers one row and keeps the true time of each query.
struct Queried {
    truth: Arc<dyn Clock>,
    at: Mutex<Vec<DateTime<Utc>>>,
}

#[async_trait]
impl InterrupcaoSource for Queried {
    fn name(&self) -> &'static str {
        "queried"
    }
    async fn fetch_interrupcoes(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
        self.at.lock().unwrap().push(self.truth.now());
        Ok(vec![RawInterrupcaoRow {
            conjunto: Some(101),
            municipio: Some(1_400_100),
            qtd_ucs_atendidas: Some(10),
            qtd_programada: Some(0),
            qtd_nao_programada: Some(1),
        }])
    }
}

/// A replica named `name` on a clock `ahead` of the truth: its scheduler, its cache, and
/// its corrected clock.
async fn replica(
    name: &str,
    machine: MachineClock,
    store: &Arc<SqliteStore>,
    claims: &Arc<ClaimsWithClock>,
    source: &Arc<Queried>,
) -> (SchedulerService, Arc<SnapshotCache>, Arc<CorrectedClock>) {
    let clock = Arc::new(CorrectedClock::new(Arc::new(machine)));
    let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)).with_clock(clock.clone()));
    let warmup = Arc::new(
        CacheWarmupJob::new(source.clone(), cache.clone())
            .with_clock(clock.clone())
            .with_history(
                SnapshotHistory {
                    store: store.clone(),
                    store_timeout: Duration::from_secs(5),
                },
                name,
            ),
    );
    let spec = JobSpec::new(
        WARMUP_JOB_NAME,
        warmup.clone(),
        CronSchedule::parse("*/30 * * * *").unwrap(),
        RetryPolicy {
            attempt_timeout: Duration::from_secs(30),
            max_attempts: 1,
            backoff: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(1),
            },
        },
    )
    .claimed(ClaimedTicks {
        claims: claims.clone(),
        adopt: warmup,
        instance: name.to_owned(),
        wait: Duration::from_secs(20),
        poll: Duration::from_millis(500),
        clock: clock.clone(),
    });
    let scheduler = SchedulerService::new(chrono_tz::UTC, clock.clone());
    scheduler.add_job(spec).await.unwrap();
    (scheduler, cache, clock)
}

/// What the scenario observed.
struct Observed {
    /// The fast replica's claim: the tick it named, and the true time it was made at.
    claimed_tick: DateTime<Utc>,
    claimed_at_true: DateTime<Utc>,
    /// The age the other replica reports 10 s (true time) after it adopted the snapshot,
    /// and the true age then (since the query).
    reported_age: Duration,
    true_age: Duration,
    /// The fast replica's offset in use.
    offset: chrono::Duration,
}

/// Replica `fast` (60 s ahead) fires the tick when its clock reaches it, i.e. 60 s early;
/// replica `true` fires it when it is due. Both share one store whose clock is the truth
/// and is the time of record when `record` is set.
async fn fast_and_true_replicas(record: bool) -> Observed {
    let start = tick() - chrono::Duration::seconds(60);
    let since = tokio::time::Instant::now();
    let truth: Arc<dyn Clock> = Arc::new(MachineClock {
        start,
        since,
        ahead: chrono::Duration::zero(),
    });
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::new(dir.path().join("store.sqlite")));
    let claims = Arc::new(ClaimsWithClock {
        claims: StoreClaims(store.clone()),
        truth: truth.clone(),
        record,
        made: Mutex::default(),
    });
    let source = Arc::new(Queried {
        truth: truth.clone(),
        at: Mutex::default(),
    });
    let machine = |ahead| MachineClock {
        start,
        since,
        ahead: chrono::Duration::seconds(ahead),
    };
    let (fast, _, fast_clock) = replica("fast", machine(60), &store, &claims, &source).await;
    let (other, other_cache, _) = replica("true", machine(0), &store, &claims, &source).await;

    // The fast replica's engine fires now: its clock reads the tick.
    assert_eq!(fast_clock.local_now(), tick());
    let run = fast.fire_tick(WARMUP_JOB_NAME, tick()).await.unwrap().run;
    assert!(run.outcome.is_success(), "{run:?}");
    // The other replica's fires when the tick is due.
    let until_due = (tick() - truth.now()).to_std().unwrap_or_default();
    tokio::time::sleep(until_due).await;
    let run = other.fire_tick(WARMUP_JOB_NAME, tick()).await.unwrap().run;
    assert!(run.outcome.is_success(), "{run:?}");
    let adopted = truth.now();
    assert_eq!(source.at.lock().unwrap().len(), 1, "one query per tick");

    tokio::time::sleep(Duration::from_secs(10)).await;
    let reported_age = other_cache.current().await.unwrap().age;
    let queried = source.at.lock().unwrap()[0];
    let (claim, claimed_at_true) = claims.made.lock().unwrap()[0].clone();
    assert_eq!(claim.instance, "fast");
    assert!(truth.now() - adopted >= chrono::Duration::seconds(10));
    Observed {
        claimed_tick: claim.fire_at,
        claimed_at_true,
        reported_age,
        true_age: (truth.now() - queried).to_std().unwrap(),
        offset: fast_clock.offset(),
    }
}

#[tokio::test(start_paused = true)]
async fn with_the_time_of_record_a_fast_clock_claims_on_time_and_ages_are_true() {
    let (captured, _guard) = capture_logs();
    let seen = fast_and_true_replicas(true).await;
    assert_eq!(seen.offset, -chrono::Duration::seconds(60));
    // The fast replica says so, naming the offset; the other one is within the threshold.
    let logs = captured.text();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("time of record"))
        .collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(
        warnings[0]
            .contains("this replica's clock is 60.000 s ahead of the store's time of record")
            && warnings[0].contains("offset_ms=-60000"),
        "{logs}"
    );
    // The tick is claimed when it is due on the time of record, not 60 s before.
    assert_eq!(seen.claimed_tick, tick());
    assert!(seen.claimed_at_true >= tick(), "{}", seen.claimed_at_true);
    // The other replica's age is the truth: 10 s since the query.
    assert_eq!(seen.reported_age, seen.true_age);
    assert_eq!(seen.true_age, Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn without_the_time_of_record_a_fast_clock_claims_early_and_ages_look_younger() {
    // What the service did before it read the store's clock: the same replicas, the store's
    // clock hidden.
    let seen = fast_and_true_replicas(false).await;
    assert_eq!(seen.offset, chrono::Duration::zero());
    assert_eq!(seen.claimed_tick, tick());
    assert_eq!(seen.claimed_at_true, tick() - chrono::Duration::seconds(60));
    assert_eq!(seen.true_age, Duration::from_secs(70));
    assert_eq!(seen.reported_age, Duration::from_secs(10));
}

/// Logs captured while the test runs, as plain text.
fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

/// How far behind every replica the misset database's clock is: 3 h, in seconds.
const SECONDS_BEHIND: i64 = 3 * 3600;

/// One store whose clock (the truth here, and the time of record) is 3 h behind the
/// replicas' clock, `machine`, which reads the tick when the store reads `tick() - 3 h`.
struct StoreBehind {
    truth: Arc<dyn Clock>,
    store: Arc<SqliteStore>,
    claims: Arc<ClaimsWithClock>,
    source: Arc<Queried>,
    machine: MachineClock,
    _dir: tempfile::TempDir,
}

/// A [`StoreBehind`] with no claims yet; tokio's paused clock starts it.
fn store_behind() -> StoreBehind {
    let start = tick() - chrono::Duration::seconds(SECONDS_BEHIND);
    let since = tokio::time::Instant::now();
    let truth: Arc<dyn Clock> = Arc::new(MachineClock {
        start,
        since,
        ahead: chrono::Duration::zero(),
    });
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::new(dir.path().join("store.sqlite")));
    StoreBehind {
        claims: Arc::new(ClaimsWithClock {
            claims: StoreClaims(store.clone()),
            truth: truth.clone(),
            record: true,
            made: Mutex::default(),
        }),
        source: Arc::new(Queried {
            truth: truth.clone(),
            at: Mutex::default(),
        }),
        machine: MachineClock {
            start,
            since,
            ahead: chrono::Duration::seconds(SECONDS_BEHIND),
        },
        truth,
        store,
        _dir: dir,
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_clock_hours_behind_delays_the_claim_by_the_bound_only_and_ages_stay_true() {
    let (captured, _guard) = capture_logs();
    let world = store_behind();
    let start = world.truth.now();
    let (scheduler, cache, clock) = replica(
        "a",
        world.machine,
        &world.store,
        &world.claims,
        &world.source,
    )
    .await;
    assert_eq!(clock.local_now(), tick());

    let run = scheduler
        .fire_tick(WARMUP_JOB_NAME, tick())
        .await
        .unwrap()
        .run;

    // Claimed and run at the bound, not 3 h later when the store's clock reaches the tick.
    assert!(run.outcome.is_success(), "{run:?}");
    assert_eq!(clock.offset(), -chrono::Duration::seconds(SECONDS_BEHIND));
    let bound = chrono::Duration::from_std(TICK_WAIT_LIMIT).unwrap();
    let (claim, claimed_at) = world.claims.made.lock().unwrap()[0].clone();
    assert_eq!((claim.instance.as_str(), claim.fire_at), ("a", tick()));
    assert_eq!(claimed_at, start + bound);
    let queried = world.source.at.lock().unwrap().clone();
    assert_eq!(queried, vec![start + bound]);
    // One error for the tick, naming the offset and whose time the ages follow.
    let logs = captured.text();
    let errors: Vec<&str> = logs.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{logs}");
    assert!(
        errors[0].contains("the store's clock is 10800.000 s behind this replica's")
            && errors[0].contains(&format!(
                "the tick is claimed anyway after {} s",
                TICK_WAIT_LIMIT.as_secs()
            ))
            && errors[0].contains("the answer's ages follow the store's time")
            && errors[0].contains("offset_ms=-10800000"),
        "{logs}"
    );
    // The age is on the store's time: 10 s after the query is 10 s, not 3 h less.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let view = cache.current().await.unwrap();
    assert_eq!(view.age, Duration::from_secs(10));
    assert_eq!(view.snapshot.collected_at, start + bound);
}

#[tokio::test(start_paused = true)]
async fn a_store_clock_hours_behind_leaves_a_dead_claimant_the_claim_wait_only() {
    let world = store_behind();
    let start = world.truth.now();
    // A replica that claimed the tick and then died.
    world
        .claims
        .claims
        .claim(&TickClaim {
            job: WARMUP_JOB_NAME.to_owned(),
            fire_at: tick(),
            instance: "gone".to_owned(),
            claimed_at: start,
        })
        .await
        .unwrap();
    let (scheduler, _, _) = replica(
        "b",
        world.machine,
        &world.store,
        &world.claims,
        &world.source,
    )
    .await;

    let run = scheduler
        .fire_tick(WARMUP_JOB_NAME, tick())
        .await
        .unwrap()
        .run;

    // It queries itself once the claim wait (20 s) is over, within its 30 s attempt: not at
    // the tick plus the wait on the store's clock, 3 h away.
    assert!(run.outcome.is_success(), "{run:?}");
    let wait = chrono::Duration::seconds(20);
    let bound = chrono::Duration::from_std(TICK_WAIT_LIMIT).unwrap();
    assert_eq!(*world.source.at.lock().unwrap(), vec![start + bound + wait]);
}

#[tokio::test(start_paused = true)]
async fn with_a_store_clock_hours_behind_the_start_up_warm_up_runs_at_once() {
    let world = store_behind();
    let start = world.truth.now();
    let (scheduler, cache, _) = replica(
        "a",
        world.machine,
        &world.store,
        &world.claims,
        &world.source,
    )
    .await;

    let run = scheduler
        .trigger(WARMUP_JOB_NAME, Trigger::Startup)
        .await
        .unwrap()
        .run;

    assert!(run.outcome.is_success(), "{run:?}");
    assert_eq!(*world.source.at.lock().unwrap(), vec![start]);
    assert!(cache.is_loaded());
}

/// A store whose first reading of its clock comes 2 s late and is taken at the end of that
/// wait (a connection opened first), and whose later readings are immediate.
struct SlowFirstReading {
    truth: Arc<dyn Clock>,
    readings: Mutex<u32>,
}

#[async_trait]
impl TickClaims for SlowFirstReading {
    async fn claim(&self, _claim: &TickClaim) -> Result<ClaimOutcome, ClaimError> {
        Ok(ClaimOutcome::Claimed)
    }
    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, ClaimError> {
        let first = {
            let mut readings = self.readings.lock().unwrap();
            *readings += 1;
            *readings == 1
        };
        if first {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        Ok(Some(self.truth.now()))
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_reading_of_the_time_of_record_is_taken_again() {
    // The replica's clock is the store's: the true offset is zero. The first reading alone
    // would put the store's time at the midpoint of its 2 s round trip, 1 s off.
    let since = tokio::time::Instant::now();
    let truth: Arc<dyn Clock> = Arc::new(MachineClock {
        start: tick(),
        since,
        ahead: chrono::Duration::zero(),
    });
    let clock = CorrectedClock::new(Arc::new(MachineClock {
        start: tick(),
        since,
        ahead: chrono::Duration::zero(),
    }));
    let claims = SlowFirstReading {
        truth,
        readings: Mutex::new(0),
    };
    let offset = crate::scheduler::cluster::measure_offset(&claims, &clock)
        .await
        .unwrap();
    assert_eq!(offset, Some(chrono::Duration::zero()));
    assert_eq!(*claims.readings.lock().unwrap(), 2);
}

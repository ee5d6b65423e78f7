//! Cron ticks shared by the replicas: one replica claims a tick and runs the job; the others
//! wait for its result and adopt it, or run the job themselves once the wait is over (a
//! claimant that died must not leave the tick without a run).
//!
//! Claiming is the scheduler's, over the [`TickClaims`] port (the snapshot store implements
//! it); what "adopting the claimant's result" means is the job's ([`AdoptClaimant`]). The
//! steps are separate units, [`await_tick_on_record`], [`claim_tick`] and
//! [`wait_for_claimant`], so that each can be measured and reasoned about on its own.
//!
//! Time is the store's: at each claimed tick the replica measures its clock's offset from
//! the store's time of record ([`TickClaims::time_of_record`]) and corrects its
//! [`CorrectedClock`] with it, then waits until the tick is due on that time. A replica
//! whose clock runs ahead (its cron engine fires early) therefore neither claims the tick
//! early nor stamps its snapshot with a time the others would read as younger than it is.
//! That wait is bounded by [`TICK_WAIT_LIMIT`]: a store whose clock is hours behind every
//! replica must not stop the refreshes; past the bound the tick is claimed anyway, with an
//! error naming the offset, and ages stay on the store's time.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use tracing::Instrument;

use super::failure::JobError;
use super::job::{Job, RunContext};
use super::report::JobReport;
use crate::clock::{Clock, CorrectedClock, OFFSET_WARNING, saturating_add};
use crate::telemetry::spans;

/// A claim of one cron tick of one job by one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickClaim {
    /// The job's name.
    pub job: String,
    /// The tick's scheduled fire time (computed from the schedule, so every replica agrees).
    pub fire_at: DateTime<Utc>,
    /// The claiming instance.
    pub instance: String,
    /// When the claim was made.
    pub claimed_at: DateTime<Utc>,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This instance owns the tick.
    Claimed,
    /// An instance (maybe this one, on a retried attempt) claimed the tick first.
    AlreadyClaimed {
        /// The instance that owns it.
        by: String,
    },
}

/// Why claims could not be made or read; shown to operators, never parsed.
pub type ClaimError = Box<dyn std::error::Error + Send + Sync>;

/// Where replicas claim ticks: the first claim of a (job, tick) wins.
#[async_trait]
pub trait TickClaims: Send + Sync + 'static {
    /// Claims a tick, or says who claimed it first.
    async fn claim(&self, claim: &TickClaim) -> Result<ClaimOutcome, ClaimError>;

    /// The time of record: what the store's own clock reads now, the one time base of every
    /// replica. `None` when the store has no clock of its own (a file every replica on one
    /// host opens: they share that host's clock).
    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, ClaimError>;
}

/// What a cluster-coordinated job supplies: how a replica that did not claim a tick takes
/// the claimant's result as its own.
#[async_trait]
pub trait AdoptClaimant: Send + Sync + 'static {
    /// Looks for the result the claimant of `tick` left (for the warm-up: the snapshot it
    /// stored) and, if there is one, adopts it and reports so. `Ok(None)` while there is
    /// none yet; an error is logged and the search goes on.
    async fn adopt(&self, tick: DateTime<Utc>) -> Result<Option<JobReport>, JobError>;
}

/// How a job's cron ticks are shared by the replicas: a field of its
/// [`JobSpec`](super::JobSpec).
#[derive(Clone)]
pub struct ClaimedTicks {
    /// Where ticks are claimed.
    pub claims: Arc<dyn TickClaims>,
    /// How this job adopts the claimant's result.
    pub adopt: Arc<dyn AdoptClaimant>,
    /// This replica's name in the claims.
    pub instance: String,
    /// How long after a tick's scheduled time the other replicas wait for the claimant's
    /// result before running the job themselves.
    pub wait: Duration,
    /// How often they look for it meanwhile.
    pub poll: Duration,
    /// The replica's clock (the scheduler's and the job's), corrected at each claim by
    /// its measured offset from the time of record.
    pub clock: Arc<CorrectedClock>,
}

/// The longest a claimed tick waits for the store's time of record to reach it; past this
/// the tick is claimed anyway and an error names the offset.
///
/// Why 2 minutes: the wait exists for a replica whose clock runs a little ahead, and a
/// host whose NTP has stopped drifts by seconds a day, so any real drift is waited out in
/// full (the 60 s of issue 18 included). An offset of minutes is a misset clock, most often
/// the database host's, and then every replica would wait it out on every tick: 2 minutes
/// is a fifteenth of the default 30-minute warm-up period and a thirtieth of the default
/// staleness limit, so even a wait cut at the bound on every tick never lets the answer go
/// stale, let alone expire. Claiming early costs no honesty: the snapshot is stamped, and
/// its age computed, on the corrected clock.
pub const TICK_WAIT_LIMIT: Duration = Duration::from_secs(120);

/// Who runs a tick, by [`claim_tick`].
#[derive(Debug)]
pub enum TickOwner {
    /// This replica claimed it (now, or on an earlier attempt of the same run).
    Us,
    /// Another replica claimed it first.
    Other(String),
    /// The claims could not be reached: this replica runs the job as if alone.
    Unreachable(ClaimError),
}

/// A reading of the time of record slower than this is taken again (see [`measure_offset`]).
const SLOW_READING: chrono::Duration = chrono::Duration::milliseconds(250);

/// One reading: the local time before, the store's time of record, the local time after.
async fn read_time_of_record(
    claims: &dyn TickClaims,
    clock: &CorrectedClock,
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)>, ClaimError> {
    let sent = clock.local_now();
    let record = claims.time_of_record().await?;
    Ok(record.map(|record| (sent, record, clock.local_now())))
}

/// Measures `clock`'s offset from the store's time of record (one round trip, half of it
/// corrected) and corrects `clock` with it; warns past [`OFFSET_WARNING`]. `Ok(None)` when
/// the store has no clock of its own (the offset stays as it was: none).
pub async fn measure_offset(
    claims: &dyn TickClaims,
    clock: &CorrectedClock,
) -> Result<Option<chrono::Duration>, ClaimError> {
    let Some(mut reading) = read_time_of_record(claims, clock).await? else {
        return Ok(None);
    };
    // A first reading may include opening the connection (a new pool, a session lost),
    // which puts the store's time near the end of the round trip rather than at its
    // midpoint: when it was slow, read again on the now open session and keep the reading
    // with the shorter round trip.
    if reading.2 - reading.0 > SLOW_READING
        && let Some(again) = read_time_of_record(claims, clock).await?
        && again.2 - again.0 < reading.2 - reading.0
    {
        reading = again;
    }
    let (sent, record, received) = reading;
    let offset = clock.measured(sent, record, received);
    if offset.abs() > OFFSET_WARNING {
        tracing::warn!(
            offset_ms = offset.num_milliseconds(),
            "this replica's clock is {:.3} s {} the store's time of record (more than {} s): \
             its times are corrected by that offset; synchronise the host's clock (NTP)",
            offset.abs().as_seconds_f64(),
            if offset < chrono::Duration::zero() {
                "ahead of"
            } else {
                "behind"
            },
            OFFSET_WARNING.num_seconds(),
        );
    }
    Ok(Some(offset))
}

/// The step before a claimed tick's attempts: measures the offset ([`measure_offset`],
/// given at most the claim wait; if the time of record cannot be read, the last offset
/// stays), then waits until `tick` is due on the corrected clock: the cron engine fires on
/// the local clock, early when that runs ahead. The wait is at most [`TICK_WAIT_LIMIT`];
/// a tick further ahead is logged as an error, once (this runs once per tick's run, not per
/// attempt), and claimed when the bound is reached.
pub async fn await_tick_on_record(ticks: &ClaimedTicks, tick: DateTime<Utc>) {
    let measured = tokio::time::timeout(ticks.wait, measure_offset(&*ticks.claims, &ticks.clock));
    let error = match measured.await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!(
            "no answer within {} ms",
            u64::try_from(ticks.wait.as_millis()).unwrap_or(u64::MAX)
        )),
    };
    if let Some(error) = error {
        tracing::warn!(
            error,
            offset_ms = ticks.clock.offset().num_milliseconds(),
            "the store's time of record could not be read: keeping the last measured offset"
        );
    }
    let early = (tick - ticks.clock.now()).to_std().unwrap_or_default();
    if early > TICK_WAIT_LIMIT {
        let offset = ticks.clock.offset();
        tracing::error!(
            offset_ms = offset.num_milliseconds(),
            wait_ms = u64::try_from(early.as_millis()).unwrap_or(u64::MAX),
            limit_ms = u64::try_from(TICK_WAIT_LIMIT.as_millis()).unwrap_or(u64::MAX),
            "the tick is due on the store's time of record only in {} s: the store's clock is \
             {:.3} s {} this replica's; the tick is claimed anyway after {} s, and the \
             answer's ages follow the store's time; check the database host's clock (NTP)",
            early.as_secs(),
            offset.abs().as_seconds_f64(),
            if offset < chrono::Duration::zero() {
                "behind"
            } else {
                "ahead of"
            },
            TICK_WAIT_LIMIT.as_secs(),
        );
        tokio::time::sleep(TICK_WAIT_LIMIT).await;
    } else if !early.is_zero() {
        tracing::info!(
            wait_ms = u64::try_from(early.as_millis()).unwrap_or(u64::MAX),
            "the tick is not yet due on the time of record: waiting for it"
        );
        tokio::time::sleep(early).await;
    }
}

/// The claim step: claims `tick` of `job` for this replica at `now`.
pub async fn claim_tick(
    ticks: &ClaimedTicks,
    job: &str,
    tick: DateTime<Utc>,
    now: DateTime<Utc>,
) -> TickOwner {
    let claim = TickClaim {
        job: job.to_owned(),
        fire_at: tick,
        instance: ticks.instance.clone(),
        claimed_at: now,
    };
    match ticks.claims.claim(&claim).await {
        Ok(ClaimOutcome::Claimed) => TickOwner::Us,
        // A retry of our own claimed tick: still ours.
        Ok(ClaimOutcome::AlreadyClaimed { by }) if by == ticks.instance => TickOwner::Us,
        Ok(ClaimOutcome::AlreadyClaimed { by }) => TickOwner::Other(by),
        Err(e) => TickOwner::Unreachable(e),
    }
}

/// The wait step: looks for `claimant`'s result of `tick` every poll until the deadline
/// (the tick's scheduled time plus the wait, read on `clock`, and never more than the wait
/// from now), and adopts it. `None` when none came by the deadline.
pub async fn wait_for_claimant(
    ticks: &ClaimedTicks,
    claimant: &str,
    tick: DateTime<Utc>,
    clock: &dyn Clock,
) -> Option<JobReport> {
    let deadline = saturating_add(
        tick,
        chrono::Duration::from_std(ticks.wait).unwrap_or(chrono::Duration::MAX),
    );
    // Never longer than the wait itself: a tick claimed before it was due on the time of
    // record (past TICK_WAIT_LIMIT) would otherwise leave the others waiting the store's
    // whole offset for a claimant that stores nothing.
    let wait = (deadline - clock.now())
        .to_std()
        .unwrap_or_default()
        .min(ticks.wait);
    let give_up = tokio::time::Instant::now() + wait;
    tracing::info!(
        claimant,
        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        "tick claimed by another replica: waiting for its result"
    );
    loop {
        match ticks.adopt.adopt(tick).await {
            Ok(Some(report)) => return Some(report),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "looking for the claimant's result failed"),
        }
        let now = tokio::time::Instant::now();
        if now >= give_up {
            return None;
        }
        tokio::time::sleep(ticks.poll.min(give_up - now)).await;
    }
}

/// One attempt of a shared cron tick: claim it and run the job, or wait for the claimant's
/// result until the deadline, then run the job. Without reachable claims, run as if alone.
/// The report says which in its `claim` fact.
pub(super) async fn run_claimed_tick(
    name: &str,
    job: &dyn Job,
    ticks: &ClaimedTicks,
    clock: &dyn Clock,
    run: RunContext,
    tick: DateTime<Utc>,
) -> Result<JobReport, JobError> {
    let claim_span = tracing::info_span!("tick_claim", otel.name = "tick claim");
    let owner = claim_tick(ticks, name, tick, clock.now())
        .instrument(claim_span.clone())
        .await;
    spans::set_attribute(
        &claim_span,
        "owner",
        match &owner {
            TickOwner::Us => "this replica".to_owned(),
            TickOwner::Other(claimant) => claimant.clone(),
            TickOwner::Unreachable(_) => "unknown: claims unreachable".to_owned(),
        },
    );
    drop(claim_span);
    let claim = match owner {
        TickOwner::Us => "claimed".to_owned(),
        TickOwner::Unreachable(e) => {
            tracing::warn!(
                error = %e,
                "tick claims unavailable: running the job on our own for this tick"
            );
            format!("store unavailable, queried alone: {e}")
        }
        TickOwner::Other(claimant) => {
            let wait_span = tracing::info_span!("claimant_wait", otel.name = "wait for claimant");
            let adopted = wait_for_claimant(ticks, &claimant, tick, clock)
                .instrument(wait_span.clone())
                .await;
            spans::set_attribute(&wait_span, "claimant", claimant.clone());
            spans::set_attribute(&wait_span, "adopted", adopted.is_some());
            drop(wait_span);
            if let Some(report) = adopted {
                return Ok(report.with_fact("claim", &format!("claimed by {claimant}")));
            }
            tracing::warn!(
                claimant,
                "the claimant left no result by the deadline: running the job ourselves"
            );
            format!("claimed by {claimant}, who stored nothing by the deadline")
        }
    };
    let report = job.run(run).await?;
    Ok(report.with_fact("claim", &claim))
}

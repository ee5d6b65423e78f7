//! When is the scheduler stuck? When a run has outlived its own worst case (every attempt
//! timing out, with every backoff, plus one more attempt's time as a margin), or when no
//! cron tick has fired for two periods. The health task turns the scheduler's name
//! NOT_SERVING then, so an orchestrator restarts the pod.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use chrono_tz::Tz;

use super::cron::CronSchedule;
use super::runner::RetryPolicy;
use crate::clock::saturating_add;

/// A tick this much late is not yet missing: the engine polls its schedule, it does not
/// fire to the millisecond.
const TICK_SLACK: Duration = Duration::from_secs(5);

/// When the scheduler started and when a cron tick last fired.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TickClock {
    pub(super) started: Option<DateTime<Utc>>,
    pub(super) last_tick: Option<DateTime<Utc>>,
}

/// The longest a run may take under `policy`: every attempt timing out, every backoff,
/// and one more attempt's timeout as a margin.
pub fn worst_case(policy: &RetryPolicy) -> Duration {
    let attempts = policy.max_attempts.max(1);
    let backoffs = (1..attempts).fold(Duration::ZERO, |sum, attempt| {
        sum.saturating_add(policy.backoff.after(attempt))
    });
    policy
        .attempt_timeout
        .saturating_mul(attempts + 1)
        .saturating_add(backoffs)
}

/// Why the run of `job` started at `started` is overdue at `now`, if it is.
pub(super) fn run_overdue(
    job: &str,
    started: Option<Instant>,
    now: Instant,
    worst: Duration,
) -> Option<String> {
    let running_for = now.saturating_duration_since(started?);
    (running_for > worst).then(|| {
        format!(
            "the run of {job} has been going for {} ms, beyond its worst case of {} ms",
            running_for.as_millis(),
            worst.as_millis()
        )
    })
}

/// Why the cron ticks of `job` are overdue at `now`, if two periods have passed since the
/// last tick (or the start) without one.
pub(super) fn ticks_overdue(
    job: &str,
    schedule: &CronSchedule,
    time_zone: Tz,
    ticks: TickClock,
    now: DateTime<Utc>,
) -> Option<String> {
    let since = ticks.last_tick.or(ticks.started)?;
    let first = schedule.next_after(since, time_zone)?;
    let second = schedule.next_after(first, time_zone)?;
    let slack = chrono::Duration::from_std(TICK_SLACK).unwrap_or_default();
    (now > saturating_add(second, slack)).then(|| {
        format!(
            "no cron tick of {job} since {}: ticks were due at {} and {}",
            since.to_rfc3339(),
            first.to_rfc3339(),
            second.to_rfc3339()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::Backoff;
    use chrono::TimeZone;

    #[test]
    fn the_worst_case_counts_every_attempt_every_backoff_and_one_attempt_of_margin() {
        let policy = RetryPolicy {
            attempt_timeout: Duration::from_secs(60),
            max_attempts: 3,
            backoff: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(30),
            },
        };
        // 3 x 60 + (1 + 2) + 60.
        assert_eq!(worst_case(&policy), Duration::from_secs(243));
        let capped = RetryPolicy {
            backoff: Backoff {
                initial: Duration::from_secs(20),
                max: Duration::from_secs(30),
            },
            ..policy
        };
        // Backoffs 20 and min(40, 30).
        assert_eq!(worst_case(&capped), Duration::from_secs(290));
    }

    #[test]
    fn a_run_is_overdue_only_past_its_worst_case() {
        let start = Instant::now();
        let worst = Duration::from_secs(10);
        assert!(run_overdue("j", None, start + worst * 2, worst).is_none());
        assert!(run_overdue("j", Some(start), start + worst, worst).is_none());
        let reason = run_overdue("j", Some(start), start + worst * 2, worst).unwrap();
        assert!(
            reason.contains("beyond its worst case of 10000 ms"),
            "{reason}"
        );
    }

    #[test]
    fn ticks_are_overdue_after_two_missed_periods() {
        let every_minute = CronSchedule::parse("* * * * *").unwrap();
        let utc = chrono_tz::UTC;
        let t = |m: u32, s: u32| Utc.with_ymd_and_hms(2026, 11, 29, 12, m, s).unwrap();
        let started = TickClock {
            started: Some(t(0, 30)),
            last_tick: None,
        };
        // Due at 12:01 and 12:02 (+5 s slack).
        assert!(ticks_overdue("j", &every_minute, utc, started, t(2, 5)).is_none());
        assert!(ticks_overdue("j", &every_minute, utc, started, t(2, 6)).is_some());
        let ticked = TickClock {
            last_tick: Some(t(2, 0)),
            ..started
        };
        assert!(ticks_overdue("j", &every_minute, utc, ticked, t(3, 30)).is_none());
        assert!(ticks_overdue("j", &every_minute, utc, ticked, t(4, 6)).is_some());
        assert!(ticks_overdue("j", &every_minute, utc, TickClock::default(), t(9, 0)).is_none());
    }
}

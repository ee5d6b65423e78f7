//! Run records and the per-job bookkeeping shown by `ListJobs`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The start-up warm-up.
    Startup,
    /// A cron tick.
    Cron,
    /// An operator's `TriggerNow`.
    Manual,
}

impl Trigger {
    /// Lower-case name used in logs and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Cron => "cron",
            Trigger::Manual => "manual",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// An attempt succeeded.
    Succeeded,
    /// The last attempt returned an error.
    Failed,
    /// The last attempt exceeded the attempt timeout.
    TimedOut,
    /// The job panicked; the scheduler caught it.
    Panicked,
}

impl RunOutcome {
    /// Lower-case name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::TimedOut => "timed_out",
            RunOutcome::Panicked => "panicked",
        }
    }

    /// Whether the run counts as a success.
    pub fn is_success(self) -> bool {
        self == RunOutcome::Succeeded
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finished run of a job (all of its attempts).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Sequence number within this process, from 1.
    pub run_id: u64,
    /// What started it.
    pub trigger: Trigger,
    /// When the first attempt started.
    pub started_at: DateTime<Utc>,
    /// When the last attempt ended.
    pub finished_at: DateTime<Utc>,
    /// Wall time of the whole run, retries and backoff included.
    pub duration: Duration,
    /// How it ended.
    pub outcome: RunOutcome,
    /// The last attempt's error; `None` on success.
    pub error: Option<String>,
    /// Whether the last attempt's failure was transient (another run may succeed soon);
    /// `false` on success and for permanent failures and panics.
    pub retryable: bool,
    /// Items produced by the successful attempt.
    pub items: u64,
    /// Rows rejected by validation in the successful attempt.
    pub rejected: u64,
    /// Attempts made.
    pub attempts: u32,
    /// For a cron run, the tick's scheduled fire time.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// The successful attempt's facts (see [`JobReport::facts`](super::JobReport)).
    pub facts: Vec<(&'static str, String)>,
}

/// Counters and the last run of one job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobStats {
    /// The last finished run.
    pub last_run: Option<RunRecord>,
    /// When the last successful run finished.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Failed runs since the last success.
    pub consecutive_failures: u32,
    /// Finished runs.
    pub total_runs: u64,
    /// Finished runs that failed.
    pub total_failures: u64,
    /// Cron ticks skipped because a run was in progress.
    pub skipped_ticks: u64,
}

impl JobStats {
    /// Accounts for a finished run.
    pub fn record(&mut self, run: RunRecord) {
        self.total_runs += 1;
        if run.outcome.is_success() {
            self.consecutive_failures = 0;
            self.last_success_at = Some(run.finished_at);
        } else {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            self.total_failures += 1;
        }
        self.last_run = Some(run);
    }
}

/// Everything `ListJobs` shows about one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    /// The job's name.
    pub name: String,
    /// The cron expression as configured.
    pub cron: String,
    /// IANA name of the time zone of the cron expression.
    pub time_zone: String,
    /// Next scheduled run; `None` while the scheduler is stopped.
    pub next_run: Option<DateTime<Utc>>,
    /// Whether a run is in progress.
    pub running: bool,
    /// Counters and last run.
    pub stats: JobStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(outcome: RunOutcome, minute: u32) -> RunRecord {
        use chrono::TimeZone;
        let at = Utc.with_ymd_and_hms(2026, 11, 28, 12, minute, 0).unwrap();
        RunRecord {
            run_id: u64::from(minute),
            trigger: Trigger::Cron,
            started_at: at,
            finished_at: at,
            duration: Duration::from_millis(5),
            outcome,
            error: (!outcome.is_success()).then(|| "boom".to_owned()),
            retryable: false,
            items: 3,
            rejected: 0,
            attempts: 1,
            scheduled_at: None,
            facts: Vec::new(),
        }
    }

    #[test]
    fn failures_count_until_a_success_resets_the_streak() {
        let mut s = JobStats::default();
        s.record(run(RunOutcome::Succeeded, 0));
        s.record(run(RunOutcome::Failed, 1));
        s.record(run(RunOutcome::TimedOut, 2));
        s.record(run(RunOutcome::Panicked, 3));
        assert_eq!(s.consecutive_failures, 3);
        assert_eq!(s.total_runs, 4);
        assert_eq!(s.total_failures, 3);
        assert_eq!(
            s.last_success_at,
            Some(run(RunOutcome::Succeeded, 0).finished_at)
        );
        assert_eq!(s.last_run.as_ref().unwrap().outcome, RunOutcome::Panicked);

        s.record(run(RunOutcome::Succeeded, 4));
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(s.total_runs, 5);
        assert_eq!(s.total_failures, 3);
        assert_eq!(
            s.last_success_at,
            Some(run(RunOutcome::Succeeded, 4).finished_at)
        );
    }
}

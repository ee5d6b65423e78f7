//! Run records and the per-job bookkeeping shown by `ListJobs`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::failure::RunFailure;
use super::report::JobReport;

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
    /// An attempt succeeded, but part of its input was left out (for the warm-up: rows
    /// that failed validation).
    Partial,
    /// An attempt succeeded and its result is in use, but a step after it failed (for the
    /// warm-up: the snapshot is served but was not stored, so it is missing from the
    /// history and from the other replicas).
    Degraded,
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
            RunOutcome::Partial => "partial",
            RunOutcome::Degraded => "degraded",
            RunOutcome::Failed => "failed",
            RunOutcome::TimedOut => "timed_out",
            RunOutcome::Panicked => "panicked",
        }
    }

    /// Whether the run's result is in use (with or without rejected rows, with or without
    /// a failed step after it): it resets the failures in a row.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            RunOutcome::Succeeded | RunOutcome::Partial | RunOutcome::Degraded
        )
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
    /// Why the run failed (the last attempt's error, a timeout or a panic); `None` on
    /// success.
    pub error: Option<RunFailure>,
    /// What the successful attempt reported; empty otherwise.
    pub report: JobReport,
    /// Attempts made.
    pub attempts: u32,
    /// For a cron run, the tick's scheduled fire time.
    pub scheduled_at: Option<DateTime<Utc>>,
}

impl RunRecord {
    /// A run that started at `started_at` and has not succeeded (yet): no attempt, no
    /// report, outcome [`RunOutcome::Failed`] until an attempt says otherwise.
    pub fn new(run_id: u64, trigger: Trigger, started_at: DateTime<Utc>) -> Self {
        Self {
            run_id,
            trigger,
            started_at,
            finished_at: started_at,
            duration: Duration::ZERO,
            outcome: RunOutcome::Failed,
            error: None,
            report: JobReport::default(),
            attempts: 0,
            scheduled_at: None,
        }
    }

    /// Records an attempt's success: its report, and the outcome it gives (a failed step
    /// weighs more than rows left out: the rejected count stays in the report).
    pub fn succeed(&mut self, report: JobReport) {
        self.outcome = if report.degraded.is_some() {
            RunOutcome::Degraded
        } else if report.partial {
            RunOutcome::Partial
        } else {
            RunOutcome::Succeeded
        };
        self.error = None;
        self.report = report;
    }

    /// Records a failure, and the outcome it gives.
    pub fn fail(&mut self, failure: RunFailure) {
        self.outcome = failure.outcome();
        self.error = Some(failure);
    }

    /// Whether the run failed in a way another run may soon cure (a transient error or a
    /// timeout); `false` on success and for permanent failures and panics.
    pub fn is_transient(&self) -> bool {
        self.error.as_ref().is_some_and(RunFailure::is_transient)
    }

    /// Ends the run at `now`: sets the finish time and the duration since `started_at`.
    pub fn finish(&mut self, now: DateTime<Utc>) {
        self.finished_at = now;
        self.duration = (self.finished_at - self.started_at)
            .to_std()
            .unwrap_or_default();
    }
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
    use crate::scheduler::JobError;

    fn run(outcome: RunOutcome, minute: u32) -> RunRecord {
        use chrono::TimeZone;
        let at = Utc.with_ymd_and_hms(2026, 11, 28, 12, minute, 0).unwrap();
        RunRecord {
            duration: Duration::from_millis(5),
            outcome,
            error: (!outcome.is_success()).then(|| RunFailure::Failed(JobError::permanent("boom"))),
            report: JobReport::new(3),
            attempts: 1,
            ..RunRecord::new(u64::from(minute), Trigger::Cron, at)
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

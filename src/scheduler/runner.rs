//! One run of a job: attempts bounded by a timeout, transient failures retried with
//! exponential backoff, panics caught and turned into a failed run.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use tracing::Instrument;

use super::backoff::Backoff;
use super::job::{Job, RunContext};
use super::status::{RunOutcome, RunRecord, Trigger};

/// How a run retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Limit of one attempt; an attempt past it counts as a transient failure.
    pub attempt_timeout: Duration,
    /// Attempts per run, at least 1.
    pub max_attempts: u32,
    /// Pause between attempts.
    pub backoff: Backoff,
}

/// Runs `job` to the end of its last attempt and returns the record. Never panics.
pub(super) async fn run_job(
    job: Arc<dyn Job>,
    policy: RetryPolicy,
    run_id: u64,
    trigger: Trigger,
    scheduled_at: Option<DateTime<Utc>>,
) -> RunRecord {
    let span = tracing::info_span!(
        "job_run",
        job = job.name(),
        run_id,
        trigger = trigger.as_str()
    );
    async move {
        tracing::info!("job run started");
        let mut record = RunRecord::new(run_id, trigger, Utc::now());
        record.scheduled_at = scheduled_at;
        let attempts = AssertUnwindSafe(attempt_until_done(&*job, policy, &mut record))
            .catch_unwind()
            .await;
        if let Err(panic) = attempts {
            record.outcome = RunOutcome::Panicked;
            record.transient = false;
            record.error = Some(format!("job panicked: {}", panic_message(&*panic)));
        }
        record.finish();
        let duration_ms = millis(record.duration);
        let error = record.error.as_deref().unwrap_or_default();
        let facts = facts_text(&record);
        // One line per run: `info` when it succeeded, `warn` when rows were rejected, the
        // run's only `error` line when it failed, with what the failure leaves in place.
        macro_rules! run_finished {
            ($level:ident, $message:literal) => {
                tracing::$level!(
                    duration_ms,
                    count = record.report.count,
                    facts,
                    attempt = record.attempts,
                    outcome = record.outcome.as_str(),
                    error,
                    $message
                )
            };
        }
        if record.outcome == RunOutcome::Partial {
            run_finished!(warn, "job run finished, but input rows were rejected");
        } else if record.outcome.is_success() {
            run_finished!(info, "job run finished");
        } else {
            let state = job.on_run_failed(&record);
            tracing::error!(
                duration_ms,
                attempt = record.attempts,
                outcome = record.outcome.as_str(),
                transient = record.transient,
                error,
                state,
                "job run failed"
            );
        }
        record
    }
    .instrument(span)
    .await
}

/// The report's facts as `name=value` pairs, for one log field.
fn facts_text(record: &RunRecord) -> String {
    record
        .report
        .facts
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn attempt_until_done(job: &dyn Job, policy: RetryPolicy, record: &mut RunRecord) {
    let max_attempts = policy.max_attempts.max(1);
    for attempt in 1..=max_attempts {
        record.attempts = attempt;
        tracing::info!(attempt, "job attempt started");
        let clock = Instant::now();
        let context = RunContext {
            attempt,
            trigger: record.trigger,
            scheduled_at: record.scheduled_at,
        };
        let result = tokio::time::timeout(policy.attempt_timeout, job.execute_run(context))
            .instrument(tracing::info_span!("attempt", attempt))
            .await;
        let duration_ms = millis(clock.elapsed());
        let transient = match result {
            Ok(Ok(report)) => {
                record.outcome = if report.partial {
                    RunOutcome::Partial
                } else {
                    RunOutcome::Succeeded
                };
                record.error = None;
                record.transient = false;
                record.report = report;
                return;
            }
            Ok(Err(error)) => {
                record.outcome = RunOutcome::Failed;
                record.error = Some(error.message);
                record.transient = error.transient;
                error.transient
            }
            Err(_elapsed) => {
                record.outcome = RunOutcome::TimedOut;
                record.error = Some(format!(
                    "attempt {attempt} timed out after {} ms",
                    policy.attempt_timeout.as_millis()
                ));
                record.transient = true;
                true
            }
        };
        // The run's last failure is logged once, by `run_job`; only the attempts that are
        // retried get a line of their own.
        if !transient || attempt == max_attempts {
            return;
        }
        let error = record.error.as_deref().unwrap_or_default();
        let backoff = policy.backoff.after(attempt);
        tracing::warn!(
            attempt,
            duration_ms,
            backoff_ms = millis(backoff),
            error,
            "job attempt failed, retrying"
        );
        tokio::time::sleep(backoff).await;
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::{JobError, JobReport};
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// Plays a script of attempt results; `None` hangs until the timeout.
    struct Scripted {
        script: Mutex<Vec<Option<Result<JobReport, JobError>>>>,
        calls: Mutex<u32>,
    }

    impl Scripted {
        fn new(mut script: Vec<Option<Result<JobReport, JobError>>>) -> Arc<Self> {
            script.reverse();
            Arc::new(Self {
                script: Mutex::new(script),
                calls: Mutex::new(0),
            })
        }
    }

    #[async_trait]
    impl Job for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }
        async fn execute(&self, attempt: u32) -> Result<JobReport, JobError> {
            *self.calls.lock().unwrap() += 1;
            assert_eq!(attempt, *self.calls.lock().unwrap());
            let next = self.script.lock().unwrap().pop().expect("script too short");
            match next {
                Some(result) => result,
                None => std::future::pending().await,
            }
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempt_timeout: Duration::from_secs(5),
            max_attempts: 3,
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(150),
            },
        }
    }

    #[allow(clippy::unnecessary_wraps)] // a step of the script, which may also be `None`
    fn ok(items: u64) -> Option<Result<JobReport, JobError>> {
        Some(Ok(JobReport::new(items).with_fact("rejected", &1)))
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let job = Scripted::new(vec![
            Some(Err(JobError::transient("ORA-12541"))),
            None, // hangs: timed out, retried
            ok(7),
        ]);
        let r = run_job(job.clone(), policy(), 1, Trigger::Manual, None).await;
        assert_eq!(r.outcome, RunOutcome::Succeeded);
        assert_eq!(r.attempts, 3);
        assert_eq!((r.report.count, r.report.fact("rejected")), (7, Some("1")));
        assert_eq!(r.error, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_partial_report_is_a_partial_success() {
        let partial = JobReport::new(3).with_fact("rejected", &2).partial_if(true);
        let job = Scripted::new(vec![Some(Ok(partial))]);
        let r = run_job(job, policy(), 1, Trigger::Cron, None).await;
        assert_eq!(r.outcome, RunOutcome::Partial);
        assert!(r.outcome.is_success(), "its result is in use");
        assert_eq!(r.error, None);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let job = Scripted::new(vec![Some(Err(JobError::permanent("ORA-01017")))]);
        let r = run_job(job.clone(), policy(), 1, Trigger::Cron, None).await;
        assert_eq!(r.outcome, RunOutcome::Failed);
        assert_eq!(r.attempts, 1);
        assert_eq!(r.error.as_deref(), Some("ORA-01017"));
        assert_eq!(*job.calls.lock().unwrap(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_timeout_is_reported_as_timed_out() {
        let job = Scripted::new(vec![None, None, None]);
        let r = run_job(job, policy(), 1, Trigger::Cron, None).await;
        assert_eq!(r.outcome, RunOutcome::TimedOut);
        assert_eq!(r.attempts, 3);
        assert_eq!(
            r.error.as_deref(),
            Some("attempt 3 timed out after 5000 ms")
        );
    }

    struct Panics;

    #[async_trait]
    impl Job for Panics {
        fn name(&self) -> &'static str {
            "panics"
        }
        async fn execute(&self, _attempt: u32) -> Result<JobReport, JobError> {
            panic!("index out of bounds")
        }
    }

    #[tokio::test]
    async fn a_panic_becomes_a_panicked_run() {
        let r = run_job(Arc::new(Panics), policy(), 9, Trigger::Manual, None).await;
        assert_eq!(r.outcome, RunOutcome::Panicked);
        assert_eq!(r.run_id, 9);
        assert_eq!(
            r.error.as_deref(),
            Some("job panicked: index out of bounds")
        );
    }
}

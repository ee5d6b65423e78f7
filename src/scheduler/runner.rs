//! One run of a job: attempts bounded by a timeout, transient failures retried with
//! exponential backoff, panics caught and turned into a failed run.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use tracing::Instrument;

use super::{Job, RunContext, RunOutcome, RunRecord, Trigger};

/// How a run retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Limit of one attempt; an attempt past it counts as a transient failure.
    pub attempt_timeout: Duration,
    /// Attempts per run, at least 1.
    pub max_attempts: u32,
    /// Pause after the first failed attempt; doubled after each further one.
    pub initial_backoff: Duration,
    /// Upper bound of the pause.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(60),
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt number `attempt` (from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
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
        cache_key = tracing::field::Empty,
        run_id,
        trigger = trigger.as_str()
    );
    if let Some(key) = job.cache_key() {
        span.record("cache_key", key);
    }
    async move {
        let started_at = Utc::now();
        let clock = Instant::now();
        tracing::info!("job run started");
        let mut record = RunRecord {
            run_id,
            trigger,
            started_at,
            finished_at: started_at,
            duration: Duration::ZERO,
            outcome: RunOutcome::Failed,
            error: None,
            retryable: false,
            items: 0,
            rejected: 0,
            attempts: 0,
            scheduled_at,
            facts: Vec::new(),
        };
        let attempts = AssertUnwindSafe(attempt_until_done(&*job, policy, &mut record))
            .catch_unwind()
            .await;
        if let Err(panic) = attempts {
            record.outcome = RunOutcome::Panicked;
            record.retryable = false;
            record.error = Some(format!("job panicked: {}", panic_message(&*panic)));
        }
        record.finished_at = Utc::now();
        record.duration = clock.elapsed();
        let duration_ms = record.duration.as_millis() as u64;
        let error = record.error.as_deref().unwrap_or_default();
        macro_rules! run_finished {
            ($level:ident, $message:literal) => {
                tracing::$level!(
                    duration_ms,
                    items = record.items,
                    rejected = record.rejected,
                    attempt = record.attempts,
                    outcome = record.outcome.as_str(),
                    error,
                    $message
                )
            };
        }
        if record.outcome.is_success() {
            run_finished!(info, "job run finished");
        } else {
            run_finished!(error, "job run failed");
            job.on_run_failed(&record);
        }
        record
    }
    .instrument(span)
    .await
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
        let duration_ms = clock.elapsed().as_millis() as u64;
        let retryable = match result {
            Ok(Ok(report)) => {
                record.outcome = RunOutcome::Succeeded;
                record.error = None;
                record.retryable = false;
                record.items = report.items;
                record.rejected = report.rejected;
                record.facts = report.facts;
                return;
            }
            Ok(Err(error)) => {
                record.outcome = RunOutcome::Failed;
                record.error = Some(error.message);
                record.retryable = error.retryable;
                error.retryable
            }
            Err(_elapsed) => {
                record.outcome = RunOutcome::TimedOut;
                record.error = Some(format!(
                    "attempt {attempt} timed out after {} ms",
                    policy.attempt_timeout.as_millis()
                ));
                record.retryable = true;
                true
            }
        };
        let error = record.error.as_deref().unwrap_or_default();
        if !retryable || attempt == max_attempts {
            tracing::warn!(attempt, duration_ms, retryable, error, "job attempt failed");
            return;
        }
        let backoff = policy.backoff(attempt);
        tracing::warn!(
            attempt,
            duration_ms,
            backoff_ms = backoff.as_millis() as u64,
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
        fn name(&self) -> &str {
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
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(150),
        }
    }

    fn ok(items: u64) -> Option<Result<JobReport, JobError>> {
        Some(Ok(JobReport {
            items,
            rejected: 1,
            facts: vec![("mode", "scripted".to_owned())],
        }))
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            ..policy()
        };
        let got: Vec<u64> = (1..=5).map(|a| p.backoff(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 5, 5]);
        assert_eq!(p.backoff(200), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let job = Scripted::new(vec![
            Some(Err(JobError::retryable("ORA-12541"))),
            None, // hangs: timed out, retried
            ok(7),
        ]);
        let r = run_job(job.clone(), policy(), 1, Trigger::Manual, None).await;
        assert_eq!(r.outcome, RunOutcome::Succeeded);
        assert_eq!(r.attempts, 3);
        assert_eq!((r.items, r.rejected), (7, 1));
        assert_eq!(r.facts, vec![("mode", "scripted".to_owned())]);
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
        fn name(&self) -> &str {
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

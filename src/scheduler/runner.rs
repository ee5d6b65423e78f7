//! One run of a job: attempts bounded by a timeout, transient failures retried with
//! exponential backoff, panics caught and turned into a failed run; a cluster-coordinated
//! cron tick waits until it is due on the time of record, then goes through its claim (see
//! [`super::cluster`]) in each attempt.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use tracing::Instrument;

use super::backoff::Backoff;
use super::cluster::{self, run_claimed_tick};
use super::failure::{JobError, RunFailure};
use super::job::RunContext;
use super::report::JobReport;
use super::spec::{Coordination, JobSpec};
use super::status::{RunOutcome, RunRecord, Trigger};
use crate::clock::Clock;
use crate::telemetry::spans;

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

/// Runs the job of `spec` to the end of its last attempt and returns the record, its times
/// read on `clock`. Never panics.
pub(super) async fn run_job(
    spec: Arc<JobSpec>,
    clock: Arc<dyn Clock>,
    run_id: u64,
    trigger: Trigger,
    scheduled_at: Option<DateTime<Utc>>,
) -> RunRecord {
    let span = tracing::info_span!(
        "job_run",
        job = spec.name.as_str(),
        run_id,
        trigger = trigger.as_str(),
        otel.name = spec.name.as_str(),
    );
    async move {
        if let (Coordination::Claimed(ticks), Trigger::Cron, Some(tick)) =
            (&spec.coordination, trigger, scheduled_at)
        {
            cluster::await_tick_on_record(ticks, tick).await;
        }
        tracing::info!("job run started");
        let mut record = RunRecord::new(run_id, trigger, clock.now());
        record.scheduled_at = scheduled_at;
        let attempts = AssertUnwindSafe(attempt_until_done(&spec, &*clock, &mut record))
            .catch_unwind()
            .await;
        if let Err(panic) = attempts {
            record.fail(RunFailure::Panicked {
                message: panic_message(&*panic),
                in_attempt: true,
            });
        }
        record.finish(clock.now());
        trace_run(&tracing::Span::current(), &record);
        let duration_ms = millis(record.duration);
        let error = record
            .error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let facts = facts_text(&record.report);
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
        if let Some(failed) = &record.report.degraded {
            tracing::warn!(
                duration_ms,
                count = record.report.count,
                facts,
                attempt = record.attempts,
                outcome = record.outcome.as_str(),
                step = failed.step,
                kind = failed.error.kind.as_str(),
                codes = failed.error.codes.join(","),
                error = %failed.error,
                "job run finished, but a step after its result failed"
            );
        } else if record.outcome == RunOutcome::Partial {
            run_finished!(warn, "job run finished, but input rows were rejected");
        } else if record.outcome.is_success() {
            run_finished!(info, "job run finished");
        } else {
            let state = spec.job.on_run_failed(&record);
            tracing::error!(
                duration_ms,
                attempt = record.attempts,
                outcome = record.outcome.as_str(),
                transient = record.is_transient(),
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

/// The run's attempts and outcome on its exported span (the log line has them as fields);
/// a failed run's span is an error, with its failure's class as `error.type`.
fn trace_run(span: &tracing::Span, record: &RunRecord) {
    spans::set_attribute(span, "attempt", i64::from(record.attempts));
    spans::set_attribute(span, "outcome", record.outcome.as_str());
    if let Some(failure) = &record.error {
        spans::mark_failed(span, failure.error_type());
    }
}

/// The report's facts as `name=value` pairs, for one log field.
fn facts_text(report: &JobReport) -> String {
    report
        .shown_facts()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One attempt: the job's own run, or, for a claimed cron tick, its claim first.
fn attempt<'a>(
    spec: &'a JobSpec,
    clock: &'a dyn Clock,
    context: RunContext,
) -> BoxFuture<'a, Result<JobReport, JobError>> {
    match (&spec.coordination, context.trigger, context.scheduled_at) {
        (Coordination::Claimed(ticks), Trigger::Cron, Some(tick)) => Box::pin(run_claimed_tick(
            &spec.name, &*spec.job, ticks, clock, context, tick,
        )),
        _ => spec.job.run(context),
    }
}

async fn attempt_until_done(spec: &JobSpec, clock: &dyn Clock, record: &mut RunRecord) {
    let policy = spec.retry;
    let max_attempts = policy.max_attempts.max(1);
    for attempt_no in 1..=max_attempts {
        record.attempts = attempt_no;
        tracing::info!(attempt = attempt_no, "job attempt started");
        let started = Instant::now();
        let context = RunContext {
            attempt: attempt_no,
            trigger: record.trigger,
            scheduled_at: record.scheduled_at,
        };
        let result = tokio::time::timeout(policy.attempt_timeout, attempt(spec, clock, context))
            .instrument(tracing::info_span!(
                "attempt",
                attempt = attempt_no,
                otel.name = format!("attempt {attempt_no}")
            ))
            .await;
        let duration_ms = millis(started.elapsed());
        let failure = match result {
            Ok(Ok(report)) => {
                record.succeed(report);
                return;
            }
            Ok(Err(error)) => RunFailure::Failed(error),
            Err(_elapsed) => RunFailure::TimedOut {
                attempt: attempt_no,
                limit: policy.attempt_timeout,
            },
        };
        let transient = failure.is_transient();
        record.fail(failure);
        // The run's last failure is logged once, by `run_job`; only the attempts that are
        // retried get a line of their own.
        if !transient || attempt_no == max_attempts {
            return;
        }
        let error = record
            .error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let backoff = policy.backoff.after(attempt_no);
        tracing::warn!(
            attempt = attempt_no,
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
    use crate::clock::SystemClock;
    use crate::scheduler::{CronSchedule, FailureKind, Job};
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
        async fn run(&self, run: RunContext) -> Result<JobReport, JobError> {
            *self.calls.lock().unwrap() += 1;
            assert_eq!(run.attempt, *self.calls.lock().unwrap());
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

    /// Runs `job` once under [`policy`], as `run_id`.
    async fn run_once(job: Arc<dyn Job>, run_id: u64, trigger: Trigger) -> RunRecord {
        let spec = JobSpec::new(
            "scripted",
            job,
            CronSchedule::parse("0 0 1 1 *").unwrap(),
            policy(),
        );
        run_job(Arc::new(spec), Arc::new(SystemClock), run_id, trigger, None).await
    }

    fn error_text(r: &RunRecord) -> Option<String> {
        r.error.as_ref().map(ToString::to_string)
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
        let r = run_once(job.clone(), 1, Trigger::Manual).await;
        assert_eq!(r.outcome, RunOutcome::Succeeded);
        assert_eq!(r.attempts, 3);
        assert_eq!((r.report.count, r.report.fact("rejected")), (7, Some("1")));
        assert_eq!(r.error, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_partial_report_is_a_partial_success() {
        let partial = JobReport::new(3).with_fact("rejected", &2).partial_if(true);
        let job = Scripted::new(vec![Some(Ok(partial))]);
        let r = run_once(job, 1, Trigger::Cron).await;
        assert_eq!(r.outcome, RunOutcome::Partial);
        assert!(r.outcome.is_success(), "its result is in use");
        assert_eq!(r.error, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_step_after_the_result_is_a_degraded_success() {
        let report = JobReport::new(3)
            .with_fact("rejected", &2)
            .partial_if(true)
            .degraded_by(
                "store_write",
                JobError::transient("locked").with_codes(["SQLITE_BUSY".to_owned()]),
            );
        let job = Scripted::new(vec![Some(Ok(report))]);
        let r = run_once(job.clone(), 1, Trigger::Cron).await;
        assert_eq!(r.outcome, RunOutcome::Degraded, "not a plain success");
        assert_eq!(r.outcome.as_str(), "degraded");
        assert!(r.outcome.is_success(), "its result is in use");
        assert_eq!(r.attempts, 1, "not retried: the result is already in use");
        let failed = r.report.degraded.as_ref().unwrap();
        assert_eq!(failed.step, "store_write");
        assert_eq!(failed.error.codes, vec!["SQLITE_BUSY"]);
        assert!(r.report.partial, "the rejected rows are still reported");
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let job = Scripted::new(vec![Some(Err(JobError::permanent("ORA-01017")))]);
        let r = run_once(job.clone(), 1, Trigger::Cron).await;
        assert_eq!(r.outcome, RunOutcome::Failed);
        assert_eq!(r.attempts, 1);
        assert_eq!(error_text(&r).as_deref(), Some("ORA-01017"));
        assert!(
            matches!(&r.error, Some(RunFailure::Failed(e)) if e.kind == FailureKind::Permanent)
        );
        assert_eq!(*job.calls.lock().unwrap(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_timeout_is_reported_as_timed_out() {
        let job = Scripted::new(vec![None, None, None]);
        let r = run_once(job, 1, Trigger::Cron).await;
        assert_eq!(r.outcome, RunOutcome::TimedOut);
        assert_eq!(r.attempts, 3);
        assert_eq!(
            error_text(&r).as_deref(),
            Some("attempt 3 timed out after 5000 ms")
        );
        assert_eq!(
            r.error,
            Some(RunFailure::TimedOut {
                attempt: 3,
                limit: Duration::from_secs(5)
            })
        );
    }

    struct Panics;

    #[async_trait]
    impl Job for Panics {
        async fn run(&self, _run: RunContext) -> Result<JobReport, JobError> {
            panic!("index out of bounds")
        }
    }

    #[tokio::test]
    async fn a_panic_becomes_a_panicked_run() {
        let r = run_once(Arc::new(Panics), 9, Trigger::Manual).await;
        assert_eq!(r.outcome, RunOutcome::Panicked);
        assert_eq!(r.run_id, 9);
        assert_eq!(
            error_text(&r).as_deref(),
            Some("job panicked: index out of bounds")
        );
        assert!(!r.is_transient());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_runs_span_is_an_error_with_the_failures_kind() {
        use crate::telemetry::testing::{attr, recording};
        use opentelemetry::trace::Status;
        let (subscriber, recorded) = recording();
        let _default = tracing::subscriber::set_default(subscriber);
        let job = Scripted::new(vec![Some(Err(JobError::permanent("ORA-01017")))]);
        run_once(job, 1, Trigger::Manual).await;
        let good = Scripted::new(vec![ok(3)]);
        run_once(good, 2, Trigger::Cron).await;

        let runs = recorded.named("scripted");
        let (failed, succeeded) = (&runs[0], &runs[1]);
        assert_eq!(failed.status, Status::error("permanent"));
        assert_eq!(attr(failed, "error.type").as_deref(), Some("permanent"));
        assert_eq!(attr(failed, "outcome").as_deref(), Some("failed"));
        assert_eq!(attr(failed, "trigger").as_deref(), Some("manual"));
        assert_eq!(attr(failed, "attempt").as_deref(), Some("1"));
        assert_eq!(succeeded.status, Status::Unset);
        assert_eq!(attr(succeeded, "outcome").as_deref(), Some("succeeded"));
        assert_eq!(attr(succeeded, "error.type"), None);
        // Each attempt is a child of its run.
        let attempt = recorded.named("attempt 1");
        assert_eq!(attempt[0].parent_span_id, failed.span_context.span_id());
    }
}

//! The job metrics: finished runs as they happen, and each job's state (last run, last
//! success, failures in a row, skipped ticks, running) read from the scheduler at scrape
//! time.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{F64Gauge, Histograms, saturating_i64, unix_seconds};
use crate::scheduler::{JobStatus, RunRecord};

/// Buckets of the job run duration: warm-ups take from milliseconds (SQLite) to tens of
/// seconds (Oracle over a database link, with retries).
const RUN_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// `job_name`, not `job`: Prometheus gives every scraped series its own `job` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job_name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    job_name: String,
    trigger: String,
    outcome: String,
}

fn run_histogram() -> Histogram {
    Histogram::new(RUN_BUCKETS)
}

/// The `radar_job_*` metrics.
pub(super) struct JobMetrics {
    runs: Family<RunLabels, Counter>,
    run_duration: Histograms<JobLabels>,
    last_run_items: Family<JobLabels, Gauge>,
    last_run_rejected: Family<JobLabels, Gauge>,
    last_success: Family<JobLabels, F64Gauge>,
    consecutive_failures: Family<JobLabels, Gauge>,
    skipped_ticks: Family<JobLabels, Counter>,
    running: Family<JobLabels, Gauge>,
}

impl JobMetrics {
    /// The job metrics, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            runs: Family::default(),
            run_duration: Family::new_with_constructor(run_histogram),
            last_run_items: Family::default(),
            last_run_rejected: Family::default(),
            last_success: Family::default(),
            consecutive_failures: Family::default(),
            skipped_ticks: Family::default(),
            running: Family::default(),
        };
        r.register(
            "radar_job_runs",
            "Finished job runs (warm-ups) by job, trigger (startup, cron, manual) and outcome",
            m.runs.clone(),
        );
        r.register(
            "radar_job_run_duration_seconds",
            "Wall time of finished job runs, retries and backoff included",
            m.run_duration.clone(),
        );
        r.register(
            "radar_job_last_run_items",
            "What the job's last run produced (the warm-up: items cached; 0 when it failed)",
            m.last_run_items.clone(),
        );
        r.register(
            "radar_job_last_run_rejected_rows",
            "Source rows rejected by validation in the job's last run",
            m.last_run_rejected.clone(),
        );
        r.register(
            "radar_job_last_success_timestamp_seconds",
            "Unix time when the job's last successful run finished",
            m.last_success.clone(),
        );
        r.register(
            "radar_job_consecutive_failures",
            "Failed runs of the job since its last success",
            m.consecutive_failures.clone(),
        );
        r.register(
            "radar_job_skipped_ticks",
            "Cron ticks skipped because a run of the job was still in progress",
            m.skipped_ticks.clone(),
        );
        r.register(
            "radar_job_running",
            "1 while a run of the job is in progress",
            m.running.clone(),
        );
        m
    }

    /// Accounts for a finished run of `job`.
    pub(super) fn record_run(&self, job: &str, run: &RunRecord) {
        self.runs
            .get_or_create(&RunLabels {
                job_name: job.to_owned(),
                trigger: run.trigger.as_str().to_owned(),
                outcome: run.outcome.as_str().to_owned(),
            })
            .inc();
        self.run_duration
            .get_or_create(&JobLabels {
                job_name: job.to_owned(),
            })
            .observe(run.duration.as_secs_f64());
    }

    /// Reads each job's state from its status.
    pub(super) fn refresh(&self, jobs: &[JobStatus]) {
        for status in jobs {
            let job = JobLabels {
                job_name: status.name.clone(),
            };
            let stats = &status.stats;
            let report = stats.last_run.as_ref().map(|run| &run.report);
            self.last_run_items
                .get_or_create(&job)
                .set(saturating_i64(report.map_or(0, |r| r.count)));
            // Only jobs that report rejected rows (the warm-up) get this series.
            let rejected = report.and_then(|r| r.rejected);
            if rejected.is_some() || self.last_run_rejected.get(&job).is_some() {
                self.last_run_rejected
                    .get_or_create(&job)
                    .set(saturating_i64(rejected.unwrap_or(0)));
            }
            if let Some(at) = stats.last_success_at {
                self.last_success.get_or_create(&job).set(unix_seconds(at));
            }
            self.consecutive_failures
                .get_or_create(&job)
                .set(i64::from(stats.consecutive_failures));
            let skipped = self.skipped_ticks.get_or_create(&job);
            skipped.inc_by(stats.skipped_ticks.saturating_sub(skipped.get()));
            self.running
                .get_or_create(&job)
                .set(i64::from(status.running));
        }
    }
}

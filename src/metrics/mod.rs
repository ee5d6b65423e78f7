//! Prometheus metrics (prometheus-client: the Prometheus org's own Rust client, OpenMetrics
//! native). Event metrics (runs, requests) are recorded as they happen; state metrics
//! (snapshot age and staleness, job status, health) are read from the cache and the
//! scheduler at scrape time, so a scrape never shows an age that was true minutes ago.

mod exposition;
mod grpc_layer;

use std::time::Duration;

use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

pub use exposition::{Format, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use grpc_layer::GrpcMetricsLayer;

use crate::cache::SnapshotCache;
use crate::health;
use crate::jobs::REJECTED_FACT;
use crate::scheduler::{JobStatus, RunRecord};
use crate::transport::Incoming;

/// Version of this build (Cargo's package version).
pub const VERSION: &str = crate::version::CRATE_VERSION;
/// Git revision of this build, as `--version` shows it (see [`crate::version`]).
pub const REVISION: &str = crate::version::GIT_REVISION;

/// Buckets of the job run duration: warm-ups take from milliseconds (SQLite) to tens of
/// seconds (Oracle over a database link, with retries).
const RUN_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];
/// Buckets of request latency: answers come from memory, so most take well under 10 ms;
/// ANEEL's limit is 5 s.
const REQUEST_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

type F64Gauge = Gauge<f64, AtomicU64>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    revision: String,
}

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcMethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    path: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRouteLabels {
    method: String,
    path: String,
}

/// What a scrape reads besides the recorded events.
pub struct ScrapeInputs<'a> {
    /// The snapshot cache.
    pub cache: &'a SnapshotCache,
    /// Every job's status (`ListJobs`).
    pub jobs: &'a [JobStatus],
    /// The health inputs of this moment.
    pub health: health::Inputs,
    /// The gRPC listener's counters.
    pub listener: &'a Incoming,
}

/// Every metric of the service, in one registry.
pub struct Metrics {
    registry: Registry,
    job_runs: Family<RunLabels, Counter>,
    job_run_duration: Histograms<JobLabels>,
    job_last_run_items: Family<JobLabels, Gauge>,
    job_last_run_rejected: Family<JobLabels, Gauge>,
    job_last_success: Family<JobLabels, F64Gauge>,
    job_consecutive_failures: Family<JobLabels, Gauge>,
    job_skipped_ticks: Family<JobLabels, Counter>,
    job_running: Family<JobLabels, Gauge>,
    snapshot_loaded: Gauge,
    grpc_connections_refused: Counter,
    grpc_accept_errors: Counter,
    grpc_handshake_timeouts: Counter,
    snapshot_age: F64Gauge,
    snapshot_stale: Gauge,
    snapshot_items: Gauge,
    snapshot_collected: F64Gauge,
    health_status: Family<HealthLabels, Gauge>,
    grpc_requests: Family<GrpcLabels, Counter>,
    grpc_duration: Histograms<GrpcMethodLabels>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<HttpRouteLabels>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn run_histogram() -> Histogram {
    Histogram::new(RUN_BUCKETS)
}

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

impl Metrics {
    /// A registry with every metric registered and `radar_build_info` set.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: VERSION.to_owned(),
                revision: REVISION.to_owned(),
            })
            .set(1);
        registry.register(
            "radar_build_info",
            "Always 1; the labels name the version and git revision of this build",
            build_info,
        );
        let m = Self {
            registry,
            job_runs: Family::default(),
            job_run_duration: Family::new_with_constructor(run_histogram),
            job_last_run_items: Family::default(),
            job_last_run_rejected: Family::default(),
            job_last_success: Family::default(),
            job_consecutive_failures: Family::default(),
            job_skipped_ticks: Family::default(),
            job_running: Family::default(),
            snapshot_loaded: Gauge::default(),
            grpc_connections_refused: Counter::default(),
            grpc_accept_errors: Counter::default(),
            grpc_handshake_timeouts: Counter::default(),
            snapshot_age: F64Gauge::default(),
            snapshot_stale: Gauge::default(),
            snapshot_items: Gauge::default(),
            snapshot_collected: F64Gauge::default(),
            health_status: Family::default(),
            grpc_requests: Family::default(),
            grpc_duration: Family::new_with_constructor(request_histogram),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(request_histogram),
        };
        m.register_all()
    }

    fn register_all(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "radar_job_runs",
            "Finished job runs (warm-ups) by job, trigger (startup, cron, manual) and outcome",
            self.job_runs.clone(),
        );
        r.register(
            "radar_job_run_duration_seconds",
            "Wall time of finished job runs, retries and backoff included",
            self.job_run_duration.clone(),
        );
        r.register(
            "radar_job_last_run_items",
            "What the job's last run produced (the warm-up: items cached; 0 when it failed)",
            self.job_last_run_items.clone(),
        );
        r.register(
            "radar_job_last_run_rejected_rows",
            "Source rows rejected by validation in the job's last run",
            self.job_last_run_rejected.clone(),
        );
        r.register(
            "radar_job_last_success_timestamp_seconds",
            "Unix time when the job's last successful run finished",
            self.job_last_success.clone(),
        );
        r.register(
            "radar_job_consecutive_failures",
            "Failed runs of the job since its last success",
            self.job_consecutive_failures.clone(),
        );
        r.register(
            "radar_grpc_connections_refused",
            "gRPC connections closed at once because RADAR_MAX_CONNECTIONS were open",
            self.grpc_connections_refused.clone(),
        );
        r.register(
            "radar_grpc_accept_errors",
            "Failed accepts of the gRPC listener (e.g. too many open files)",
            self.grpc_accept_errors.clone(),
        );
        r.register(
            "radar_grpc_handshake_timeouts",
            "gRPC connections closed for not sending the HTTP/2 preface in time",
            self.grpc_handshake_timeouts.clone(),
        );
        r.register(
            "radar_job_skipped_ticks",
            "Cron ticks skipped because a run of the job was still in progress",
            self.job_skipped_ticks.clone(),
        );
        r.register(
            "radar_job_running",
            "1 while a run of the job is in progress",
            self.job_running.clone(),
        );
        r.register(
            "radar_snapshot_loaded",
            "1 once a snapshot has loaded (fresh or stale)",
            self.snapshot_loaded.clone(),
        );
        r.register(
            "radar_snapshot_age_seconds",
            "Age of the cached snapshot at scrape time",
            self.snapshot_age.clone(),
        );
        r.register(
            "radar_snapshot_stale",
            "1 when the cached snapshot is stale (a later load failed, or it is too old)",
            self.snapshot_stale.clone(),
        );
        r.register(
            "radar_snapshot_items",
            "Items (conjunto, municipio pairs) in the cached snapshot",
            self.snapshot_items.clone(),
        );
        r.register(
            "radar_snapshot_collected_timestamp_seconds",
            "Unix time when the cached snapshot was collected from the source",
            self.snapshot_collected.clone(),
        );
        r.register(
            "radar_health_status",
            "1 when the gRPC health name is SERVING (service=\"overall\" is the name \"\")",
            self.health_status.clone(),
        );
        r.register(
            "radar_grpc_requests",
            "Finished gRPC calls by method and status code",
            self.grpc_requests.clone(),
        );
        r.register(
            "radar_grpc_request_duration_seconds",
            "Latency of gRPC calls, to the end of the response",
            self.grpc_duration.clone(),
        );
        r.register(
            "radar_http_requests",
            "ANEEL endpoint HTTP requests by method, path and status code",
            self.http_requests.clone(),
        );
        r.register(
            "radar_http_request_duration_seconds",
            "Latency of ANEEL endpoint HTTP requests",
            self.http_duration.clone(),
        );
        self
    }

    /// Accounts for a finished job run.
    pub fn record_run(&self, job: &str, run: &RunRecord) {
        self.job_runs
            .get_or_create(&RunLabels {
                job_name: job.to_owned(),
                trigger: run.trigger.as_str().to_owned(),
                outcome: run.outcome.as_str().to_owned(),
            })
            .inc();
        self.job_run_duration
            .get_or_create(&JobLabels {
                job_name: job.to_owned(),
            })
            .observe(run.duration.as_secs_f64());
    }

    /// Accounts for a finished gRPC call. `method` and `code` must come from bounded sets.
    pub fn record_grpc(&self, method: &str, code: &str, elapsed: Duration) {
        self.grpc_requests
            .get_or_create(&GrpcLabels {
                method: method.to_owned(),
                code: code.to_owned(),
            })
            .inc();
        self.grpc_duration
            .get_or_create(&GrpcMethodLabels {
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Accounts for an answered HTTP request. `method` and `path` must come from bounded sets.
    pub fn record_http(&self, method: &str, path: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                path: path.to_owned(),
                status: status.to_string(),
            })
            .inc();
        self.http_duration
            .get_or_create(&HttpRouteLabels {
                method: method.to_owned(),
                path: path.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Reads the state metrics from `inputs`, then encodes everything in `format`.
    pub async fn scrape(&self, inputs: ScrapeInputs<'_>, format: Format) -> String {
        self.refresh(inputs).await;
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        exposition::render(text, format)
    }

    async fn refresh(&self, inputs: ScrapeInputs<'_>) {
        for status in inputs.jobs {
            let job = JobLabels {
                job_name: status.name.clone(),
            };
            let stats = &status.stats;
            let report = stats.last_run.as_ref().map(|run| &run.report);
            self.job_last_run_items
                .get_or_create(&job)
                .set(saturating_i64(report.map_or(0, |r| r.count)));
            // Only jobs that report rejected rows (the warm-up) get this series.
            let rejected = report.and_then(|r| r.fact(REJECTED_FACT)?.parse::<u64>().ok());
            if rejected.is_some() || self.job_last_run_rejected.get(&job).is_some() {
                self.job_last_run_rejected
                    .get_or_create(&job)
                    .set(saturating_i64(rejected.unwrap_or(0)));
            }
            if let Some(at) = stats.last_success_at {
                self.job_last_success
                    .get_or_create(&job)
                    .set(unix_seconds(at));
            }
            self.job_consecutive_failures
                .get_or_create(&job)
                .set(i64::from(stats.consecutive_failures));
            let skipped = self.job_skipped_ticks.get_or_create(&job);
            skipped.inc_by(stats.skipped_ticks.saturating_sub(skipped.get()));
            self.job_running
                .get_or_create(&job)
                .set(i64::from(status.running));
        }
        self.snapshot_loaded
            .set(i64::from(inputs.cache.is_loaded()));
        for (counter, total) in [
            (&self.grpc_connections_refused, &inputs.listener.refused),
            (&self.grpc_accept_errors, &inputs.listener.accept_errors),
            (
                &self.grpc_handshake_timeouts,
                &inputs.listener.handshake_timeouts,
            ),
        ] {
            let total = total.load(std::sync::atomic::Ordering::Relaxed);
            counter.inc_by(total.saturating_sub(counter.get()));
        }
        if let Ok(view) = inputs.cache.current().await {
            self.snapshot_age.set(view.age.as_secs_f64());
            self.snapshot_stale
                .set(i64::from(view.stale_reason.is_some()));
            self.snapshot_items
                .set(saturating_i64(view.snapshot.items.len() as u64));
            self.snapshot_collected
                .set(unix_seconds(view.snapshot.collected_at));
        }
        for (name, status) in health::statuses(inputs.health) {
            let service = if name.is_empty() { "overall" } else { name };
            self.health_status
                .get_or_create(&HealthLabels {
                    service: service.to_owned(),
                })
                .set(i64::from(status == tonic_health::ServingStatus::Serving));
        }
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn unix_seconds(at: chrono::DateTime<Utc>) -> f64 {
    at.timestamp() as f64 + f64::from(at.timestamp_subsec_millis()) / 1000.0
}

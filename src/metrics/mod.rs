//! Prometheus metrics (prometheus-client: the Prometheus org's own Rust client, OpenMetrics
//! native). Event metrics (runs, requests) are recorded as they happen; state metrics
//! (snapshot age and staleness, job status, health) are read from the cache and the
//! scheduler at scrape time, so a scrape never shows an age that was true minutes ago.
//!
//! One small struct per area registers its own metrics: [`jobs`], the [`listener`]s,
//! the [`snapshot`], the snapshot [`store`]'s operations, the [`clock`]'s offset,
//! [`health_status`], the
//! [`requests`] of both protocols and the [`traces`] that never reached the collector; the
//! [`process`] collector adds the standard `process_*` figures. Adding a family is a field
//! and a `register` call in its area.

mod clock;
mod exposition;
mod grpc_layer;
mod health_status;
mod jobs;
mod listener;
mod process;
mod requests;
mod snapshot;
mod store;
mod traces;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use exposition::{Format, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use grpc_layer::GrpcMetricsLayer;
pub use requests::GrpcMethod;
pub use store::MeteredStore;

use crate::cache::SnapshotCache;
use crate::health;
use crate::scheduler::{JobStatus, RunRecord};
use crate::store::SnapshotStore;
use crate::transport::Listeners;

/// Version of this build (Cargo's package version).
pub const VERSION: &str = crate::version::CRATE_VERSION;
/// Git revision of this build, as `--version` shows it (see [`crate::version`]).
pub const REVISION: &str = crate::version::GIT_REVISION;

type F64Gauge = Gauge<f64, AtomicU64>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    revision: String,
}

/// What a scrape reads besides the recorded events.
pub struct ScrapeInputs<'a> {
    /// The snapshot cache.
    pub cache: &'a SnapshotCache,
    /// Every job's status (`ListJobs`).
    pub jobs: &'a [JobStatus],
    /// The health inputs of this moment.
    pub health: health::Inputs,
    /// Every listener's counters.
    pub listeners: &'a Listeners,
}

/// Every metric of the service, in one registry.
pub struct Metrics {
    registry: Registry,
    jobs: jobs::JobMetrics,
    listener: listener::ListenerMetrics,
    snapshot: snapshot::SnapshotMetrics,
    store: store::StoreMetrics,
    clock: clock::ClockMetrics,
    health: health_status::HealthMetrics,
    grpc: requests::GrpcRequests,
    http: requests::HttpRequests,
    traces: traces::TraceMetrics,
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

impl Metrics {
    /// A registry with every metric registered and `radar_build_info` set.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        register_build_info(&mut registry);
        registry.register_collector(Box::new(process::ProcessCollector));
        let r = &mut registry;
        let (jobs, listener) = (
            jobs::JobMetrics::register(r),
            listener::ListenerMetrics::register(r),
        );
        let snapshot = snapshot::SnapshotMetrics::register(r);
        let store = store::StoreMetrics::register(r);
        let clock = clock::ClockMetrics::register(r);
        let health = health_status::HealthMetrics::register(r);
        let (grpc, http) = (
            requests::GrpcRequests::register(r),
            requests::HttpRequests::register(r),
        );
        let traces = traces::TraceMetrics::register(r);
        Self {
            registry,
            jobs,
            listener,
            snapshot,
            store,
            clock,
            health,
            grpc,
            http,
            traces,
        }
    }

    /// Exports `clock`'s offset from the time of record (`radar_clock_offset_seconds`, read
    /// at each scrape).
    #[must_use]
    pub fn with_clock(self, clock: Arc<crate::clock::CorrectedClock>) -> Self {
        self.clock.follow(clock);
        self
    }

    /// Accounts for a finished job run.
    pub fn record_run(&self, job: &str, run: &RunRecord) {
        self.jobs.record_run(job, run);
    }

    /// `store`, with each of its operations counted by outcome: the jobs and the history
    /// go through what this returns.
    pub fn metered_store(&self, store: Arc<dyn SnapshotStore>) -> Arc<dyn SnapshotStore> {
        Arc::new(MeteredStore::new(store, self.store.clone()))
    }

    /// Accounts for a gRPC call that starts. `method` must come from a bounded set.
    pub fn grpc_started(&self, method: &GrpcMethod) {
        self.grpc.started(method);
    }

    /// Accounts for a finished gRPC call. `method` and `code` must come from bounded sets.
    pub fn grpc_handled(&self, method: &GrpcMethod, code: &str, elapsed: Duration) {
        self.grpc.handled(method, code, elapsed);
    }

    /// Accounts for an answered HTTP request. `method` and `path` must come from bounded sets.
    pub fn record_http(&self, method: &str, path: &str, status: u16, elapsed: Duration) {
        self.http.record(method, path, status, elapsed);
    }

    /// Accounts for `n` query parameters of an ANEEL request that the endpoint ignored.
    pub fn record_ignored_parameters(&self, n: u64) {
        self.http.record_ignored(n);
    }

    /// Reads the state metrics from `inputs`, then encodes everything in `format`.
    pub async fn scrape(&self, inputs: ScrapeInputs<'_>, format: Format) -> String {
        self.jobs.refresh(inputs.jobs);
        self.listener.refresh(inputs.listeners);
        self.snapshot.refresh(inputs.cache).await;
        self.clock.refresh();
        self.health.refresh(inputs.health);
        self.traces.refresh(crate::telemetry::span_drops());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        exposition::render(text, format)
    }
}

/// `radar_build_info`: always 1, labelled with this build's version and revision.
fn register_build_info(registry: &mut Registry) {
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
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn unix_seconds(at: chrono::DateTime<Utc>) -> f64 {
    at.timestamp() as f64 + f64::from(at.timestamp_subsec_millis()) / 1000.0
}

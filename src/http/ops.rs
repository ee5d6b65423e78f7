//! The operations endpoint: `/metrics` for Prometheus, and `/livez` and `/readyz` that
//! mirror the gRPC health statuses for load balancers that cannot speak gRPC health. Every
//! answer carries the [`super::security_headers`].

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;

use crate::cache::SnapshotCache;
use crate::health;
use crate::metrics::{Format, Metrics, ScrapeInputs};
use crate::scheduler::SchedulerService;
use crate::transport::Listeners;

/// What the operations handlers read.
#[derive(Clone)]
pub struct OpsState {
    metrics: Arc<Metrics>,
    cache: Arc<SnapshotCache>,
    scheduler: SchedulerService,
    stopping: CancellationToken,
    listeners: Arc<Listeners>,
}

impl OpsState {
    /// Reads `cache`, `scheduler` and every listener's counters (`listeners`); everything
    /// turns not ready once `stopping` is cancelled, as gRPC health does.
    pub fn new(
        metrics: Arc<Metrics>,
        cache: Arc<SnapshotCache>,
        scheduler: SchedulerService,
        stopping: CancellationToken,
        listeners: Arc<Listeners>,
    ) -> Self {
        Self {
            metrics,
            cache,
            scheduler,
            stopping,
            listeners,
        }
    }

    fn health_inputs(&self) -> health::Inputs {
        health::Inputs {
            snapshot_loaded: self.cache.is_loaded(),
            scheduler_running: self.scheduler.is_running(),
            scheduler_stuck: self.scheduler.stuck().is_some(),
            shutting_down: self.stopping.is_cancelled(),
        }
    }
}

/// The operations routes.
pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .layer(axum::middleware::map_response(super::security_headers::add))
        .layer(axum::middleware::from_fn(super::request_id::request_id))
        .with_state(state)
}

async fn metrics(State(state): State<OpsState>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(headers.get(ACCEPT).and_then(|v| v.to_str().ok()));
    let jobs = state.scheduler.statuses().await;
    let inputs = ScrapeInputs {
        cache: &state.cache,
        jobs: &jobs,
        health: state.health_inputs(),
        listeners: &state.listeners,
    };
    let body = state.metrics.scrape(inputs, format).await;
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response()
}

/// 200 while the scheduler's gRPC health is SERVING (it runs and is not stuck), 503
/// otherwise. A database
/// outage does not fail it: a restart would not help, and the last good answer is served.
async fn livez(State(state): State<OpsState>) -> Response {
    probe(&state, health::SCHEDULER_SERVICE)
}

/// 200 while the data service's gRPC health is SERVING (a snapshot is loaded, fresh or
/// stale), 503 otherwise: before the first load and from the start of shutdown.
async fn readyz(State(state): State<OpsState>) -> Response {
    probe(&state, health::INTERRUPCOES_SERVICE)
}

fn probe(state: &OpsState, name: &str) -> Response {
    let statuses = health::statuses(state.health_inputs());
    let serving = statuses
        .iter()
        .any(|(n, s)| *n == name && *s == ServingStatus::Serving);
    let mut body = String::new();
    for (n, s) in statuses {
        let n = if n.is_empty() { "overall" } else { n };
        let _ = writeln!(body, "{n} {}", health::status_name(s));
    }
    let code = if serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, body).into_response()
}

//! The request metrics of the two protocols: gRPC calls (recorded by the tower layer, under
//! the gRPC ecosystem's conventional names and labels) and ANEEL endpoint HTTP requests
//! (under `radar_`), each counted by outcome and timed.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::Histograms;

/// Buckets of request latency: answers come from memory, so most take well under 10 ms;
/// ANEEL's limit is 5 s.
const REQUEST_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

/// The labels of one RPC, as the gRPC ecosystem's metrics name it: `grpc_type` (`unary`,
/// `client_stream`, `server_stream`, `bidi_stream`), `grpc_service` (the full service
/// name, package included) and `grpc_method`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcMethod {
    /// How the RPC streams.
    pub grpc_type: String,
    /// The full name of its service, e.g. `radar.interrupcoes.v1.InterrupcoesService`.
    pub grpc_service: String,
    /// The method's name, e.g. `GetQuantitativoInterrupcoesAtivas`.
    pub grpc_method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcHandledLabels {
    #[prometheus(flatten)]
    method: GrpcMethod,
    grpc_code: String,
}

/// `grpc_server_started_total`, `grpc_server_handled_total` and
/// `grpc_server_handling_seconds`, as go-grpc-prometheus writes them.
pub(super) struct GrpcRequests {
    started: Family<GrpcMethod, Counter>,
    handled: Family<GrpcHandledLabels, Counter>,
    handling: Histograms<GrpcMethod>,
}

impl GrpcRequests {
    /// The gRPC request metrics, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            started: Family::default(),
            handled: Family::default(),
            handling: Family::new_with_constructor(request_histogram),
        };
        r.register(
            "grpc_server_started",
            "Total number of RPCs started on the server",
            m.started.clone(),
        );
        r.register(
            "grpc_server_handled",
            "Total number of RPCs completed on the server, regardless of success or failure",
            m.handled.clone(),
        );
        r.register(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level \
             handled by the server, to the end of the response",
            m.handling.clone(),
        );
        m
    }

    /// Accounts for a call that starts.
    pub(super) fn started(&self, method: &GrpcMethod) {
        self.started.get_or_create(method).inc();
    }

    /// Accounts for a finished call.
    pub(super) fn handled(&self, method: &GrpcMethod, code: &str, elapsed: Duration) {
        self.handled
            .get_or_create(&GrpcHandledLabels {
                method: method.clone(),
                grpc_code: code.to_owned(),
            })
            .inc();
        self.handling
            .get_or_create(method)
            .observe(elapsed.as_secs_f64());
    }
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

/// `radar_http_requests`, `radar_http_request_duration_seconds` and
/// `radar_http_ignored_parameters`.
pub(super) struct HttpRequests {
    requests: Family<HttpLabels, Counter>,
    duration: Histograms<HttpRouteLabels>,
    /// Not labelled by name: names are the client's to choose, a label set is not.
    ignored_parameters: Counter,
}

impl HttpRequests {
    /// The HTTP request metrics, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(request_histogram),
            ignored_parameters: Counter::default(),
        };
        r.register(
            "radar_http_requests",
            "ANEEL endpoint HTTP requests by method, path and status code",
            m.requests.clone(),
        );
        r.register(
            "radar_http_request_duration_seconds",
            "Latency of ANEEL endpoint HTTP requests",
            m.duration.clone(),
        );
        r.register(
            "radar_http_ignored_parameters",
            "Query parameters of ANEEL endpoint requests that the endpoint does not read \
             (ignored; dthRecuperacao in another case is refused, not counted)",
            m.ignored_parameters.clone(),
        );
        m
    }

    /// Accounts for `n` ignored query parameters.
    pub(super) fn record_ignored(&self, n: u64) {
        if n > 0 {
            self.ignored_parameters.inc_by(n);
        }
    }

    /// Accounts for an answered request.
    pub(super) fn record(&self, method: &str, path: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                path: path.to_owned(),
                status: status.to_string(),
            })
            .inc();
        self.duration
            .get_or_create(&HttpRouteLabels {
                method: method.to_owned(),
                path: path.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

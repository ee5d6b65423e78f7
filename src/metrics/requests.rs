//! The request metrics of the two protocols: gRPC calls (recorded by the tower layer) and
//! ANEEL endpoint HTTP requests, each counted by outcome and timed.

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcMethodLabels {
    method: String,
}

/// `radar_grpc_requests` and `radar_grpc_request_duration_seconds`.
pub(super) struct GrpcRequests {
    requests: Family<GrpcLabels, Counter>,
    duration: Histograms<GrpcMethodLabels>,
}

impl GrpcRequests {
    /// The gRPC request metrics, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(request_histogram),
        };
        r.register(
            "radar_grpc_requests",
            "Finished gRPC calls by method and status code",
            m.requests.clone(),
        );
        r.register(
            "radar_grpc_request_duration_seconds",
            "Latency of gRPC calls, to the end of the response",
            m.duration.clone(),
        );
        m
    }

    /// Accounts for a finished call.
    pub(super) fn record(&self, method: &str, code: &str, elapsed: Duration) {
        self.requests
            .get_or_create(&GrpcLabels {
                method: method.to_owned(),
                code: code.to_owned(),
            })
            .inc();
        self.duration
            .get_or_create(&GrpcMethodLabels {
                method: method.to_owned(),
            })
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

/// `radar_http_requests` and `radar_http_request_duration_seconds`.
pub(super) struct HttpRequests {
    requests: Family<HttpLabels, Counter>,
    duration: Histograms<HttpRouteLabels>,
}

impl HttpRequests {
    /// The HTTP request metrics, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(request_histogram),
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
        m
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

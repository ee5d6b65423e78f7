//! A tower layer on the tonic server that counts every gRPC call by method and status code
//! and measures its latency to the end of the response (trailers included, so streaming
//! calls and errors raised mid-stream count with their real code).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use prost::Message;
use tower::{Layer, Service};

use super::Metrics;

/// The method label of paths that are not a known RPC (bounded label values).
pub const OTHER_METHOD: &str = "other";

/// Wraps a tonic server's routes with [`Metrics::record_grpc`].
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    metrics: Arc<Metrics>,
    known: Arc<HashSet<String>>,
}

impl GrpcMetricsLayer {
    /// Counts calls of the RPCs described in `descriptor_sets` (encoded
    /// `FileDescriptorSet`s) under their path; anything else is [`OTHER_METHOD`].
    pub fn new(metrics: Arc<Metrics>, descriptor_sets: &[&[u8]]) -> Self {
        let mut known = HashSet::new();
        for bytes in descriptor_sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(*bytes) else {
                continue;
            };
            for file in set.file {
                let package = file.package();
                for service in &file.service {
                    for method in &service.method {
                        known.insert(format!("/{package}.{}/{}", service.name(), method.name()));
                    }
                }
            }
        }
        Self {
            metrics,
            known: Arc::new(known),
        }
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service built by [`GrpcMetricsLayer`].
#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    layer: GrpcMetricsLayer,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcMetrics<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Body,
{
    type Response = http::Response<RecordedBody<ResBody>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let path = request.uri().path();
        let method = if self.layer.known.contains(path) {
            path.to_owned()
        } else {
            OTHER_METHOD.to_owned()
        };
        let mut call = Call {
            metrics: Some(self.layer.metrics.clone()),
            method,
            started: Instant::now(),
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = match response.await {
                Ok(response) => response,
                Err(e) => {
                    call.finish("transport_error");
                    return Err(e);
                }
            };
            // A trailers-only response (every error returned by a handler) has its code in
            // the headers; otherwise it comes in the trailers at the end of the body.
            if let Some(code) = code_of(response.headers()) {
                call.finish(code);
            }
            Ok(response.map(|inner| RecordedBody { inner, call }))
        })
    }
}

/// A call in flight: records itself once, when its code is known, or as `Cancelled` if the
/// response is dropped before it ended (the client went away).
struct Call {
    metrics: Option<Arc<Metrics>>,
    method: String,
    started: Instant,
}

impl Call {
    fn finish(&mut self, code: &str) {
        if let Some(metrics) = self.metrics.take() {
            metrics.record_grpc(&self.method, code, self.started.elapsed());
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish("Cancelled");
    }
}

fn code_of(headers: &http::HeaderMap) -> Option<&'static str> {
    let value = headers.get("grpc-status")?;
    let code = value
        .to_str()
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .map_or(tonic::Code::Unknown, tonic::Code::from_i32);
    Some(code_name(code))
}

/// The label of a gRPC code (its name in the gRPC specification's casing).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::{
        Aborted, AlreadyExists, Cancelled, DataLoss, DeadlineExceeded, FailedPrecondition,
        Internal, InvalidArgument, NotFound, Ok, OutOfRange, PermissionDenied, ResourceExhausted,
        Unauthenticated, Unavailable, Unimplemented, Unknown,
    };
    match code {
        Ok => "OK",
        Cancelled => "Cancelled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its call when the trailers (or the end) arrive.
    pub struct RecordedBody<B> {
        #[pin]
        inner: B,
        call: Call,
    }
}

impl<B: Body> Body for RecordedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.call.finish(code_of(trailers).unwrap_or("OK"));
                }
            }
            Poll::Ready(Some(Err(_))) => this.call.finish("transport_error"),
            // The end without trailers: the gRPC library always sends them, so this is a
            // body whose code was in the headers (already recorded).
            Poll::Ready(None) => this.call.finish("OK"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_come_from_the_descriptor_sets() {
        let layer = GrpcMetricsLayer::new(
            Arc::new(Metrics::new()),
            &[
                crate::proto::FILE_DESCRIPTOR_SET,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
            ],
        );
        for path in [
            "/radar.interrupcoes.v1.InterrupcoesService/GetQuantitativoInterrupcoesAtivas",
            "/radar.scheduler.v1.SchedulerAdmin/ListJobs",
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
        ] {
            assert!(layer.known.contains(path), "{path}");
        }
        assert!(
            !layer
                .known
                .contains("/radar.scheduler.v1.SchedulerAdmin/Nope")
        );
    }

    #[test]
    fn codes_come_from_grpc_status() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(code_of(&headers), None);
        headers.insert("grpc-status", "14".parse().unwrap());
        assert_eq!(code_of(&headers), Some("Unavailable"));
        headers.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(code_of(&headers), Some("OK"));
        headers.insert("grpc-status", "x".parse().unwrap());
        assert_eq!(code_of(&headers), Some("Unknown"));
    }
}

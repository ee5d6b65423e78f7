//! A tower layer on the tonic server that counts every gRPC call when it starts and when it
//! ends, by service, method, type and status code, and measures its latency to the end of
//! the response (trailers included, so streaming calls and errors raised mid-stream count
//! with their real code). The names and labels are the ecosystem's (go-grpc-prometheus and
//! its successors): `grpc_server_started_total`, `grpc_server_handled_total` and
//! `grpc_server_handling_seconds`, with `grpc_service`, `grpc_method`, `grpc_type` and
//! `grpc_code` (the code's name as gRPC-Go spells it, `Canceled` included), so existing
//! gRPC dashboards and alerts work as they are. The same code is recorded on the call's
//! span (`rpc.response.status_code`), which the call keeps open until then, so an exported
//! RPC span covers the whole answer.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use prost::Message;
use tower::{Layer, Service};

use super::{GrpcMethod, Metrics};
use crate::telemetry;

/// The `grpc_service` and `grpc_method` of paths that are not a known RPC (so label values
/// stay bounded whatever clients send).
pub const OTHER: &str = "other";

/// Wraps a tonic server's routes with [`Metrics::grpc_started`] and
/// [`Metrics::grpc_handled`].
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    metrics: Arc<Metrics>,
    known: Arc<HashMap<String, Arc<GrpcMethod>>>,
    other: Arc<GrpcMethod>,
}

impl GrpcMetricsLayer {
    /// Counts calls of the RPCs described in `descriptor_sets` (encoded
    /// `FileDescriptorSet`s) under their service, method and type; anything else under
    /// [`OTHER`].
    pub fn new(metrics: Arc<Metrics>, descriptor_sets: &[&[u8]]) -> Self {
        let mut known = HashMap::new();
        for bytes in descriptor_sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(*bytes) else {
                continue;
            };
            for file in set.file {
                let package = file.package();
                for service in &file.service {
                    let full_service = format!("{package}.{}", service.name());
                    for method in &service.method {
                        known.insert(
                            format!("/{full_service}/{}", method.name()),
                            Arc::new(GrpcMethod {
                                grpc_type: grpc_type(
                                    method.client_streaming(),
                                    method.server_streaming(),
                                )
                                .to_owned(),
                                grpc_service: full_service.clone(),
                                grpc_method: method.name().to_owned(),
                            }),
                        );
                    }
                }
            }
        }
        Self {
            metrics,
            known: Arc::new(known),
            other: Arc::new(GrpcMethod {
                grpc_type: "unknown".to_owned(),
                grpc_service: OTHER.to_owned(),
                grpc_method: OTHER.to_owned(),
            }),
        }
    }
}

/// `grpc_type` as go-grpc-prometheus names the four kinds of RPC.
fn grpc_type(client_streaming: bool, server_streaming: bool) -> &'static str {
    match (client_streaming, server_streaming) {
        (false, false) => "unary",
        (true, false) => "client_stream",
        (false, true) => "server_stream",
        (true, true) => "bidi_stream",
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
        let method = self
            .layer
            .known
            .get(request.uri().path())
            .unwrap_or(&self.layer.other)
            .clone();
        self.layer.metrics.grpc_started(&method);
        let mut call = Call {
            metrics: Some(self.layer.metrics.clone()),
            method,
            started: Instant::now(),
            span: tracing::Span::none(),
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            // The call's span is entered when this future is polled, not around `call`.
            call.span = tracing::Span::current();
            let response = match response.await {
                Ok(response) => response,
                // No status was sent: gRPC's Unknown, as gRPC-Go reports an error without one.
                Err(e) => {
                    call.finish(tonic::Code::Unknown);
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

/// A call in flight: records itself once, when its code is known, or as `Canceled` if the
/// response is dropped before it ended (the client went away).
struct Call {
    metrics: Option<Arc<Metrics>>,
    method: Arc<GrpcMethod>,
    started: Instant,
    span: tracing::Span,
}

impl Call {
    fn finish(&mut self, code: tonic::Code) {
        if let Some(metrics) = self.metrics.take() {
            metrics.grpc_handled(&self.method, code_name(code), self.started.elapsed());
            telemetry::spans::record_grpc_status(&self.span, code);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled);
    }
}

fn code_of(headers: &http::HeaderMap) -> Option<tonic::Code> {
    let value = headers.get("grpc-status")?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
            .map_or(tonic::Code::Unknown, tonic::Code::from_i32),
    )
}

/// `grpc_code`: the code's name as gRPC-Go's `codes.Code.String()` writes it, which is what
/// go-grpc-prometheus puts in the label (the specification's CANCELLED is `Canceled`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::{
        Aborted, AlreadyExists, Cancelled, DataLoss, DeadlineExceeded, FailedPrecondition,
        Internal, InvalidArgument, NotFound, Ok, OutOfRange, PermissionDenied, ResourceExhausted,
        Unauthenticated, Unavailable, Unimplemented, Unknown,
    };
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
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
                    this.call
                        .finish(code_of(trailers).unwrap_or(tonic::Code::Ok));
                }
            }
            Poll::Ready(Some(Err(_))) => this.call.finish(tonic::Code::Unknown),
            // The end without trailers: the gRPC library always sends them, so this is a
            // body whose code was in the headers (already recorded).
            Poll::Ready(None) => this.call.finish(tonic::Code::Ok),
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
    fn known_methods_and_their_types_come_from_the_descriptor_sets() {
        let layer = GrpcMetricsLayer::new(
            Arc::new(Metrics::new()),
            &[
                crate::proto::FILE_DESCRIPTOR_SET,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
            ],
        );
        for (path, service, method, kind) in [
            (
                "/radar.interrupcoes.v1.InterrupcoesService/GetQuantitativoInterrupcoesAtivas",
                "radar.interrupcoes.v1.InterrupcoesService",
                "GetQuantitativoInterrupcoesAtivas",
                "unary",
            ),
            (
                "/radar.interrupcoes.v1.InterrupcoesService/WatchQuantitativoInterrupcoesAtivas",
                "radar.interrupcoes.v1.InterrupcoesService",
                "WatchQuantitativoInterrupcoesAtivas",
                "server_stream",
            ),
            (
                "/radar.scheduler.v1.SchedulerAdmin/ListJobs",
                "radar.scheduler.v1.SchedulerAdmin",
                "ListJobs",
                "unary",
            ),
            (
                "/grpc.health.v1.Health/Check",
                "grpc.health.v1.Health",
                "Check",
                "unary",
            ),
            (
                "/grpc.health.v1.Health/Watch",
                "grpc.health.v1.Health",
                "Watch",
                "server_stream",
            ),
        ] {
            let known = &layer.known[path];
            assert_eq!(
                (
                    known.grpc_service.as_str(),
                    known.grpc_method.as_str(),
                    known.grpc_type.as_str()
                ),
                (service, method, kind),
                "{path}"
            );
        }
        assert!(
            !layer
                .known
                .contains_key("/radar.scheduler.v1.SchedulerAdmin/Nope")
        );
        assert_eq!(grpc_type(true, false), "client_stream");
        assert_eq!(grpc_type(true, true), "bidi_stream");
    }

    #[test]
    fn codes_come_from_grpc_status() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(code_of(&headers), None);
        headers.insert("grpc-status", "14".parse().unwrap());
        assert_eq!(code_of(&headers).map(code_name), Some("Unavailable"));
        headers.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(code_of(&headers).map(code_name), Some("OK"));
        headers.insert("grpc-status", "1".parse().unwrap());
        assert_eq!(code_of(&headers).map(code_name), Some("Canceled"));
        headers.insert("grpc-status", "x".parse().unwrap());
        assert_eq!(code_of(&headers), Some(tonic::Code::Unknown));
    }
}

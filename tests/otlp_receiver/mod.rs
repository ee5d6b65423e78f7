//! An OTLP trace receiver of the tests' own, on 127.0.0.1:0: the `TraceService` server
//! generated in `opentelemetry-proto` (OTLP/gRPC), or `POST /v1/traces` with a protobuf
//! body (OTLP/HTTP). It keeps every span it is sent, with its resource and scope, so a
//! test can assert what the service exported.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::sync::oneshot;

/// One received span, with what it arrived with.
#[derive(Debug, Clone)]
pub struct Received {
    /// The span as sent.
    pub span: Span,
    /// Its resource's attributes.
    pub resource: BTreeMap<String, String>,
    /// Its instrumentation scope's name and schema URL.
    pub scope: String,
    /// The schema URL of its scope.
    pub schema_url: String,
}

impl Received {
    /// The span's name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// Trace id, span id and parent span id as lowercase hex (parent empty for a root).
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span's id as hex.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent's id as hex, empty for a root span.
    pub fn parent_span_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// Every attribute, its value as text.
    pub fn attributes(&self) -> BTreeMap<String, String> {
        to_map(&self.span.attributes)
    }

    /// One attribute, its value as text.
    pub fn attr(&self, key: &str) -> Option<String> {
        self.attributes().remove(key)
    }

    /// Every attribute value of the span, its events and its links, as text: what a secret
    /// must never be part of.
    pub fn all_text(&self) -> String {
        let mut text = format!("{} ", self.span.name);
        let mut add = |kvs: &[KeyValue]| {
            for (k, v) in to_map(kvs) {
                let _ = write!(text, "{k}={v} ");
            }
        };
        add(&self.span.attributes);
        for event in &self.span.events {
            add(&event.attributes);
        }
        for link in &self.span.links {
            add(&link.attributes);
        }
        if let Some(status) = &self.span.status {
            text.push_str(&status.message);
        }
        text
    }
}

/// The receiver, running until dropped.
pub struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    protocol: &'static str,
    _stop: oneshot::Sender<()>,
}

#[derive(Clone)]
struct Keep(Arc<Mutex<Vec<Received>>>);

impl Keep {
    fn keep(&self, request: ExportTraceServiceRequest) {
        let mut received = self.0.lock().unwrap();
        for resource_spans in request.resource_spans {
            let resource = resource_spans
                .resource
                .map(|r| to_map(&r.attributes))
                .unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                let scope = scope_spans.scope.map(|s| s.name).unwrap_or_default();
                for span in scope_spans.spans {
                    received.push(Received {
                        span,
                        resource: resource.clone(),
                        scope: scope.clone(),
                        schema_url: scope_spans.schema_url.clone(),
                    });
                }
            }
        }
    }
}

#[tonic::async_trait]
impl TraceService for Keep {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.keep(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    /// An OTLP/gRPC receiver.
    pub async fn grpc() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel::<()>();
        let service = TraceServiceServer::new(Keep(received.clone()));
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await
                .unwrap();
        });
        Self {
            addr,
            received,
            protocol: "grpc",
            _stop: stop,
        }
    }

    /// An OTLP/HTTP receiver (`POST /v1/traces`, protobuf).
    pub async fn http() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel::<()>();
        let keep = Keep(received.clone());
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let keep = keep.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body).unwrap();
                    keep.keep(request);
                    let answer = ExportTraceServiceResponse {
                        partial_success: None,
                    };
                    (
                        [("content-type", "application/x-protobuf")],
                        answer.encode_to_vec(),
                    )
                }
            }),
        );
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            addr,
            received,
            protocol: "http/protobuf",
            _stop: stop,
        }
    }

    /// The value of `OTEL_EXPORTER_OTLP_ENDPOINT` that reaches this receiver.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The value of `OTEL_EXPORTER_OTLP_PROTOCOL` it speaks.
    pub fn protocol(&self) -> &'static str {
        self.protocol
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the spans received (at most 60 s, a bound against
    /// hanging, not a timing assertion), and returns them.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver never got {what}; it got: {:#?}",
                spans
                    .iter()
                    .map(|s| (s.name(), s.attributes()))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Lower-case hex, as W3C trace context writes ids.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, b| {
        let _ = write!(text, "{b:02x}");
        text
    })
}

fn to_map(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(text).unwrap_or_default(),
            )
        })
        .collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::ArrayValue(a)) => {
            a.values.iter().map(text).collect::<Vec<_>>().join(",")
        }
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

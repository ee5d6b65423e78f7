//! The service's spans, named and attributed by the OpenTelemetry semantic conventions of
//! one version (`opentelemetry-semantic-conventions`, pinned in Cargo.toml: schema
//! [`SCHEMA_URL`]), with the names taken from that crate's constants.
//!
//! Span fields are also log fields (JSON lines carry the fields of their spans), so the
//! attributes that only a trace needs are set on the OpenTelemetry span directly, and only
//! while export is on: logs keep their fields, and export off costs one flag load.
//! `otel.*` fields (span name and kind for the exporter) are left out of log lines by
//! both formatters.

use opentelemetry::trace::Status;
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use opentelemetry_semantic_conventions::SCHEMA_URL;

use super::propagation::{continue_caller_trace, link_caller_trace};
use super::tracing_enabled;

/// The database system of a source or a store, by its `db.system.name` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbSystem {
    /// Oracle Database (`oracle.db`).
    Oracle,
    /// SQLite (`sqlite`).
    Sqlite,
}

impl DbSystem {
    /// The well-known value of `db.system.name`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oracle => "oracle.db",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A gRPC server span for a request to `path` (`/package.Service/Method`), a root in this
/// process and the child of the caller's span when the metadata carries a `traceparent`.
/// Its `method` field is the log field the RPC's lines have always carried.
pub fn rpc_server<B>(request: &http::Request<B>) -> tracing::Span {
    let path = request.uri().path();
    let method = path.strip_prefix('/').unwrap_or(path);
    let span = tracing::info_span!(
        parent: None,
        "rpc",
        method = %path,
        otel.name = method,
        otel.kind = "server",
    );
    if tracing_enabled() {
        span.set_attribute(semconv::RPC_SYSTEM_NAME, "grpc");
        span.set_attribute(semconv::RPC_METHOD, method.to_owned());
        continue_caller_trace(&span, request.headers());
    }
    span
}

/// Records a gRPC call's status code on its span; the codes that mean a server fault
/// (the semantic conventions' list) mark the span as an error.
pub fn record_grpc_status(span: &tracing::Span, code: tonic::Code) {
    if !tracing_enabled() {
        return;
    }
    let name = grpc_code_name(code);
    span.set_attribute(semconv::RPC_RESPONSE_STATUS_CODE, name);
    if matches!(
        code,
        tonic::Code::Unknown
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Unimplemented
            | tonic::Code::Internal
            | tonic::Code::Unavailable
            | tonic::Code::DataLoss
    ) {
        span.set_attribute(semconv::ERROR_TYPE, name);
        span.set_status(Status::error(name));
    }
}

/// An HTTP server span for a request answered by `route` (a template, never the raw path:
/// bounded names; `None` for a request that matched no route). ANEEL's endpoint faces the
/// internet, so the span is always a new root, linked to the caller's context when there
/// is one: an outsider cannot choose our trace id or force sampling.
pub fn http_server<B>(request: &http::Request<B>, route: Option<&'static str>) -> tracing::Span {
    let method = request.method().as_str();
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let span = tracing::info_span!(
        parent: None,
        "http_request",
        otel.name = name,
        otel.kind = "server",
    );
    if tracing_enabled() {
        span.set_attribute(semconv::HTTP_REQUEST_METHOD, method.to_owned());
        if let Some(route) = route {
            span.set_attribute(semconv::HTTP_ROUTE, route);
        }
        span.set_attribute(semconv::URL_SCHEME, "http");
        link_caller_trace(&span, request.headers());
    }
    span
}

/// Records an HTTP answer's status on its span; a server error (5xx) marks it an error.
pub fn record_http_status(span: &tracing::Span, status: http::StatusCode) {
    if !tracing_enabled() {
        return;
    }
    span.set_attribute(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(status.as_u16()),
    );
    if status.is_server_error() {
        span.set_attribute(semconv::ERROR_TYPE, status.as_str().to_owned());
        span.set_status(Status::error(status.as_str().to_owned()));
    }
}

/// A database client span: `operation` (`SELECT`, `INSERT`...) on `target` (a table, a
/// view, a statement's name: never SQL text with values), as
/// `db.query.summary = "{operation} {target}"`, on `system` (`None`: a database the
/// conventions do not name, `other_sql`).
pub fn db_client(
    system: Option<DbSystem>,
    operation: &'static str,
    target: &'static str,
) -> tracing::Span {
    let system = system.map_or("other_sql", DbSystem::as_str);
    let summary = format!("{operation} {target}");
    let span = tracing::info_span!("db", otel.name = summary, otel.kind = "client",);
    if tracing_enabled() {
        span.set_attribute(semconv::DB_SYSTEM_NAME, system);
        span.set_attribute(semconv::DB_OPERATION_NAME, operation);
        span.set_attribute(semconv::DB_QUERY_SUMMARY, summary);
    }
    span
}

/// Marks `span` as failed with `kind`, the failure's class (`error.type`), e.g.
/// `transient_source_error`. Never the error's text: it can hold a caller's values.
pub fn mark_failed(span: &tracing::Span, kind: &str) {
    if !tracing_enabled() {
        return;
    }
    span.set_attribute(semconv::ERROR_TYPE, kind.to_owned());
    span.set_status(Status::error(kind.to_owned()));
}

/// Sets one attribute on `span`'s exported side only (no log field).
pub fn set_attribute(
    span: &tracing::Span,
    key: &'static str,
    value: impl Into<opentelemetry::Value>,
) {
    if tracing_enabled() {
        span.set_attribute(key, value);
    }
}

/// A gRPC code's name as the specification writes it (`OK`, `DEADLINE_EXCEEDED`), the
/// value of `rpc.response.status_code`.
pub fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::{
        Aborted, AlreadyExists, Cancelled, DataLoss, DeadlineExceeded, FailedPrecondition,
        Internal, InvalidArgument, NotFound, Ok, OutOfRange, PermissionDenied, ResourceExhausted,
        Unauthenticated, Unavailable, Unimplemented, Unknown,
    };
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

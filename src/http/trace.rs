//! The HTTP server span of each request to ANEEL's endpoint ([`spans::http_server`]):
//! a new root linked to the caller's `traceparent`, named by method and route, with the
//! answer's status code.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::telemetry::spans;

/// Middleware: runs the request inside its span (outermost, so the request id and the
/// request's log line see it) and records the status code.
pub async fn trace_request(route: Option<&'static str>, request: Request, next: Next) -> Response {
    let span = spans::http_server(&request, route);
    let response = next.run(request).instrument(span.clone()).await;
    spans::record_http_status(&span, response.status());
    response
}

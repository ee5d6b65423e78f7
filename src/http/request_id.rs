//! `X-Request-ID` on every HTTP answer: the caller's own when it is a plain token
//! (`[A-Za-z0-9._-]{1,128}`: nothing a log line or a header could be abused with), else the
//! request's trace id while traces are exported (so the id finds the trace), else a random
//! UUID. The id is also in the request's extensions, for its log line.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header's name.
pub const X_REQUEST_ID: &str = "x-request-id";

/// The longest caller id kept.
const MAX_LEN: usize = 128;

/// A request's id, in its extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    /// The id as text (always visible ASCII).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// Whether the caller's value can be used as it is.
fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_LEN).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The id for a request that sent `caller` (if any), inside a span whose trace id is
/// `trace_id` (if traces are exported).
pub fn choose(caller: Option<&HeaderValue>, trace_id: Option<String>) -> RequestId {
    if let Some(value) = caller.filter(|v| acceptable(v)) {
        return RequestId(value.clone());
    }
    let id = trace_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    RequestId(HeaderValue::from_str(&id).expect("hex digits and dashes are a valid header value"))
}

/// The trace id of the current span, while traces are exported.
fn current_trace_id() -> Option<String> {
    if !crate::telemetry::tracing_enabled() {
        return None;
    }
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Middleware: chooses the request's id, puts it in the request's extensions and on the
/// answer. Inside the request's span, so the trace id is the request's own.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = choose(request.headers().get(X_REQUEST_ID), current_trace_id());
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(X_REQUEST_ID, id.0);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_caller_id_is_kept() {
        for id in ["abc", "A-1_2.3", &"x".repeat(128)] {
            let value = HeaderValue::from_str(id).unwrap();
            assert_eq!(choose(Some(&value), None).as_str(), id);
            assert_eq!(choose(Some(&value), Some("f".repeat(32))).as_str(), id);
        }
    }

    #[test]
    fn an_unusable_caller_id_gives_way_to_the_trace_id_or_a_uuid() {
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736".to_owned();
        for bad in [
            "",
            "has space",
            "semi;colon",
            "quote\"",
            "slash/",
            &"x".repeat(129),
        ] {
            let value = HeaderValue::from_str(bad).unwrap();
            assert_eq!(
                choose(Some(&value), Some(trace_id.clone())).as_str(),
                trace_id,
                "{bad:?}"
            );
            let generated = choose(Some(&value), None);
            assert!(uuid::Uuid::parse_str(generated.as_str()).is_ok(), "{bad:?}");
        }
        // Not UTF-8 at all.
        let value = HeaderValue::from_bytes(b"\xffid").unwrap();
        assert!(uuid::Uuid::parse_str(choose(Some(&value), None).as_str()).is_ok());
        // No header.
        assert_eq!(choose(None, Some(trace_id.clone())).as_str(), trace_id);
        let first = choose(None, None);
        assert_ne!(first, choose(None, None), "a new id per request");
    }
}

//! W3C Trace Context (`traceparent`, `tracestate`) from a caller's headers: an internal
//! client's gRPC call continues its caller's trace, an internet caller's request only
//! links to it.
//!
//! Nothing is parsed while export is off ([`super::tracing_enabled`]), so the helpers cost
//! a load of one flag per call then.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Reads propagation fields from HTTP (and so gRPC) headers.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The caller's span context from `headers`, when it sent a valid `traceparent`.
pub fn caller_span_context(headers: &http::HeaderMap) -> Option<SpanContext> {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then_some(span_context)
}

/// Makes `span` (not yet entered) the child of the caller's span: for internal clients,
/// whose sampling decision the parent-based sampler then follows.
pub fn continue_caller_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    if !super::tracing_enabled() {
        return;
    }
    if let Some(caller) = caller_span_context(headers) {
        // Fails only when no OpenTelemetry layer is installed: nothing to join then.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(caller));
    }
}

/// Links `span` (a new root, not yet entered) to the caller's span without joining its
/// trace: an outsider's `traceparent` can neither choose our trace id nor force sampling.
pub fn link_caller_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    if !super::tracing_enabled() {
        return;
    }
    if let Some(caller) = caller_span_context(headers) {
        span.add_link(caller);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    http::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn a_valid_traceparent_is_the_callers_remote_span() {
        let context = caller_span_context(&headers(&[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "vendor=abc"),
        ]))
        .unwrap();
        assert_eq!(
            context.trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
        );
        assert_eq!(
            context.span_id(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap()
        );
        assert!(context.is_remote());
        assert_eq!(context.trace_flags(), TraceFlags::SAMPLED);
        assert_eq!(context.trace_state().get("vendor"), Some("abc"));
    }

    #[test]
    fn missing_or_malformed_traceparents_are_no_caller() {
        assert!(caller_span_context(&headers(&[])).is_none());
        for bad in [
            "garbage",
            // All-zero trace id and span id are invalid by the specification.
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            let map: http::HeaderMap = [(
                http::HeaderName::from_static("traceparent"),
                http::HeaderValue::from_str(bad).unwrap(),
            )]
            .into_iter()
            .collect();
            assert!(caller_span_context(&map).is_none(), "{bad}");
        }
    }
}

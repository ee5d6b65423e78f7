//! Logs and traces join up: each span's OpenTelemetry trace id and span id, kept where the
//! JSON formatter finds them, so every line written inside a traced span carries
//! `trace_id` and `span_id`, and a backend can go from a log line to its trace.
//!
//! The ids exist once the OpenTelemetry layer has started the span, which it does when
//! the span is first entered (after the propagation helpers have set its parent), so they
//! are taken then.

use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt;
use tracing::span;
use tracing::{Dispatch, Subscriber, dispatcher::WeakDispatch};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// A span's ids, in the W3C hex form that backends search by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceIds {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
}

/// Records [`TraceIds`] in each span's extensions when it is first entered.
///
/// Installed whether export is on or not, and told which: tracing-subscriber's
/// `Option<Layer>` does not pass on the dispatch this layer needs.
#[derive(Debug)]
pub struct TraceIdsLayer {
    enabled: bool,
    dispatch: OnceLock<WeakDispatch>,
}

impl TraceIdsLayer {
    /// A layer that records ids when `enabled` (export is on), and does nothing otherwise.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            dispatch: OnceLock::new(),
        }
    }
}

impl<S> Layer<S> for TraceIdsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        if !self.enabled {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        if span.extensions().get::<TraceIds>().is_some() {
            return;
        }
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        // Reads the span's extensions itself: none may be held here.
        let Some(context) = tracing_opentelemetry::get_otel_context(id, &dispatch) else {
            return;
        };
        let otel_span = context.span();
        let span_context = otel_span.span_context();
        if !span_context.is_valid() {
            return;
        }
        let ids = TraceIds {
            trace_id: span_context.trace_id().to_string(),
            span_id: span_context.span_id().to_string(),
        };
        span.extensions_mut().insert(ids);
    }
}

/// The ids of the innermost span of `scope` (innermost first) that has them.
pub fn innermost<'a, R: LookupSpan<'a> + 'a>(
    mut scope: impl Iterator<Item = SpanRef<'a, R>>,
) -> Option<TraceIds> {
    scope.find_map(|span| span.extensions().get::<TraceIds>().cloned())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::layer::SubscriberExt;

    use crate::telemetry::capture::Captured;
    use crate::telemetry::{continue_caller_trace, link_caller_trace};

    const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CALLER_SPAN: &str = "00f067aa0ba902b7";

    /// The subscriber `init` installs for JSON with export on (no exporter: the ids are
    /// what matters), and the lines it writes.
    fn traced_json() -> (impl tracing::Subscriber + Send + Sync, Captured) {
        // The propagation helpers do nothing while export is off.
        crate::telemetry::trace_export::enable_for_tests();
        let tracer = SdkTracerProvider::builder().build().tracer("test");
        let out = Captured::default();
        let subscriber = tracing_subscriber::registry()
            .with(crate::telemetry::trace_export::layer(tracer))
            .with(super::TraceIdsLayer::new(true))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(out.clone())
                    .fmt_fields(JsonFields::new())
                    .event_format(crate::telemetry::json::FlatJson),
            );
        (subscriber, out)
    }

    fn caller_headers() -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01")
                .parse()
                .unwrap(),
        );
        headers
    }

    fn lines(out: &Captured) -> Vec<serde_json::Value> {
        out.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn lines_inside_a_span_carry_its_ids_and_a_grpc_call_joins_its_callers_trace() {
        let (subscriber, out) = traced_json();
        tracing::subscriber::with_default(subscriber, || {
            let rpc = tracing::info_span!(parent: None, "rpc");
            continue_caller_trace(&rpc, &caller_headers());
            let _rpc = rpc.enter();
            tracing::info!("in the call");
            let child = tracing::info_span!("step");
            let _child = child.enter();
            tracing::info!("in a step");
        });
        tracing::info!("outside");
        let lines = lines(&out);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let (call, step) = (&lines[0], &lines[1]);
        assert_eq!(call["trace_id"], CALLER_TRACE, "{call}");
        assert_eq!(step["trace_id"], CALLER_TRACE, "{step}");
        let call_span = call["span_id"].as_str().unwrap();
        let step_span = step["span_id"].as_str().unwrap();
        assert_eq!(call_span.len(), 16);
        assert_ne!(
            call_span, CALLER_SPAN,
            "the call is a new span under the caller's"
        );
        assert_ne!(step_span, call_span, "the innermost span's id");
    }

    #[test]
    fn an_internet_request_starts_its_own_trace() {
        let (subscriber, out) = traced_json();
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!(parent: None, "http");
            link_caller_trace(&request, &caller_headers());
            let _request = request.enter();
            tracing::info!("answered");
        });
        let lines = lines(&out);
        let trace_id = lines[0]["trace_id"].as_str().unwrap();
        assert_eq!(trace_id.len(), 32);
        assert_ne!(trace_id, CALLER_TRACE);
    }

    #[test]
    fn lines_outside_any_span_have_no_ids() {
        let (subscriber, out) = traced_json();
        tracing::subscriber::with_default(subscriber, || tracing::info!("alone"));
        let lines = lines(&out);
        assert!(lines[0].get("trace_id").is_none(), "{}", lines[0]);
    }
}

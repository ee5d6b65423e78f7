//! Spans recorded in memory through the production layer, for the tests that assert what a
//! trace would show (span tree, attributes, status).

use std::sync::{Arc, Mutex};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt;

/// What the subscriber of [`recording`] exported so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorded(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Recorded {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

impl Recorded {
    /// The ended spans named `name`.
    pub(crate) fn named(&self, name: &str) -> Vec<SpanData> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.name == name)
            .cloned()
            .collect()
    }

    /// The one ended span named `name`.
    pub(crate) fn one(&self, name: &str) -> SpanData {
        let mut found = self.named(name);
        assert_eq!(found.len(), 1, "spans named {name:?}: {found:#?}");
        found.remove(0)
    }
}

/// A subscriber that exports this crate's spans, as `init` does with export on, to memory.
pub(crate) fn recording() -> (impl tracing::Subscriber + Send + Sync, Recorded) {
    super::trace_export::enable_for_tests();
    let recorded = Recorded::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(recorded.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(super::trace_export::layer(provider.tracer("test")));
    (subscriber, recorded)
}

/// The value of attribute `key` of `span`, as text.
pub(crate) fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

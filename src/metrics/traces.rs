//! The trace pipeline's drops (`radar_trace_spans_dropped_total`), copied from
//! [`crate::telemetry::span_drops`] at scrape time: spans that never reached the collector
//! because its queue was full or the collector refused or ignored an export. Zero while
//! export is off.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::telemetry::SpanDrops;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabels {
    reason: String,
}

/// The `radar_trace_spans_dropped` counter, by reason (`queue_full`, `export_failed`).
pub(super) struct TraceMetrics {
    dropped: Family<DropLabels, Counter>,
}

impl TraceMetrics {
    /// The trace metrics, registered in `r`, both reasons present from the start.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            dropped: Family::default(),
        };
        r.register(
            "radar_trace_spans_dropped",
            "Spans never exported: the export queue was full, or the collector refused or did not answer",
            m.dropped.clone(),
        );
        m.refresh(&SpanDrops::default());
        m
    }

    /// Brings each reason's counter up to the pipeline's own total.
    pub(super) fn refresh(&self, drops: &SpanDrops) {
        for (reason, total) in [
            ("queue_full", drops.queue_full()),
            ("export_failed", drops.export_failed()),
        ] {
            let counter = self.dropped.get_or_create(&DropLabels {
                reason: reason.to_owned(),
            });
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }
}

//! The replica's clock offset from the store's time of record, read at scrape time from the
//! service's [`CorrectedClock`].

use std::sync::{Arc, OnceLock};

use prometheus_client::registry::Registry;

use super::F64Gauge;
use crate::clock::CorrectedClock;

/// The `radar_clock_offset_seconds` gauge.
#[derive(Default)]
pub(super) struct ClockMetrics {
    offset: F64Gauge,
    clock: OnceLock<Arc<CorrectedClock>>,
}

impl ClockMetrics {
    /// The clock metrics, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self::default();
        r.register(
            "radar_clock_offset_seconds",
            "Time of record (the snapshot store's clock) minus this replica's clock, as last \
             measured (at start-up and each tick claim): negative when this clock runs ahead; \
             0 with the SQLite store, whose replicas share one host's clock",
            m.offset.clone(),
        );
        m
    }

    /// Reads the offset from `clock` at every scrape from now on.
    pub(super) fn follow(&self, clock: Arc<CorrectedClock>) {
        let _ = self.clock.set(clock);
    }

    /// Reads the offset in use.
    pub(super) fn refresh(&self) {
        if let Some(clock) = self.clock.get() {
            self.offset
                .set(clock.offset().num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn exported(metrics: &ClockMetrics, r: &Registry) -> String {
        metrics.refresh();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, r).unwrap();
        text.lines()
            .find(|l| l.starts_with("radar_clock_offset_seconds "))
            .unwrap()
            .to_owned()
    }

    #[test]
    fn the_offset_in_use_is_exported_at_each_scrape() {
        let mut r = Registry::default();
        let metrics = ClockMetrics::register(&mut r);
        let t = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let clock = Arc::new(CorrectedClock::new(Arc::new(ManualClock::new(t))));
        metrics.follow(clock.clone());
        // Never measured (the SQLite store): 0.
        assert_eq!(exported(&metrics, &r), "radar_clock_offset_seconds 0.0");
        // This clock 60.25 s ahead of the time of record.
        clock.measured(t, t - chrono::Duration::milliseconds(60_250), t);
        assert_eq!(exported(&metrics, &r), "radar_clock_offset_seconds -60.25");
    }
}

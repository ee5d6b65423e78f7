//! The cached snapshot's state, read at scrape time so that a scrape never shows an age
//! that was true minutes ago.

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{F64Gauge, saturating_i64, unix_seconds};
use crate::cache::SnapshotCache;

/// The `radar_snapshot_*` gauges.
pub(super) struct SnapshotMetrics {
    loaded: Gauge,
    age: F64Gauge,
    stale: Gauge,
    items: Gauge,
    collected: F64Gauge,
}

impl SnapshotMetrics {
    /// The snapshot metrics, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            loaded: Gauge::default(),
            age: F64Gauge::default(),
            stale: Gauge::default(),
            items: Gauge::default(),
            collected: F64Gauge::default(),
        };
        r.register(
            "radar_snapshot_loaded",
            "1 once a snapshot has loaded (fresh or stale)",
            m.loaded.clone(),
        );
        r.register(
            "radar_snapshot_age_seconds",
            "Age of the cached snapshot at scrape time",
            m.age.clone(),
        );
        r.register(
            "radar_snapshot_stale",
            "1 when the cached snapshot is stale (a later load failed, or it is too old)",
            m.stale.clone(),
        );
        r.register(
            "radar_snapshot_items",
            "Items (conjunto, municipio pairs) in the cached snapshot",
            m.items.clone(),
        );
        r.register(
            "radar_snapshot_collected_timestamp_seconds",
            "Unix time when the cached snapshot was collected from the source",
            m.collected.clone(),
        );
        m
    }

    /// Reads the cached snapshot (the gauges keep their values while none has loaded).
    pub(super) async fn refresh(&self, cache: &SnapshotCache) {
        self.loaded.set(i64::from(cache.is_loaded()));
        if let Ok(view) = cache.current().await {
            self.age.set(view.age.as_secs_f64());
            self.stale.set(i64::from(view.stale_reason.is_some()));
            self.items
                .set(saturating_i64(view.snapshot.items.len() as u64));
            self.collected.set(unix_seconds(view.snapshot.collected_at));
        }
    }
}

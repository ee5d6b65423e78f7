//! `radar_health_status`: each gRPC health name's status, computed at scrape time from the
//! same inputs the health task publishes from.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::health;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    service: String,
}

/// `radar_health_status`, one series per health name.
pub(super) struct HealthMetrics {
    status: Family<HealthLabels, Gauge>,
}

impl HealthMetrics {
    /// The health metric, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            status: Family::default(),
        };
        r.register(
            "radar_health_status",
            "1 when the gRPC health name is SERVING (service=\"overall\" is the name \"\")",
            m.status.clone(),
        );
        m
    }

    /// Sets each health name's status from the health inputs of this moment.
    pub(super) fn refresh(&self, inputs: health::Inputs) {
        for (name, status) in health::statuses(inputs) {
            let service = if name.is_empty() { "overall" } else { name };
            self.status
                .get_or_create(&HealthLabels {
                    service: service.to_owned(),
                })
                .set(i64::from(status == tonic_health::ServingStatus::Serving));
        }
    }
}

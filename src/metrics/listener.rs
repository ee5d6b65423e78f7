//! The gRPC listener's counters (refused connections, failed accepts, handshake
//! timeouts), copied from the listener at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use crate::transport::Incoming;

/// The `radar_grpc_connections_refused`, `_accept_errors` and `_handshake_timeouts`
/// counters.
pub(super) struct ListenerMetrics {
    connections_refused: Counter,
    accept_errors: Counter,
    handshake_timeouts: Counter,
}

impl ListenerMetrics {
    /// The listener metrics, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            connections_refused: Counter::default(),
            accept_errors: Counter::default(),
            handshake_timeouts: Counter::default(),
        };
        r.register(
            "radar_grpc_connections_refused",
            "gRPC connections closed at once because RADAR_MAX_CONNECTIONS were open",
            m.connections_refused.clone(),
        );
        r.register(
            "radar_grpc_accept_errors",
            "Failed accepts of the gRPC listener (e.g. too many open files)",
            m.accept_errors.clone(),
        );
        r.register(
            "radar_grpc_handshake_timeouts",
            "gRPC connections closed for not sending the HTTP/2 preface in time",
            m.handshake_timeouts.clone(),
        );
        m
    }

    /// Brings each counter up to the listener's own total.
    pub(super) fn refresh(&self, listener: &Incoming) {
        let pairs: [(&Counter, &AtomicU64); 3] = [
            (&self.connections_refused, &listener.refused),
            (&self.accept_errors, &listener.accept_errors),
            (&self.handshake_timeouts, &listener.handshake_timeouts),
        ];
        for (counter, total) in pairs {
            let total = total.load(Ordering::Relaxed);
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }
}

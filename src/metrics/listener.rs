//! The listeners' counters (gRPC, ANEEL, operations): connections refused at accept and
//! closed by the server, by reason, and failed accepts, copied from each listener at scrape
//! time. Every reason that can happen on a serving listener is shown from 0, so that
//! `increase()` sees the first one; a listener that is off shows nothing.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::transport::{Close, Incoming, Listeners, Refusal};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    listener: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: &'static str,
}

/// The `radar_connections_refused`, `radar_connections_closed` and `radar_accept_errors`
/// counters.
pub(super) struct ListenerMetrics {
    refused: Family<ReasonLabels, Counter>,
    closed: Family<ReasonLabels, Counter>,
    accept_errors: Family<ListenerLabels, Counter>,
}

impl ListenerMetrics {
    /// The listener metrics, registered in `r`.
    pub(super) fn register(r: &mut Registry) -> Self {
        let m = Self {
            refused: Family::default(),
            closed: Family::default(),
            accept_errors: Family::default(),
        };
        r.register(
            "radar_connections_refused",
            "Connections closed at once by a listener, by reason: its cap (global_cap), the \
             room kept for new clients (reserved_for_new_peers), the client's share \
             (peer_cap), the cap lowered for the open files limit (descriptors_reserved)",
            m.refused.clone(),
        );
        r.register(
            "radar_connections_closed",
            "Accepted connections a listener closed, by reason: handshake_timeout, \
             header_timeout, headers_too_large, idle_timeout, max_age",
            m.closed.clone(),
        );
        r.register(
            "radar_accept_errors",
            "Failed accepts of a listener (e.g. too many open files)",
            m.accept_errors.clone(),
        );
        m
    }

    /// Brings each counter up to its listener's own total.
    pub(super) fn refresh(&self, listeners: &Listeners) {
        for (listener, counters) in listeners.each() {
            if counters.is_serving() {
                self.refresh_one(listener, counters);
            }
        }
    }

    fn refresh_one(&self, listener: &'static str, counters: &Incoming) {
        for reason in Refusal::ALL {
            let labels = ReasonLabels {
                listener,
                reason: reason.label(),
            };
            catch_up(
                &self.refused.get_or_create(&labels),
                counters.refused(reason),
            );
        }
        for reason in Close::ALL.into_iter().filter(|&r| counters.can_close(r)) {
            let labels = ReasonLabels {
                listener,
                reason: reason.label(),
            };
            catch_up(&self.closed.get_or_create(&labels), counters.closed(reason));
        }
        catch_up(
            &self
                .accept_errors
                .get_or_create(&ListenerLabels { listener }),
            counters.accept_errors(),
        );
    }
}

/// Raises `counter` to `total` (the listener's counts only grow).
fn catch_up(counter: &Counter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

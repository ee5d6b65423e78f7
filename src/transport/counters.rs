//! What each listener counts, for the metrics to export: the connections it refused at
//! accept and why ([`Refusal`]), the ones it closed itself and why ([`Close`]), and its
//! failed accepts. [`Listeners`] holds the counters of every listener under the name the
//! metrics label them with.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use super::peer::Refusal;

/// Why the server closed a connection it had accepted (the drain aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// No HTTP/2 preface (or no finished TLS handshake) within the handshake timeout.
    HandshakeTimeout,
    /// An HTTP/1 request's headers did not arrive within the header read timeout.
    HeaderTimeout,
    /// An HTTP/1 request's headers were larger than the listener reads.
    HeadersTooLarge,
    /// No request in flight for the idle (keep-alive) timeout: closed gracefully.
    IdleTimeout,
    /// The connection reached its maximum age: closed gracefully.
    MaxAge,
}

impl Close {
    /// Every reason, in the order of their counters.
    pub const ALL: [Self; 5] = [
        Self::HandshakeTimeout,
        Self::HeaderTimeout,
        Self::HeadersTooLarge,
        Self::IdleTimeout,
        Self::MaxAge,
    ];

    /// The `reason` label of the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::HandshakeTimeout => "handshake_timeout",
            Self::HeaderTimeout => "header_timeout",
            Self::HeadersTooLarge => "headers_too_large",
            Self::IdleTimeout => "idle_timeout",
            Self::MaxAge => "max_age",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters of one listener, shared with whoever shows them.
#[derive(Debug, Default)]
pub struct Incoming {
    serving: AtomicBool,
    /// The [`Close`] reasons that can happen on this listener, one bit each.
    can_close: AtomicU8,
    refused: [AtomicU64; Refusal::ALL.len()],
    closed: [AtomicU64; Close::ALL.len()],
    accept_errors: AtomicU64,
}

impl Incoming {
    /// Marks the listener as serving, closing connections for `reasons` only: its
    /// counters are then worth showing.
    pub(super) fn start_serving(&self, reasons: impl IntoIterator<Item = Close>) {
        let mask = reasons.into_iter().fold(0, |mask, r| mask | 1 << r.index());
        self.can_close.store(mask, Ordering::Relaxed);
        self.serving.store(true, Ordering::Relaxed);
    }

    /// Whether the listener has started serving (a listener that is off shows nothing).
    pub fn is_serving(&self) -> bool {
        self.serving.load(Ordering::Relaxed)
    }

    /// Whether this listener closes connections for `reason` (an HTTP/1 listener has no
    /// HTTP/2 preface, ...).
    pub fn can_close(&self, reason: Close) -> bool {
        self.can_close.load(Ordering::Relaxed) & 1 << reason.index() != 0
    }

    /// Counts a connection refused at accept; returns the refusals of every reason so far.
    pub(super) fn count_refused(&self, reason: Refusal) -> u64 {
        self.refused[reason.index()].fetch_add(1, Ordering::Relaxed);
        self.refused_total()
    }

    /// Connections refused at accept for `reason`.
    pub fn refused(&self, reason: Refusal) -> u64 {
        self.refused[reason.index()].load(Ordering::Relaxed)
    }

    /// Connections refused at accept, every reason together.
    pub fn refused_total(&self) -> u64 {
        Refusal::ALL.iter().map(|&r| self.refused(r)).sum()
    }

    /// Counts a connection the server closed for `reason`.
    pub(super) fn count_closed(&self, reason: Close) {
        self.closed[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Connections the server closed for `reason`.
    pub fn closed(&self, reason: Close) -> u64 {
        self.closed[reason.index()].load(Ordering::Relaxed)
    }

    /// Counts a failed accept; returns the failures so far.
    pub(super) fn count_accept_error(&self) -> u64 {
        self.accept_errors.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Accepts that failed (e.g. too many open files).
    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Ordering::Relaxed)
    }
}

/// The counters of every listener of the service.
#[derive(Debug, Default)]
pub struct Listeners {
    /// The gRPC listener's.
    pub grpc: Arc<Incoming>,
    /// The ANEEL HTTP listener's.
    pub aneel: Arc<Incoming>,
    /// The operations HTTP listener's (metrics, probes).
    pub ops: Arc<Incoming>,
}

impl Listeners {
    /// Each listener's counters with the `listener` label of the metrics.
    pub fn each(&self) -> [(&'static str, &Incoming); 3] {
        [
            ("grpc", &self.grpc),
            ("aneel", &self.aneel),
            ("ops", &self.ops),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_counts_on_its_own() {
        let counters = Incoming::default();
        assert_eq!(counters.count_refused(Refusal::PeerCap), 1);
        assert_eq!(counters.count_refused(Refusal::GlobalCap), 2);
        counters.count_closed(Close::IdleTimeout);
        counters.start_serving([Close::IdleTimeout, Close::MaxAge]);
        assert!(counters.can_close(Close::MaxAge) && !counters.can_close(Close::HeaderTimeout));
        assert_eq!(counters.refused(Refusal::PeerCap), 1);
        assert_eq!(counters.refused(Refusal::ReservedForNewPeers), 0);
        assert_eq!(counters.closed(Close::IdleTimeout), 1);
        assert_eq!(counters.closed(Close::HeaderTimeout), 0);
        assert_eq!(counters.count_accept_error(), 1);
    }

    #[test]
    fn labels_are_distinct() {
        let mut labels: Vec<_> = Close::ALL.iter().map(|c| c.label()).collect();
        labels.extend(Refusal::ALL.iter().map(|r| r.label()));
        let n = labels.len();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), n);
        for (i, close) in Close::ALL.iter().enumerate() {
            assert_eq!(close.index(), i);
        }
    }
}

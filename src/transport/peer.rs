//! Who a connection belongs to, and how many each may hold: [`ConnectionGate`] admits a
//! connection when the listener has room for it *and* its peer is under its own share, and
//! keeps the last slots for peers that hold none, so one client (however many connections
//! it opens) can never keep another one, or a health probe, out. Peers that stand for many
//! clients (trusted proxies) can be let past the share, never past the total nor the room
//! kept for new peers.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use crate::domain::IpRanges;

/// The peer a connection or a call is counted against: the client's IP address as this
/// listener sees it (the port changes with every connection; an IPv4 address mapped into
/// IPv6 counts as the IPv4 address). Behind a proxy this is the proxy; a listener that
/// knows the real client (e.g. from trusted forwarding headers) builds the key from that
/// address instead with [`PeerKey::from_ip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerKey(IpAddr);

impl PeerKey {
    /// The key of a client at `ip`.
    pub fn from_ip(ip: IpAddr) -> Self {
        Self(ip.to_canonical())
    }

    /// The key of a connection from `addr`.
    pub fn of(addr: SocketAddr) -> Self {
        Self::from_ip(addr.ip())
    }

    /// The address the key stands for.
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

impl fmt::Display for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How many connections (or streams) a listener admits in all and per peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLimits {
    /// At most this many at once, all peers together.
    pub total: usize,
    /// At most this many at once for one peer.
    pub per_peer: usize,
    /// The last this-many of `total` go only to peers that hold none: a peer already
    /// admitted cannot take the room a newcomer (a probe, a second client) needs.
    pub reserved_for_new_peers: usize,
    /// The `total` the settings asked for, when it was lowered to keep file descriptors in
    /// reserve (see [`crate::descriptors`]): a refusal the asked-for total would have
    /// admitted is then told apart.
    pub configured_total: usize,
}

impl PeerLimits {
    /// `total` and `per_peer` (capped at `total`), with the reserve for new peers a
    /// sixteenth of `total` (none below 16: a listener that small is a test's).
    pub fn new(total: usize, per_peer: usize) -> Self {
        let total = total.max(1);
        Self {
            total,
            per_peer: per_peer.clamp(1, total),
            reserved_for_new_peers: total / 16,
            configured_total: total,
        }
    }

    /// These limits, whose `total` was lowered from the settings' `configured`.
    #[must_use]
    pub fn lowered_from(self, configured: usize) -> Self {
        Self {
            configured_total: configured.max(self.total),
            ..self
        }
    }

    /// How many may be held in all when one more is admitted for a peer that holds
    /// none (`new_peer`) or some.
    fn room(&self, new_peer: bool) -> usize {
        if new_peer {
            self.total
        } else {
            self.total - self.reserved_for_new_peers
        }
    }
}

/// Why [`ConnectionGate::admit`] said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The listener holds its whole cap.
    GlobalCap,
    /// What is left of the cap is kept for peers that hold none, and this peer holds some.
    ReservedForNewPeers,
    /// This peer holds its whole share.
    PeerCap,
    /// The cap was lowered at start-up to keep file descriptors in reserve, and the cap
    /// the settings asked for would have admitted this one.
    DescriptorsReserved,
}

impl Refusal {
    /// Every reason, in the order of their counters.
    pub const ALL: [Self; 4] = [
        Self::GlobalCap,
        Self::ReservedForNewPeers,
        Self::PeerCap,
        Self::DescriptorsReserved,
    ];

    /// How the refusal reads in logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::GlobalCap => "too many open connections",
            Self::ReservedForNewPeers => "the last connections are kept for clients that hold none",
            Self::PeerCap => "this peer holds its share of connections",
            Self::DescriptorsReserved => {
                "too many open connections for the open files limit (the cap was lowered to \
                 keep file descriptors in reserve)"
            }
        }
    }

    /// The `reason` label of the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::GlobalCap => "global_cap",
            Self::ReservedForNewPeers => "reserved_for_new_peers",
            Self::PeerCap => "peer_cap",
            Self::DescriptorsReserved => "descriptors_reserved",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// Counts what each peer holds and admits by [`PeerLimits`]. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ConnectionGate {
    limits: PeerLimits,
    uncapped: Arc<IpRanges>,
    held: Arc<Mutex<Held>>,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    per_peer: HashMap<PeerKey, usize>,
}

impl ConnectionGate {
    /// An empty gate with `limits`.
    pub fn new(limits: PeerLimits) -> Self {
        Self {
            limits,
            uncapped: Arc::default(),
            held: Arc::default(),
        }
    }

    /// This gate, with peers in `ranges` not held to the per-peer share (trusted proxies,
    /// whose connections carry many clients); the total and the room kept for new peers
    /// still hold them.
    #[must_use]
    pub fn with_uncapped_peers(self, ranges: IpRanges) -> Self {
        Self {
            uncapped: Arc::new(ranges),
            ..self
        }
    }

    /// The limits this gate admits by.
    pub fn limits(&self) -> PeerLimits {
        self.limits
    }

    /// A ticket for one more connection (or stream) of `peer`, released when dropped; or
    /// why not.
    pub fn admit(&self, peer: PeerKey) -> Result<Ticket, Refusal> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let of_peer = held.per_peer.get(&peer).copied().unwrap_or(0);
        let new_peer = of_peer == 0;
        if held.total >= self.limits.room(new_peer) {
            let configured = PeerLimits::new(self.limits.configured_total, self.limits.per_peer);
            return Err(if held.total < configured.room(new_peer) {
                Refusal::DescriptorsReserved
            } else if held.total < self.limits.total {
                Refusal::ReservedForNewPeers
            } else {
                Refusal::GlobalCap
            });
        }
        if of_peer >= self.limits.per_peer && !self.uncapped.contains(peer.ip()) {
            return Err(Refusal::PeerCap);
        }
        held.total += 1;
        *held.per_peer.entry(peer).or_insert(0) += 1;
        Ok(Ticket {
            peer,
            held: self.held.clone(),
        })
    }

    /// How many tickets are out, in all.
    pub fn total(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// How many tickets `peer` holds.
    pub fn of_peer(&self, peer: PeerKey) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .per_peer
            .get(&peer)
            .copied()
            .unwrap_or(0)
    }
}

/// One admitted connection (or stream); gives its place back when dropped.
#[derive(Debug)]
pub struct Ticket {
    peer: PeerKey,
    held: Arc<Mutex<Held>>,
}

impl Ticket {
    /// The peer this ticket counts against.
    pub fn peer(&self) -> PeerKey {
        self.peer
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.total -= 1;
        if let Some(n) = held.per_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                // Forget peers that hold nothing, or the map grows with every address seen.
                held.per_peer.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(last: u8) -> PeerKey {
        PeerKey::from_ip(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn one_peer_cannot_hold_more_than_its_share() {
        let gate = ConnectionGate::new(PeerLimits::new(100, 3));
        let held: Vec<_> = (0..3).map(|_| gate.admit(peer(1)).unwrap()).collect();
        assert_eq!(gate.admit(peer(1)).unwrap_err(), Refusal::PeerCap);
        assert!(gate.admit(peer(2)).is_ok(), "another peer still gets in");
        drop(held);
        assert_eq!(gate.total(), 0, "tickets give their place back");
        assert!(gate.admit(peer(1)).is_ok());
    }

    #[test]
    fn the_last_slots_go_only_to_peers_that_hold_none() {
        // 32 slots, 2 kept for newcomers; 30 peers holding one each fill the rest.
        let gate = ConnectionGate::new(PeerLimits::new(32, 10));
        assert_eq!(gate.limits().reserved_for_new_peers, 2);
        let mut held: Vec<_> = (1..=30).map(|i| gate.admit(peer(i)).unwrap()).collect();
        assert_eq!(
            gate.admit(peer(1)).unwrap_err(),
            Refusal::ReservedForNewPeers,
            "a peer already in cannot take the reserve"
        );
        held.push(
            gate.admit(peer(31))
                .expect("a new peer takes a reserved slot"),
        );
        held.push(gate.admit(peer(32)).expect("and another"));
        assert_eq!(gate.admit(peer(33)).unwrap_err(), Refusal::GlobalCap);
        assert_eq!(gate.total(), 32);
    }

    #[test]
    fn an_uncapped_peer_passes_its_share_but_not_the_total_nor_the_reserve() {
        let proxies: IpRanges = "127.0.0.2".parse().unwrap();
        let gate = ConnectionGate::new(PeerLimits::new(32, 3)).with_uncapped_peers(proxies);
        let mut held: Vec<_> = (0..30).map(|_| gate.admit(peer(2)).unwrap()).collect();
        assert_eq!(
            gate.admit(peer(2)).unwrap_err(),
            Refusal::ReservedForNewPeers,
            "the proxy stops short of the room kept for new peers"
        );
        held.push(
            gate.admit(peer(3))
                .expect("a new peer takes a reserved slot"),
        );
        held.push(gate.admit(peer(4)).unwrap());
        assert_eq!(gate.admit(peer(5)).unwrap_err(), Refusal::GlobalCap);
        drop(held);
        let capped: Vec<_> = (0..3).map(|_| gate.admit(peer(3)).unwrap()).collect();
        assert_eq!(
            gate.admit(peer(3)).unwrap_err(),
            Refusal::PeerCap,
            "a peer outside the ranges keeps its share"
        );
        drop(capped);
    }

    #[test]
    fn a_refusal_the_configured_total_would_have_admitted_is_told_apart() {
        let gate = ConnectionGate::new(PeerLimits::new(4, 4).lowered_from(64));
        let _held: Vec<_> = (1..=4).map(|i| gate.admit(peer(i)).unwrap()).collect();
        assert_eq!(
            gate.admit(peer(9)).unwrap_err(),
            Refusal::DescriptorsReserved
        );
        let full = ConnectionGate::new(PeerLimits::new(4, 4).lowered_from(4));
        let _held: Vec<_> = (1..=4).map(|i| full.admit(peer(i)).unwrap()).collect();
        assert_eq!(full.admit(peer(9)).unwrap_err(), Refusal::GlobalCap);
    }

    #[test]
    fn an_ipv4_address_mapped_into_ipv6_is_the_same_peer() {
        let v4: SocketAddr = "127.0.0.2:4000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.2]:5000".parse().unwrap();
        assert_eq!(PeerKey::of(v4), PeerKey::of(mapped));
        assert_ne!(PeerKey::of(v4), peer(1));
    }

    #[test]
    fn peers_that_hold_nothing_are_forgotten() {
        let gate = ConnectionGate::new(PeerLimits::new(10, 2));
        for i in 0..=255 {
            drop(gate.admit(peer(i)).unwrap());
        }
        assert!(gate.held.lock().unwrap().per_peer.is_empty());
    }

    #[test]
    fn limits_stay_coherent_for_tiny_totals() {
        let one = PeerLimits::new(1, 5);
        assert_eq!(
            (one.total, one.per_peer, one.reserved_for_new_peers),
            (1, 1, 0)
        );
        let gate = ConnectionGate::new(one);
        let _held = gate.admit(peer(1)).unwrap();
        assert_eq!(gate.admit(peer(2)).unwrap_err(), Refusal::GlobalCap);
    }
}

//! The service's notion of "now", injectable so that tests control time.
//!
//! Everything that stamps or compares wall-clock times (snapshot collection times, the
//! `dthRecuperacao` future and retention checks, the retention purge, the scheduler's run
//! records, tick claims and liveness, the cache's ages) asks a [`Clock`].
//!
//! The service runs on a [`CorrectedClock`]: this machine's clock plus its last measured
//! offset from the time of record (the snapshot store's clock, read at each tick claim), so
//! that a collection time stamped by one replica and an age computed by another are on the
//! same time base whatever either machine's clock says.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// `at` moved back by `span`, or the earliest instant there is when that lies before it:
/// date arithmetic never panics, whatever a setting or a stored value holds.
pub fn saturating_sub(at: DateTime<Utc>, span: chrono::Duration) -> DateTime<Utc> {
    at.checked_sub_signed(span)
        .unwrap_or(if span > chrono::Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// `at` moved on by `span`, or the latest instant there is when that lies beyond it.
pub fn saturating_add(at: DateTime<Utc>, span: chrono::Duration) -> DateTime<Utc> {
    at.checked_add_signed(span)
        .unwrap_or(if span > chrono::Duration::zero() {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        })
}

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// This machine's own reading, which timers (the cron engine) fire by: the same as
    /// [`now`](Self::now) except for a [`CorrectedClock`].
    fn local_now(&self) -> DateTime<Utc> {
        self.now()
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// How far this machine's clock may be from the time of record before the measurement is
/// logged as a warning: NTP keeps a healthy host within milliseconds, so seconds mean it
/// is not synchronised (the service corrects the offset either way).
pub const OFFSET_WARNING: chrono::Duration = chrono::Duration::seconds(2);

/// The local clock plus its last measured offset from the time of record. Starts with no
/// offset (and keeps none where the store has no clock of its own: SQLite's replicas share
/// one host and one clock).
pub struct CorrectedClock {
    local: Arc<dyn Clock>,
    /// Time of record minus local time, in microseconds.
    offset_micros: AtomicI64,
}

impl std::fmt::Debug for CorrectedClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorrectedClock")
            .field("offset", &self.offset())
            .finish_non_exhaustive()
    }
}

impl CorrectedClock {
    /// `local`, uncorrected until the first measurement.
    pub fn new(local: Arc<dyn Clock>) -> Self {
        Self {
            local,
            offset_micros: AtomicI64::new(0),
        }
    }

    /// The offset in use: time of record minus local time (negative when this machine's
    /// clock runs ahead).
    pub fn offset(&self) -> chrono::Duration {
        chrono::Duration::microseconds(self.offset_micros.load(Ordering::Relaxed))
    }

    /// Records a measurement: the time of record `record` was read between the local
    /// readings `sent` and `received`, so it stands for their midpoint (half the round trip
    /// corrected). Returns the new offset.
    pub fn measured(
        &self,
        sent: DateTime<Utc>,
        record: DateTime<Utc>,
        received: DateTime<Utc>,
    ) -> chrono::Duration {
        let half_trip = (received - sent) / 2;
        let offset = record - saturating_add(sent, half_trip);
        let micros = offset
            .num_microseconds()
            .unwrap_or(if offset > chrono::Duration::zero() {
                i64::MAX
            } else {
                i64::MIN
            });
        self.offset_micros.store(micros, Ordering::Relaxed);
        self.offset()
    }
}

impl Clock for CorrectedClock {
    fn now(&self) -> DateTime<Utc> {
        saturating_add(self.local.now(), self.offset())
    }

    fn local_now(&self) -> DateTime<Utc> {
        self.local.local_now()
    }
}

/// A clock that stays where it is set: for tests and simulations.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// Moves the clock (and every clone of it) to `now`.
    pub fn set(&self, now: DateTime<Utc>) {
        *crate::locks::lock(&self.now) = now;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *crate::locks::lock(&self.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_arithmetic_saturates_instead_of_panicking() {
        let now = Utc::now();
        let huge = chrono::Duration::days(100_000_000);
        assert_eq!(saturating_sub(now, huge), DateTime::<Utc>::MIN_UTC);
        assert_eq!(saturating_add(now, huge), DateTime::<Utc>::MAX_UTC);
        assert_eq!(saturating_sub(now, -huge), DateTime::<Utc>::MAX_UTC);
        assert_eq!(saturating_add(now, -huge), DateTime::<Utc>::MIN_UTC);
        let day = chrono::Duration::days(1);
        assert_eq!(saturating_sub(now, day), now - day);
        assert_eq!(saturating_add(now, day), now + day);
        let minute = chrono::Duration::minutes(1);
        assert_eq!(
            saturating_add(DateTime::<Utc>::MAX_UTC, minute),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn the_corrected_clock_adds_the_measured_offset_with_half_the_round_trip() {
        let t = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let local = ManualClock::new(t + chrono::Duration::seconds(60));
        let clock = CorrectedClock::new(Arc::new(local.clone()));
        // No measurement yet: the local time.
        assert_eq!(clock.now(), t + chrono::Duration::seconds(60));
        assert_eq!(clock.offset(), chrono::Duration::zero());
        // Sent at local +60 s, answered 200 ms later: the record stands for local +60.1 s.
        let sent = local.now();
        let received = sent + chrono::Duration::milliseconds(200);
        let record = t + chrono::Duration::milliseconds(100);
        let offset = clock.measured(sent, record, received);
        assert_eq!(offset, -chrono::Duration::seconds(60));
        assert_eq!(clock.now(), t);
        assert_eq!(clock.local_now(), t + chrono::Duration::seconds(60));
    }
}

//! The service's notion of "now", injectable so that tests control time.
//!
//! Everything that stamps or compares wall-clock times (snapshot collection times, the
//! `dthRecuperacao` future and retention checks, the retention purge, the scheduler's run
//! records, tick claims and liveness, the cache's ages) asks a [`Clock`].

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
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
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
}

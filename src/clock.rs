//! The service's notion of "now", injectable so that tests control time.
//!
//! Everything that stamps or compares wall-clock times (snapshot collection times, the
//! `dthRecuperacao` future and retention checks, the retention purge, the scheduler's run
//! records, tick claims and liveness, the cache's ages) asks a [`Clock`].

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

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

//! Exponential backoff with a cap: the pause between a run's attempts, and between the
//! start-up runs until a snapshot loads.

use std::time::Duration;

/// A pause that doubles after each failure, up to a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Pause after the first failure.
    pub initial: Duration,
    /// Upper bound of the pause.
    pub max: Duration,
}

impl Backoff {
    /// The pause after failure number `failures` (from 1).
    pub fn after(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5),
        };
        let got: Vec<u64> = (1..=5).map(|a| b.after(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 5, 5]);
        assert_eq!(b.after(200), Duration::from_secs(5));
    }
}

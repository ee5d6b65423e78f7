//! The ANEEL endpoint's rate limit: at most `requests` per `window` for each key and for
//! each client address, both counted for every request let in (fixed windows, each
//! starting at its subject's first request, as the peer implementation counts). A leaked key
//! is held to the limit from any number of addresses, and one address to the limit with any
//! number of keys.
//!
//! Memory is bounded: only requests that passed the allow-list and the key reach the
//! limiter, so new subjects come at most `requests` per window per key; expired windows are
//! swept once per window; and past [`MAX_TRACKED`] live windows a new subject is refused
//! (with a warning) rather than tracked. It counts per replica.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The peer implementation's limit: 10 requests...
pub const DEFAULT_REQUESTS: u32 = 10;
/// ...per 60 s.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// Most subjects (keys and addresses) tracked at once: about 100 bytes each.
pub const MAX_TRACKED: usize = 100_000;

/// How many requests a subject may make per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests let in per window (at least 1).
    pub requests: u32,
    /// The window's length (at least 1 s).
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            requests: DEFAULT_REQUESTS,
            window: DEFAULT_WINDOW,
        }
    }
}

/// What a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Key(Arc<str>),
    Addr(IpAddr),
}

/// Which count refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitedBy {
    /// The key's.
    Key,
    /// The client address's.
    Address,
    /// None: [`MAX_TRACKED`] subjects are already tracked.
    Full,
}

impl LimitedBy {
    /// For the request log.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitedBy::Key => "key",
            LimitedBy::Address => "address",
            LimitedBy::Full => "full",
        }
    }
}

/// The limiter's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let in and counted; `remaining` more fit in the fuller of the two windows.
    Allowed {
        /// The setting's requests per window.
        limit: u32,
        /// Requests still let in before the fuller window ends.
        remaining: u32,
    },
    /// Refused (and not counted).
    Limited {
        /// The setting's requests per window.
        limit: u32,
        /// Until the refusing window ends (rounded up to whole seconds by the caller).
        retry_after: Duration,
        /// Which count refused it.
        by: LimitedBy,
    },
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

#[derive(Debug)]
struct Windows {
    live: HashMap<Subject, Window>,
    next_sweep: Instant,
}

/// Counts requests per key and per client address.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    capacity: usize,
    windows: Mutex<Windows>,
}

impl RateLimiter {
    /// A limiter of `limit`, tracking at most [`MAX_TRACKED`] subjects.
    pub fn new(limit: RateLimit) -> Self {
        Self::with_capacity(limit, MAX_TRACKED)
    }

    fn with_capacity(limit: RateLimit, capacity: usize) -> Self {
        Self {
            limit,
            capacity,
            windows: Mutex::new(Windows {
                live: HashMap::new(),
                next_sweep: Instant::now(),
            }),
        }
    }

    /// The setting.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Counts a request made at `now` with the key `key_id` from `client`, if both the key's
    /// and the address's windows have room; a refused request is not counted.
    pub fn check(&self, key_id: &str, client: IpAddr, now: Instant) -> Decision {
        let RateLimit { requests, window } = self.limit;
        let mut windows = self.windows.lock().expect("rate limiter lock");
        if now >= windows.next_sweep {
            windows.sweep(now, window);
        }
        let subjects = [
            (Subject::Key(Arc::from(key_id)), LimitedBy::Key),
            (Subject::Addr(client.to_canonical()), LimitedBy::Address),
        ];
        let mut used = [0; 2];
        for (n, (subject, by)) in subjects.iter().enumerate() {
            let Some(w) = windows
                .live
                .get(subject)
                .filter(|w| now < w.started + window)
            else {
                continue;
            };
            if w.count >= requests {
                return Decision::Limited {
                    limit: requests,
                    retry_after: w.started + window - now,
                    by: *by,
                };
            }
            used[n] = w.count;
        }
        let new = subjects
            .iter()
            .filter(|(s, _)| !windows.live.contains_key(s))
            .count();
        if windows.live.len() + new > self.capacity {
            windows.sweep(now, window);
            if windows.live.len() + new > self.capacity {
                let oldest = windows.live.values().map(|w| w.started).min();
                tracing::warn!(
                    tracked = windows.live.len(),
                    "the rate limiter tracks its maximum of keys and addresses: new ones are \
                     refused until their windows end"
                );
                return Decision::Limited {
                    limit: requests,
                    retry_after: oldest.map_or(window, |started| started + window - now),
                    by: LimitedBy::Full,
                };
            }
        }
        for (subject, _) in subjects {
            let w = windows.live.entry(subject).or_insert(Window {
                started: now,
                count: 0,
            });
            if now >= w.started + window {
                *w = Window {
                    started: now,
                    count: 0,
                };
            }
            w.count += 1;
        }
        Decision::Allowed {
            limit: requests,
            remaining: requests - 1 - used[0].max(used[1]),
        }
    }

    /// How many keys and addresses are tracked now.
    pub fn tracked(&self) -> usize {
        self.windows.lock().expect("rate limiter lock").live.len()
    }
}

impl Windows {
    /// Forgets the windows that have ended.
    fn sweep(&mut self, now: Instant, window: Duration) {
        self.live.retain(|_, w| now < w.started + window);
        self.next_sweep = now + window;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn limiter(requests: u32) -> RateLimiter {
        RateLimiter::new(RateLimit {
            requests,
            window: MINUTE,
        })
    }

    fn remaining(decision: Decision) -> u32 {
        match decision {
            Decision::Allowed { remaining, .. } => remaining,
            Decision::Limited { .. } => panic!("limited: {decision:?}"),
        }
    }

    #[test]
    fn ten_per_minute_then_refused_until_the_window_ends() {
        let l = RateLimiter::new(RateLimit::default());
        let t0 = Instant::now();
        let a = ip("203.0.113.9");
        for n in 0..10 {
            let at = t0 + Duration::from_secs(n);
            assert_eq!(remaining(l.check("aneel", a, at)), 9 - n as u32);
        }
        let at = t0 + Duration::from_secs(20);
        assert_eq!(
            l.check("aneel", a, at),
            Decision::Limited {
                limit: 10,
                retry_after: Duration::from_secs(40),
                by: LimitedBy::Key
            }
        );
        // Refusals are not counted: the window ends when it would have.
        let ends = t0 + MINUTE;
        assert!(matches!(
            l.check("aneel", a, t0 + Duration::from_millis(59_999)),
            Decision::Limited { .. }
        ));
        assert_eq!(remaining(l.check("aneel", a, ends)), 9);
    }

    #[test]
    fn a_key_is_limited_across_addresses_and_an_address_across_keys() {
        let l = limiter(3);
        let t = Instant::now();
        for n in 1..=3 {
            remaining(l.check("leaked", ip(&format!("198.51.100.{n}")), t));
        }
        assert!(matches!(
            l.check("leaked", ip("198.51.100.4"), t),
            Decision::Limited {
                by: LimitedBy::Key,
                ..
            }
        ));
        let a = ip("203.0.113.9");
        assert_eq!(remaining(l.check("k1", a, t)), 2);
        assert_eq!(remaining(l.check("k2", a, t)), 1, "the address's count");
        assert_eq!(remaining(l.check("k3", a, t)), 0);
        assert!(matches!(
            l.check("k4", a, t),
            Decision::Limited {
                by: LimitedBy::Address,
                ..
            }
        ));
        // The same client over IPv4 and IPv4-mapped IPv6 is one address.
        assert!(matches!(
            l.check("k5", ip("::ffff:203.0.113.9"), t),
            Decision::Limited {
                by: LimitedBy::Address,
                ..
            }
        ));
        // k4 was refused, so not counted.
        assert_eq!(remaining(l.check("k4", ip("192.0.2.1"), t)), 2);
    }

    #[test]
    fn rotating_addresses_cannot_grow_it_past_its_capacity_and_ended_windows_are_swept() {
        let l = RateLimiter::with_capacity(
            RateLimit {
                requests: 1000,
                window: MINUTE,
            },
            5,
        );
        let t0 = Instant::now();
        // One key, then four addresses: five subjects.
        for n in 1..=4 {
            remaining(l.check("k", ip(&format!("10.0.0.{n}")), t0));
        }
        assert_eq!(l.tracked(), 5);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(
            l.check("k", ip("10.0.0.99"), later),
            Decision::Limited {
                limit: 1000,
                retry_after: Duration::from_secs(50),
                by: LimitedBy::Full
            }
        );
        assert_eq!(l.tracked(), 5);
        remaining(l.check("k", ip("10.0.0.1"), later));
        // Once the windows end, they are swept and new subjects fit again.
        let next = t0 + MINUTE;
        assert_eq!(remaining(l.check("k", ip("10.0.0.99"), next)), 999);
        assert_eq!(l.tracked(), 2);
    }
}

//! The ANEEL endpoint's guard: which clients reach the answer, and how often. Its layers run
//! in this order, so that each decision is made once and the cheapest first:
//!
//! 1. security headers on every answer ([`super::security_headers`]);
//! 2. the client's address, through trusted proxies ([`super::client_addr`]);
//! 3. the address allow-list (403);
//! 4. the key (401, [`super::api_key`]);
//! 5. the rate limit per key and per address (429, [`super::rate_limit`]);
//! 6. the handler.
//!
//! The layers themselves answer in ANEEL's envelope, so they live with the endpoint
//! ([`super::aneel`]); this module holds their settings and shared state.

use std::sync::Arc;

use super::client_addr::ProxyTrust;
use super::rate_limit::{RateLimit, RateLimiter};
use crate::domain::IpRanges;

/// The guard's settings, as validated at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardSettings {
    /// The proxies whose forwarding header names the client.
    pub proxies: ProxyTrust,
    /// The client addresses let in; empty lets in every address (the key still applies).
    pub allowed_clients: IpRanges,
    /// The rate limit per key and per client address; `None` turns it off.
    pub rate_limit: Option<RateLimit>,
}

impl Default for GuardSettings {
    /// No trusted proxy, every address, the peer implementation's rate limit.
    fn default() -> Self {
        Self {
            proxies: ProxyTrust::default(),
            allowed_clients: IpRanges::default(),
            rate_limit: Some(RateLimit::default()),
        }
    }
}

/// The guard's state, shared by the endpoint's layers.
#[derive(Debug)]
pub struct Guard {
    /// Read by the client-address layer.
    pub proxies: Arc<ProxyTrust>,
    /// Empty: the allow-list layer is not installed.
    pub allowed_clients: IpRanges,
    /// `None`: the rate-limit layer is not installed.
    pub limiter: Option<RateLimiter>,
}

impl From<GuardSettings> for Guard {
    fn from(settings: GuardSettings) -> Self {
        Self {
            proxies: Arc::new(settings.proxies),
            allowed_clients: settings.allowed_clients,
            limiter: settings.rate_limit.map(RateLimiter::new),
        }
    }
}

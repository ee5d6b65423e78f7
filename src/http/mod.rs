//! The HTTP side of the service, each on its own listener so network policy can open one
//! without the other: the ANEEL endpoint ([`aneel`], behind its [`guard`]) and the
//! operations endpoint ([`ops`]: metrics and probes). Built on axum, which tonic itself
//! runs on.

pub mod aneel;
pub mod api_key;
pub mod client_addr;
pub mod conditional;
pub mod guard;
mod log_query;
pub mod ops;
pub mod params;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;
pub mod trace;
mod v4;

use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::transport::Incoming;
use crate::transport::http_listener::{self, HttpListener};

pub use crate::domain::{ForwardedHeader, IpRange, IpRanges};
pub use api_key::{ApiKeys, KeyStore};
pub use client_addr::{ClientAddr, ProxyTrust};
pub use guard::GuardSettings;
pub use rate_limit::RateLimit;

/// The HTTP listeners, bound by the caller before start-up (so that a port in use stops
/// start-up naming its setting), and the keys and guard of the ANEEL endpoint.
#[derive(Debug, Default)]
pub struct HttpListeners {
    /// The ANEEL endpoint's listener; `None` turns it off.
    pub aneel: Option<TcpListener>,
    /// The accepted `x-api-key` values.
    pub api_keys: Arc<KeyStore>,
    /// The ANEEL endpoint's client address, allow-list and rate limit.
    pub guard: GuardSettings,
    /// The operations endpoint's listener; `None` turns it off.
    pub ops: Option<TcpListener>,
}

/// Reads the key file again every [`api_key::RELOAD_EVERY`] until `stop`, logging each
/// change (ids only) and each failure (the keys in force stay).
pub async fn reload_keys(keys: Arc<KeyStore>, stop: tokio_util::sync::CancellationToken) {
    let Some(file) = keys.file().map(|f| f.display().to_string()) else {
        return;
    };
    let mut every = tokio::time::interval(api_key::RELOAD_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.cancelled() => return,
        }
        let reloaded = {
            let keys = keys.clone();
            tokio::task::spawn_blocking(move || keys.reload()).await
        };
        match reloaded {
            Ok(Ok(true)) => tracing::info!(
                file,
                api_keys = ?keys.current().ids(),
                "ANEEL API keys reloaded"
            ),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::error!(
                file,
                error = e,
                "cannot reload the ANEEL API keys; the keys in force stay"
            ),
            Err(e) => tracing::error!(error = %e, "key reload task failed"),
        }
    }
}

/// Serves `router` on `listener`, with each client's address, under `setup`'s limits
/// (header read and keep-alive timeouts, connections in all and per peer), counting its
/// refusals and closes in `counters`, until `shutdown` is cancelled; then stops accepting
/// and waits for the requests in flight.
pub async fn serve(
    listener: TcpListener,
    setup: HttpListener,
    counters: Arc<Incoming>,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    http_listener::serve(listener, setup, counters, router, shutdown).await;
    Ok(())
}

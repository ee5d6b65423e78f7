//! The HTTP listeners: the ANEEL endpoint and the operations endpoint (metrics, probes),
//! each an entry of [`http_servers`] started by one loop. Adding a listener is one entry.

use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::config::HttpSettings;
use crate::http::{
    self, GuardSettings, HttpListeners, IpRanges, ProxyTrust, RateLimit, aneel, ops,
};
use crate::transport::Incoming;
use crate::transport::http_listener::HttpListener;

/// A running HTTP server: its name in logs and its task.
pub(super) type HttpServer = (&'static str, JoinHandle<std::io::Result<()>>);

/// An HTTP listener: its name in logs, the bound socket (`None`: turned off), its
/// counters, the peers let past the per-peer share, and how its routes are built.
struct Entry {
    name: &'static str,
    listener: Option<TcpListener>,
    counters: Arc<Incoming>,
    uncapped_peers: IpRanges,
    router: Box<dyn FnOnce(&Shared) -> Router>,
}

/// Starts every configured HTTP listener; each serves until `drain` is cancelled.
pub(super) fn http_servers(
    http: HttpListeners,
    shared: &Shared,
    drain: &CancellationToken,
) -> anyhow::Result<Vec<HttpServer>> {
    let (keys, guard) = (http.api_keys, http.guard);
    let entries = [
        Entry {
            name: "ANEEL HTTP server",
            listener: http.aneel,
            counters: shared.listeners.aneel.clone(),
            // Behind an ingress every connection is the ingress's: its pods are not held
            // to one client's share (each client is rate-limited by its own address).
            uncapped_peers: guard.proxies.trusted.clone(),
            router: Box::new(move |shared| aneel_router(shared, keys, guard)),
        },
        Entry {
            name: "operations HTTP server",
            listener: http.ops,
            counters: shared.listeners.ops.clone(),
            uncapped_peers: IpRanges::default(),
            router: Box::new(ops_router),
        },
    ];
    let mut servers = Vec::new();
    for Entry {
        name,
        listener,
        counters,
        uncapped_peers,
        router,
    } in entries
    {
        let Some(listener) = listener else {
            continue;
        };
        let addr = listener.local_addr()?;
        let setup = HttpListener {
            name,
            uncapped_peers,
            ..shared.connections.clone()
        };
        tracing::info!(
            %addr,
            max_connections = setup.limits.total,
            max_connections_per_peer = setup.limits.per_peer,
            reserved_for_new_peers = setup.limits.reserved_for_new_peers,
            per_peer_cap_exempt = %setup.uncapped_peers,
            "{name} listening"
        );
        let serving = http::serve(listener, setup, counters, router(shared), drain.clone());
        servers.push((name, tokio::spawn(serving)));
    }
    Ok(servers)
}

/// The ANEEL endpoint's guard as the settings configure it.
pub fn aneel_guard(http: &HttpSettings) -> GuardSettings {
    GuardSettings {
        proxies: ProxyTrust {
            trusted: http.aneel_trusted_proxies.clone(),
            header: http.aneel_forwarded_header,
        },
        allowed_clients: http.aneel_source_ranges.clone(),
        rate_limit: http.aneel_rate_limit.map(|requests| RateLimit {
            requests,
            window: http.aneel_rate_limit_window,
        }),
    }
}

/// The ANEEL endpoint behind `guard`, its keys reloaded from their file until shutdown.
fn aneel_router(shared: &Shared, keys: Arc<http::KeyStore>, guard: GuardSettings) -> Router {
    tracing::info!(
        api_keys = ?keys.current().ids(),
        loopback_only = keys.current().is_empty(),
        "ANEEL API keys in force"
    );
    tracing::info!(
        trusted_proxies = %guard.proxies.trusted,
        forwarded_header = %guard.proxies.header,
        source_ranges = %guard.allowed_clients,
        rate_limit = guard.rate_limit.map(|r| r.requests),
        rate_limit_window_secs = guard.rate_limit.map(|r| r.window.as_secs()),
        "ANEEL endpoint guard"
    );
    tokio::spawn(http::reload_keys(keys.clone(), shared.stopping.clone()));
    aneel::router(aneel::AneelState::new(
        shared.answers.clone(),
        keys,
        guard,
        shared.metrics.clone(),
    ))
}

/// The operations endpoint: metrics and probes.
fn ops_router(shared: &Shared) -> Router {
    ops::router(ops::OpsState::new(
        shared.metrics.clone(),
        shared.cache.clone(),
        shared.scheduler.clone(),
        shared.stopping.clone(),
        shared.listeners.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{Cli, Invocation};

    fn http_settings(extra: &[&str]) -> HttpSettings {
        let mut argv = vec!["radar-interrupcoes"];
        argv.extend_from_slice(extra);
        match Cli::load_from(argv, &super::super::offered()).unwrap() {
            Invocation::Serve(config) => config.http,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn the_guard_s_defaults_are_the_settings_defaults_and_each_setting_reaches_it() {
        assert_eq!(aneel_guard(&http_settings(&[])), GuardSettings::default());
        let guard = aneel_guard(&http_settings(&[
            "--aneel-trusted-proxies",
            "10.0.0.0/8, 192.0.2.7",
            "--aneel-forwarded-header",
            "forwarded",
            "--aneel-source-ranges",
            "203.0.113.0/24",
            "--aneel-rate-limit",
            "3",
            "--aneel-rate-limit-window-secs",
            "5",
        ]));
        assert_eq!(guard.proxies.trusted.to_string(), "10.0.0.0/8,192.0.2.7/32");
        assert_eq!(guard.proxies.header, http::ForwardedHeader::Forwarded);
        assert_eq!(guard.allowed_clients.to_string(), "203.0.113.0/24");
        assert_eq!(
            guard.rate_limit,
            Some(RateLimit {
                requests: 3,
                window: Duration::from_secs(5)
            })
        );
        let off = aneel_guard(&http_settings(&["--aneel-rate-limit", "0"]));
        assert_eq!(off.rate_limit, None);
    }
}

//! The HTTP listeners (ANEEL, operations) on the same serve loop as gRPC: HTTP/1.1 only,
//! the request headers within a header read timeout and a size limit, an idle kept-alive
//! connection closed after the keep-alive timeout (a request head that has started to
//! arrive is the header read timeout's), and the connection cap in all and per peer
//! (trusted proxies let past the per-peer share).
//! `axum::serve` has none of these: slow or idle clients could hold its connections for
//! ever.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::counters::Incoming;
use super::peer::PeerLimits;
use super::serve::{ConnectionPolicy, Listening};
use crate::domain::IpRanges;

/// Everything an HTTP listener is set up with.
#[derive(Debug, Clone)]
pub struct HttpListener {
    /// The listener's name in logs.
    pub name: &'static str,
    /// Connections in all and per peer.
    pub limits: PeerLimits,
    /// Peers not held to the per-peer share: the trusted proxies, on the ANEEL listener.
    pub uncapped_peers: IpRanges,
    /// Time a client has to send a request's headers, from the moment the server waits
    /// for them (a new connection, or the next request of a kept-alive one).
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request in flight for this long is closed; at most
    /// `header_read_timeout`, which would close it first.
    pub keepalive_timeout: Duration,
    /// Time a request in flight gets once its connection is closed for idleness.
    pub close_grace: Duration,
}

/// The most a request's head (request line and headers) may take; a larger one gets 431
/// and its connection is closed. hyper's default (about 400 KiB) let 256 connections that
/// never finish their headers hold some 100 MB, past the base manifest's 64 Mi limit; the
/// ANEEL poll, Prometheus and the kubelet send well under 1 KiB, and an ingress adds its
/// forwarding headers (nginx itself refuses a line over 8 KiB). Node.js's default.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The hyper builder of the HTTP listeners: HTTP/1.1 only (ANEEL, Prometheus and the
/// kubelet all speak it), headers within `header_read_timeout` and [`MAX_HEAD_BYTES`].
pub fn http1_builder(header_read_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    builder
}

/// Serves `router` on `listener` until `drain` is cancelled, each request with its
/// client's address (`ConnectInfo<SocketAddr>`, as `axum::serve` gave it).
pub async fn serve(
    listener: TcpListener,
    setup: HttpListener,
    counters: Arc<Incoming>,
    router: axum::Router,
    drain: CancellationToken,
) {
    let listening = Listening {
        policy: ConnectionPolicy {
            name: setup.name,
            limits: setup.limits,
            uncapped_peers: setup.uncapped_peers,
            preface_timeout: None,
            idle_timeout: setup.keepalive_timeout,
            max_age: None,
            close_grace: setup.close_grace,
            http1: true,
        },
        http: http1_builder(setup.header_read_timeout),
        tls: None,
        counters,
    };
    super::serve::serve(
        listener,
        listening,
        move |connection| {
            let remote: SocketAddr = connection.remote;
            tower::util::MapRequest::new(
                router.clone(),
                move |mut request: http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(remote));
                    request
                },
            )
        },
        drain,
    )
    .await;
}

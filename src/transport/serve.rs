//! The serve loop every listener runs (gRPC, ANEEL, operations): accepts connections
//! through a [`ConnectionGate`] (a cap in all and per peer, room kept for new peers),
//! serves each with hyper, and closes it gracefully (GOAWAY on HTTP/2, after the response
//! on HTTP/1) when it has had no request in flight for the idle timeout, when it reaches
//! its maximum age, or when the service drains. tonic and axum each run a loop of their
//! own with none of the per-peer limits or the idle close; this one owns the loop and
//! serves their routers as plain tower services.

use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use http_body::Body;
use hyper::body::Incoming as IncomingBody;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::codegen::{Bytes, StdError};
use tower::{Layer, Service};

use super::activity::{Activity, TrackLayer, Tracked};
use super::counters::{Close, Incoming};
use super::incoming::{ConnIo, RateLimitedLog};
use super::peer::{ConnectionGate, PeerKey, PeerLimits, Refusal};
use super::tls::TlsAcceptor;
use crate::domain::IpRanges;

/// Pause of the accept loop after it fails for lack of resources (too many open files).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How a listener treats its connections.
#[derive(Debug, Clone)]
pub struct ConnectionPolicy {
    /// The listener's name in logs (`"gRPC"`, `"ANEEL HTTP"`, ...).
    pub name: &'static str,
    /// How many connections, in all and per peer.
    pub limits: PeerLimits,
    /// Peers not held to the per-peer share (the ANEEL listener's trusted proxies): one
    /// such address carries the connections of many clients.
    pub uncapped_peers: IpRanges,
    /// Time a new connection has to send the HTTP/2 preface (and finish TLS); `None` for
    /// HTTP/1 listeners, whose header read timeout is set on their hyper builder.
    pub preface_timeout: Option<Duration>,
    /// A connection with no request in flight for this long is closed gracefully.
    pub idle_timeout: Duration,
    /// A connection this old is closed gracefully, busy or not.
    pub max_age: Option<Duration>,
    /// After a graceful close for idleness or age, the requests in flight get this long.
    pub close_grace: Duration,
    /// Whether the listener speaks HTTP/1 (else HTTP/2). On HTTP/1 bytes arriving keep a
    /// connection from being idle: they are a request's head, bounded by the header read
    /// timeout and size; on HTTP/2 pings and window updates arrive on idle connections too.
    pub http1: bool,
}

impl ConnectionPolicy {
    /// Why this listener may close a connection it accepted.
    fn close_reasons(&self) -> impl Iterator<Item = Close> + use<'_> {
        Close::ALL.into_iter().filter(|reason| match reason {
            Close::HandshakeTimeout => self.preface_timeout.is_some(),
            Close::HeaderTimeout | Close::HeadersTooLarge => self.http1,
            Close::IdleTimeout => true,
            Close::MaxAge => self.max_age.is_some(),
        })
    }
}

/// One accepted connection, as the service of that connection is built for it.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionInfo {
    /// The client's address (as this listener sees it).
    pub remote: SocketAddr,
    /// The listener's address.
    pub local: SocketAddr,
}

/// How a listener serves: its policy, its protocol and its counters.
pub struct Listening {
    /// Connection limits and closes.
    pub policy: ConnectionPolicy,
    /// The hyper builder with the protocol's own settings (HTTP/2 only for gRPC, HTTP/1
    /// with its header read timeout otherwise).
    pub http: auto::Builder<TokioExecutor>,
    /// TLS, negotiated within the preface timeout, when set.
    pub tls: Option<TlsAcceptor>,
    /// Where refusals, accept errors and closes are counted.
    pub counters: Arc<Incoming>,
}

/// Serves `listener` until `drain` is cancelled: each connection gets the service
/// `make_service` builds for it; then stops accepting, closes every connection gracefully
/// and returns once they have all ended.
pub async fn serve<M, S, B>(
    listener: TcpListener,
    listening: Listening,
    make_service: M,
    drain: CancellationToken,
) where
    M: Fn(ConnectionInfo) -> S,
    S: Service<http::Request<IncomingBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<StdError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    let Listening {
        policy,
        http,
        tls,
        counters,
    } = listening;
    counters.start_serving(policy.close_reasons());
    let gate =
        ConnectionGate::new(policy.limits).with_uncapped_peers(policy.uncapped_peers.clone());
    let mut accept = Acceptor {
        listener,
        gate: gate.clone(),
        counters,
        name: policy.name,
        refused_log: RateLimitedLog::default(),
        error_log: RateLimitedLog::default(),
    };
    let connections = TaskTracker::new();
    let policy = Arc::new(policy);
    loop {
        let (stream, remote, ticket) = tokio::select! {
            accepted = accept.next() => accepted,
            () = drain.cancelled() => break,
        };
        let local = stream.local_addr().unwrap_or(remote);
        let info = ConnectionInfo { remote, local };
        let service = make_service(info);
        let policy = policy.clone();
        let http = http.clone();
        let tls = tls.clone();
        let counters = accept.counters.clone();
        let drain = drain.clone();
        connections.spawn(async move {
            let activity = Activity::default();
            let mut io = ConnIo::new(stream, policy.preface_timeout, counters.clone());
            if policy.http1 {
                io = io.reads_are_activity(activity.clone());
            }
            let serving = Serving {
                http: &http,
                policy: &policy,
                counters: &counters,
                activity,
                drain,
            };
            match tls {
                None => serving.serve(io, service).await,
                Some(tls) => {
                    let Some(io) = tls
                        .accept(io, policy.preface_timeout, remote, &counters)
                        .await
                    else {
                        return;
                    };
                    serving.serve(io, service).await;
                }
            }
            drop(ticket);
        });
    }
    // Stop accepting at once: the kernel then refuses new clients instead of queueing them.
    drop(accept);
    connections.close();
    connections.wait().await;
}

/// What one connection is served with.
struct Serving<'a> {
    http: &'a auto::Builder<TokioExecutor>,
    policy: &'a ConnectionPolicy,
    counters: &'a Incoming,
    activity: Activity,
    drain: CancellationToken,
}

impl Serving<'_> {
    /// Serves `io` with `service` until the connection ends, closing it gracefully when
    /// idle, too old, or when the service drains.
    async fn serve<I, S, B>(self, io: I, service: S)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: Service<http::Request<IncomingBody>, Response = http::Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<StdError>,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<StdError>,
    {
        let Self {
            http,
            policy,
            counters,
            activity,
            drain,
        } = self;
        let service: Tracked<S> = TrackLayer::new(activity.clone()).layer(service);
        let mut connection =
            pin!(http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)));
        let mut idle = pin!(activity.idle_for(policy.idle_timeout));
        let mut old = pin!(async {
            match policy.max_age {
                Some(age) => tokio::time::sleep(age).await,
                None => std::future::pending().await,
            }
        });
        let mut grace_over = pin!(futures::future::Fuse::terminated());
        let mut closing = false;
        loop {
            let close = tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        if let Some(reason) = close_reason(&*e) {
                            counters.count_closed(reason);
                        }
                        tracing::debug!(listener = policy.name, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = &mut idle, if !closing => Some(Close::IdleTimeout),
                () = &mut old, if !closing => Some(Close::MaxAge),
                () = drain.cancelled(), if !closing => None,
                () = &mut grace_over => {
                    tracing::debug!(listener = policy.name, "grace period over: closing the connection");
                    return;
                }
            };
            connection.as_mut().graceful_shutdown();
            closing = true;
            // On drain, the service's own shutdown grace bounds the close (the caller aborts).
            if let Some(reason) = close {
                counters.count_closed(reason);
                tracing::debug!(
                    listener = policy.name,
                    reason = reason.label(),
                    "closing a connection gracefully"
                );
                grace_over.set(futures::FutureExt::fuse(tokio::time::sleep(
                    policy.close_grace,
                )));
            }
        }
    }
}

/// The reason to count for a connection that hyper ended with `error`, when the server
/// closed it on purpose (a client that went away, or a protocol error, is not counted).
fn close_reason(error: &(dyn std::error::Error + 'static)) -> Option<Close> {
    let error = error.downcast_ref::<hyper::Error>()?;
    if error.is_timeout() {
        // The only timeout hyper runs on these connections: HTTP/1's header read timeout
        // (HTTP/2 keep-alive failures are not `TimedOut`).
        Some(Close::HeaderTimeout)
    } else if error.is_parse_too_large() {
        Some(Close::HeadersTooLarge)
    } else {
        None
    }
}

/// The accept side: a connection is admitted by the gate or closed at once.
struct Acceptor {
    listener: TcpListener,
    gate: ConnectionGate,
    counters: Arc<Incoming>,
    name: &'static str,
    refused_log: RateLimitedLog,
    error_log: RateLimitedLog,
}

impl Acceptor {
    async fn next(&mut self) -> (TcpStream, SocketAddr, super::peer::Ticket) {
        loop {
            match self.listener.accept().await {
                Ok((stream, remote)) => match self.gate.admit(PeerKey::of(remote)) {
                    Ok(ticket) => {
                        // Without TCP_NODELAY small answers wait on delayed ACKs (~40 ms each).
                        let _ = stream.set_nodelay(true);
                        return (stream, remote, ticket);
                    }
                    Err(refusal) => self.refuse(stream, remote, refusal),
                },
                Err(e) if is_per_connection(&e) => {
                    // The peer went away between SYN and accept: nothing to fix here.
                    tracing::debug!(listener = self.name, error = %e, "accept failed for one connection");
                }
                Err(e) => {
                    let total = self.counters.count_accept_error();
                    if let Some(suppressed) = self.error_log.should_log() {
                        tracing::error!(
                            listener = self.name,
                            error = %e,
                            accept_errors_total = total,
                            suppressed,
                            backoff_ms = u64::try_from(ACCEPT_BACKOFF.as_millis()).unwrap_or(u64::MAX),
                            "cannot accept connections (too many open files?): backing off"
                        );
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    fn refuse(&mut self, stream: TcpStream, remote: SocketAddr, refusal: Refusal) {
        let refused = self.counters.count_refused(refusal);
        if let Some(suppressed) = self.refused_log.should_log() {
            let limits = self.gate.limits();
            tracing::warn!(
                listener = self.name,
                peer = %remote.ip(),
                max_connections = limits.total,
                max_connections_per_peer = limits.per_peer,
                reason = refusal.label(),
                refused_total = refused,
                suppressed,
                "connection refused: {}",
                refusal.reason()
            );
        }
        drop(stream);
    }
}

/// Errors of `accept` that concern only the connection being accepted.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

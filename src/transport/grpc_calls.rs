//! What each gRPC connection wraps around the routes, now that the serve loop is ours
//! rather than tonic's (which did the same per connection): the peer's address in each
//! request (for [`tonic::Request::remote_addr`]), a tracing span per call, HTTP 415 for
//! non-gRPC requests, statuses for the errors of the layers below (RESOURCE_EXHAUSTED when
//! shed, CANCELLED past the deadline), calls at once per connection shed rather than
//! queued, and the call deadline.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming as IncomingBody;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::codegen::{Bytes, StdError};
use tonic::service::RecoverError;
use tonic::transport::server::TcpConnectInfo;
use tower::Service;
use tower::limit::ConcurrencyLimit;
use tower::load_shed::LoadShed;
use tracing::Instrument as _;
use tracing::instrument::Instrumented;

use super::content_type::GrpcOnly;
use super::counters::Incoming;
use super::deadline::Deadline;
use super::serve::{ConnectionInfo, ConnectionPolicy, Listening};
use super::tls::TlsAcceptor;

/// Limits of each call on one connection.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Calls served at once on one connection; one more is shed (RESOURCE_EXHAUSTED).
    pub max_calls_per_connection: usize,
    /// Longest a call may take before it answers (a shorter client deadline wins).
    pub rpc_timeout: Duration,
}

/// `routes` as one connection serves them (see the module doc).
pub fn per_connection<S, B>(
    routes: S,
    connection: ConnectionInfo,
    limits: CallLimits,
) -> Connection<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<B>>,
    S::Error: Into<StdError>,
{
    let calls = Deadline::new(routes, limits.rpc_timeout);
    let calls = ConcurrencyLimit::new(calls, limits.max_calls_per_connection);
    let calls = RecoverError::new(LoadShed::new(calls));
    Connection {
        inner: GrpcOnly::new(calls),
        info: TcpConnectInfo {
            local_addr: Some(connection.local),
            remote_addr: Some(connection.remote),
        },
    }
}

/// The service of one gRPC connection (built by [`per_connection`]).
#[derive(Clone)]
pub struct Connection<S> {
    inner: GrpcOnly<RecoverError<LoadShed<ConcurrencyLimit<Deadline<S>>>>>,
    info: TcpConnectInfo,
}

impl<S, B> Service<http::Request<IncomingBody>> for Connection<S>
where
    GrpcOnly<RecoverError<LoadShed<ConcurrencyLimit<Deadline<S>>>>>:
        Service<http::Request<tonic::body::Body>, Response = http::Response<B>>,
{
    type Response = http::Response<B>;
    type Error = <GrpcOnly<RecoverError<LoadShed<ConcurrencyLimit<Deadline<S>>>>> as Service<
        http::Request<tonic::body::Body>,
    >>::Error;
    type Future = Instrumented<
        <GrpcOnly<RecoverError<LoadShed<ConcurrencyLimit<Deadline<S>>>>> as Service<
            http::Request<tonic::body::Body>,
        >>::Future,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<IncomingBody>) -> Self::Future {
        let mut request = request.map(tonic::body::Body::new);
        request.extensions_mut().insert(self.info.clone());
        // The RPC server span, child of the caller's `traceparent` (semantic conventions).
        let span = crate::telemetry::spans::rpc_server(&request);
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        future.instrument(span)
    }
}

/// The HTTP/2 settings of the gRPC listener.
#[derive(Debug, Clone, Copy)]
pub struct Http2Limits {
    /// Concurrent streams per connection (advertised; one more is refused).
    pub max_concurrent_streams: u32,
    /// Time between keep-alive pings.
    pub keepalive_interval: Duration,
    /// Time a ping may go unanswered before the connection is closed.
    pub keepalive_timeout: Duration,
}

/// The most a call's headers (its metadata) may take, decoded; a larger block is refused.
/// grpc-java's default: tokens, trace context and deadlines take a few hundred bytes, and
/// hyper's 16 KiB let held calls cost twice as much memory.
pub const MAX_HEADER_LIST_BYTES: u32 = 8 * 1024;

/// The hyper builder of the gRPC listener: HTTP/2 only, with `limits`.
pub fn http2_builder(limits: Http2Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http2_only();
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_LIST_BYTES)
        .max_concurrent_streams(limits.max_concurrent_streams)
        .keep_alive_interval(Some(limits.keepalive_interval))
        .keep_alive_timeout(limits.keepalive_timeout);
    builder
}

/// Everything the gRPC listener is set up with.
#[derive(Clone)]
pub struct GrpcListener {
    /// Connection limits and closes.
    pub connections: ConnectionPolicy,
    /// Limits of each call.
    pub calls: CallLimits,
    /// HTTP/2 settings.
    pub http2: Http2Limits,
    /// TLS, when the listener serves it.
    pub tls: Option<TlsAcceptor>,
}

/// Serves `routes` as gRPC on `listener` until `drain` is cancelled (see
/// [`super::serve::serve`]), each connection with [`per_connection`]'s wrapping.
pub async fn serve<S, B>(
    listener: TcpListener,
    setup: GrpcListener,
    counters: Arc<Incoming>,
    routes: S,
    drain: CancellationToken,
) where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<StdError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    let calls = setup.calls;
    let listening = Listening {
        policy: setup.connections,
        http: http2_builder(setup.http2),
        tls: setup.tls,
        counters,
    };
    super::serve::serve(
        listener,
        listening,
        move |connection| per_connection(routes.clone(), connection, calls),
        drain,
    )
    .await;
}

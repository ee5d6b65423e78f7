//! Long-lived calls (server-streaming and bidirectional: the data and health `Watch`,
//! reflection) bounded in all and per peer, so that one client opening thousands of
//! streams can neither exhaust memory nor keep another client's stream out; and, with a
//! bound of their own, the unary calls in flight, which a client can hold open by never
//! sending its request's body (each holds its headers, up to the HTTP/2 header list limit,
//! until the call deadline). A call beyond either bound ends at once with
//! RESOURCE_EXHAUSTED (trailers only); an admitted one holds its place until its response
//! ends or the client goes away.

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http_body_util::{Either, Empty};
use prost::Message as _;
use tonic::codegen::Bytes;
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};

use super::guarded_body::GuardedBody;
use super::peer::{ConnectionGate, PeerKey, PeerLimits, Refusal, Ticket};

/// The paths (`/package.Service/Method`) of the streaming methods in `descriptor_sets`
/// (encoded `FileDescriptorSet`s).
pub fn streaming_paths(descriptor_sets: &[&[u8]]) -> HashSet<String> {
    let mut paths = HashSet::new();
    for bytes in descriptor_sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(*bytes) else {
            continue;
        };
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    if method.server_streaming() || method.client_streaming() {
                        paths.insert(format!(
                            "/{}.{}/{}",
                            file.package(),
                            service.name(),
                            method.name()
                        ));
                    }
                }
            }
        }
    }
    paths
}

/// Bounds the streaming calls of the wrapped routes, or their unary calls.
#[derive(Debug, Clone)]
pub struct StreamLimitLayer {
    gate: ConnectionGate,
    streaming: Arc<HashSet<String>>,
    /// Whether the bound is on the unary calls (the paths not in `streaming`).
    unary: bool,
}

impl StreamLimitLayer {
    /// At most `limits` open calls of the methods in `streaming` (see [`streaming_paths`]).
    pub fn new(limits: PeerLimits, streaming: HashSet<String>) -> Self {
        Self {
            gate: ConnectionGate::new(limits),
            streaming: Arc::new(streaming),
            unary: false,
        }
    }

    /// At most `limits` calls in flight of the methods *not* in `streaming` (any path
    /// that is no streaming method, unknown ones included).
    pub fn unary_calls(limits: PeerLimits, streaming: HashSet<String>) -> Self {
        Self {
            unary: true,
            ..Self::new(limits, streaming)
        }
    }

    fn bounds(&self, path: &str) -> bool {
        self.streaming.contains(path) != self.unary
    }

    /// The streams open now, in all.
    pub fn open(&self) -> usize {
        self.gate.total()
    }
}

impl<S> Layer<S> for StreamLimitLayer {
    type Service = StreamLimit<S>;

    fn layer(&self, inner: S) -> StreamLimit<S> {
        StreamLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service whose streaming calls are bounded (see [`StreamLimitLayer`]).
#[derive(Debug, Clone)]
pub struct StreamLimit<S> {
    inner: S,
    layer: StreamLimitLayer,
}

/// The key of a call's peer; calls with no address (never on this crate's listeners)
/// share one.
fn peer_of<B>(request: &http::Request<B>) -> PeerKey {
    request
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .map_or(
            PeerKey::from_ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            PeerKey::of,
        )
}

impl<S, B, ResBody> Service<http::Request<B>> for StreamLimit<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<Either<HeldBody<ResBody>, Empty<Bytes>>>;
    type Error = S::Error;
    type Future = StreamFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if !self.layer.bounds(request.uri().path()) {
            return StreamFuture {
                inner: Some(self.inner.call(request)),
                ticket: None,
                refused: None,
            };
        }
        let peer = peer_of(&request);
        match self.layer.gate.admit(peer) {
            Ok(ticket) => StreamFuture {
                inner: Some(self.inner.call(request)),
                ticket: Some(ticket),
                refused: None,
            },
            Err(refusal) => {
                tracing::debug!(%peer, path = request.uri().path(), reason = ?refusal, "call refused");
                let message = match (refusal, self.layer.unary) {
                    (Refusal::PeerCap, false) => "too many streams open from this client",
                    (_, false) => "too many streams open on this server",
                    (Refusal::PeerCap, true) => "too many calls in flight from this client",
                    (_, true) => "too many calls in flight on this server",
                };
                StreamFuture {
                    inner: None,
                    ticket: None,
                    refused: Some(
                        tonic::Status::resource_exhausted(message).into_http::<Empty<Bytes>>(),
                    ),
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`StreamLimit`]: the call (with its place when it is a
    /// stream), or the answer of a refused stream.
    pub struct StreamFuture<F> {
        #[pin]
        inner: Option<F>,
        ticket: Option<Ticket>,
        refused: Option<http::Response<Empty<Bytes>>>,
    }
}

impl<F, ResBody, E> Future for StreamFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = Result<http::Response<Either<HeldBody<ResBody>, Empty<Bytes>>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(refused) = this.refused.take() {
            return Poll::Ready(Ok(refused.map(Either::Right)));
        }
        let inner = this.inner.as_pin_mut().expect("polled after completion");
        let response = ready!(inner.poll(cx))?;
        let ticket = this.ticket.take();
        Poll::Ready(Ok(
            response.map(|inner| Either::Left(HeldBody::new(inner, ticket)))
        ))
    }
}

/// A response body that holds its stream's place until it ends or is dropped.
pub type HeldBody<B> = GuardedBody<B, Ticket>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streaming_methods_of_the_descriptors_are_found() {
        let paths = streaming_paths(&[
            crate::proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ]);
        assert!(paths.contains(
            "/radar.interrupcoes.v1.InterrupcoesService/WatchQuantitativoInterrupcoesAtivas"
        ));
        assert!(paths.contains("/grpc.health.v1.Health/Watch"));
        assert!(
            !paths.contains("/grpc.health.v1.Health/Check"),
            "unary calls are not bounded here"
        );
    }
}

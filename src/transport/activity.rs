//! Calls in flight per connection, so an idle connection can be told from a busy one (a
//! health `Watch` stream is busy for as long as it is open), kept by a tower layer.

use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use futures::task::AtomicWaker;
use tokio::time::Instant;
use tonic::codegen::http;
use tower::{Layer, Service};

use super::incoming::conn_info_of;

/// Calls in flight on one connection and when the last one ended.
#[derive(Debug)]
pub struct ConnActivity {
    in_flight: AtomicUsize,
    last_active: Mutex<Instant>,
    reader: AtomicWaker,
}

impl Default for ConnActivity {
    fn default() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            last_active: Mutex::new(Instant::now()),
            reader: AtomicWaker::new(),
        }
    }
}

impl ConnActivity {
    /// Marks the connection active now.
    pub fn touch(&self) {
        *self.last_active.lock().expect("activity lock") = Instant::now();
    }

    /// When the connection became idle; `None` while a call is in flight.
    pub fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(*self.last_active.lock().expect("activity lock"))
    }

    /// Calls in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(super) fn register(&self, waker: &Waker) {
        self.reader.register(waker);
    }

    fn begin(self: &std::sync::Arc<Self>) -> CallGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        CallGuard(self.clone())
    }
}

/// Held for as long as a call (its response body included) is in flight.
struct CallGuard(std::sync::Arc<ConnActivity>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        // The reader arms the idle timer only while nothing is in flight: wake it.
        self.0.reader.wake();
    }
}

/// Tower layer that counts each call of a connection as in flight until its response
/// body ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActivityLayer;

impl<S> Layer<S> for ActivityLayer {
    type Service = ActivityService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ActivityService { inner }
    }
}

/// See [`ActivityLayer`].
#[derive(Debug, Clone)]
pub struct ActivityService<S> {
    inner: S,
}

impl<S, B, ResBody> Service<http::Request<B>> for ActivityService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: http_body::Body<Data = tonic::codegen::Bytes> + Send + Unpin + 'static,
    ResBody::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let guard = conn_info_of(request.extensions()).map(|info| info.activity.begin());
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|body| tonic::body::Body::new(GuardedBody { body, guard })))
        })
    }
}

/// A response body that keeps its call in flight until it is dropped.
struct GuardedBody<B> {
    body: B,
    #[allow(dead_code)] // held for its Drop
    guard: Option<CallGuard>,
}

impl<B> http_body::Body for GuardedBody<B>
where
    B: http_body::Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

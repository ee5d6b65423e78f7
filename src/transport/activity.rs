//! What a connection has in flight: [`Activity`] counts its requests from the call until
//! the response body ends (or is dropped), so the serve loop knows when a connection has
//! had nothing open for its idle timeout. A streaming call counts for as long as it
//! streams. On HTTP/1, bytes arriving (a request's head) also restart the wait.
//! [`TrackLayer`] puts the count on a connection's service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tower::{Layer, Service};

use super::guarded_body::GuardedBody;

/// The requests in flight on one connection. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Activity {
    open: Arc<watch::Sender<usize>>,
    arrived: Arc<Notify>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            open: Arc::new(watch::Sender::new(0)),
            arrived: Arc::default(),
        }
    }
}

impl Activity {
    /// Counts one request until the returned guard is dropped.
    pub fn begin(&self) -> InFlight {
        self.open.send_modify(|n| *n += 1);
        InFlight {
            open: self.open.clone(),
        }
    }

    /// Bytes of a request arrived: the idle wait starts again.
    pub fn bytes_arrived(&self) {
        // A stored permit (nobody waiting yet) only restarts the next wait once more.
        self.arrived.notify_one();
    }

    /// How many requests are in flight now.
    pub fn open(&self) -> usize {
        *self.open.borrow()
    }

    /// Resolves once no request has been in flight for `timeout` (a request that starts
    /// meanwhile restarts the wait when it ends, and so do [`Self::bytes_arrived`]).
    pub async fn idle_for(&self, timeout: Duration) {
        let mut open = self.open.subscribe();
        loop {
            // The sender lives in `self`: these waits cannot fail.
            let _ = open.wait_for(|n| *n == 0).await;
            tokio::select! {
                () = tokio::time::sleep(timeout) => return,
                _ = open.wait_for(|n| *n > 0) => {}
                () = self.arrived.notified() => {}
            }
        }
    }
}

/// One request in flight; ends when dropped.
#[derive(Debug)]
pub struct InFlight {
    open: Arc<watch::Sender<usize>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.open.send_modify(|n| *n -= 1);
    }
}

/// Counts each request of the wrapped service in an [`Activity`].
#[derive(Debug, Clone)]
pub struct TrackLayer {
    activity: Activity,
}

impl TrackLayer {
    /// Counts in `activity`.
    pub fn new(activity: Activity) -> Self {
        Self { activity }
    }
}

impl<S> Layer<S> for TrackLayer {
    type Service = Tracked<S>;

    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked {
            inner,
            activity: self.activity.clone(),
        }
    }
}

/// A service whose requests count in an [`Activity`] until their response body ends.
#[derive(Debug, Clone)]
pub struct Tracked<S> {
    inner: S,
    activity: Activity,
}

impl<S, Req, ResBody> Service<Req> for Tracked<S>
where
    S: Service<Req, Response = http::Response<ResBody>>,
{
    type Response = http::Response<TrackedBody<ResBody>>;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        TrackedFuture {
            in_flight: Some(self.activity.begin()),
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Tracked`]: hands its count on to the body.
    pub struct TrackedFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }
}

impl<F, ResBody, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = Result<http::Response<TrackedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let in_flight = this.in_flight.take();
        Poll::Ready(result.map(|response| response.map(|inner| TrackedBody::new(inner, in_flight))))
    }
}

/// A response body that counts as in flight until it ends or is dropped.
pub type TrackedBody<B> = GuardedBody<B, InFlight>;

#[cfg(test)]
mod tests {
    use axum::body::Body as AxumBody;
    use tower::ServiceExt;

    use super::*;
    use std::convert::Infallible;

    #[tokio::test]
    async fn a_request_counts_until_its_body_ends() {
        let activity = Activity::default();
        let service = TrackLayer::new(activity.clone()).layer(tower::service_fn(|(): ()| async {
            Ok::<_, Infallible>(http::Response::new(AxumBody::from("ok")))
        }));
        let response = service.oneshot(()).await.unwrap();
        assert_eq!(activity.open(), 1, "the body is still to be sent");
        let body = axum::body::to_bytes(AxumBody::new(response.into_body()), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"ok");
        assert_eq!(activity.open(), 0);
    }

    #[tokio::test]
    async fn a_dropped_call_or_body_ends_its_count() {
        let activity = Activity::default();
        let mut service =
            TrackLayer::new(activity.clone()).layer(tower::service_fn(|(): ()| async {
                Ok::<_, Infallible>(http::Response::new(AxumBody::empty()))
            }));
        let call = service.call(());
        assert_eq!(activity.open(), 1);
        drop(call);
        assert_eq!(activity.open(), 0);
        let response = service.call(()).await.unwrap();
        drop(response);
        assert_eq!(activity.open(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_means_nothing_open_for_the_whole_timeout() {
        let activity = Activity::default();
        let idle = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle_for(Duration::from_secs(10)).await }
        });
        tokio::time::sleep(Duration::from_secs(6)).await;
        let call = activity.begin();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!idle.is_finished(), "not idle while a call is open");
        drop(call);
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(
            !idle.is_finished(),
            "the wait starts again when the call ends"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(idle.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_arriving_restart_the_wait() {
        let activity = Activity::default();
        let idle = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle_for(Duration::from_secs(10)).await }
        });
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            activity.bytes_arrived();
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(!idle.is_finished(), "bytes kept arriving");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(idle.is_finished());
    }
}

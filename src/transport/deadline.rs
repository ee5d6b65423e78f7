//! The deadline of each call: the shorter of the server's `RADAR_RPC_TIMEOUT_SECS` and the
//! client's `grpc-timeout` header (gRPC over HTTP/2: 1 to 8 digits and a unit, `H`, `M`,
//! `S`, `m`, `u` or `n`). A call that outlives it ends CANCELLED (tonic maps
//! [`tonic::TimeoutExpired`] so once [`tonic::service::RecoverError`] turns it into a
//! status). The deadline covers the call until its answer starts; a stream then runs on.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::Sleep;
use tower::Service;

/// The header a gRPC client sends its deadline in.
const GRPC_TIMEOUT: &str = "grpc-timeout";

/// Applies the deadline to each call of the wrapped service.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    server_timeout: Duration,
}

impl<S> Deadline<S> {
    /// Calls of `inner` last at most `server_timeout` (or the client's shorter deadline).
    pub fn new(inner: S, server_timeout: Duration) -> Self {
        Self {
            inner,
            server_timeout,
        }
    }
}

impl<S, B> Service<http::Request<B>> for Deadline<S>
where
    S: Service<http::Request<B>>,
    S::Error: Into<tonic::codegen::StdError>,
{
    type Response = S::Response;
    type Error = tonic::codegen::StdError;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // A malformed header is ignored, as tonic did: the server's own limit still holds.
        let timeout = request
            .headers()
            .get(GRPC_TIMEOUT)
            .and_then(|v| client_timeout(v.as_bytes()))
            .map_or(self.server_timeout, |client| {
                client.min(self.server_timeout)
            });
        DeadlineFuture {
            inner: self.inner.call(request),
            sleep: tokio::time::sleep(timeout),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Deadline`].
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
    }
}

impl<F, T, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<tonic::codegen::StdError>,
{
    type Output = Result<T, tonic::codegen::StdError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result.map_err(Into::into));
        }
        ready!(this.sleep.poll(cx));
        Poll::Ready(Err(tonic::TimeoutExpired(()).into()))
    }
}

/// The duration of a `grpc-timeout` value, `None` when malformed.
fn client_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // At most 8 digits: fits in a u64 with room to spare.
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_of_the_spec_is_read() {
        assert_eq!(client_timeout(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(client_timeout(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(client_timeout(b"10S"), Some(Duration::from_secs(10)));
        assert_eq!(client_timeout(b"250m"), Some(Duration::from_millis(250)));
        assert_eq!(
            client_timeout(b"99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        assert_eq!(client_timeout(b"5n"), Some(Duration::from_nanos(5)));
    }

    #[test]
    fn malformed_values_are_not_deadlines() {
        for bad in [
            &b""[..],
            b"S",
            b"10",
            b"10s",
            b"123456789S",
            b"-1S",
            b"1.5S",
            b"1 S",
        ] {
            assert_eq!(
                client_timeout(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

//! The gRPC listener answers only gRPC: a request whose `content-type` does not begin with
//! `application/grpc` gets HTTP 415 Unsupported Media Type, as the gRPC over HTTP/2 spec
//! says, so that a plain HTTP/2 client (e.g. one posting JSON) is not told 200 OK with a
//! gRPC error it cannot see.

use std::task::{Context, Poll};

use futures::future::{Either as EitherFuture, Ready, ready};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use http_body_util::{Either, Full};
use tonic::codegen::Bytes;
use tower::Service;

/// The media type every gRPC request carries (optionally with a suffix, `+proto`).
const GRPC: &[u8] = b"application/grpc";

/// Whether `content_type` is a gRPC media type.
pub fn is_grpc(content_type: Option<&HeaderValue>) -> bool {
    content_type.is_some_and(|v| v.as_bytes().starts_with(GRPC))
}

/// Answers 415 to non-gRPC requests; passes the others on.
#[derive(Debug, Clone)]
pub struct GrpcOnly<S> {
    inner: S,
}

impl<S> GrpcOnly<S> {
    /// Guards `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B, ResBody> Service<http::Request<B>> for GrpcOnly<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<Either<ResBody, Full<Bytes>>>;
    type Error = S::Error;
    type Future = EitherFuture<
        futures::future::MapOk<S::Future, fn(http::Response<ResBody>) -> Self::Response>,
        Ready<Result<Self::Response, S::Error>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use futures::TryFutureExt as _;
        if is_grpc(request.headers().get(CONTENT_TYPE)) {
            let left: fn(http::Response<ResBody>) -> Self::Response = |r| r.map(Either::Left);
            return EitherFuture::Left(self.inner.call(request).map_ok(left));
        }
        let mut response = http::Response::new(Either::Right(Full::new(Bytes::from_static(
            b"this port serves gRPC only: content-type must be application/grpc\n",
        ))));
        *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        EitherFuture::Right(ready(Ok(response)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_media_types_pass_and_the_others_do_not() {
        for ok in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc; charset=x",
        ] {
            assert!(is_grpc(Some(&HeaderValue::from_static(ok))), "{ok}");
        }
        for bad in ["application/json", "text/plain", "application/grp", ""] {
            assert!(!is_grpc(Some(&HeaderValue::from_static(bad))), "{bad}");
        }
        assert!(!is_grpc(None), "no content-type is not gRPC");
    }
}

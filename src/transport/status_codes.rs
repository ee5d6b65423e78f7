//! gRPC says a request message larger than the server accepts is RESOURCE_EXHAUSTED;
//! tonic answers OUT_OF_RANGE. This layer corrects the code of that one answer (a
//! trailers-only response, as every unary decoding error is). The services of this crate
//! never answer OUT_OF_RANGE themselves.

use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::codegen::http::{self, HeaderValue};
use tower::{Layer, Service};

const GRPC_STATUS: &str = "grpc-status";
const OUT_OF_RANGE: &str = "11";
const RESOURCE_EXHAUSTED: &str = "8";

/// See the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageSizeStatusLayer;

impl<S> Layer<S> for MessageSizeStatusLayer {
    type Service = MessageSizeStatus<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MessageSizeStatus { inner }
    }
}

/// See [`MessageSizeStatusLayer`].
#[derive(Debug, Clone)]
pub struct MessageSizeStatus<S> {
    inner: S,
}

impl<S, B, ResBody> Service<http::Request<B>> for MessageSizeStatus<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            let headers = response.headers_mut();
            if headers.get(GRPC_STATUS).map(HeaderValue::as_bytes) == Some(OUT_OF_RANGE.as_bytes())
            {
                headers.insert(GRPC_STATUS, HeaderValue::from_static(RESOURCE_EXHAUSTED));
            }
            Ok(response)
        })
    }
}

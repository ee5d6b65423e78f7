//! gRPC says a request message larger than the server accepts is RESOURCE_EXHAUSTED;
//! tonic answers OUT_OF_RANGE. [`message_size_status`] corrects the code of that one answer
//! (a trailers-only response, as every unary decoding error is). The services of this
//! crate never answer OUT_OF_RANGE themselves.

use tonic::codegen::http::{self, HeaderValue};

const GRPC_STATUS: &str = "grpc-status";
const OUT_OF_RANGE: &str = "11";
const RESOURCE_EXHAUSTED: &str = "8";

/// Rewrites `grpc-status: 11` (OUT_OF_RANGE) to 8 (RESOURCE_EXHAUSTED) in `response`.
/// Use with `tower::util::MapResponseLayer`.
pub fn message_size_status<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    if headers.get(GRPC_STATUS).map(HeaderValue::as_bytes) == Some(OUT_OF_RANGE.as_bytes()) {
        headers.insert(GRPC_STATUS, HeaderValue::from_static(RESOURCE_EXHAUSTED));
    }
    response
}

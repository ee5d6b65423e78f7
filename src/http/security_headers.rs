//! The headers every HTTP answer of both listeners carries, whichever layer or handler
//! wrote it (refusals, errors, 304s and probes included).

use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use axum::response::Response;

/// `Cache-Control` of answers that set none. Every answer is about the current moment:
/// a cache may keep it only to revalidate it (`If-Modified-Since`), as the data answers
/// always said.
pub const CACHE_CONTROL_DEFAULT: &str = "no-cache";

/// `X-Content-Type-Options: nosniff` (a browser never runs a JSON or text answer as
/// something else), and `Cache-Control` where the handler did not choose one.
pub async fn add(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(CACHE_CONTROL_DEFAULT));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    #[tokio::test]
    async fn nosniff_is_always_added_and_a_handler_s_cache_control_is_kept() {
        let plain = add(axum::http::StatusCode::NOT_FOUND.into_response()).await;
        assert_eq!(plain.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(plain.headers()[CACHE_CONTROL], CACHE_CONTROL_DEFAULT);
        let chosen = add(([(CACHE_CONTROL, "max-age=5")], "x").into_response()).await;
        assert_eq!(chosen.headers()[CACHE_CONTROL], "max-age=5");
        assert_eq!(chosen.headers().get_all(CACHE_CONTROL).iter().count(), 1);
    }
}

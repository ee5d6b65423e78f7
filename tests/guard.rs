//! Black-box tests of the ANEEL endpoint's guard over real HTTP from several loopback
//! addresses (127.0.0.1 plays the trusted ingress, 127.0.0.2 and 127.0.0.3 other peers):
//! the client's address through trusted proxies, the allow-list, the rate limit, and the
//! security headers on every answer of both listeners.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{Behaviour, FakeSource, TestApp, row, test_settings};
use radar_interrupcoes::health::INTERRUPCOES_SERVICE;
use radar_interrupcoes::http::{ApiKeys, GuardSettings, ProxyTrust, RateLimit};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tonic_health::pb::health_check_response::ServingStatus::Serving;

const PATH: &str = "/quantitativointerrupcoesativas";
const KEY_A: &str = "aneel-key-a-aaaaaaaaaaaaaa";
const KEY_B: &str = "aneel-key-b-bbbbbbbbbbbbbb";

/// An HTTP client whose connections come from `from` (a loopback address).
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn keys() -> ApiKeys {
    ApiKeys::parse(&format!("a:{KEY_A},b:{KEY_B}")).unwrap()
}

/// One answer: status, headers, body (JSON when there is one).
struct Got {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// ANEEL's error envelope's message.
    fn mensagem(&self) -> &str {
        assert_eq!(self.json["idcStatusRequisicao"], 2, "{}", self.json);
        assert_eq!(self.json["interrupcaoFornecimento"], Value::Array(vec![]));
        assert_eq!(
            self.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        self.json["mensagem"].as_str().unwrap()
    }

    fn rate_headers(&self) -> (Option<&str>, Option<&str>) {
        (
            self.header("x-ratelimit-limit"),
            self.header("x-ratelimit-remaining"),
        )
    }
}

/// Sends `request` and reads its answer.
async fn send(request: reqwest::RequestBuilder) -> Got {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(format!("{body:?}")))
    };
    Got {
        status,
        headers,
        json,
    }
}

/// A GET of the endpoint from `from`, with `key` and an `X-Forwarded-For` if given.
async fn get(app: &TestApp, from: &str, key: Option<&str>, forwarded_for: Option<&str>) -> Got {
    let mut request = client_from(from).get(format!("http://{}{PATH}", app.aneel_addr.unwrap()));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    if let Some(hops) = forwarded_for {
        request = request.header("x-forwarded-for", hops);
    }
    send(request).await
}

async fn spawn(guard: GuardSettings) -> TestApp {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 2, 3)]));
    let app = TestApp::spawn_guarded(source, test_settings(), keys(), guard).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    app
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_an_untrusted_peer_s_header_changes_nothing() {
    let app = spawn(GuardSettings {
        proxies: ProxyTrust {
            trusted: "127.0.0.1/32".parse().unwrap(),
            ..ProxyTrust::default()
        },
        allowed_clients: "203.0.113.0/24".parse().unwrap(),
        rate_limit: None,
    })
    .await;

    // Through the trusted ingress: the client it saw, whatever the client claimed before.
    let through_ingress = get(
        &app,
        "127.0.0.1",
        Some(KEY_A),
        Some("198.51.100.1, 203.0.113.9"),
    )
    .await;
    assert_eq!(through_ingress.status, StatusCode::OK);
    assert_eq!(through_ingress.json["idcStatusRequisicao"], 1);
    // The rightmost hop is the one the ingress wrote: a client outside the list claiming
    // an address inside it stays outside.
    let claimed = get(
        &app,
        "127.0.0.1",
        Some(KEY_A),
        Some("203.0.113.9, 198.51.100.1"),
    )
    .await;
    assert_eq!(claimed.status, StatusCode::FORBIDDEN);
    assert!(
        claimed.mensagem().contains("198.51.100.1"),
        "{}",
        claimed.json
    );
    // The ingress itself is not a client in the list.
    let no_header = get(&app, "127.0.0.1", Some(KEY_A), None).await;
    assert_eq!(no_header.status, StatusCode::FORBIDDEN);
    assert!(no_header.mensagem().contains("127.0.0.1"));

    // An untrusted peer's X-Forwarded-For is ignored: its own address is refused, before
    // its key is even looked at.
    for key in [Some(KEY_A), None] {
        let spoofed = get(&app, "127.0.0.2", key, Some("203.0.113.9")).await;
        assert_eq!(spoofed.status, StatusCode::FORBIDDEN, "{key:?}");
        let mensagem = spoofed.mensagem();
        assert!(mensagem.contains("127.0.0.2"), "{mensagem}");
        assert!(!mensagem.contains("203.0.113.9"), "{mensagem}");
    }

    // In the list, but without a valid key: 401.
    let keyless = get(&app, "127.0.0.1", None, Some("203.0.113.9")).await;
    assert_eq!(keyless.status, StatusCode::UNAUTHORIZED);
    assert!(keyless.mensagem().contains("x-api-key"));
}

#[tokio::test]
async fn past_the_limit_a_key_or_an_address_gets_429_with_retry_after_and_the_limit_headers() {
    let app = spawn(GuardSettings {
        proxies: ProxyTrust {
            trusted: "127.0.0.1/32".parse().unwrap(),
            ..ProxyTrust::default()
        },
        rate_limit: Some(RateLimit {
            requests: 3,
            window: Duration::from_secs(60),
        }),
        ..GuardSettings::default()
    })
    .await;

    // Every counted answer says the limit and what is left of it.
    for remaining in ["2", "1", "0"] {
        let ok = get(&app, "127.0.0.2", Some(KEY_A), None).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.rate_headers(), (Some("3"), Some(remaining)));
    }
    let limited = get(&app, "127.0.0.2", Some(KEY_A), None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited.mensagem().contains("no máximo 3 a cada 60 s"),
        "{}",
        limited.json
    );
    assert_eq!(limited.rate_headers(), (Some("3"), Some("0")));
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    // The address is spent whatever the key; the key is spent whatever the address.
    let other_key = get(&app, "127.0.0.2", Some(KEY_B), None).await;
    assert_eq!(other_key.status, StatusCode::TOO_MANY_REQUESTS);
    let other_address = get(&app, "127.0.0.3", Some(KEY_A), None).await;
    assert_eq!(other_address.status, StatusCode::TOO_MANY_REQUESTS);
    // Refusals are not counted: key b from a fresh address still has its three.
    let fresh = get(&app, "127.0.0.3", Some(KEY_B), None).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(fresh.rate_headers(), (Some("3"), Some("2")));

    // Behind the ingress, each forwarded client has its own count.
    let forwarded = get(&app, "127.0.0.1", Some(KEY_B), Some("203.0.113.9")).await;
    assert_eq!(forwarded.rate_headers(), (Some("3"), Some("1")), "key b's");
    let spent = get(&app, "127.0.0.1", Some(KEY_B), Some("203.0.113.9")).await;
    assert_eq!(spent.status, StatusCode::OK);
    assert_eq!(spent.rate_headers(), (Some("3"), Some("0")));

    // A wrong key is refused before it is counted: 401, no rate headers.
    let wrong = get(&app, "127.0.0.2", Some("aneel-key-c-cccccccccccccc"), None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.rate_headers(), (None, None));
}

/// Asserts the security headers (and, on a counted answer, the rate-limit headers).
fn assert_guarded(got: &Got, what: &str, counted: bool) {
    assert_eq!(
        got.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(got.header("cache-control"), Some("no-cache"), "{what}");
    assert_eq!(
        got.header("x-ratelimit-limit").is_some(),
        counted,
        "{what}: {:?}",
        got.headers
    );
}

#[tokio::test]
async fn every_answer_of_both_listeners_has_the_security_headers_whatever_its_status() {
    let source = FakeSource::gated(Behaviour::Rows(vec![row(1, 2, 3)]));
    let guard = GuardSettings {
        allowed_clients: "127.0.0.1, 127.0.0.3".parse().unwrap(),
        rate_limit: Some(RateLimit {
            requests: 8,
            window: Duration::from_secs(60),
        }),
        ..GuardSettings::default()
    };
    let app = TestApp::spawn_guarded(source.clone(), test_settings(), keys(), guard).await;
    let aneel = |path: &str| format!("http://{}{path}", app.aneel_addr.unwrap());
    let ops = |path: &str| format!("http://{}{path}", app.ops_addr.unwrap());
    let local = client_from("127.0.0.1");
    let mut statuses = Vec::new();
    let mut check = |got: Got, want: StatusCode, what: &str, counted: bool| {
        assert_eq!(got.status, want, "{what}: {}", got.json);
        assert_guarded(&got, what, counted);
        statuses.push(want.as_u16());
        got
    };

    // Before the first load: 503 on both listeners.
    let got = send(local.get(aneel(PATH)).header("x-api-key", KEY_A)).await;
    check(got, StatusCode::SERVICE_UNAVAILABLE, "aneel 503", true);
    let got = send(local.get(ops("/readyz"))).await;
    check(got, StatusCode::SERVICE_UNAVAILABLE, "readyz 503", false);
    source.open_gate();
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let got = send(local.get(aneel(PATH)).header("x-api-key", KEY_A)).await;
    let ok = check(got, StatusCode::OK, "aneel 200", true);
    let last_modified = ok.header("last-modified").unwrap().to_owned();
    let got = send(
        local
            .get(aneel(PATH))
            .header("x-api-key", KEY_A)
            .header("if-modified-since", last_modified),
    )
    .await;
    check(got, StatusCode::NOT_MODIFIED, "aneel 304", true);
    let got = send(
        local
            .get(aneel(&format!("{PATH}?dthRecuperacao=ontem")))
            .header("x-api-key", KEY_A),
    )
    .await;
    check(got, StatusCode::BAD_REQUEST, "aneel 400", true);
    let got = send(local.get(aneel("/nada")).header("x-api-key", KEY_A)).await;
    check(got, StatusCode::NOT_FOUND, "aneel 404", true);
    let got = send(local.post(aneel(PATH)).header("x-api-key", KEY_A)).await;
    check(got, StatusCode::METHOD_NOT_ALLOWED, "aneel 405", true);
    let got = send(local.get(aneel(PATH))).await;
    check(got, StatusCode::UNAUTHORIZED, "aneel 401", false);
    let got = send(
        client_from("127.0.0.2")
            .get(aneel(PATH))
            .header("x-api-key", KEY_A),
    )
    .await;
    check(got, StatusCode::FORBIDDEN, "aneel 403", false);
    let other = client_from("127.0.0.3");
    for n in 1..=8 {
        let got = send(other.get(aneel(PATH)).header("x-api-key", KEY_B)).await;
        assert_eq!(got.status, StatusCode::OK, "request {n}");
    }
    let got = send(other.get(aneel(PATH)).header("x-api-key", KEY_B)).await;
    check(got, StatusCode::TOO_MANY_REQUESTS, "aneel 429", true);

    for path in ["/metrics", "/livez", "/readyz"] {
        check(
            send(local.get(ops(path))).await,
            StatusCode::OK,
            path,
            false,
        );
    }
    let got = send(local.get(ops("/nada"))).await;
    check(got, StatusCode::NOT_FOUND, "ops 404", false);
    statuses.sort_unstable();
    statuses.dedup();
    assert_eq!(statuses, [200, 304, 400, 401, 403, 404, 405, 429, 503]);
}

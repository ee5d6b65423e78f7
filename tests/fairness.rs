//! One client must never shut the others out (issue 19), over real sockets on loopback:
//! 127.0.0.1 is the abusive client and 127.0.0.2 stands for a second one (another client,
//! or the kubelet's probe). On the gRPC port: per-peer connection limits, room kept for
//! new peers, the idle close with GOAWAY, and HTTP 415 for non-gRPC requests. On the HTTP
//! listeners: the header read and keep-alive timeouts, and the same per-peer limits.

mod common;

use radar_interrupcoes::transport::{Close, Refusal};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::raw_h2::{
    FRAME_GOAWAY, NO_ERROR, PATIENCE, closed_by_server, connect_from, read_until, send_preface,
};
use common::{Behaviour, FakeSource, TestApp, row, test_settings};
use radar_interrupcoes::config::ServiceSettings;
use radar_interrupcoes::health::{INTERRUPCOES_SERVICE, OVERALL};
use radar_interrupcoes::http::{ApiKeys, GuardSettings, ProxyTrust};
use radar_interrupcoes::jobs::WARMUP_JOB_NAME;
use radar_interrupcoes::proto::interrupcoes::v1 as data_pb;
use radar_interrupcoes::proto::interrupcoes::v1::interrupcoes_service_client::InterrupcoesServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus::{self, Serving};
use tonic_health::pb::health_client::HealthClient;

const FLOODER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const OTHER_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The server around a one-row source under `settings`, once its answer is loaded.
async fn serving(settings: ServiceSettings) -> TestApp {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_with(source, settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    app
}

/// A channel to `addr` from the loopback address `from`.
async fn channel_from(from: IpAddr, addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .local_address(Some(from))
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("a new peer gets a connection")
}

/// The overall health as a probe from `from` sees it, on a connection of its own.
async fn probe_from(from: IpAddr, addr: SocketAddr) -> ServingStatus {
    let mut health = HealthClient::new(channel_from(from, addr).await);
    let status = health
        .check(HealthCheckRequest {
            service: OVERALL.to_owned(),
        })
        .await
        .expect("the probe is answered")
        .into_inner()
        .status;
    ServingStatus::try_from(status).unwrap()
}

/// `n` connections from `from`, each having sent the HTTP/2 preface and nothing more (or
/// closed by the server before it could).
async fn preface_only(from: IpAddr, addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut conn = connect_from(from, addr).await;
        let _refused = send_preface(&mut conn).await.is_err();
        held.push(conn);
    }
    held
}

#[tokio::test]
async fn preface_only_connections_of_one_client_keep_neither_another_client_nor_a_probe_out() {
    let mut settings = test_settings();
    settings.limits.max_connections = 32;
    settings.limits.max_connections_per_peer = 8;
    let app = serving(settings).await;

    // More connections than the whole listener holds, all from one client.
    let mut flood = preface_only(FLOODER, app.addr, 40).await;
    // The server refuses this client's connections beyond its share...
    closed_by_server(flood.last_mut().unwrap()).await;
    assert!(app.incoming.refused(Refusal::PeerCap) >= 1);
    // ...so another client and the probe still get in, while the flood is held open.
    assert_eq!(probe_from(OTHER_PEER, app.addr).await, Serving);
    let mut other = InterrupcoesServiceClient::new(channel_from(OTHER_PEER, app.addr).await);
    let answer = other
        .get_quantitativo_interrupcoes_ativas(
            data_pb::GetQuantitativoInterrupcoesAtivasRequest::default(),
        )
        .await
        .expect("the other client is answered")
        .into_inner();
    assert_eq!(answer.resposta.unwrap().idc_status_requisicao, 1);
    drop(flood);
}

#[tokio::test]
async fn a_client_allowed_every_slot_still_leaves_room_for_a_new_peer() {
    let mut settings = test_settings();
    // One client may hold every slot but the ones kept for peers that hold none.
    settings.limits.max_connections = 16;
    settings.limits.max_connections_per_peer = 16;
    let app = serving(settings).await;

    let mut flood = preface_only(FLOODER, app.addr, 20).await;
    closed_by_server(flood.last_mut().unwrap()).await;
    assert_eq!(probe_from(OTHER_PEER, app.addr).await, Serving);
    drop(flood);
}

#[tokio::test]
async fn a_connection_with_no_call_is_closed_with_goaway_after_the_idle_timeout() {
    let mut settings = test_settings();
    settings.limits.idle_timeout = Duration::from_millis(300);
    // This raw client answers no PING, so the close waits out the grace.
    settings.limits.max_connection_age_grace = Duration::from_millis(300);
    let app = serving(settings).await;

    let mut idle = connect_from(FLOODER, app.addr).await;
    send_preface(&mut idle).await.unwrap();
    let goaway = read_until(&mut idle, |kind, _, _, _| kind == FRAME_GOAWAY).await;
    assert_eq!(
        u32::from_be_bytes(goaway[4..8].try_into().unwrap()),
        NO_ERROR,
        "a graceful GOAWAY, not an error"
    );
    closed_by_server(&mut idle).await;
    assert!(app.incoming.closed(Close::IdleTimeout) >= 1);
    // The test's channel was idle too: a new connection is answered as before.
    assert_eq!(probe_from(OTHER_PEER, app.addr).await, Serving);
}

#[tokio::test]
async fn a_stream_open_longer_than_the_idle_timeout_is_not_cut() {
    let mut settings = test_settings();
    settings.limits.idle_timeout = Duration::from_millis(200);
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_with(source.clone(), settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let channel = channel_from(OTHER_PEER, app.addr).await;
    let mut stream = InterrupcoesServiceClient::new(channel)
        .watch_quantitativo_interrupcoes_ativas(
            data_pb::WatchQuantitativoInterrupcoesAtivasRequest {},
        )
        .await
        .unwrap()
        .into_inner();
    stream.next().await.unwrap().unwrap();
    // Several idle timeouts pass with the stream open and nothing sent on it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    source.set(Behaviour::Rows(vec![row(1, 1, 0), row(2, 0, 1)]));
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the new answer arrives")
        .expect("the stream is still open")
        .unwrap();
    assert_eq!(next.resposta.unwrap().interrupcao_fornecimento.len(), 2);
}

#[tokio::test]
async fn a_json_request_on_the_grpc_port_gets_415() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn(source).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let (mut client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let request = http::Request::post(format!(
        "http://{}/radar.interrupcoes.v1.InterrupcoesService/GetQuantitativoInterrupcoesAtivas",
        app.addr
    ))
    .header("content-type", "application/json")
    .body(())
    .unwrap();
    let (response, mut body) = client.send_request(request, false).unwrap();
    body.send_data(bytes::Bytes::from_static(b"{}"), true)
        .unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // gRPC itself is still answered on the same port.
    assert_eq!(probe_from(OTHER_PEER, app.addr).await, Serving);
}

// --- The HTTP listeners (ANEEL, operations) ---

/// The service with both HTTP listeners, loopback clients allowed without a key.
async fn spawn_http(settings: radar_interrupcoes::config::ServiceSettings) -> TestApp {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    // Boxed: the harness's future is large.
    let app = Box::pin(TestApp::spawn_http(source, settings, ApiKeys::default())).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    app
}

/// Status of a GET of `url` from the loopback address `from`.
async fn get_from(from: IpAddr, url: &str) -> u16 {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(from)
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .expect("the request is answered")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_client_sending_its_headers_slowly_is_disconnected() {
    let mut settings = test_settings();
    settings.limits.http_header_read_timeout = Duration::from_millis(500);
    settings.limits.http_keepalive_timeout = Duration::from_millis(500);
    let app = spawn_http(settings).await;
    let aneel = app.aneel_addr.unwrap();

    // Slowloris: a request line, then one header line every 100 ms, never the blank line.
    let mut slow = connect_from(FLOODER, aneel).await;
    slow.write_all(b"GET /quantitativointerrupcoesativas HTTP/1.1\r\nHost: radar\r\n")
        .await
        .unwrap();
    let trickle = async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow
                .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    };
    tokio::time::timeout(PATIENCE, trickle)
        .await
        .expect("the server never disconnected the slow client");
    assert_eq!(
        get_from(
            OTHER_PEER,
            &format!("http://{aneel}/quantitativointerrupcoesativas")
        )
        .await,
        200
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_keepalive_timeout() {
    let mut settings = test_settings();
    settings.limits.http_keepalive_timeout = Duration::from_millis(300);
    let app = spawn_http(settings).await;

    let mut kept = connect_from(FLOODER, app.ops_addr.unwrap()).await;
    kept.write_all(b"GET /livez HTTP/1.1\r\nHost: radar\r\n\r\n")
        .await
        .unwrap();
    // Reads the answer, then waits: the connection stays open only for the keep-alive.
    let mut seen = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        loop {
            match kept.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the idle connection was never closed");
    assert!(
        seen.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
}

#[tokio::test]
async fn idle_connections_of_one_client_keep_neither_another_client_nor_a_probe_out() {
    let mut settings = test_settings();
    settings.limits.http_max_connections = 16;
    settings.limits.http_max_connections_per_peer = 4;
    let app = spawn_http(settings).await;
    let (aneel, ops) = (app.aneel_addr.unwrap(), app.ops_addr.unwrap());

    for addr in [aneel, ops] {
        // More idle connections than the listener holds, all from one client.
        let mut flood = Vec::new();
        for _ in 0..20 {
            flood.push(connect_from(FLOODER, addr).await);
        }
        closed_by_server(flood.last_mut().unwrap()).await;
        assert_eq!(
            get_from(OTHER_PEER, &format!("http://{ops}/livez")).await,
            200
        );
        assert_eq!(
            get_from(
                OTHER_PEER,
                &format!("http://{aneel}/quantitativointerrupcoesativas")
            )
            .await,
            200
        );
    }
}

// --- Streams ---

/// Opens the data Watch on `channel`; the status when refused.
async fn open_watch(
    channel: Channel,
) -> Result<tonic::Streaming<data_pb::GetQuantitativoInterrupcoesAtivasResponse>, tonic::Status> {
    let mut stream = InterrupcoesServiceClient::new(channel)
        .watch_quantitativo_interrupcoes_ativas(
            data_pb::WatchQuantitativoInterrupcoesAtivasRequest {},
        )
        .await?
        .into_inner();
    // The first message (the current answer) proves the stream is open.
    match stream.next().await {
        Some(Ok(_)) => Ok(stream),
        Some(Err(status)) => Err(status),
        None => panic!("the stream ended without a message"),
    }
}

#[tokio::test]
async fn one_client_cannot_hold_more_streams_than_its_share_and_a_closed_one_frees_its_place() {
    let mut settings = test_settings();
    settings.limits.max_streams = 16;
    settings.limits.max_streams_per_peer = 3;
    let app = serving(settings).await;

    let flooder = channel_from(FLOODER, app.addr).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(open_watch(flooder.clone()).await.expect("within the share"));
    }
    let refused = open_watch(flooder.clone()).await.unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    // A health Watch is a stream too.
    let health = HealthClient::new(flooder.clone())
        .watch(HealthCheckRequest {
            service: OVERALL.to_owned(),
        })
        .await;
    let refused = match health {
        Err(status) => status,
        Ok(response) => response.into_inner().next().await.unwrap().unwrap_err(),
    };
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    // Another client still gets its streams.
    open_watch(channel_from(OTHER_PEER, app.addr).await)
        .await
        .expect("another client's stream");
    // A stream the client closes gives its place back.
    drop(open.pop());
    let mut reopened = None;
    for _ in 0..200 {
        match open_watch(flooder.clone()).await {
            Ok(stream) => {
                reopened = Some(stream);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    assert!(
        reopened.is_some(),
        "the closed stream's place never came back"
    );
}

// --- What the listeners count, read from /metrics ---

/// The value of the counter `series` (name and labels as exposed) on the operations
/// listener's `/metrics`, 0 when absent.
async fn counter(ops: SocketAddr, series: &str) -> u64 {
    let text = reqwest::Client::builder()
        .no_proxy()
        .local_address(SCRAPER)
        .build()
        .unwrap()
        .get(format!("http://{ops}/metrics"))
        .send()
        .await
        .expect("the scrape is answered")
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |value| value.parse().unwrap())
}

/// Waits until the counter `series` is at least 1, and returns it.
async fn counted(ops: SocketAddr, series: &str) -> u64 {
    let wait = async {
        loop {
            let n = counter(ops, series).await;
            if n >= 1 {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("{series} was never counted"))
}

/// Scrapes come from their own address, so that no test's flood holds their share.
const SCRAPER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9));

#[tokio::test]
async fn every_listener_s_refusals_and_closes_are_counted_by_reason_in_the_metrics() {
    let mut settings = test_settings();
    settings.limits.max_connections_per_peer = 2;
    settings.limits.idle_timeout = Duration::from_millis(300);
    // The raw clients answer no PING: the closes wait out the grace.
    settings.limits.max_connection_age_grace = Duration::from_millis(300);
    settings.limits.http_max_connections_per_peer = 2;
    settings.limits.http_keepalive_timeout = Duration::from_millis(300);
    settings.limits.http_header_read_timeout = Duration::from_millis(600);
    let app = spawn_http(settings).await;
    let (aneel, ops) = (app.aneel_addr.unwrap(), app.ops_addr.unwrap());
    let grpc_flooder = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));

    // gRPC: a third connection beyond the peer's two is refused; the two, idle, get GOAWAY.
    let mut grpc = preface_only(grpc_flooder, app.addr, 3).await;
    for conn in grpc.iter_mut().rev() {
        closed_by_server(conn).await;
    }
    // ANEEL: the same with silent connections, closed after the keep-alive timeout.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(connect_from(FLOODER, aneel).await);
    }
    for conn in silent.iter_mut().rev() {
        closed_by_server(conn).await;
    }
    // A request head sent too slowly, then one too large (431).
    let mut slow = connect_from(OTHER_PEER, aneel).await;
    slow.write_all(b"GET /quantitativointerrupcoesativas HTTP/1.1\r\nHost: radar\r\n")
        .await
        .unwrap();
    let trickle = async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let line = format!("X-Slow-{i}: 1\r\n");
            if slow.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
    };
    tokio::time::timeout(PATIENCE, trickle)
        .await
        .expect("the slow client was never disconnected");
    let mut large = connect_from(OTHER_PEER, aneel).await;
    let filler = "a".repeat(24 * 1024);
    let head = format!(
        "GET /quantitativointerrupcoesativas HTTP/1.1\r\nHost: radar\r\nX-Large: {filler}\r\n\r\n"
    );
    // The server may close before it has read everything.
    let _ = large.write_all(head.as_bytes()).await;
    // The 431 may be lost to the reset of a close with unread bytes.
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, large.read_to_end(&mut answer)).await;
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    for series in [
        r#"radar_connections_refused_total{listener="grpc",reason="peer_cap"}"#,
        r#"radar_connections_closed_total{listener="grpc",reason="idle_timeout"}"#,
        r#"radar_connections_refused_total{listener="aneel",reason="peer_cap"}"#,
        r#"radar_connections_closed_total{listener="aneel",reason="idle_timeout"}"#,
        r#"radar_connections_closed_total{listener="aneel",reason="header_timeout"}"#,
        r#"radar_connections_closed_total{listener="aneel",reason="headers_too_large"}"#,
    ] {
        counted(ops, series).await;
    }
    // Every reason is shown from 0, and only where it can happen.
    let absent_or_zero = [
        r#"radar_connections_refused_total{listener="ops",reason="peer_cap"}"#,
        r#"radar_connections_refused_total{listener="aneel",reason="global_cap"}"#,
        r#"radar_connections_refused_total{listener="aneel",reason="descriptors_reserved"}"#,
    ];
    for series in absent_or_zero {
        assert_eq!(counter(ops, series).await, 0, "{series}");
    }
    let scrape = reqwest::get(format!("http://{ops}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in [
        r#"radar_connections_refused_total{listener="ops",reason="peer_cap"} 0"#,
        r#"radar_accept_errors_total{listener="aneel"} 0"#,
    ] {
        assert!(scrape.lines().any(|l| l == shown), "{shown} in {scrape}");
    }
    for never in [
        r#"radar_connections_closed_total{listener="grpc",reason="header_timeout"}"#,
        r#"radar_connections_closed_total{listener="aneel",reason="handshake_timeout"}"#,
    ] {
        assert!(!scrape.contains(never), "{never} in {scrape}");
    }
}

// --- Trusted proxies (the ingress) and the per-peer cap ---

const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const UNTRUSTED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
const KEY: &str = "aneel-key-fairness-aaaaaaa";

/// The service with both HTTP listeners, the ANEEL endpoint trusting `PROXY` and asking
/// for `KEY`, without a rate limit.
async fn spawn_behind_proxy(settings: radar_interrupcoes::config::ServiceSettings) -> TestApp {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let guard = GuardSettings {
        proxies: ProxyTrust {
            trusted: "127.0.0.2/32".parse().unwrap(),
            ..ProxyTrust::default()
        },
        rate_limit: None,
        ..GuardSettings::default()
    };
    let keys = ApiKeys::parse(KEY).unwrap();
    let app = Box::pin(TestApp::spawn_guarded(source, settings, keys, guard)).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    app
}

/// Sends an ANEEL request for the client `forwarded_for` on `conn` and reads the status
/// line of its answer.
async fn request_on(conn: &mut TcpStream, forwarded_for: &str) -> String {
    let request = format!(
        "GET /quantitativointerrupcoesativas HTTP/1.1\r\nHost: radar\r\nx-api-key: {KEY}\r\n\
         X-Forwarded-For: {forwarded_for}\r\n\r\n"
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let n = tokio::time::timeout(PATIENCE, conn.read(&mut buf))
            .await
            .expect("no answer")
            .unwrap();
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&buf[..n]);
    }
    let end = answer.windows(2).position(|w| w == b"\r\n").unwrap();
    String::from_utf8_lossy(&answer[..end]).into_owned()
}

#[tokio::test]
async fn a_trusted_proxy_holds_more_connections_than_one_client_s_share_and_an_untrusted_peer_does_not()
 {
    let mut settings = test_settings();
    settings.limits.http_max_connections = 64;
    settings.limits.http_max_connections_per_peer = 2;
    settings.limits.http_keepalive_timeout = Duration::from_secs(60);
    settings.limits.http_header_read_timeout = Duration::from_secs(60);
    let app = spawn_behind_proxy(settings).await;
    let (aneel, ops) = (app.aneel_addr.unwrap(), app.ops_addr.unwrap());

    // Six connections of the ingress at once, each carrying another client: all served.
    let mut ingress = Vec::new();
    for _ in 0..6 {
        ingress.push(connect_from(PROXY, aneel).await);
    }
    for (i, conn) in ingress.iter_mut().enumerate() {
        assert_eq!(
            request_on(conn, &format!("203.0.113.{i}")).await,
            "HTTP/1.1 200 OK"
        );
    }
    // An untrusted peer is held to its share of two, whatever header it sends.
    let mut untrusted = Vec::new();
    for _ in 0..3 {
        untrusted.push(connect_from(UNTRUSTED, aneel).await);
    }
    closed_by_server(&mut untrusted[2]).await;
    assert_eq!(
        request_on(&mut untrusted[0], "203.0.113.50").await,
        "HTTP/1.1 200 OK"
    );
    assert_eq!(
        counter(
            ops,
            r#"radar_connections_refused_total{listener="aneel",reason="peer_cap"}"#
        )
        .await,
        1
    );
    // The ingress's connections were all kept: each answers again.
    for conn in &mut ingress {
        assert_eq!(request_on(conn, "203.0.113.99").await, "HTTP/1.1 200 OK");
    }
}

#[tokio::test]
async fn idle_connections_of_a_trusted_proxy_stop_at_the_cap_and_leave_room_for_a_new_client() {
    let mut settings = test_settings();
    // 16 connections, the last one kept for a client that holds none.
    settings.limits.http_max_connections = 16;
    settings.limits.http_max_connections_per_peer = 2;
    // Long enough that no idle close frees a place while the test runs.
    settings.limits.http_keepalive_timeout = Duration::from_secs(60);
    settings.limits.http_header_read_timeout = Duration::from_secs(60);
    let app = spawn_behind_proxy(settings).await;
    let (aneel, ops) = (app.aneel_addr.unwrap(), app.ops_addr.unwrap());

    let mut flood = Vec::new();
    for _ in 0..20 {
        flood.push(connect_from(PROXY, aneel).await);
    }
    // The proxy got every place but the one kept for new clients.
    closed_by_server(flood.last_mut().unwrap()).await;
    let refused = counted(
        ops,
        r#"radar_connections_refused_total{listener="aneel",reason="reserved_for_new_peers"}"#,
    )
    .await;
    assert_eq!(refused, 5, "15 of the proxy's 20 connections are held");
    // A client that holds none still gets in and is answered.
    let mut newcomer = connect_from(UNTRUSTED, aneel).await;
    assert_eq!(
        request_on(&mut newcomer, "198.51.100.1").await,
        "HTTP/1.1 200 OK"
    );
    // And then the listener is full for everyone.
    let mut late = connect_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5)), aneel).await;
    closed_by_server(&mut late).await;
    assert_eq!(
        counter(
            ops,
            r#"radar_connections_refused_total{listener="aneel",reason="global_cap"}"#
        )
        .await,
        1
    );
    drop(flood);
}

// --- Unary calls held in flight ---

#[tokio::test]
async fn unary_calls_held_open_by_one_client_stop_at_its_share_and_another_client_is_answered() {
    let mut settings = test_settings();
    settings.limits.max_calls = 16;
    settings.limits.max_calls_per_peer = 2;
    let app = serving(settings).await;

    // Calls whose request body never comes: each stays in flight until the deadline.
    let tcp = connect_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 6)), app.addr).await;
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let call = || {
        let request =
            http::Request::post(format!("http://{}/grpc.health.v1.Health/Check", app.addr))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .body(())
                .unwrap();
        client.clone().send_request(request, false).unwrap()
    };
    let held = [call(), call()];
    let (refused, _body) = call();
    let refused = tokio::time::timeout(PATIENCE, refused)
        .await
        .expect("the call beyond the share is answered at once")
        .unwrap();
    assert_eq!(
        refused.headers()["grpc-status"],
        (tonic::Code::ResourceExhausted as i32).to_string().as_str(),
        "{refused:?}"
    );
    // Another client is answered while those calls are held.
    assert_eq!(probe_from(OTHER_PEER, app.addr).await, Serving);
    drop(held);
}

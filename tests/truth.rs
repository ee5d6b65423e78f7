//! Black-box tests that no path presents old numbers as current or states a false state
//! (issue 18): conditional GETs past the hard limit, `dthRecuperacao` exactly in ANEEL's
//! format and spelling, and messages that say what is really happening.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::{Behaviour, FakeSource, TestApp, row, test_settings};
use radar_interrupcoes::clock::ManualClock;
use radar_interrupcoes::config::ServiceSettings;
use radar_interrupcoes::health::INTERRUPCOES_SERVICE;
use radar_interrupcoes::http::ApiKeys;
use radar_interrupcoes::jobs::WARMUP_JOB_NAME;
use radar_interrupcoes::source::SourceError;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tonic_health::pb::health_check_response::ServingStatus::Serving;

const PATH: &str = "/quantitativointerrupcoesativas";

/// 06/12/2026 09:00 in Brasília.
fn nine_am_brasilia() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
}

/// Settings with a 60 s staleness limit and a 120 s hard limit.
fn short_limits() -> ServiceSettings {
    let mut settings = test_settings();
    settings.stale_after = Duration::from_secs(60);
    settings.stale_hard_limit = Duration::from_secs(120);
    settings
}

/// The server with the ANEEL endpoint, its time on `clock`, serving `source`.
async fn spawn_at(source: Arc<FakeSource>, clock: &ManualClock) -> TestApp {
    let app = TestApp::spawn_http_at(source, short_limits(), Arc::new(clock.clone())).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    app
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Every byte but letters and digits percent-encoded: the value reaches the server as is.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Status, headers and body (JSON, or `Null` when empty) of a GET with `headers`.
async fn get(url: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Value) {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{status}: not JSON ({e})"))
    };
    (status, headers, json)
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The `qtdOcorrenciaProgramada` of each item of an answer.
fn programadas(json: &Value) -> Vec<i64> {
    json["interrupcaoFornecimento"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["qtdOcorrenciaProgramada"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn past_the_hard_limit_the_validators_change_and_a_conditional_get_gets_the_error_answer() {
    let collected = nine_am_brasilia();
    let clock = ManualClock::new(collected);
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 2, 3)]));
    let app = spawn_at(source.clone(), &clock).await;
    let url = format!("http://{}{PATH}", app.aneel_addr.unwrap());

    let (status, fresh, json) = get(&url, &[]).await;
    assert_eq!(
        (status, json["idcStatusRequisicao"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    let (etag, last_modified) = (header(&fresh, "etag"), header(&fresh, "last-modified"));
    assert!(etag.starts_with('"'), "a strong tag: {etag}");
    assert_eq!(last_modified, "Sun, 06 Dec 2026 12:00:00 GMT");
    // The snapshot's age is ours to report, not `Age` (RFC 9111 §5.1: time spent in caches).
    assert!(fresh.get("age").is_none(), "{fresh:?}");
    assert_eq!(header(&fresh, "x-radar-snapshot-age"), "0");
    for conditional in [
        ("if-none-match", &etag),
        ("if-modified-since", &last_modified),
    ] {
        let (status, headers, _) = get(&url, &[(conditional.0, conditional.1.as_str())]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{conditional:?}");
        assert_eq!(header(&headers, "etag"), etag);
    }

    // Past the 120 s hard limit, a poller holding the data's validators gets the error
    // answer, not a 304 that would keep the old numbers as current.
    clock.set(collected + chrono::Duration::seconds(121));
    for conditional in [
        ("if-none-match", &etag),
        ("if-modified-since", &last_modified),
    ] {
        let (status, headers, json) = get(&url, &[(conditional.0, conditional.1.as_str())]).await;
        assert_eq!(status, StatusCode::OK, "{conditional:?}");
        assert_eq!(json["idcStatusRequisicao"], 2, "{conditional:?}: {json}");
        assert!(programadas(&json).is_empty());
        assert_ne!(header(&headers, "etag"), etag);
        assert_eq!(
            header(&headers, "last-modified"),
            "Sun, 06 Dec 2026 12:02:00 GMT",
            "collection time plus the hard limit"
        );
    }

    // The error answer's validators do not move with the clock (every replica computes the
    // same), and give 304 while it stays the error answer.
    let (_, expired, _) = get(&url, &[]).await;
    clock.set(collected + chrono::Duration::minutes(50));
    let (_, later, _) = get(&url, &[]).await;
    let (expired_etag, expired_since) =
        (header(&expired, "etag"), header(&expired, "last-modified"));
    assert_eq!(header(&later, "etag"), expired_etag);
    assert_eq!(header(&later, "last-modified"), expired_since);
    for conditional in [
        ("if-none-match", &expired_etag),
        ("if-modified-since", &expired_since),
    ] {
        let (status, _, _) = get(&url, &[(conditional.0, conditional.1.as_str())]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{conditional:?}");
    }

    // A new snapshot: the poller holding the error answer's validators gets the data.
    source.set(Behaviour::Rows(vec![row(1, 7, 0)]));
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    for conditional in [
        ("if-none-match", &expired_etag),
        ("if-modified-since", &expired_since),
    ] {
        let (status, _, json) = get(&url, &[(conditional.0, conditional.1.as_str())]).await;
        assert_eq!(status, StatusCode::OK, "{conditional:?}");
        assert_eq!(programadas(&json), [7], "{conditional:?}");
    }
}

/// The value of an unlabelled counter in the operations endpoint's scrape.
async fn counter(app: &TestApp, name: &str) -> f64 {
    let url = format!("http://{}/metrics", app.ops_addr.unwrap());
    let text = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn dth_recuperacao_is_read_only_in_aneel_format_and_spelling_on_http_and_grpc() {
    let clock = ManualClock::new(nine_am_brasilia());
    let app = spawn_at(FakeSource::new(Behaviour::Rows(vec![row(1, 2, 3)])), &clock).await;
    let url = |query: &str| format!("http://{}{PATH}?{query}", app.aneel_addr.unwrap());

    // ANEEL's format exactly: the snapshot stored at 09:00 answers.
    let (status, _, json) = get(
        &url(&format!("dthRecuperacao={}", encode("06/12/2026 09:00"))),
        &[],
    )
    .await;
    assert_eq!((status, programadas(&json)), (StatusCode::OK, vec![2]));
    assert!(app.get_at("06/12/2026 09:00").await.is_ok());

    // Near misses that a lenient parser reads as 09:00 are refused, naming the format.
    for bad in [
        "6/12/2026 9:0",
        "06/12/2026 9:00",
        "06/12/202609:00",
        "06/12/+2026 09:00",
        "06/12/2026\t09:00",
        "06/12/2026  09:00",
        " 06/12/2026 09:00",
        "06/12/2026 09:00 ",
    ] {
        let (status, _, json) = get(&url(&format!("dthRecuperacao={}", encode(bad))), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {json}");
        let mensagem = json["mensagem"].as_str().unwrap();
        assert!(mensagem.contains("dd/mm/aaaa hh:mm"), "{bad:?}: {mensagem}");
        let e = app.get_at(bad).await.unwrap_err();
        assert_eq!(
            e.code(),
            tonic::Code::InvalidArgument,
            "{bad:?}: {}",
            e.message()
        );
        assert!(e.message().contains("dd/mm/yyyy hh:mm"), "{}", e.message());
    }

    // dthRecuperacao in another case is a question about the past: refused, never answered
    // with the present, and the message gives the right spelling.
    for name in ["dthrecuperacao", "DTHRECUPERACAO", "DthRecuperacao"] {
        let (status, headers, json) =
            get(&url(&format!("{name}={}", encode("06/12/2026 08:00"))), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {json}");
        assert_eq!(
            header(&headers, "content-type"),
            "application/json; charset=utf-8"
        );
        assert_eq!(json["idcStatusRequisicao"], 2);
        assert_eq!(json["interrupcaoFornecimento"], Value::Array(Vec::new()));
        let mensagem = json["mensagem"].as_str().unwrap();
        assert!(
            mensagem.contains(name) && mensagem.contains("dthRecuperacao"),
            "{mensagem}"
        );
    }

    // Any other parameter (a poller's cache-buster) is ignored, and counted.
    let before = counter(&app, "radar_http_ignored_parameters_total").await;
    let (status, _, json) = get(&url("_=1733490000&cb=x"), &[]).await;
    assert_eq!((status, programadas(&json)), (StatusCode::OK, vec![2]));
    let after = counter(&app, "radar_http_ignored_parameters_total").await;
    assert!(
        (after - before - 2.0).abs() < f64::EPSILON,
        "{before} -> {after}"
    );
}

#[tokio::test]
async fn a_future_moment_on_http_is_said_to_be_in_the_future_not_badly_formatted() {
    let clock = ManualClock::new(nine_am_brasilia());
    let app = spawn_at(FakeSource::new(Behaviour::Rows(vec![row(1, 2, 3)])), &clock).await;
    let url = format!(
        "http://{}{PATH}?dthRecuperacao={}",
        app.aneel_addr.unwrap(),
        encode("06/12/2026 09:01")
    );
    let (status, _, json) = get(&url, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mensagem = json["mensagem"].as_str().unwrap();
    assert!(
        mensagem.contains("futuro") && mensagem.contains("06/12/2026 09:00"),
        "{mensagem}"
    );
    assert!(
        !mensagem.contains("inválido") && !mensagem.contains("Formato"),
        "{mensagem}"
    );
}

/// The ANEEL 503 message once the first loads failed with `error`.
async fn not_ready_message(error: SourceError) -> String {
    let source = FakeSource::new(Behaviour::Fail(error));
    let app = TestApp::spawn_http(source, test_settings(), ApiKeys::default()).await;
    let url = format!("http://{}{PATH}", app.aneel_addr.unwrap());
    for _ in 0..400 {
        let (status, _, json) = get(&url, &[]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let mensagem = json["mensagem"].as_str().unwrap().to_owned();
        if mensagem.contains("falhou") {
            return mensagem;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the failed load never showed in the 503 message");
}

#[tokio::test]
async fn the_503_message_says_whether_the_failed_load_is_being_retried() {
    let permanent = not_ready_message(SourceError::permanent(
        Some("ORA-01017".into()),
        "invalid username/password",
    ))
    .await;
    assert!(!permanent.contains("repetida"), "{permanent}");
    assert!(
        permanent.contains("próxima execução agendada"),
        "{permanent}"
    );

    let transient = not_ready_message(SourceError::transient(
        Some("ORA-12541".into()),
        "no listener",
    ))
    .await;
    assert!(transient.contains("está sendo repetida"), "{transient}");
}

/// A replica of `name` serving `source`, sharing `store`.
async fn replica(
    source: Arc<FakeSource>,
    store: Arc<radar_interrupcoes::store::SqliteStore>,
    name: &str,
) -> TestApp {
    let mut settings = test_settings();
    settings.history.instance_id = name.to_owned();
    let app = TestApp::spawn_backends(
        source,
        store,
        Arc::new(radar_interrupcoes::clock::SystemClock),
        settings,
    )
    .await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    app
}

/// The `qtdOcorrenciaProgramada` of each item of the gRPC answer.
async fn grpc_programadas(app: &TestApp) -> Vec<i32> {
    app.get()
        .await
        .unwrap()
        .resposta
        .unwrap()
        .interrupcao_fornecimento
        .iter()
        .map(|i| i.qtd_ocorrencia_programada)
        .collect()
}

#[tokio::test]
async fn a_replica_resuming_after_a_pause_loads_the_newest_stored_snapshot_not_its_old_tick_s() {
    use chrono::SubsecRound;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(radar_interrupcoes::store::SqliteStore::new(
        dir.path().join("shared.sqlite"),
    ));
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let a = replica(source.clone(), store.clone(), "replica-a").await;
    let b = replica(source.clone(), store.clone(), "replica-b").await;

    // While B is paused, A runs two ticks: the second's snapshot replaces the first's.
    let first_tick = Utc::now().trunc_subsecs(0) - chrono::Duration::minutes(2);
    let second_tick = first_tick + chrono::Duration::minutes(1);
    source.set(Behaviour::Rows(vec![row(1, 2, 0)]));
    a.scheduler
        .fire_tick(WARMUP_JOB_NAME, first_tick)
        .await
        .unwrap();
    source.set(Behaviour::Rows(vec![row(1, 3, 0)]));
    a.scheduler
        .fire_tick(WARMUP_JOB_NAME, second_tick)
        .await
        .unwrap();
    assert_eq!(grpc_programadas(&a).await, [3]);

    // B resumes and runs the tick it was paused in: A claimed it; B must not go back to
    // its snapshot, but serve the newest one, as A does.
    let calls = source.calls();
    let run = b
        .scheduler
        .fire_tick(WARMUP_JOB_NAME, first_tick)
        .await
        .unwrap()
        .run;
    assert!(run.error.is_none(), "{:?}", run.error);
    assert_eq!(source.calls(), calls, "adopted, not queried");
    assert_eq!(grpc_programadas(&b).await, [3]);
    let (a_meta, b_meta) = (
        a.get().await.unwrap().snapshot.unwrap(),
        b.get().await.unwrap().snapshot.unwrap(),
    );
    assert_eq!(b_meta.collected_at, a_meta.collected_at);
    assert_eq!(b_meta.instance, "replica-a");
}

/// (idcStatusRequisicao, stale, qtdOcorrenciaProgramada of each item) of a Watch message,
/// or `None` once the stream ended.
async fn next_watched(
    stream: &mut tonic::Streaming<
        radar_interrupcoes::proto::interrupcoes::v1::GetQuantitativoInterrupcoesAtivasResponse,
    >,
) -> (i32, bool, Vec<i32>) {
    let message = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_stream::StreamExt::next(stream),
    )
    .await
    .expect("a Watch message within 10 s")
    .expect("the stream is open")
    .unwrap();
    let resposta = message.resposta.unwrap();
    let stale = message.snapshot.unwrap().stale;
    let items = resposta
        .interrupcao_fornecimento
        .iter()
        .map(|i| i.qtd_ocorrencia_programada)
        .collect();
    (resposta.idc_status_requisicao, stale, items)
}

#[tokio::test]
async fn a_watch_stream_sends_each_change_of_state_fresh_stale_expired_and_fresh_again() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 4, 0)]));
    let mut settings = test_settings();
    // Short limits: the stream sees the snapshot go stale and expire by age alone.
    settings.stale_after = Duration::from_secs(2);
    settings.stale_hard_limit = Duration::from_secs(4);
    let app = TestApp::spawn_with(source.clone(), settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    let mut stream = app
        .data
        .clone()
        .watch_quantitativo_interrupcoes_ativas(
            radar_interrupcoes::proto::interrupcoes::v1::WatchQuantitativoInterrupcoesAtivasRequest {},
        )
        .await
        .unwrap()
        .into_inner();

    // The current answer (fresh, unless this machine is slow enough that it went stale
    // already), then each later state once, in order, up to ANEEL's error answer.
    let mut seen = vec![next_watched(&mut stream).await];
    while seen.last().unwrap().0 != 2 {
        let next = next_watched(&mut stream).await;
        assert_ne!(
            Some(&next),
            seen.last(),
            "a message without a change: {seen:?}"
        );
        seen.push(next);
    }
    let expected = [(1, false, vec![4]), (1, true, vec![4]), (2, true, vec![])];
    assert!(
        expected.ends_with(&seen) && seen.len() >= 2,
        "fresh -> stale -> expired, each once: {seen:?}"
    );

    // A new snapshot: fresh again. A failed load: stale at once, before any limit.
    source.set(Behaviour::Rows(vec![row(1, 5, 0)]));
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    let fresh = next_watched(&mut stream).await;
    source.set(Behaviour::Fail(SourceError::transient(
        Some("ORA-12541".into()),
        "no listener",
    )));
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    let failed = next_watched(&mut stream).await;
    assert_eq!(fresh, (1, false, vec![5]));
    assert_eq!(failed, (1, true, vec![5]));
    assert_eq!(next_watched(&mut stream).await, (2, true, vec![]));
}

//! Black-box tests of the HTTP listeners over real HTTP (reqwest): the ANEEL endpoint
//! against the gRPC answer, its errors, keys, HEAD and 304; the metrics and probes.
// Metric values compared here are counts, exact in an f64.
#![allow(clippy::float_cmp)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{Behaviour, FakeSource, TestApp, row, test_settings};
use radar_interrupcoes::config::DEFAULT_DEMO_SEED;
use radar_interrupcoes::domain::QueryBinds;
use radar_interrupcoes::domain::dth_recuperacao;
use radar_interrupcoes::health::INTERRUPCOES_SERVICE;
use radar_interrupcoes::http::ApiKeys;
use radar_interrupcoes::jobs::{STORE_WRITE_STEP, WARMUP_JOB_NAME};
use radar_interrupcoes::proto::scheduler::v1::RunOutcome;
use radar_interrupcoes::source::SourceError;
use radar_interrupcoes::source::sqlite::{self, SqliteSource};
use radar_interrupcoes::store::{SnapshotStore, SqliteStore};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tonic_health::pb::health_check_response::ServingStatus::Serving;

const PATH: &str = "/quantitativointerrupcoesativas";
const KEY_2026: &str = "aneel-key-2026-aaaaaaaaaaaa";
const KEY_2027: &str = "aneel-key-2027-bbbbbbbbbbbb";

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn aneel(app: &TestApp, path_and_query: &str) -> String {
    format!("http://{}{path_and_query}", app.aneel_addr.unwrap())
}

fn ops(app: &TestApp, path: &str) -> String {
    format!("http://{}{path}", app.ops_addr.unwrap())
}

async fn spawn(source: Arc<FakeSource>) -> TestApp {
    TestApp::spawn_http(source, test_settings(), ApiKeys::default()).await
}

/// Status, headers and parsed JSON body of a GET.
async fn get_json(url: &str, key: Option<&str>) -> (StatusCode, HeaderMap, Value) {
    let mut request = client().get(url);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{status} body is not JSON ({e}): {body:?}"));
    (status, headers, json)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

/// Asserts ANEEL's error envelope and returns its message.
fn assert_envelope(status: StatusCode, headers: &HeaderMap, json: &Value) -> String {
    assert_eq!(
        header(headers, "content-type"),
        Some("application/json; charset=utf-8"),
        "{status}"
    );
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "emailIndisponibilidade",
            "idcStatusRequisicao",
            "interrupcaoFornecimento",
            "mensagem"
        ]),
        "{status}: {json}"
    );
    assert_eq!(json["idcStatusRequisicao"], 2, "{status}: {json}");
    assert_eq!(
        json["emailIndisponibilidade"],
        test_settings().contact_email,
        "{status}"
    );
    assert_eq!(
        json["interrupcaoFornecimento"],
        Value::Array(vec![]),
        "{status}"
    );
    let mensagem = json["mensagem"].as_str().unwrap().to_owned();
    assert!(!mensagem.is_empty(), "{status}: {json}");
    mensagem
}

#[tokio::test]
async fn the_json_is_the_grpc_answer_byte_for_byte_on_the_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    sqlite::generate(&path, 0.05, DEFAULT_DEMO_SEED).unwrap();
    let source = Arc::new(SqliteSource::new(path, QueryBinds::default()));
    let app = TestApp::spawn_http(source, test_settings(), ApiKeys::default()).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let grpc = app.get().await.unwrap();
    let resposta = grpc.resposta.unwrap();
    let snapshot = grpc.snapshot.unwrap();
    assert!(!resposta.interrupcao_fornecimento.is_empty());

    let response = client().get(aneel(&app, PATH)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/json; charset=utf-8")
    );

    // Field by field: exactly the four fields, each item exactly the five, same values.
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json.as_object().unwrap().len(), 4, "{body}");
    assert_eq!(json["idcStatusRequisicao"], resposta.idc_status_requisicao);
    assert_eq!(
        json["emailIndisponibilidade"],
        resposta.email_indisponibilidade
    );
    assert_eq!(json["mensagem"], resposta.mensagem);
    let items = json["interrupcaoFornecimento"].as_array().unwrap();
    assert_eq!(items.len(), resposta.interrupcao_fornecimento.len());
    for (json, grpc) in items.iter().zip(&resposta.interrupcao_fornecimento) {
        assert_eq!(json.as_object().unwrap().len(), 5, "{json}");
        assert_eq!(
            json["ideConjuntoUnidadeConsumidora"],
            grpc.ide_conjunto_unidade_consumidora
        );
        assert_eq!(json["ideMunicipio"], grpc.ide_municipio);
        assert_eq!(json["qtdUCsAtendidas"], grpc.qtd_ucs_atendidas);
        assert_eq!(
            json["qtdOcorrenciaProgramada"],
            grpc.qtd_ocorrencia_programada
        );
        assert_eq!(
            json["qtdOcorrenciaNaoProgramada"],
            grpc.qtd_ocorrencia_nao_programada
        );
    }

    // Byte for byte, in ANEEL's field order, built from the gRPC answer.
    let expected_items: Vec<String> = resposta
        .interrupcao_fornecimento
        .iter()
        .map(|i| {
            format!(
                r#"{{"ideConjuntoUnidadeConsumidora":{},"ideMunicipio":{},"qtdUCsAtendidas":{},"qtdOcorrenciaProgramada":{},"qtdOcorrenciaNaoProgramada":{}}}"#,
                i.ide_conjunto_unidade_consumidora,
                i.ide_municipio,
                i.qtd_ucs_atendidas,
                i.qtd_ocorrencia_programada,
                i.qtd_ocorrencia_nao_programada
            )
        })
        .collect();
    let expected = format!(
        r#"{{"idcStatusRequisicao":1,"emailIndisponibilidade":"{}","mensagem":"","interrupcaoFornecimento":[{}]}}"#,
        resposta.email_indisponibilidade,
        expected_items.join(",")
    );
    assert_eq!(body, expected);

    // The snapshot metadata is in the headers, not the body.
    let collected = snapshot.collected_at.unwrap();
    let collected = chrono::DateTime::from_timestamp(collected.seconds, 0).unwrap();
    assert_eq!(
        header(&headers, "last-modified").unwrap(),
        collected.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
    );
    let age: u64 = header(&headers, "x-radar-snapshot-age")
        .unwrap()
        .parse()
        .unwrap();
    assert!(age <= snapshot.age.unwrap().seconds as u64 + 60);
    assert_eq!(header(&headers, "x-radar-stale"), None);
}

#[tokio::test]
async fn nothing_out_is_an_empty_list_and_a_failed_refresh_is_200_with_stale_headers() {
    let source = FakeSource::new(Behaviour::Rows(vec![]));
    let app = spawn(source.clone()).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let (status, headers, json) = get_json(&aneel(&app, PATH), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["idcStatusRequisicao"], 1);
    assert_eq!(json["interrupcaoFornecimento"], Value::Array(vec![]));
    assert_eq!(header(&headers, "x-radar-stale"), None);

    // As the Oracle adapter reports it: the native code in its field, not only in the text.
    source.set(Behaviour::Fail(SourceError::permanent(
        Some("ORA-00942".into()),
        "table or view does not exist",
    )));
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    let (status, headers, json) = get_json(&aneel(&app, PATH), None).await;
    assert_eq!(status, StatusCode::OK, "a stale answer beats none");
    assert_eq!(json["idcStatusRequisicao"], 1);
    assert_eq!(header(&headers, "x-radar-stale"), Some("true"));
    let reason = header(&headers, "x-radar-stale-reason").unwrap();
    assert!(reason.contains("ORA-00942"), "{reason}");
    assert!(
        json["mensagem"] == "",
        "metadata stays out of the body: {json}"
    );
}

#[tokio::test]
async fn a_new_snapshot_replaces_the_answers_prepared_for_both_endpoints() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = spawn(source.clone()).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    // The second read of each is served from what the first one prepared.
    for _ in 0..2 {
        let (_, _, json) = get_json(&aneel(&app, PATH), None).await;
        assert_eq!(json["interrupcaoFornecimento"].as_array().unwrap().len(), 1);
        let grpc = app.get().await.unwrap();
        assert_eq!(grpc.resposta.unwrap().interrupcao_fornecimento.len(), 1);
    }

    source.set(Behaviour::Rows(vec![row(1, 2, 0), row(2, 0, 8)]));
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    let (_, _, json) = get_json(&aneel(&app, PATH), None).await;
    let items = json["interrupcaoFornecimento"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{json}");
    assert_eq!(items[0]["qtdOcorrenciaProgramada"], 2);
    assert_eq!(items[1]["qtdOcorrenciaNaoProgramada"], 8);
    let grpc = app.get().await.unwrap();
    let resposta = grpc.resposta.unwrap();
    assert_eq!(resposta.interrupcao_fornecimento.len(), 2);
    assert_eq!(
        resposta.interrupcao_fornecimento[0].qtd_ocorrencia_programada,
        2
    );
    assert_eq!(grpc.snapshot.unwrap().item_count, 2);
}

#[tokio::test]
async fn every_error_has_its_status_and_anels_envelope() {
    let source = FakeSource::gated(Behaviour::Rows(vec![row(1, 2, 3)]));
    let app = spawn(source.clone()).await;

    // No snapshot yet: 503 with Retry-After.
    let (status, headers, json) = get_json(&aneel(&app, PATH), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let mensagem = assert_envelope(status, &headers, &json);
    assert!(mensagem.contains("primeira carga"), "{mensagem}");
    assert!(
        header(&headers, "retry-after")
            .unwrap()
            .parse::<u32>()
            .unwrap()
            > 0
    );

    source.open_gate();
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    // A bad dthRecuperacao: 400, naming the value and the expected format.
    let (status, headers, json) = get_json(
        &aneel(&app, &format!("{PATH}?dthRecuperacao=2026-11-28%2014:30")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mensagem = assert_envelope(status, &headers, &json);
    assert!(mensagem.contains("2026-11-28 14:30"), "{mensagem}");
    assert!(mensagem.contains("dd/mm/aaaa hh:mm"), "{mensagem}");

    // A valid dthRecuperacao older than the history: 404 naming the oldest moment, as gRPC's
    // NOT_FOUND (tests/history.rs covers the past answers themselves).
    let (status, headers, json) = get_json(
        &aneel(&app, &format!("{PATH}?dthRecuperacao=01/01/2020%2010:00")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mensagem = assert_envelope(status, &headers, &json);
    assert!(mensagem.contains("01/01/2020 10:00"), "{mensagem}");
    assert!(mensagem.contains("momento mais antigo"), "{mensagem}");
    let grpc = app
        .data
        .clone()
        .get_quantitativo_interrupcoes_ativas(
            radar_interrupcoes::proto::interrupcoes::v1::GetQuantitativoInterrupcoesAtivasRequest {
                dth_recuperacao: "01/01/2020 10:00".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(grpc.code(), tonic::Code::NotFound);

    // An empty dthRecuperacao asks for now, as in gRPC.
    let (status, _, json) = get_json(&aneel(&app, &format!("{PATH}?dthRecuperacao=")), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["interrupcaoFornecimento"].as_array().unwrap().len(), 1);

    // Unknown path: 404. Wrong method: 405 with Allow.
    let (status, headers, json) = get_json(&aneel(&app, "/quantitativo"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(assert_envelope(status, &headers, &json).contains(PATH));

    let response = client().post(aneel(&app, PATH)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "allow"), Some("GET, HEAD"));
    let json: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_envelope(StatusCode::METHOD_NOT_ALLOWED, &headers, &json);
}

#[tokio::test]
async fn with_keys_each_configured_key_is_accepted_and_anything_else_is_401() {
    let keys = ApiKeys::parse(&format!("aneel-2026:{KEY_2026},aneel-2027:{KEY_2027}")).unwrap();
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 2, 3)]));
    let app = TestApp::spawn_http(source, test_settings(), keys).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    let url = aneel(&app, PATH);

    let (status, headers, json) = get_json(&url, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "loopback needs a key too once keys are set"
    );
    assert!(assert_envelope(status, &headers, &json).contains("x-api-key"));

    let (status, headers, json) = get_json(&url, Some("aneel-key-2026-aaaaaaaaaaaX")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(assert_envelope(status, &headers, &json).contains("inválida"));

    // Rotation: the old and the new key both work while both are configured.
    for key in [KEY_2026, KEY_2027] {
        let (status, _, json) = get_json(&url, Some(key)).await;
        assert_eq!(status, StatusCode::OK, "{key}");
        assert_eq!(json["idcStatusRequisicao"], 1);
    }

    // An unknown path without a key is refused before routing: nothing is revealed.
    let (status, _, _) = get_json(&aneel(&app, "/admin"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_keys_loopback_clients_are_answered() {
    let app = spawn(FakeSource::new(Behaviour::Rows(vec![row(1, 2, 3)]))).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    let (status, _, json) = get_json(&aneel(&app, PATH), Some("anything")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["idcStatusRequisicao"], 1);
}

#[tokio::test]
async fn head_has_the_get_headers_without_a_body_and_if_modified_since_gives_304() {
    let app = spawn(FakeSource::new(Behaviour::Rows(vec![
        row(1, 2, 3),
        row(2, 0, 9),
    ])))
    .await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    let url = aneel(&app, PATH);

    let get = client().get(&url).send().await.unwrap();
    let get_headers = get.headers().clone();
    let get_body = get.bytes().await.unwrap();
    let head = client().head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let head_headers = head.headers().clone();
    assert!(head.bytes().await.unwrap().is_empty());
    for name in ["content-type", "last-modified"] {
        assert_eq!(head_headers.get(name), get_headers.get(name), "{name}");
    }
    assert_eq!(
        header(&head_headers, "content-length"),
        Some(get_body.len().to_string().as_str())
    );

    let last_modified = header(&get_headers, "last-modified").unwrap().to_owned();
    let conditional = client()
        .get(&url)
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(conditional.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        header(conditional.headers(), "last-modified"),
        Some(last_modified.as_str())
    );
    assert!(conditional.bytes().await.unwrap().is_empty());

    let conditional_head = client()
        .head(&url)
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(conditional_head.status(), StatusCode::NOT_MODIFIED);

    let older = client()
        .get(&url)
        .header("if-modified-since", "Thu, 01 Jan 2026 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(older.status(), StatusCode::OK);
    assert_eq!(older.bytes().await.unwrap(), get_body);
}

/// A scrape parsed with a Prometheus text parser.
struct Scrape {
    samples: Vec<prometheus_parse::Sample>,
    text: String,
}

impl Scrape {
    async fn of(app: &TestApp) -> Self {
        let response = client().get(ops(app, "/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(response.headers(), "content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let text = response.text().await.unwrap();
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .unwrap_or_else(|e| panic!("not the Prometheus text format ({e}):\n{text}"));
        Self {
            samples: scrape.samples,
            text,
        }
    }

    /// The value of the one sample of `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                ref other => panic!("{name}: unexpected {other:?}"),
            })
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?}: {found:?}");
        found.first().copied()
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{}", self.text))
    }

    /// The metric names in the scrape, histogram series included.
    fn names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.samples.iter().map(|s| s.metric.clone()).collect();
        for s in &self.samples {
            if let prometheus_parse::Value::Histogram(_) = s.value {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{}{suffix}", s.metric));
                }
            }
        }
        names
    }
}

const JOB: (&str, &str) = ("job_name", WARMUP_JOB_NAME);

/// Waits until the start-up run has finished (ListJobs counts it), which is when its
/// metrics are recorded: its snapshot is served a moment before the run ends.
async fn wait_for_first_run(app: &TestApp) {
    for _ in 0..400 {
        if app.jobs().await.jobs.iter().any(|j| j.total_runs >= 1) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the start-up run never finished");
}

#[tokio::test]
async fn metrics_follow_success_failure_and_staleness_and_match_list_jobs_and_the_cache() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 2, 3), row(2, 0, 9)]));
    let mut settings = test_settings();
    settings.stale_after = Duration::from_secs(2);
    let app = TestApp::spawn_http(source.clone(), settings, ApiKeys::default()).await;
    wait_for_first_run(&app).await;
    app.get().await.unwrap();
    client().get(aneel(&app, PATH)).send().await.unwrap();

    // After the successful start-up run.
    let m = Scrape::of(&app).await;
    let jobs = app.jobs().await.jobs;
    let job = jobs.iter().find(|j| j.name == WARMUP_JOB_NAME).unwrap();
    let last = job.last_run.as_ref().unwrap();
    let startup_ok = [JOB, ("trigger", "startup"), ("outcome", "succeeded")];
    assert_eq!(m.get("radar_job_runs_total", &startup_ok), 1.0);
    assert_eq!(m.get("radar_job_last_run_items", &[JOB]), last.items as f64);
    assert_eq!(m.get("radar_job_last_run_items", &[JOB]), 2.0);
    assert_eq!(
        m.get("radar_job_last_run_rejected_rows", &[JOB]),
        last.rejected as f64
    );
    assert_eq!(m.get("radar_job_consecutive_failures", &[JOB]), 0.0);
    assert_eq!(
        m.get("radar_job_skipped_ticks_total", &[JOB]),
        job.skipped_ticks as f64
    );
    let last_success = job.last_success_at.unwrap();
    assert!(
        (m.get("radar_job_last_success_timestamp_seconds", &[JOB]) - last_success.seconds as f64)
            .abs()
            < 1.0
    );
    assert_eq!(m.get("radar_job_run_duration_seconds_count", &[JOB]), 1.0);
    assert_eq!(m.get("radar_snapshot_loaded", &[]), 1.0);
    assert_eq!(m.get("radar_snapshot_stale", &[]), 0.0);
    assert_eq!(m.get("radar_snapshot_items", &[]), 2.0);
    assert!(m.get("radar_snapshot_age_seconds", &[]) >= 0.0);
    // The SQLite store has no clock of its own: every replica of its host reads one clock.
    assert_eq!(m.get("radar_clock_offset_seconds", &[]), 0.0);
    assert_eq!(m.get("radar_health_status", &[("service", "overall")]), 1.0);
    assert_eq!(
        m.get("radar_health_status", &[("service", INTERRUPCOES_SERVICE)]),
        1.0
    );
    // gRPC calls under the ecosystem's names and labels (go-grpc-prometheus).
    let get = [
        ("grpc_service", "radar.interrupcoes.v1.InterrupcoesService"),
        ("grpc_method", "GetQuantitativoInterrupcoesAtivas"),
        ("grpc_type", "unary"),
    ];
    assert_eq!(m.get("grpc_server_started_total", &get), 1.0);
    assert_eq!(
        m.get(
            "grpc_server_handled_total",
            &[get[0], get[1], get[2], ("grpc_code", "OK")]
        ),
        1.0
    );
    assert_eq!(m.get("grpc_server_handling_seconds_count", &get), 1.0);
    assert!(
        m.text
            .contains("# TYPE grpc_server_handling_seconds histogram"),
        "{}",
        m.text
    );
    assert!(
        !m.text.contains("radar_grpc_requests"),
        "the gRPC metrics have one name each"
    );
    // The standard process metrics, under client_golang's names.
    assert!(m.get("process_resident_memory_bytes", &[]) > 1_000_000.0);
    assert!(m.get("process_virtual_memory_bytes", &[]) > 1_000_000.0);
    assert!(m.get("process_cpu_seconds_total", &[]) > 0.0);
    assert!(m.get("process_threads", &[]) >= 1.0);
    assert!(m.get("process_start_time_seconds", &[]) > 1.7e9);
    assert!(m.get("process_open_fds", &[]) <= m.get("process_max_fds", &[]));
    assert!(
        m.text.contains("# TYPE process_cpu_seconds_total counter"),
        "{}",
        m.text
    );
    assert_eq!(
        m.get(
            "radar_http_requests_total",
            &[("method", "GET"), ("path", PATH), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        m.get(
            "radar_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    // After a failed run: counted by trigger and outcome, the snapshot kept but stale.
    source.set(Behaviour::Fail(SourceError::permanent(
        None,
        "ORA-01017: invalid username/password",
    )));
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    let m = Scrape::of(&app).await;
    let job = app
        .jobs()
        .await
        .jobs
        .into_iter()
        .find(|j| j.name == WARMUP_JOB_NAME)
        .unwrap();
    assert_eq!(
        m.get(
            "radar_job_runs_total",
            &[JOB, ("trigger", "manual"), ("outcome", "failed")]
        ),
        1.0
    );
    assert_eq!(m.get("radar_job_runs_total", &startup_ok), 1.0);
    assert_eq!(
        m.get("radar_job_consecutive_failures", &[JOB]),
        f64::from(job.consecutive_failures)
    );
    assert_eq!(m.get("radar_job_consecutive_failures", &[JOB]), 1.0);
    assert_eq!(m.get("radar_job_last_run_items", &[JOB]), 0.0);
    assert_eq!(m.get("radar_job_run_duration_seconds_count", &[JOB]), 2.0);
    assert_eq!(m.get("radar_snapshot_stale", &[]), 1.0);
    assert_eq!(
        m.get("radar_snapshot_items", &[]),
        2.0,
        "the last good snapshot stays"
    );
    assert!(
        m.get(
            "grpc_server_handled_total",
            &[
                ("grpc_service", "radar.scheduler.v1.SchedulerAdmin"),
                ("grpc_method", "TriggerNow"),
                ("grpc_code", "OK")
            ]
        ) >= 1.0
    );

    // A success clears staleness; then the snapshot ages past the limit: stale again, and
    // the age is computed at scrape time.
    source.set(Behaviour::Rows(vec![row(3, 1, 1)]));
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    let m = Scrape::of(&app).await;
    assert_eq!(m.get("radar_snapshot_stale", &[]), 0.0);
    assert_eq!(m.get("radar_job_consecutive_failures", &[JOB]), 0.0);
    assert_eq!(m.get("radar_snapshot_items", &[]), 1.0);
    let mut waited = 0;
    let m = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let m = Scrape::of(&app).await;
        if m.get("radar_snapshot_stale", &[]) == 1.0 {
            break m;
        }
        waited += 1;
        assert!(waited < 80, "never stale:\n{}", m.text);
    };
    assert!(m.get("radar_snapshot_age_seconds", &[]) > 2.0);
    let view = app.get().await.unwrap().snapshot.unwrap();
    assert!(view.stale, "the cache agrees");
}

/// A server stream is `server_stream`, counted when it starts; a client that goes away is
/// `Canceled` (gRPC-Go's spelling, which existing dashboards and alerts match on); a path
/// that is no RPC of the server stays one bounded `other` series.
#[tokio::test]
async fn streams_and_unknown_paths_have_the_conventional_grpc_labels() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 2, 3)]));
    let app = spawn(source.clone()).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    let watch = [
        ("grpc_service", "radar.interrupcoes.v1.InterrupcoesService"),
        ("grpc_method", "WatchQuantitativoInterrupcoesAtivas"),
        ("grpc_type", "server_stream"),
    ];
    let mut stream = app
        .data
        .clone()
        .watch_quantitativo_interrupcoes_ativas(
            radar_interrupcoes::proto::interrupcoes::v1::WatchQuantitativoInterrupcoesAtivasRequest {},
        )
        .await
        .unwrap()
        .into_inner();
    assert!(stream.message().await.unwrap().is_some());
    let m = Scrape::of(&app).await;
    assert_eq!(m.get("grpc_server_started_total", &watch), 1.0);
    assert_eq!(
        m.value("grpc_server_handled_total", &watch),
        None,
        "still open"
    );
    drop(stream);
    let canceled = [watch[0], watch[1], watch[2], ("grpc_code", "Canceled")];
    let mut waited = 0;
    while Scrape::of(&app)
        .await
        .value("grpc_server_handled_total", &canceled)
        .is_none()
    {
        waited += 1;
        assert!(waited < 200, "the dropped stream was never counted");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    for path in ["/radar.nope.v1.Nope/Call", "/grpc.health.v1.Health/Nope"] {
        let mut grpc = tonic::client::Grpc::new(app.connect().await);
        grpc.ready().await.unwrap();
        let status = grpc
            .unary::<_, (), _>(
                tonic::Request::new(()),
                path.parse().unwrap(),
                tonic_prost::ProstCodec::<(), ()>::default(),
            )
            .await;
        assert!(status.is_err(), "{path}");
    }
    let m = Scrape::of(&app).await;
    let other = [
        ("grpc_service", "other"),
        ("grpc_method", "other"),
        ("grpc_type", "unknown"),
    ];
    assert_eq!(m.get("grpc_server_started_total", &other), 2.0);
    assert_eq!(
        m.get(
            "grpc_server_handled_total",
            &[other[0], other[1], other[2], ("grpc_code", "Unimplemented")]
        ),
        2.0
    );
}

#[tokio::test]
async fn grpc_errors_are_counted_with_their_code_and_openmetrics_is_served_when_asked() {
    let source = FakeSource::gated(Behaviour::Rows(vec![row(1, 2, 3)]));
    let app = spawn(source.clone()).await;
    assert_eq!(
        app.get().await.unwrap_err().code(),
        tonic::Code::Unavailable
    );
    let unknown = app.trigger("nope").await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    let m = Scrape::of(&app).await;
    assert_eq!(
        m.get(
            "grpc_server_handled_total",
            &[
                ("grpc_service", "radar.interrupcoes.v1.InterrupcoesService"),
                ("grpc_method", "GetQuantitativoInterrupcoesAtivas"),
                ("grpc_code", "Unavailable")
            ]
        ),
        1.0
    );
    assert_eq!(
        m.get(
            "grpc_server_handled_total",
            &[
                ("grpc_service", "radar.scheduler.v1.SchedulerAdmin"),
                ("grpc_method", "TriggerNow"),
                ("grpc_type", "unary"),
                ("grpc_code", "NotFound")
            ]
        ),
        1.0
    );
    assert_eq!(m.get("radar_snapshot_loaded", &[]), 0.0);
    assert_eq!(m.value("radar_snapshot_age_seconds", &[]), Some(0.0));

    let response = client()
        .get(ops(&app, "/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(response.headers(), "content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("# TYPE grpc_server_handled counter"),
        "{text}"
    );
    assert!(text.contains("grpc_server_handled_total{"), "{text}");
    source.open_gate();
}

#[tokio::test]
async fn probes_start_not_ready_and_turn_ready_after_the_first_load() {
    let source = FakeSource::gated(Behaviour::Rows(vec![row(1, 2, 3)]));
    let app = spawn(source.clone()).await;

    let readyz = client().get(ops(&app, "/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = readyz.text().await.unwrap();
    assert!(
        body.contains(&format!("{INTERRUPCOES_SERVICE} NOT_SERVING")),
        "{body}"
    );
    let livez = client().get(ops(&app, "/livez")).send().await.unwrap();
    assert_eq!(
        livez.status(),
        StatusCode::OK,
        "the scheduler runs while loading"
    );

    source.open_gate();
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    let readyz = client().get(ops(&app, "/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), StatusCode::OK);
    let body = readyz.text().await.unwrap();
    assert!(body.contains("overall SERVING"), "{body}");
    assert!(
        body.contains(&format!("{INTERRUPCOES_SERVICE} SERVING")),
        "{body}"
    );
    let missing = client().get(ops(&app, "/nope")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// A store that fails is counted by operation and outcome, and the warm-up's run says the
/// snapshot was served but not stored; once the store works again (no restart), writes are
/// counted as stored and runs succeed.
#[tokio::test]
async fn store_failures_are_counted_and_the_run_says_served_but_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be: every store call fails (SQLITE_CANTOPEN).
    let path = dir.path().join("store.sqlite");
    std::fs::create_dir(&path).unwrap();
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 2, 3)]));
    let app = TestApp::spawn_http_with_store(
        source,
        Arc::new(SqliteStore::new(path.clone())),
        test_settings(),
        ApiKeys::default(),
    )
    .await;
    wait_for_first_run(&app).await;
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    let moment = dth_recuperacao::format(chrono::Utc::now());
    let e = app.get_at(&moment).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable);

    let m = Scrape::of(&app).await;
    let store = |operation, outcome| {
        m.get(
            "radar_store_operations_total",
            &[
                ("store", "sqlite"),
                ("operation", operation),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(store("write", "failed"), 2.0, "start-up and manual runs");
    assert_eq!(store("write", "stored"), 0.0);
    assert_eq!(store("write", "abandoned"), 0.0);
    assert!(store("read", "failed") >= 1.0, "the dthRecuperacao lookup");
    assert_eq!(store("claim", "failed"), 0.0, "no cron tick was claimed");
    for trigger in ["startup", "manual"] {
        let degraded = [JOB, ("trigger", trigger), ("outcome", "degraded")];
        assert_eq!(m.get("radar_job_runs_total", &degraded), 1.0, "{trigger}");
    }
    let job = app
        .jobs()
        .await
        .jobs
        .into_iter()
        .find(|j| j.name == WARMUP_JOB_NAME)
        .unwrap();
    let last = job.last_run.unwrap();
    assert_eq!(last.outcome, RunOutcome::Degraded as i32);
    assert_eq!(last.degraded.unwrap().step, STORE_WRITE_STEP);
    assert_eq!(last.items, 1, "the snapshot is served");

    // The directory goes: the store creates its file, without a restart.
    std::fs::remove_dir(&path).unwrap();
    let run = app.trigger(WARMUP_JOB_NAME).await.unwrap().run.unwrap();
    assert_eq!(
        run.outcome,
        RunOutcome::Succeeded as i32,
        "{:?}",
        run.degraded
    );
    assert_eq!(run.degraded, None);
    let m = Scrape::of(&app).await;
    assert_eq!(
        m.get(
            "radar_store_operations_total",
            &[("operation", "write"), ("outcome", "stored")]
        ),
        1.0
    );
    let stored = SqliteStore::new(path).oldest().await.unwrap();
    assert!(stored.is_some(), "the snapshot is in the history");
}

/// Every metric an alert rule or a dashboard panel uses is one the service exports.
#[tokio::test]
async fn alert_rules_and_the_dashboard_use_only_exported_metrics() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 2, 3)]));
    let app = spawn(source.clone()).await;
    wait_for_first_run(&app).await;
    app.get().await.unwrap();
    client().get(aneel(&app, PATH)).send().await.unwrap();
    let exported = Scrape::of(&app).await.names();

    let manifest = env!("CARGO_MANIFEST_DIR");
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(format!("{manifest}/deploy/prometheus/alerts.yml")).unwrap(),
    )
    .unwrap();
    let mut alerts = BTreeSet::new();
    let mut exprs = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        assert!(group["name"].as_str().is_some());
        for rule in group["rules"].as_sequence().unwrap() {
            let alert = rule["alert"].as_str().unwrap();
            assert!(rule["labels"]["severity"].as_str().is_some(), "{alert}");
            assert!(rule["annotations"]["summary"].as_str().is_some(), "{alert}");
            alerts.insert(alert.to_owned());
            exprs.push((alert.to_owned(), rule["expr"].as_str().unwrap().to_owned()));
        }
    }
    for wanted in [
        "RadarSnapshotTooOld",
        "RadarWarmupFailing",
        "RadarNotReady",
        "RadarNoInstanceUp",
        "RadarAneelEndpointErrors",
        "RadarSnapshotNotStored",
    ] {
        assert!(alerts.contains(wanted), "{wanted} missing from {alerts:?}");
    }

    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{manifest}/deploy/grafana/radar-interrupcoes.json"))
            .unwrap(),
    )
    .unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 6);
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap().to_owned();
            exprs.push((title, target["expr"].as_str().unwrap().to_owned()));
        }
    }

    for (name, expr) in &exprs {
        let used = metric_names(expr);
        assert!(!used.is_empty(), "{name}: {expr}");
        for metric in used.into_iter().filter(|metric| metric != "up") {
            assert!(
                exported.contains(&metric),
                "{name} uses {metric}, which is not exported: {exported:?}"
            );
        }
    }
}

/// The dashboard's job panels show the warm-up alone (one line per pod, not one per job with
/// the same legend), and its stat panels colour what the alerts page on.
#[test]
fn the_dashboard_shows_the_warm_up_alone_and_colours_its_stats() {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/grafana/radar-interrupcoes.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let legend = target["legendFormat"].as_str().unwrap_or_default();
            if expr.contains("radar_job_") && !legend.contains("{{job_name}}") {
                assert!(
                    expr.contains(r#"job_name="interrupcao_cache_warmup""#),
                    "{title}: {expr} mixes every job's series under one legend"
                );
            }
        }
        if panel["type"] == "stat" {
            let defaults = &panel["fieldConfig"]["defaults"];
            let steps = defaults["thresholds"]["steps"]
                .as_array()
                .map_or(0, Vec::len);
            assert!(
                steps >= 2
                    || defaults["mappings"]
                        .as_array()
                        .is_some_and(|m| !m.is_empty()),
                "{title}: a stat panel without thresholds or value mappings"
            );
        }
    }
}

/// The series names a PromQL expression reads: the service's own (`radar_*`, the
/// conventional `grpc_server_*` and `process_*`) and `up`, which Prometheus writes for every
/// target. Label names, functions and keywords are not series names, so only these
/// prefixes are looked for.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| {
            *word == "up"
                || ["radar_", "grpc_server_", "process_"]
                    .iter()
                    .any(|prefix| word.starts_with(prefix))
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn beyond_the_staleness_hard_limit_the_http_answer_is_anels_error_too() {
    let mut settings = test_settings();
    settings.stale_after = Duration::from_millis(500);
    settings.stale_hard_limit = Duration::from_secs(1);
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_http(source, settings, ApiKeys::default()).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    let (status, headers, json) = loop {
        let got = get_json(&aneel(&app, PATH), None).await;
        if got.2["idcStatusRequisicao"] != 1 {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, StatusCode::OK);
    let mensagem = assert_envelope(status, &headers, &json);
    assert!(
        mensagem.starts_with("Dados indisponíveis desde "),
        "{mensagem}"
    );
    assert_eq!(header(&headers, "x-radar-stale"), Some("true"));
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    let (_, _, json) = get_json(&aneel(&app, PATH), None).await;
    assert_eq!(
        json["idcStatusRequisicao"], 1,
        "fresh data restores the answer"
    );
}

#[tokio::test]
async fn refused_grpc_connections_are_counted_in_the_metrics() {
    let mut settings = test_settings();
    // The test client's gRPC channel is one connection; a silent socket is the second.
    settings.limits.max_connections = 2;
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_http(source, settings, ApiKeys::default()).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    let _second = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut third = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut buf = [0u8; 64];
    // Closed at once by the server (EOF or reset).
    let read = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::io::AsyncReadExt::read(&mut third, &mut buf),
    )
    .await
    .expect("the connection beyond the cap was not closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let text = client()
        .get(ops(&app, "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l
                == r#"radar_connections_refused_total{listener="grpc",reason="global_cap"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn every_answer_carries_a_request_id_the_callers_when_it_is_a_plain_token() {
    let app = spawn(FakeSource::new(Behaviour::Rows(vec![row(101, 1, 2)]))).await;
    app.wait_health(radar_interrupcoes::health::INTERRUPCOES_SERVICE, Serving)
        .await;
    let id_of = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let send = |url: String, id: Option<&'static str>| async move {
        let mut request = client().get(url);
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        request.send().await.unwrap()
    };
    // Answers, errors and the operations endpoint alike.
    for url in [
        aneel(&app, PATH),
        aneel(&app, "/nowhere"),
        aneel(&app, &format!("{PATH}?dthRecuperacao=nonsense")),
        ops(&app, "/metrics"),
        ops(&app, "/livez"),
    ] {
        let kept = send(url.clone(), Some("gateway.req-7_A")).await;
        assert_eq!(id_of(&kept), "gateway.req-7_A", "{url}");
        // Anything that is not a plain token is replaced (no tracing here: a UUID), and
        // so is no id at all, with a new one per request.
        let replaced = send(url.clone(), Some("two words")).await;
        assert!(uuid::Uuid::parse_str(&id_of(&replaced)).is_ok(), "{url}");
        let first = id_of(&send(url.clone(), None).await);
        let second = id_of(&send(url.clone(), None).await);
        assert!(uuid::Uuid::parse_str(&first).is_ok(), "{url}: {first}");
        assert_ne!(first, second, "{url}");
    }
}

//! Abuse and faults over real sockets: connection limits, admin authentication, the
//! source's protection from manual triggers, the staleness hard limit, liveness, the
//! shutdown drain, and rejected rows made visible.

mod common;

use radar_interrupcoes::transport::Close;
use std::time::Duration;

use common::raw_h2::{
    ACK, FRAME_DATA, FRAME_GOAWAY, FRAME_RST_STREAM, FRAME_SETTINGS, NO_ERROR, PATIENCE, PREFACE,
    REFUSED_STREAM, SETTINGS_MAX_CONCURRENT_STREAMS, closed_by_server, frame, read_until,
    send_preface, settings_value, watch_request,
};
use common::{Behaviour, FakeSource, TestApp, row, test_settings};
use radar_interrupcoes::config::ServiceSettings;
use radar_interrupcoes::health::{INTERRUPCOES_SERVICE, SCHEDULER_SERVICE};
use radar_interrupcoes::proto::interrupcoes::v1 as data_pb;
use radar_interrupcoes::proto::interrupcoes::v1::interrupcoes_service_client::InterrupcoesServiceClient;
use radar_interrupcoes::proto::scheduler::v1 as sched_pb;
use radar_interrupcoes::proto::scheduler::v1::scheduler_admin_client::SchedulerAdminClient;
use secrecy::SecretString;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus::{NotServing, Serving};

const WARMUP: &str = "interrupcao_cache_warmup";

async fn answers_normally(app: &TestApp) {
    let answer = app.get().await.expect("the service still answers");
    assert_eq!(answer.resposta.unwrap().idc_status_requisicao, 1);
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_handshake_timeout() {
    let mut settings = test_settings();
    settings.limits.handshake_timeout = Duration::from_millis(200);
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_with(source, settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    closed_by_server(&mut silent).await;
    assert!(app.incoming.closed(Close::HandshakeTimeout) >= 1);
    answers_normally(&app).await;
}

#[tokio::test]
async fn a_connection_that_only_sent_the_preface_is_closed_at_its_maximum_age() {
    let mut settings = test_settings();
    settings.limits.max_connection_age = Duration::from_millis(300);
    settings.limits.max_connection_age_grace = Duration::from_millis(300);
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_with(source, settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    // The HTTP/2 preface and an empty SETTINGS frame, then nothing.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(PREFACE).await.unwrap();
    idle.write_all(&frame(FRAME_SETTINGS, 0, 0, &[]))
        .await
        .unwrap();
    closed_by_server(&mut idle).await;
    // The test's own channel, idle meanwhile, was recycled too; a tonic channel only
    // notices when it next calls, so ask on a new connection.
    let mut fresh = InterrupcoesServiceClient::new(app.connect().await);
    let answer = fresh
        .get_quantitativo_interrupcoes_ativas(
            data_pb::GetQuantitativoInterrupcoesAtivasRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        answer.into_inner().resposta.unwrap().idc_status_requisicao,
        1
    );
}

#[tokio::test]
async fn a_call_in_flight_at_the_maximum_age_is_kept_by_the_goaway() {
    let mut settings = test_settings();
    settings.limits.max_connection_age = Duration::from_millis(200);
    settings.limits.max_connection_age_grace = Duration::from_millis(500);
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_with(source, settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    // A health Watch (a call that stays open) on a raw connection, answered at once.
    let mut conn = TcpStream::connect(app.addr).await.unwrap();
    send_preface(&mut conn).await.unwrap();
    conn.write_all(&watch_request(1, app.addr)).await.unwrap();
    read_until(&mut conn, |kind, _, id, _| kind == FRAME_DATA && id == 1).await;
    // At its age the connection says GOAWAY, gracefully, naming the open call as one it
    // will finish; the grace bounds how long that takes.
    let goaway = read_until(&mut conn, |kind, _, _, _| kind == FRAME_GOAWAY).await;
    let last_stream = u32::from_be_bytes(goaway[..4].try_into().unwrap()) & 0x7fff_ffff;
    assert!(last_stream >= 1, "the open call is kept: {last_stream}");
    assert_eq!(
        u32::from_be_bytes(goaway[4..8].try_into().unwrap()),
        NO_ERROR
    );
    closed_by_server(&mut conn).await;
    // Clients reconnect for new calls.
    let mut fresh = InterrupcoesServiceClient::new(app.connect().await);
    fresh
        .get_quantitativo_interrupcoes_ativas(
            data_pb::GetQuantitativoInterrupcoesAtivasRequest::default(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_connection_beyond_the_cap_is_refused_while_the_others_keep_working() {
    let mut settings = test_settings();
    // The test client's channel is one; a silent socket is the second.
    settings.limits.max_connections = 2;
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_with(source, settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let _second = TcpStream::connect(app.addr).await.unwrap();
    // Wait until the server has accepted it (it holds a permit from then on).
    let mut third = TcpStream::connect(app.addr).await.unwrap();
    closed_by_server(&mut third).await;
    assert!(app.incoming.refused_total() >= 1);
    answers_normally(&app).await;
}

#[tokio::test]
async fn a_stream_beyond_the_per_connection_limit_is_refused() {
    let mut settings = test_settings();
    settings.limits.max_concurrent_streams = 2;
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_with(source, settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    // A raw HTTP/2 client that ignores the advertised limit: three health Watch streams
    // (which stay open) on one connection.
    let mut conn = TcpStream::connect(app.addr).await.unwrap();
    conn.write_all(PREFACE).await.unwrap();
    conn.write_all(&frame(FRAME_SETTINGS, 0, 0, &[]))
        .await
        .unwrap();
    let settings = read_until(&mut conn, |t, f, _, _| t == FRAME_SETTINGS && f & ACK == 0).await;
    assert!(
        settings_value(&settings, SETTINGS_MAX_CONCURRENT_STREAMS) == Some(2),
        "the limit is advertised"
    );
    conn.write_all(&frame(FRAME_SETTINGS, ACK, 0, &[]))
        .await
        .unwrap();
    for stream_id in [1, 3, 5] {
        conn.write_all(&watch_request(stream_id, app.addr))
            .await
            .unwrap();
    }
    let rst = read_until(&mut conn, |t, _, id, _| t == FRAME_RST_STREAM && id == 5).await;
    assert_eq!(
        u32::from_be_bytes(rst[..4].try_into().unwrap()),
        REFUSED_STREAM
    );
    answers_normally(&app).await;
}

#[tokio::test]
async fn an_oversized_request_gets_resource_exhausted() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn(source).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let huge = data_pb::GetQuantitativoInterrupcoesAtivasRequest {
        dth_recuperacao: "9".repeat(test_settings().limits.max_request_bytes as usize + 1),
    };
    let status = app
        .data
        .clone()
        .get_quantitativo_interrupcoes_ativas(huge)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    answers_normally(&app).await;
}

#[tokio::test]
async fn an_echoed_value_is_cut_to_a_short_prefix() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn(source).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let long = data_pb::GetQuantitativoInterrupcoesAtivasRequest {
        dth_recuperacao: "x".repeat(8000),
    };
    let status = app
        .data
        .clone()
        .get_quantitativo_interrupcoes_ativas(long)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().len() < 300, "{}", status.message());
    assert!(status.message().contains("8000 characters"), "{status:?}");
}

const TOKEN: &str = "test-admin-token-0123456789";

fn with_token() -> ServiceSettings {
    let mut settings = test_settings();
    settings.admin.admin_token = Some(SecretString::from(TOKEN));
    settings
}

async fn list_jobs_with(app: &TestApp, authorization: Option<&str>) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(sched_pb::ListJobsRequest {});
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    SchedulerAdminClient::new(app.channel.clone())
        .list_jobs(request)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn with_a_token_admin_calls_need_it_and_data_and_health_stay_open() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_with(source.clone(), with_token()).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let missing = list_jobs_with(&app, None).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    let wrong = list_jobs_with(&app, Some("Bearer not-the-token-at-all"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::PermissionDenied, "{wrong:?}");
    assert!(!wrong.message().contains(TOKEN));
    list_jobs_with(&app, Some(&format!("Bearer {TOKEN}")))
        .await
        .expect("the right token is accepted");

    // Without the token TriggerNow cannot make the service query the source.
    let calls = source.calls();
    let status = app.trigger(WARMUP).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(source.calls(), calls);

    answers_normally(&app).await;
    assert_eq!(app.health_of(INTERRUPCOES_SERVICE).await, Serving);
}

#[tokio::test]
async fn without_a_token_loopback_callers_may_administer() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn(source).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    list_jobs_with(&app, None)
        .await
        .expect("loopback is admitted without a token");
}

#[tokio::test]
async fn twenty_manual_triggers_in_a_row_cause_one_source_query() {
    let mut settings = test_settings();
    settings.admin.manual_min_interval = Duration::from_secs(600);
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_with(source.clone(), settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    assert_eq!(source.calls(), 1, "the start-up run");

    for _ in 0..20 {
        let response = app.trigger(WARMUP).await.unwrap();
        assert!(response.reused_recent_run, "{response:?}");
        let run = response.run.unwrap();
        assert_eq!(run.run_id, 1, "the start-up run is returned");
        assert_eq!(run.trigger, "startup");
    }
    assert_eq!(source.calls(), 1, "no manual trigger reached the source");
}

#[tokio::test]
async fn beyond_the_hard_limit_the_answer_is_anels_error_until_fresh_data_arrives() {
    let mut settings = test_settings();
    settings.stale_after = Duration::from_millis(500);
    settings.stale_hard_limit = Duration::from_secs(1);
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0), row(2, 0, 1)]));
    let app = TestApp::spawn_with(source, settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let expired = loop {
        let answer = app.get().await.unwrap();
        if answer.resposta.as_ref().unwrap().idc_status_requisicao != 1 {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let resposta = expired.resposta.unwrap();
    assert_eq!(resposta.idc_status_requisicao, 2);
    assert!(resposta.interrupcao_fornecimento.is_empty());
    assert!(
        resposta.mensagem.starts_with("Dados indisponíveis desde "),
        "{}",
        resposta.mensagem
    );
    assert!(!resposta.email_indisponibilidade.is_empty());
    let meta = expired.snapshot.unwrap();
    assert!(meta.stale);
    assert!(meta.age.unwrap().seconds >= 1, "the age is still shown");
    // Readiness does not follow staleness.
    assert_eq!(app.health_of(INTERRUPCOES_SERVICE).await, Serving);

    app.trigger(WARMUP).await.unwrap();
    let fresh = app.get().await.unwrap().resposta.unwrap();
    assert_eq!(fresh.idc_status_requisicao, 1);
    assert_eq!(fresh.interrupcao_fornecimento.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_stuck_beyond_its_worst_case_turns_the_scheduler_not_serving() {
    let mut settings = test_settings();
    settings.job_timeout = Duration::from_millis(100);
    settings.job_max_attempts = 1;
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_with(source.clone(), settings).await;
    app.wait_health(SCHEDULER_SERVICE, Serving).await;
    // With a 100 ms attempt timeout a busy machine can fail the first run; the start-up
    // retries load the snapshot, which the readiness check below relies on.
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    // Let the run that loaded it end (it also writes the snapshot store), or the trigger
    // below would join it instead of starting the run that blocks.
    for _ in 0..400 {
        let jobs = app.jobs().await.jobs;
        if jobs
            .iter()
            .any(|j| j.name == WARMUP && !j.running && j.last_success_at.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // The next attempt blocks its thread, so the attempt timeout cannot end it.
    source.set(Behaviour::Block(Duration::from_secs(3)));
    let admin = app.admin.clone();
    let stuck_run = tokio::spawn(async move {
        admin
            .clone()
            .trigger_now(sched_pb::TriggerNowRequest {
                job_name: WARMUP.to_owned(),
            })
            .await
    });
    // Probe as kubelet does, on a new connection each time: a connection whose task
    // waits behind the blocked worker must not hide the answer.
    let mut seen = false;
    for _ in 0..400 {
        if probe(&app, SCHEDULER_SERVICE).await == Some(NotServing) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(seen, "the scheduler never turned NOT_SERVING");
    // A probe that times out on a loaded machine says nothing about readiness: ask again
    // (a few times) until one answers, and assert on that answer.
    let mut readiness = None;
    for _ in 0..5 {
        readiness = probe(&app, INTERRUPCOES_SERVICE).await;
        if readiness.is_some() {
            break;
        }
    }
    assert_eq!(readiness, Some(Serving), "readiness is not liveness");
    // Once the run ends the scheduler is live again.
    stuck_run.await.unwrap().unwrap();
    app.wait_health(SCHEDULER_SERVICE, Serving).await;
}

#[tokio::test]
async fn during_the_drain_delay_new_calls_succeed_and_then_the_server_stops() {
    let mut settings = test_settings();
    settings.drain_delay = Duration::from_secs(2);
    settings.shutdown_grace = Duration::from_secs(2);
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let mut app = TestApp::spawn_with(source, settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    app.signal_shutdown();
    app.wait_health(INTERRUPCOES_SERVICE, NotServing).await;
    // A client that has not yet seen the endpoint removed opens a new connection.
    let mut late = InterrupcoesServiceClient::new(app.connect().await);
    let answer = late
        .get_quantitativo_interrupcoes_ativas(
            data_pb::GetQuantitativoInterrupcoesAtivasRequest::default(),
        )
        .await
        .expect("calls during the drain delay are answered")
        .into_inner();
    assert_eq!(answer.resposta.unwrap().idc_status_requisicao, 1);

    tokio::time::timeout(PATIENCE, app.stopped())
        .await
        .expect("the server stops after the delay and the grace period")
        .unwrap();
    assert!(
        TcpStream::connect(app.addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn rejected_rows_show_in_list_jobs_and_in_the_answer() {
    let mut too_many = row(3, 1, 1);
    too_many.qtd_ucs_atendidas = Some(3_000_000_000);
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0), too_many]));
    let app = TestApp::spawn(source).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let answer = app.get().await.unwrap();
    assert_eq!(answer.resposta.unwrap().interrupcao_fornecimento.len(), 1);
    let meta = answer.snapshot.unwrap();
    assert_eq!(meta.rejected_rows, 1);
    assert_eq!(meta.missing_pairs.len(), 1);
    assert!(
        meta.missing_pairs[0].starts_with("conjunto=3 municipio=1400100: qtdUCsAtendidas"),
        "{:?}",
        meta.missing_pairs
    );
    let run = app.jobs().await.jobs[0].last_run.clone().unwrap();
    assert_eq!(run.outcome, sched_pb::RunOutcome::Partial as i32);
    assert_eq!(run.rejected, 1);
}

/// The health of `service` asked on a new connection; `None` if no answer within a second.
async fn probe(
    app: &TestApp,
    service: &str,
) -> Option<tonic_health::pb::health_check_response::ServingStatus> {
    let ask = async {
        let mut client = tonic_health::pb::health_client::HealthClient::new(app.connect().await);
        let status = client
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .ok()?
            .into_inner()
            .status;
        tonic_health::pb::health_check_response::ServingStatus::try_from(status).ok()
    };
    tokio::time::timeout(Duration::from_secs(1), ask)
        .await
        .ok()
        .flatten()
}

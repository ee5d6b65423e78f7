//! Black-box tests: the real server on 127.0.0.1:0, called with the generated clients.

mod common;

use std::time::Duration;

use common::{Behaviour, FakeSource, TestApp, next_health, row, test_settings};
use radar_interrupcoes::health::{INTERRUPCOES_SERVICE, OVERALL, SCHEDULER_SERVICE};
use radar_interrupcoes::jobs::{PURGE_JOB_NAME, WARMUP_JOB_NAME};
use radar_interrupcoes::proto::interrupcoes::v1 as data_pb;
use radar_interrupcoes::proto::scheduler::v1::RunOutcome;
use radar_interrupcoes::source::SourceError;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus::{NotServing, Serving};

#[tokio::test]
async fn health_turns_serving_after_the_first_load_and_watch_sees_each_change_once() {
    let source = FakeSource::gated(Behaviour::Rows(vec![row(1, 5, 0)]));
    let app = TestApp::spawn(source.clone()).await;

    for name in [INTERRUPCOES_SERVICE, OVERALL] {
        assert_eq!(
            app.health_of(name).await,
            NotServing,
            "{name:?} before the first load"
        );
    }
    let status = app.get().await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("first load is in progress"),
        "{}",
        status.message()
    );

    let mut watch = app.watch_health(OVERALL).await;
    assert_eq!(next_health(&mut watch).await, Some(NotServing));

    source.open_gate();
    assert_eq!(next_health(&mut watch).await, Some(Serving));
    assert_eq!(app.health_of(INTERRUPCOES_SERVICE).await, Serving);
    assert_eq!(app.health_of(SCHEDULER_SERVICE).await, Serving);

    // A refresh that changes nothing in health publishes nothing.
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), watch.next())
            .await
            .is_err(),
        "a duplicate SERVING message was sent"
    );
}

#[tokio::test]
async fn answers_carry_the_aneel_fields_and_the_snapshot_metadata() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(7, 3, 40), row(9, 0, 12)]));
    let app = TestApp::spawn(source.clone()).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let answer = app.get().await.unwrap();
    let resposta = answer.resposta.unwrap();
    assert_eq!(resposta.idc_status_requisicao, 1);
    assert_eq!(resposta.mensagem, "");
    assert_eq!(
        resposta.email_indisponibilidade,
        test_settings().contact_email
    );
    assert_eq!(
        resposta.interrupcao_fornecimento,
        vec![
            data_pb::InterrupcaoFornecimento {
                ide_conjunto_unidade_consumidora: 7,
                ide_municipio: 1_400_100,
                qtd_ucs_atendidas: 1000,
                qtd_ocorrencia_programada: 3,
                qtd_ocorrencia_nao_programada: 40,
            },
            data_pb::InterrupcaoFornecimento {
                ide_conjunto_unidade_consumidora: 9,
                ide_municipio: 1_400_100,
                qtd_ucs_atendidas: 1000,
                qtd_ocorrencia_programada: 0,
                qtd_ocorrencia_nao_programada: 12,
            },
        ]
    );
    let meta = answer.snapshot.unwrap();
    assert_eq!(meta.item_count, 2);
    assert_eq!(meta.source, "fake");
    assert_eq!(meta.cache_key, "interrupcoes:ativas:v1");
    assert!(!meta.stale);
    assert!(meta.collected_at.is_some() && meta.age.is_some());
    assert_eq!(source.calls(), 1, "serving never touches the source");
    app.get().await.unwrap();
    assert_eq!(source.calls(), 1, "serving never touches the source");
}

#[tokio::test]
async fn rows_failing_validation_are_left_out_and_counted() {
    let mut bad = row(3, 1, 1);
    bad.municipio = Some(140_010); // 6 digits
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0), bad]));
    let app = TestApp::spawn(source).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    let answer = app.get().await.unwrap();
    assert_eq!(answer.resposta.unwrap().interrupcao_fornecimento.len(), 1);
    assert_eq!(answer.snapshot.unwrap().rejected_rows, 1);
    let job = &app.jobs().await.jobs[0];
    assert_eq!(job.last_run.as_ref().unwrap().rejected, 1);
    // The generic facts carry the same number, for clients that read every job alike.
    let facts = &job.last_run.as_ref().unwrap().facts;
    assert_eq!(facts.get("rejected").map(String::as_str), Some("1"));
}

#[tokio::test]
async fn list_jobs_shows_the_warmup_with_its_cron_and_next_run() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let mut settings = test_settings();
    settings.warmup_cron = "*/30 * * * *".parse().unwrap();
    let app = TestApp::spawn_with(source, settings).await;
    app.wait_health(OVERALL, Serving).await;

    let list = app.jobs().await;
    assert!(list.scheduler_running);
    let names: Vec<&str> = list.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, [WARMUP_JOB_NAME, PURGE_JOB_NAME], "ordered by name");
    assert_eq!(
        list.jobs[1].cron, "0 3 * * *",
        "the purge runs daily by default"
    );
    let job = &list.jobs[0];
    assert_eq!(job.name, WARMUP_JOB_NAME);
    assert_eq!(job.cron, "*/30 * * * *");
    assert_eq!(job.time_zone, "America/Sao_Paulo");
    let next = job.next_run.expect("next run while the scheduler runs");
    let now = chrono::Utc::now().timestamp();
    assert!(
        next.seconds > now && next.seconds <= now + 30 * 60,
        "{next:?}"
    );
    assert_eq!(next.seconds % (30 * 60), 0, "on a :00 or :30 boundary");
    let last = job.last_run.as_ref().unwrap();
    assert_eq!(last.outcome, RunOutcome::Succeeded as i32);
    assert_eq!(last.trigger, "startup");
    assert_eq!((last.items, last.attempts), (1, 1));
    assert_eq!(
        (job.total_runs, job.total_failures, job.consecutive_failures),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn trigger_now_refreshes_the_data() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn(source.clone()).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    source.set(Behaviour::Rows(vec![
        row(1, 2, 0),
        row(2, 0, 8),
        row(3, 4, 4),
    ]));
    let run = app.trigger(WARMUP_JOB_NAME).await.unwrap();
    assert!(!run.joined_running_run);
    let run = run.run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded as i32);
    assert_eq!(run.items, 3);
    assert_eq!(run.trigger, "manual");

    let items = app
        .get()
        .await
        .unwrap()
        .resposta
        .unwrap()
        .interrupcao_fornecimento;
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].qtd_ocorrencia_programada, 2);
}

#[tokio::test]
async fn twenty_concurrent_triggers_cause_one_source_query() {
    // The start-up run holds at the gate while 20 triggers arrive and join it.
    let source = FakeSource::gated(Behaviour::Rows(vec![row(1, 1, 0), row(2, 1, 0)]));
    let app2 = TestApp::spawn(source.clone()).await;
    let source2 = source;
    // Wait for the start-up run to be in progress (held at the gate) before the triggers.
    while !app2.jobs().await.jobs[0].running {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let calls = (0..20).map(|_| {
        let app = &app2;
        async move { app.trigger(WARMUP_JOB_NAME).await.unwrap() }
    });
    let all = futures::future::join_all(calls);
    let opener = async {
        // Give the 20 calls time to reach the server and join the run (generous: CI
        // machines are shared).
        tokio::time::sleep(Duration::from_millis(1000)).await;
        source2.open_gate();
    };
    let (results, ()) = tokio::join!(all, opener);
    assert_eq!(
        source2.calls(),
        1,
        "one query for the start-up run and 20 triggers"
    );
    let run_ids: std::collections::HashSet<u64> = results
        .iter()
        .map(|r| r.run.as_ref().unwrap().run_id)
        .collect();
    assert_eq!(run_ids.len(), 1, "every caller got the same run");
    assert!(results.iter().all(|r| r.joined_running_run));
    assert_eq!(results[0].run.as_ref().unwrap().items, 2);
}

#[tokio::test]
async fn a_source_failing_after_a_good_load_keeps_serving_the_old_data_marked_stale() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0), row(2, 0, 3)]));
    let app = TestApp::spawn(source.clone()).await;
    app.wait_health(OVERALL, Serving).await;

    source.set(Behaviour::Fail(SourceError::transient(
        Some("ORA-12541".into()),
        "TNS:no listener",
    )));
    let run = app.trigger(WARMUP_JOB_NAME).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Failed as i32);
    assert_eq!(run.attempts, 2, "transient errors are retried");
    assert!(run.error.contains("ORA-12541"), "{}", run.error);

    let answer = app.get().await.unwrap();
    assert_eq!(answer.resposta.unwrap().interrupcao_fornecimento.len(), 2);
    let meta = answer.snapshot.unwrap();
    assert!(meta.stale);
    assert!(
        meta.stale_reason.contains("ORA-12541"),
        "{}",
        meta.stale_reason
    );
    assert_eq!(app.health_of(INTERRUPCOES_SERVICE).await, Serving);

    let job = &app.jobs().await.jobs[0];
    assert_eq!(job.consecutive_failures, 1);
    assert_eq!(job.total_failures, 1);
    assert!(
        job.last_run
            .as_ref()
            .unwrap()
            .error
            .contains("TNS:no listener")
    );

    source.set(Behaviour::Rows(vec![row(5, 1, 1)]));
    app.trigger(WARMUP_JOB_NAME).await.unwrap();
    let answer = app.get().await.unwrap();
    assert!(!answer.snapshot.unwrap().stale);
    assert_eq!(app.jobs().await.jobs[0].consecutive_failures, 0);
}

/// Waits until the warm-up has failed at least `n` times.
async fn wait_failures(app: &TestApp, n: u64) {
    for _ in 0..400 {
        if app.jobs().await.jobs[0].total_failures >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the warm-up never failed {n} times");
}

#[tokio::test]
async fn a_source_failing_from_the_start_is_not_serving_then_recovers() {
    let source = FakeSource::new(Behaviour::Fail(SourceError::transient(
        Some("ORA-12541".into()),
        "TNS:no listener",
    )));
    let app = TestApp::spawn(source.clone()).await;

    wait_failures(&app, 2).await;
    let status = app.get().await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("ORA-12541"),
        "{}",
        status.message()
    );
    assert_eq!(app.health_of(INTERRUPCOES_SERVICE).await, NotServing);
    assert_eq!(app.health_of(OVERALL).await, NotServing);
    assert_eq!(app.health_of(SCHEDULER_SERVICE).await, Serving);

    // The start-up retries pick the source up as soon as it recovers.
    source.set(Behaviour::Rows(vec![row(1, 1, 0)]));
    app.wait_health(OVERALL, Serving).await;
    assert_eq!(app.get().await.unwrap().snapshot.unwrap().item_count, 1);
}

#[tokio::test]
async fn a_permanent_failure_at_start_up_is_not_retried_until_an_operator_triggers() {
    let source = FakeSource::new(Behaviour::Fail(SourceError::permanent(
        Some("ORA-01017".into()),
        "invalid username/password; fix RADAR_ORACLE_USER",
    )));
    let app = TestApp::spawn(source.clone()).await;

    wait_failures(&app, 1).await;
    let job = &app.jobs().await.jobs[0];
    let last = job.last_run.as_ref().unwrap();
    assert_eq!(
        last.attempts, 1,
        "permanent errors are not retried within the run"
    );
    assert!(last.error.contains("ORA-01017"), "{}", last.error);
    let status = app.get().await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("ORA-01017"),
        "{}",
        status.message()
    );
    // Several start-up backoffs (50-200 ms) pass without another login attempt.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        source.calls(),
        1,
        "a bad password must not be retried in a loop"
    );
    assert_eq!(app.health_of(INTERRUPCOES_SERVICE).await, NotServing);

    // The operator fixes the cause and triggers the warm-up.
    source.set(Behaviour::Rows(vec![row(1, 1, 0)]));
    let run = app.trigger(WARMUP_JOB_NAME).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded as i32);
    app.wait_health(OVERALL, Serving).await;
}

#[tokio::test]
async fn a_job_that_panics_leaves_the_scheduler_running() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn(source.clone()).await;
    app.wait_health(OVERALL, Serving).await;

    source.set(Behaviour::Panic);
    let run = app.trigger(WARMUP_JOB_NAME).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Panicked as i32);
    assert!(run.error.contains("fake source panicked"), "{}", run.error);

    let list = app.jobs().await;
    assert!(list.scheduler_running);
    assert_eq!(list.jobs[0].total_failures, 1);
    assert_eq!(app.health_of(SCHEDULER_SERVICE).await, Serving);
    assert!(app.get().await.unwrap().snapshot.unwrap().stale);

    source.set(Behaviour::Rows(vec![row(1, 1, 0)]));
    let run = app.trigger(WARMUP_JOB_NAME).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded as i32);
}

#[tokio::test]
async fn health_reports_a_stopped_scheduler() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn(source).await;
    app.wait_health(OVERALL, Serving).await;
    let mut data_watch = app.watch_health(INTERRUPCOES_SERVICE).await;
    assert_eq!(next_health(&mut data_watch).await, Some(Serving));

    app.scheduler.stop().await.unwrap();
    app.wait_health(SCHEDULER_SERVICE, NotServing).await;
    assert_eq!(app.health_of(OVERALL).await, NotServing);
    assert_eq!(app.health_of(INTERRUPCOES_SERVICE).await, Serving);
    let list = app.jobs().await;
    assert!(!list.scheduler_running);
    assert!(list.jobs[0].next_run.is_none());

    app.scheduler.start().await.unwrap();
    app.wait_health(OVERALL, Serving).await;
    // The data service did not change: its watchers got no message at all.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), data_watch.next())
            .await
            .is_err(),
        "a duplicate SERVING message was sent to the data service's watchers"
    );
}

#[tokio::test]
async fn cron_ticks_run_the_job_and_ticks_during_a_run_are_skipped() {
    let source = FakeSource::gated(Behaviour::Rows(vec![row(1, 1, 0)]));
    let mut settings = test_settings();
    settings.warmup_cron = "* * * * * *".parse().unwrap(); // every second
    let app = TestApp::spawn_with(source.clone(), settings).await;

    // The start-up run holds at the gate; ticks keep coming and must be skipped.
    let mut skipped = 0;
    for _ in 0..100 {
        skipped = app.jobs().await.jobs[0].skipped_ticks;
        if skipped >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(skipped >= 1, "no tick was skipped during the held run");
    assert_eq!(source.calls(), 1, "no second query while the first runs");

    source.open_gate();
    let mut cron_runs = 0;
    for _ in 0..100 {
        let job = &app.jobs().await.jobs[0];
        if job.last_run.as_ref().is_some_and(|r| r.trigger == "cron") {
            cron_runs = job.total_runs;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cron_runs >= 2, "a cron tick ran the job");
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn(source).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let e = app.trigger("no_such_job").await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("no_such_job"));
    let e = app.trigger("").await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("jobName"));

    let ask = |dth: &str| {
        let mut data = app.data.clone();
        let dth = dth.to_owned();
        async move {
            data.get_quantitativo_interrupcoes_ativas(
                data_pb::GetQuantitativoInterrupcoesAtivasRequest {
                    dth_recuperacao: dth,
                },
            )
            .await
            .unwrap_err()
        }
    };
    let e = ask("2026-11-28T10:00").await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("dthRecuperacao") && e.message().contains("2026-11-28T10:00"));
    // A valid past moment before anything was stored: NOT_FOUND (see tests/history.rs).
    let e = ask("28/11/2026 10:00").await;
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test]
async fn shutdown_turns_health_off_and_returns() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let mut app = TestApp::spawn(source).await;
    app.wait_health(OVERALL, Serving).await;
    let mut watch = app.watch_health(INTERRUPCOES_SERVICE).await;
    assert_eq!(next_health(&mut watch).await, Some(Serving));
    tokio::time::timeout(Duration::from_secs(10), app.shutdown())
        .await
        .expect("run returns within the grace period")
        .unwrap();
    // The NOT_SERVING message reaches the open stream before the server closes it.
    assert_eq!(
        next_health(&mut watch).await,
        Some(NotServing),
        "NOT_SERVING on shutdown"
    );
}

/// Asks one reflection protocol (`v1` or `v1alpha`: same messages, other package) to list
/// the services, then to resolve each service's file and the well-known types it imports:
/// what a client needs to call every RPC by reflection alone.
macro_rules! check_reflection {
    ($proto:ident, $channel:expr, $services:expr) => {{
        use tonic_reflection::pb::$proto::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$proto::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$proto::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::$proto::ServerReflectionRequest;
        let protocol = stringify!($proto);
        let mut client = ServerReflectionClient::new($channel);
        let mut ask = async |request: MessageRequest| {
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            };
            let mut answers = client
                .server_reflection_info(tokio_stream::iter(vec![request]))
                .await
                .unwrap()
                .into_inner();
            answers.next().await.unwrap().unwrap().message_response
        };
        let Some(MessageResponse::ListServicesResponse(list)) =
            ask(MessageRequest::ListServices(String::new())).await
        else {
            panic!("{protocol}: not a list response")
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for service in $services {
            assert!(
                names.iter().any(|n| n == service),
                "{protocol}: {service} missing from {names:?}"
            );
            let answer = ask(MessageRequest::FileContainingSymbol(service.into())).await;
            assert!(
                matches!(answer, Some(MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()),
                "{protocol}: {service}: {answer:?}"
            );
        }
        for dependency in [
            "google/protobuf/timestamp.proto",
            "google/protobuf/duration.proto",
        ] {
            let answer = ask(MessageRequest::FileByFilename(dependency.into())).await;
            assert!(
                matches!(answer, Some(MessageResponse::FileDescriptorResponse(_))),
                "{protocol}: {dependency} not served: {answer:?}"
            );
        }
    }};
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_and_describe_every_service() {
    let source = FakeSource::new(Behaviour::Rows(vec![]));
    let app = TestApp::spawn(source).await;
    let services = [
        "grpc.health.v1.Health",
        "radar.interrupcoes.v1.InterrupcoesService",
        "radar.scheduler.v1.SchedulerAdmin",
    ];
    check_reflection!(v1, app.channel.clone(), services);
    check_reflection!(v1alpha, app.channel.clone(), services);
}

#[test]
fn every_field_of_the_aneel_answer_has_its_exact_json_name() {
    use prost::Message;
    let set =
        prost_types::FileDescriptorSet::decode(radar_interrupcoes::proto::FILE_DESCRIPTOR_SET)
            .unwrap();
    let file = set
        .file
        .iter()
        .find(|f| f.package() == "radar.interrupcoes.v1")
        .unwrap();
    let json_names = |message: &str| -> Vec<String> {
        file.message_type
            .iter()
            .find(|m| m.name() == message)
            .unwrap()
            .field
            .iter()
            .map(|f| f.json_name().to_owned())
            .collect()
    };
    assert_eq!(
        json_names("QuantitativoInterrupcoesAtivas"),
        [
            "idcStatusRequisicao",
            "emailIndisponibilidade",
            "mensagem",
            "interrupcaoFornecimento"
        ]
    );
    assert_eq!(
        json_names("InterrupcaoFornecimento"),
        [
            "ideConjuntoUnidadeConsumidora",
            "ideMunicipio",
            "qtdUCsAtendidas",
            "qtdOcorrenciaProgramada",
            "qtdOcorrenciaNaoProgramada"
        ]
    );
    assert_eq!(
        json_names("GetQuantitativoInterrupcoesAtivasRequest"),
        ["dthRecuperacao"]
    );
}

#[tokio::test]
async fn a_stacked_oracle_failure_reaches_list_jobs_whole_and_clients_as_its_kind_and_codes() {
    // What the Oracle adapter makes of an error raised through a database link: the cause's
    // code, the wrapper lines kept in the message, and their codes read once by the adapter
    // (src/source/oracle/stacked_tests.rs checks that it does).
    let failure = SourceError::transient(
        Some("ORA-12541".into()),
        "ORA-04052: error occurred when looking up remote object OMS.EVENT@LINK_OMS | \
         ORA-00604: error occurred at recursive SQL level 1 | TNS:no listener at /opt/tns. \
         The OMS database did not answer; the job retries",
    )
    .with_stacked_codes(["ORA-04052".to_owned(), "ORA-00604".to_owned()]);
    let source = FakeSource::new(Behaviour::Fail(failure.clone()));
    let app = TestApp::spawn(source.clone()).await;
    wait_failures(&app, 1).await;

    let jobs = app.jobs().await;
    let last = jobs.jobs[0].last_run.as_ref().unwrap();
    assert_eq!(last.outcome, RunOutcome::Failed as i32);
    assert_eq!(
        last.error,
        failure.to_string(),
        "operators see every detail"
    );

    let status = app.get().await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status
            .message()
            .contains(": transient source error (ORA-12541, ORA-04052, ORA-00604); retrying"),
        "{}",
        status.message()
    );
    assert!(!status.message().contains("/opt"), "{}", status.message());
}

#[tokio::test]
async fn a_timed_out_load_reaches_list_jobs_as_timed_out_and_clients_as_a_source_timeout() {
    let mut settings = test_settings();
    settings.job_timeout = Duration::from_millis(200);
    settings.job_max_attempts = 1;
    let source = FakeSource::new(Behaviour::Hang);
    let app = TestApp::spawn_with(source.clone(), settings).await;
    wait_failures(&app, 1).await;

    let jobs = app.jobs().await;
    let last = jobs.jobs[0].last_run.as_ref().unwrap();
    assert_eq!(last.outcome, RunOutcome::TimedOut as i32);
    assert_eq!(last.error, "attempt 1 timed out after 200 ms");

    let status = app.get().await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status
            .message()
            .ends_with(": the source query timed out; retrying"),
        "{}",
        status.message()
    );
}

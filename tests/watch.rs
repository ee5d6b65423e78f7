//! Black-box tests of `WatchQuantitativoInterrupcoesAtivas` and of open streams at shutdown.

mod common;

use std::time::Duration;

use common::{Behaviour, FakeSource, TestApp, next_health, row, test_settings};
use radar_interrupcoes::health::{INTERRUPCOES_SERVICE, OVERALL};
use radar_interrupcoes::jobs::WARMUP_JOB_NAME;
use radar_interrupcoes::proto::interrupcoes::v1 as data_pb;
use tokio_stream::StreamExt;
use tonic::Streaming;
use tonic_health::pb::health_check_response::ServingStatus::{NotServing, Serving};

async fn watch(app: &TestApp) -> Streaming<data_pb::GetQuantitativoInterrupcoesAtivasResponse> {
    app.data
        .clone()
        .watch_quantitativo_interrupcoes_ativas(
            data_pb::WatchQuantitativoInterrupcoesAtivasRequest {},
        )
        .await
        .unwrap()
        .into_inner()
}

async fn next_conjuntos(
    stream: &mut Streaming<data_pb::GetQuantitativoInterrupcoesAtivasResponse>,
) -> Vec<i32> {
    let message = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a message")
        .expect("the stream is open")
        .unwrap();
    message
        .resposta
        .unwrap()
        .interrupcao_fornecimento
        .iter()
        .map(|i| i.ide_conjunto_unidade_consumidora)
        .collect()
}

#[tokio::test]
async fn a_subscriber_gets_the_current_answer_then_every_new_snapshot_in_order() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn(source.clone()).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    let mut stream = watch(&app).await;
    assert_eq!(
        next_conjuntos(&mut stream).await,
        vec![1],
        "current answer at once"
    );
    for n in 2..=4 {
        source.set(Behaviour::Rows((1..=n).map(|c| row(c, 1, 0)).collect()));
        app.trigger(WARMUP_JOB_NAME).await.unwrap();
        let want: Vec<i32> = (1..=n as i32).collect();
        assert_eq!(next_conjuntos(&mut stream).await, want);
    }
}

#[tokio::test]
async fn a_subscriber_before_the_first_load_gets_the_first_snapshot() {
    let source = FakeSource::gated(Behaviour::Rows(vec![row(5, 1, 0)]));
    let app = TestApp::spawn(source.clone()).await;
    let mut stream = watch(&app).await;
    source.open_gate();
    assert_eq!(next_conjuntos(&mut stream).await, vec![5]);
}

#[tokio::test]
async fn shutdown_ends_open_streams_at_once_instead_of_waiting_out_the_grace_period() {
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let mut settings = test_settings();
    // Long enough that a test waiting it out would time out below.
    settings.shutdown_grace = Duration::from_secs(600);
    let mut app = TestApp::spawn_with(source, settings).await;
    app.wait_health(OVERALL, Serving).await;

    let mut answers = watch(&app).await;
    assert_eq!(next_conjuntos(&mut answers).await, vec![1]);
    let mut health = app.watch_health(OVERALL).await;
    assert_eq!(next_health(&mut health).await, Some(Serving));

    tokio::time::timeout(Duration::from_secs(60), app.shutdown())
        .await
        .expect("open streams held shutdown for the grace period")
        .unwrap();
    // The health stream gets NOT_SERVING, then both streams end cleanly.
    assert_eq!(next_health(&mut health).await, Some(NotServing));
    assert_eq!(next_health(&mut health).await, None, "health stream ended");
    assert!(answers.next().await.is_none(), "answer stream ended");
}

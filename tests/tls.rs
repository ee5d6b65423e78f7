//! TLS over real sockets: a certificate and key make the listener TLS-only; a client CA
//! makes client certificates required. Uses the test-only material in tests/fixtures/tls.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{Behaviour, FakeSource, row, test_settings};
use radar_interrupcoes::clock::SystemClock;
use radar_interrupcoes::proto::interrupcoes::v1::GetQuantitativoInterrupcoesAtivasRequest;
use radar_interrupcoes::proto::interrupcoes::v1::interrupcoes_service_client::InterrupcoesServiceClient;
use radar_interrupcoes::proto::scheduler::v1::ListJobsRequest;
use radar_interrupcoes::proto::scheduler::v1::scheduler_admin_client::SchedulerAdminClient;
use radar_interrupcoes::server::{Application, Backends};
use radar_interrupcoes::store::SqliteStore;
use tokio::sync::oneshot;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

fn fixture(name: &str) -> (PathBuf, Vec<u8>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name);
    let pem = std::fs::read(&path).unwrap();
    (path, pem)
}

/// Starts the service with TLS (and client certificates when `mutual`); returns its port
/// and the sender that stops it.
async fn spawn_tls(mutual: bool) -> (u16, oneshot::Sender<()>) {
    let mut settings = test_settings();
    settings.tls.tls_cert_file = Some(fixture("server.pem").0);
    settings.tls.tls_key_file = Some(fixture("server.key").0);
    settings.tls.tls_client_ca_file = mutual.then(|| fixture("ca.pem").0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    // The store outlives this function with the server: its directory is kept.
    let store_dir = tempfile::tempdir().unwrap().keep();
    let backends = Backends {
        source: source as Arc<_>,
        store: Arc::new(SqliteStore::new(store_dir.join("store.sqlite"))),
        clock: Arc::new(SystemClock),
    };
    let app = Application::build(settings, backends, listener)
        .await
        .unwrap();
    let port = app.local_addr().unwrap().port();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    (port, tx)
}

async fn tls_channel(port: u16, client_identity: bool) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(fixture("ca.pem").1))
        .domain_name("localhost");
    if client_identity {
        tls = tls.identity(Identity::from_pem(
            fixture("client.pem").1,
            fixture("client.key").1,
        ));
    }
    Channel::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

/// The data answer once the first snapshot is in (UNAVAILABLE before it).
async fn answer(channel: Channel) -> Result<i32, tonic::Status> {
    let mut client = InterrupcoesServiceClient::new(channel);
    for _ in 0..200 {
        match client
            .get_quantitativo_interrupcoes_ativas(
                GetQuantitativoInterrupcoesAtivasRequest::default(),
            )
            .await
        {
            Err(s)
                if s.code() == tonic::Code::Unavailable && s.message().contains("first load") =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            other => return other.map(|r| r.into_inner().resposta.unwrap().idc_status_requisicao),
        }
    }
    panic!("never loaded")
}

#[tokio::test]
async fn with_a_certificate_the_listener_speaks_tls_only() {
    let (port, _stop) = spawn_tls(false).await;
    let channel = tls_channel(port, false).await.unwrap();
    assert_eq!(answer(channel.clone()).await.unwrap(), 1);
    // Admin from loopback over TLS: the peer address is found behind TLS too.
    SchedulerAdminClient::new(channel)
        .list_jobs(ListJobsRequest {})
        .await
        .expect("loopback admin over TLS");

    let plain = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(plain) = plain {
        assert!(answer(plain).await.is_err(), "plaintext is refused");
    }
}

#[tokio::test]
async fn with_a_client_ca_a_client_certificate_is_required() {
    let (port, _stop) = spawn_tls(true).await;
    // The handshake or the first call fails, depending on when the client notices.
    if let Ok(channel) = tls_channel(port, false).await {
        assert!(answer(channel).await.is_err(), "no client certificate");
    }
    let channel = tls_channel(port, true).await.unwrap();
    assert_eq!(answer(channel).await.unwrap(), 1);
}

//! Test harness: the real server on 127.0.0.1:0 around a scriptable fake source, and the
//! generated clients.
#![allow(dead_code)]

pub mod raw_h2;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use radar_interrupcoes::clock::{Clock, SystemClock};
use radar_interrupcoes::config::{AdminSettings, ServiceSettings};
use radar_interrupcoes::domain::RawInterrupcaoRow;
use radar_interrupcoes::http::{ApiKeys, GuardSettings, HttpListeners, KeyStore};
use radar_interrupcoes::proto::interrupcoes::v1 as data_pb;
use radar_interrupcoes::proto::interrupcoes::v1::interrupcoes_service_client::InterrupcoesServiceClient;
use radar_interrupcoes::proto::scheduler::v1 as sched_pb;
use radar_interrupcoes::proto::scheduler::v1::scheduler_admin_client::SchedulerAdminClient;
use radar_interrupcoes::scheduler::SchedulerService;
use radar_interrupcoes::server::{Application, Backends};
use radar_interrupcoes::source::{InterrupcaoSource, SourceError};
use radar_interrupcoes::store::{SnapshotStore, SqliteStore};
use radar_interrupcoes::transport::Incoming;
use tokio::sync::{Semaphore, oneshot};
use tokio_stream::StreamExt;
use tonic::Streaming;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// What the fake source does on its next fetches.
#[derive(Clone)]
pub enum Behaviour {
    Rows(Vec<RawInterrupcaoRow>),
    Fail(SourceError),
    Panic,
    /// Never answers (a replica that dies mid-query).
    Hang,
    /// Blocks its worker thread for this long (an attempt the timeout cannot end), then
    /// answers no rows.
    Block(Duration),
}

/// A source whose answers the test scripts, which counts its queries, and which can hold
/// every query at a gate until the test opens it.
pub struct FakeSource {
    behaviour: std::sync::Mutex<Behaviour>,
    calls: AtomicUsize,
    gate: Option<Semaphore>,
}

impl FakeSource {
    pub fn new(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            behaviour: std::sync::Mutex::new(behaviour),
            calls: AtomicUsize::new(0),
            gate: None,
        })
    }

    /// Every fetch waits until [`open_gate`](Self::open_gate).
    pub fn gated(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            behaviour: std::sync::Mutex::new(behaviour),
            calls: AtomicUsize::new(0),
            gate: Some(Semaphore::new(0)),
        })
    }

    pub fn open_gate(&self) {
        self.gate.as_ref().expect("gated source").add_permits(1_000);
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl InterrupcaoSource for FakeSource {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn fetch_interrupcoes(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            let _permit = gate.acquire().await.unwrap();
        }
        let behaviour = self.behaviour.lock().unwrap().clone();
        match behaviour {
            Behaviour::Rows(rows) => Ok(rows),
            Behaviour::Fail(e) => Err(e),
            Behaviour::Panic => panic!("fake source panicked"),
            Behaviour::Hang => std::future::pending().await,
            Behaviour::Block(duration) => {
                std::thread::sleep(duration);
                Ok(Vec::new())
            }
        }
    }
}

/// A valid row of conjunto `conjunto` in Boa Vista.
pub fn row(conjunto: i64, programada: i64, nao_programada: i64) -> RawInterrupcaoRow {
    RawInterrupcaoRow {
        conjunto: Some(conjunto),
        municipio: Some(1_400_100),
        qtd_ucs_atendidas: Some(1000),
        qtd_programada: Some(programada),
        qtd_nao_programada: Some(nao_programada),
    }
}

/// Settings for tests: no cron tick during a test (yearly), fast retries.
pub fn test_settings() -> ServiceSettings {
    let mut settings = ServiceSettings {
        warmup_cron: "0 0 0 1 1 *".parse().unwrap(),
        job_timeout: Duration::from_secs(10),
        job_max_attempts: 2,
        job_retry_backoff: Duration::from_millis(10),
        job_retry_backoff_max: Duration::from_millis(20),
        startup_retry_initial: Duration::from_millis(50),
        startup_retry_max: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(5),
        drain_delay: Duration::ZERO,
        admin: AdminSettings {
            manual_min_interval: Duration::ZERO,
            ..ServiceSettings::default().admin
        },
        ..ServiceSettings::default()
    };
    settings.history.claim_wait = Duration::from_secs(3);
    settings.history.claim_poll = Duration::from_millis(20);
    settings
}

/// The running server and its clients.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub scheduler: SchedulerService,
    pub data: InterrupcoesServiceClient<Channel>,
    pub admin: SchedulerAdminClient<Channel>,
    pub health: HealthClient<Channel>,
    pub channel: Channel,
    pub incoming: Arc<Incoming>,
    /// The ANEEL endpoint (`spawn_http` only).
    pub aneel_addr: Option<std::net::SocketAddr>,
    /// The operations endpoint (`spawn_http` only).
    pub ops_addr: Option<std::net::SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The directory of a store the harness created (removed on drop).
    store_dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub async fn spawn(source: Arc<dyn InterrupcaoSource>) -> Self {
        Self::spawn_with(source, test_settings()).await
    }

    /// The server around `source`, with a SQLite store of its own in a temporary directory.
    pub async fn spawn_with(source: Arc<dyn InterrupcaoSource>, settings: ServiceSettings) -> Self {
        Self::with_own_store(source, settings, None, Arc::new(SystemClock)).await
    }

    /// The server around the given source, store and clock.
    pub async fn spawn_backends(
        source: Arc<dyn InterrupcaoSource>,
        store: Arc<dyn SnapshotStore>,
        clock: Arc<dyn Clock>,
        settings: ServiceSettings,
    ) -> Self {
        let backends = Backends {
            source,
            store,
            clock,
        };
        Self::spawn_full(backends, settings, None).await
    }

    async fn with_own_store(
        source: Arc<dyn InterrupcaoSource>,
        settings: ServiceSettings,
        http: Option<(ApiKeys, GuardSettings)>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backends = Backends {
            source,
            store: Arc::new(SqliteStore::new(dir.path().join("store.sqlite"))),
            clock,
        };
        let mut app = Self::spawn_full(backends, settings, http).await;
        app.store_dir = Some(dir);
        app
    }

    /// Also starts the ANEEL endpoint (with `api_keys`, without a rate limit: tests poll
    /// it) and the operations endpoint, each on its own 127.0.0.1:0.
    pub async fn spawn_http(
        source: Arc<dyn InterrupcaoSource>,
        settings: ServiceSettings,
        api_keys: ApiKeys,
    ) -> Self {
        let guard = GuardSettings {
            rate_limit: None,
            ..GuardSettings::default()
        };
        Self::spawn_guarded(source, settings, api_keys, guard).await
    }

    /// [`Self::spawn_http`] with the ANEEL endpoint behind `guard`.
    pub async fn spawn_guarded(
        source: Arc<dyn InterrupcaoSource>,
        settings: ServiceSettings,
        api_keys: ApiKeys,
        guard: GuardSettings,
    ) -> Self {
        Self::with_own_store(
            source,
            settings,
            Some((api_keys, guard)),
            Arc::new(SystemClock),
        )
        .await
    }

    /// [`Self::spawn_http`] without keys, reading the time on `clock`.
    pub async fn spawn_http_at(
        source: Arc<dyn InterrupcaoSource>,
        settings: ServiceSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let guard = GuardSettings {
            rate_limit: None,
            ..GuardSettings::default()
        };
        Self::with_own_store(source, settings, Some((ApiKeys::default(), guard)), clock).await
    }

    /// Like [`spawn_http`](Self::spawn_http), storing in `store`.
    pub async fn spawn_http_with_store(
        source: Arc<dyn InterrupcaoSource>,
        store: Arc<dyn SnapshotStore>,
        settings: ServiceSettings,
        api_keys: ApiKeys,
    ) -> Self {
        let backends = Backends {
            source,
            store,
            clock: Arc::new(SystemClock),
        };
        let guard = GuardSettings {
            rate_limit: None,
            ..GuardSettings::default()
        };
        Self::spawn_full(backends, settings, Some((api_keys, guard))).await
    }

    async fn spawn_full(
        backends: Backends,
        settings: ServiceSettings,
        http: Option<(ApiKeys, GuardSettings)>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut app = Application::build(settings, backends, listener)
            .await
            .unwrap();
        let (mut aneel_addr, mut ops_addr) = (None, None);
        if let Some((api_keys, guard)) = http {
            let aneel = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            aneel_addr = Some(aneel.local_addr().unwrap());
            ops_addr = Some(ops.local_addr().unwrap());
            app = app.with_http(HttpListeners {
                aneel: Some(aneel),
                api_keys: Arc::new(KeyStore::from(api_keys)),
                guard,
                ops: Some(ops),
            });
        }
        let addr = app.local_addr().unwrap();
        let scheduler = app.scheduler();
        let incoming = app.incoming();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Self {
            addr,
            scheduler,
            data: InterrupcoesServiceClient::new(channel.clone()),
            admin: SchedulerAdminClient::new(channel.clone()),
            health: HealthClient::new(channel.clone()),
            channel,
            incoming,
            aneel_addr,
            ops_addr,
            shutdown: Some(tx),
            task: Some(task),
            store_dir: None,
        }
    }

    /// Sends the shutdown signal and waits for `run` to return.
    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        self.signal_shutdown();
        self.task.take().unwrap().await.unwrap()
    }

    /// Sends the shutdown signal without waiting.
    pub fn signal_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits for `run` to return after [`signal_shutdown`](Self::signal_shutdown).
    pub async fn stopped(&mut self) -> anyhow::Result<()> {
        self.task.take().unwrap().await.unwrap()
    }

    /// A new connection to the server.
    pub async fn connect(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn health_of(&self, service: &str) -> ServingStatus {
        let status = self
            .health
            .clone()
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        ServingStatus::try_from(status).unwrap()
    }

    /// Polls until `service` reports `want` (at most 10 s, then fails).
    pub async fn wait_health(&self, service: &str, want: ServingStatus) {
        for _ in 0..400 {
            if self.health_of(service).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{service:?} never became {want:?}");
    }

    /// Opens a `Health/Watch` stream on `service` (read it with [`next_health`]).
    pub async fn watch_health(&self, service: &str) -> Streaming<HealthCheckResponse> {
        self.health
            .clone()
            .watch(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn get(
        &self,
    ) -> Result<data_pb::GetQuantitativoInterrupcoesAtivasResponse, tonic::Status> {
        self.data
            .clone()
            .get_quantitativo_interrupcoes_ativas(
                data_pb::GetQuantitativoInterrupcoesAtivasRequest::default(),
            )
            .await
            .map(tonic::Response::into_inner)
    }

    /// The answer as it stood at `dth` (`dd/mm/yyyy hh:mm`, Brasília).
    pub async fn get_at(
        &self,
        dth: &str,
    ) -> Result<data_pb::GetQuantitativoInterrupcoesAtivasResponse, tonic::Status> {
        self.data
            .clone()
            .get_quantitativo_interrupcoes_ativas(
                data_pb::GetQuantitativoInterrupcoesAtivasRequest {
                    dth_recuperacao: dth.to_owned(),
                },
            )
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn trigger(&self, job: &str) -> Result<sched_pb::TriggerNowResponse, tonic::Status> {
        self.admin
            .clone()
            .trigger_now(sched_pb::TriggerNowRequest {
                job_name: job.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn jobs(&self) -> sched_pb::ListJobsResponse {
        self.admin
            .clone()
            .list_jobs(sched_pb::ListJobsRequest {})
            .await
            .unwrap()
            .into_inner()
    }
}

/// The next status a `Health/Watch` stream sends, or `None` once the server ended it.
/// Fails on a stream error, or when no message comes within 10 s.
pub async fn next_health(stream: &mut Streaming<HealthCheckResponse>) -> Option<ServingStatus> {
    let message = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a health message or the end of the stream")?;
    let status = message
        .expect("a health message, not a stream error")
        .status;
    Some(ServingStatus::try_from(status).unwrap())
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

//! Builds and runs the service: the gRPC server ([`grpc`]: data, scheduler admin, health,
//! reflection v1 and v1alpha), the HTTP listeners ([`listeners`]: the ANEEL endpoint, and
//! metrics and probes), the scheduler with the service's [`jobs`], and the health task, all
//! stopped by one shutdown signal ([`shutdown`]), over the [`backends`] the settings select
//! and the [`files`] they name (TLS, admin token, keys, passwords).

mod backends;
mod files;
mod grpc;
mod jobs;
mod listeners;
mod shutdown;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use backends::{
    Backend, Backends, SOURCES, STORES, Source, SourceFactory, StoreFactory, measure_clock_offset,
    offered, oracle_settings, prepare_store, source_for, store_for,
};
pub use files::api_keys;
pub use listeners::aneel_guard;

use crate::answer::{AnswerService, History, HistoryLimits};
use crate::cache::SnapshotCache;
use crate::clock::CorrectedClock;
use crate::config::ServiceSettings;
use crate::descriptors::{self, Caps};
use crate::domain::IpRanges;
use crate::health::{self, HealthPublisher};
use crate::http::HttpListeners;
use crate::jobs::warm_up_until_loaded;
use crate::metrics::Metrics;
use crate::scheduler::SchedulerService;
use crate::store::SnapshotStore;
use crate::telemetry::TraceExport;
use crate::transport::http_listener::HttpListener;
use crate::transport::{Incoming, Listeners, PeerLimits};

/// A start-up step that must end before the first warm-up (e.g. creating the demo database).
pub type StartupStep = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// The assembled service, bound to its listener but not yet running.
pub struct Application {
    listener: TcpListener,
    settings: ServiceSettings,
    cache: Arc<SnapshotCache>,
    answers: AnswerService,
    scheduler: SchedulerService,
    metrics: Arc<Metrics>,
    http: HttpListeners,
    before_warm_up: Option<StartupStep>,
    listeners: Arc<Listeners>,
    /// The snapshot store (metered), prepared at start-up.
    store: Arc<dyn SnapshotStore>,
    /// The service's clock, corrected by the offset from the store's time of record.
    clock: Arc<CorrectedClock>,
    traces: Option<TraceExport>,
    files: files::ServiceFiles,
}

impl Application {
    /// Assembles the service around `backends`, listening on `listener` (tests pass
    /// `127.0.0.1:0`). Fails naming the setting when a file it names (TLS, admin token)
    /// cannot be used.
    pub async fn build(
        settings: ServiceSettings,
        backends: Backends,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let files = files::ServiceFiles::read(&settings)?;
        // Every time the service reads (collection times, ages, ticks, claims) is corrected
        // by this replica's offset from the store's time of record, measured at start-up and
        // at each tick claim (see `scheduler::cluster`).
        let clock = Arc::new(CorrectedClock::new(backends.clock));
        let backends = Backends {
            clock: clock.clone(),
            ..backends
        };
        let cache = Arc::new(
            SnapshotCache::new(settings.stale_after)
                .with_hard_limit(settings.stale_hard_limit)
                .with_clock(backends.clock.clone()),
        );
        let metrics = Arc::new(Metrics::new().with_clock(clock.clone()));
        // Every store operation, the jobs' and the history's, is counted by outcome.
        let backends = Backends {
            store: metrics.metered_store(backends.store),
            ..backends
        };
        let answers = answers(&settings, &backends, &cache);
        let scheduler = SchedulerService::new(settings.time_zone, backends.clock.clone());
        scheduler.set_manual_min_interval(settings.admin.manual_min_interval);
        jobs::schedule_all(&scheduler, jobs::jobs(&settings, &backends, &clock, &cache)).await?;
        scheduler.on_run_finished({
            let metrics = metrics.clone();
            move |job, run| metrics.record_run(job, run)
        });
        Ok(Self {
            listener,
            settings,
            cache,
            answers,
            scheduler,
            metrics,
            http: HttpListeners::default(),
            before_warm_up: None,
            listeners: Arc::default(),
            store: backends.store,
            clock,
            traces: None,
            files,
        })
    }

    /// Adds the HTTP listeners (ANEEL endpoint, operations endpoint).
    #[must_use]
    pub fn with_http(mut self, http: HttpListeners) -> Self {
        self.http = http;
        self
    }

    /// Flushes `traces` (trace export, when on) at shutdown, within the grace period.
    #[must_use]
    pub fn with_trace_export(mut self, traces: Option<TraceExport>) -> Self {
        self.traces = traces;
        self
    }

    /// The metrics (shared).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Runs `step`, if any, once the server listens and before the first warm-up (the
    /// server answers, NOT_SERVING, meanwhile).
    #[must_use]
    pub fn before_warm_up(mut self, step: Option<StartupStep>) -> Self {
        self.before_warm_up = step;
        self
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The scheduler (shared), for tests and embedding.
    pub fn scheduler(&self) -> SchedulerService {
        self.scheduler.clone()
    }

    /// The snapshot cache (shared).
    pub fn cache(&self) -> Arc<SnapshotCache> {
        self.cache.clone()
    }

    /// The gRPC listener's counters (refused and closed connections, accept errors).
    pub fn incoming(&self) -> Arc<Incoming> {
        self.listeners.grpc.clone()
    }

    /// Every listener's counters.
    pub fn listeners(&self) -> Arc<Listeners> {
        self.listeners.clone()
    }

    /// Serves until `shutdown` resolves, then: health NOT_SERVING, scheduler stopped,
    /// still answering (new connections too) for the drain delay so endpoints can be
    /// updated, then the listener closed and in-flight RPCs drained within the grace
    /// period. Returns once the server is down.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let http_listeners =
            u32::from(self.http.aneel.is_some()) + u32::from(self.http.ops.is_some());
        let configured_caps = keep_descriptors_in_reserve(&mut self.settings, http_listeners);
        let stopping = shutdown::on(shutdown);
        let drain = CancellationToken::new();
        let (health, health_task) = start_health(&self.scheduler, &self.cache, &stopping).await?;
        let shared = Shared {
            answers: self.answers,
            metrics: self.metrics,
            cache: self.cache,
            scheduler: self.scheduler.clone(),
            stopping: stopping.clone(),
            listeners: self.listeners,
            configured_caps,
            connections: http_connections(&self.settings, configured_caps.http),
        };
        let addr = self.listener.local_addr()?;
        let grpc = grpc::serve(
            &self.settings,
            self.files,
            health,
            &shared,
            self.listener,
            &drain,
        )?;
        let server = tokio::spawn(grpc);
        tracing::info!(%addr, "gRPC server listening");
        let http_servers = listeners::http_servers(self.http, &shared, &drain)?;
        // Alongside the first warm-up, never before it: a store that is slow or down must
        // not delay the live answer (its first write prepares or reports it anyway).
        tokio::spawn(prepare_store(
            self.store.clone(),
            self.settings.history.store_timeout,
        ));
        // Before the first warm-up, though, the clock's offset from the store's time of
        // record: a snapshot stamped on the uncorrected clock would be hours "in the
        // future" on the store's time when this machine runs ahead, fresh far beyond the
        // staleness limits. The store delays the live answer by at most its timeout (SQLite
        // answers at once); past it the warm-up goes on, on the local clock.
        let offset =
            measure_clock_offset(self.store, self.clock, self.settings.history.store_timeout);
        let scheduler = self.scheduler;
        scheduler.start().await.context("starting the scheduler")?;
        let warm_up = spawn_warm_up(
            &self.settings,
            &scheduler,
            shared.cache.clone(),
            self.before_warm_up,
            offset,
            &stopping,
        );
        shutdown::Running {
            server,
            http_servers,
            health_task,
            scheduler,
            warm_up,
            stopping,
            drain,
            drain_delay: self.settings.drain_delay,
            grace: self.settings.shutdown_grace,
            traces: self.traces,
        }
        .until_stopped()
        .await
    }
}

/// Lowers the connection caps so that, with every listener full, descriptors stay for the
/// database, the store and the probes (see [`descriptors::fit`]); logs what was chosen and
/// returns the caps the settings asked for.
fn keep_descriptors_in_reserve(settings: &mut ServiceSettings, http_listeners: u32) -> Caps {
    let limit = descriptors::raise_soft_limit();
    let limits = &mut settings.limits;
    let wanted = Caps {
        grpc: limits.max_connections,
        http: limits.http_max_connections,
    };
    let caps = descriptors::fit(limit, wanted, http_listeners);
    limits.max_connections = caps.grpc;
    limits.http_max_connections = caps.http;
    limits.max_connections_per_peer = limits.max_connections_per_peer.min(caps.grpc);
    limits.http_max_connections_per_peer = limits.http_max_connections_per_peer.min(caps.http);
    let limit_shown = limit.map_or_else(|| "unlimited".to_owned(), |l| l.to_string());
    if caps == wanted {
        tracing::info!(
            open_files_limit = limit_shown,
            reserve = descriptors::RESERVE,
            grpc_max_connections = caps.grpc,
            http_max_connections = caps.http,
            "connection caps fit the open files limit"
        );
    } else {
        tracing::warn!(
            open_files_limit = limit_shown,
            reserve = descriptors::RESERVE,
            grpc_max_connections = caps.grpc,
            http_max_connections = caps.http,
            wanted_grpc_max_connections = wanted.grpc,
            wanted_http_max_connections = wanted.http,
            "connection caps lowered to keep file descriptors for the database and the probes \
             (raise the open files limit to keep the configured caps)"
        );
    }
    wanted
}

/// The connection limits and timeouts of the HTTP listeners, from the settings (the cap
/// in force, lowered from `configured_cap` when descriptors are short).
fn http_connections(settings: &ServiceSettings, configured_cap: u32) -> HttpListener {
    let limits = &settings.limits;
    HttpListener {
        name: "HTTP",
        limits: PeerLimits::new(
            usize::try_from(limits.http_max_connections).unwrap_or(usize::MAX),
            usize::try_from(limits.http_max_connections_per_peer).unwrap_or(usize::MAX),
        )
        .lowered_from(usize::try_from(configured_cap).unwrap_or(usize::MAX)),
        uncapped_peers: IpRanges::default(),
        header_read_timeout: limits.http_header_read_timeout,
        keepalive_timeout: limits.http_keepalive_timeout,
        close_grace: settings.shutdown_grace,
    }
}

/// What the gRPC and HTTP endpoints answer from.
struct Shared {
    /// The answers (data service, ANEEL endpoint).
    answers: AnswerService,
    /// The metrics (gRPC layer, both HTTP endpoints).
    metrics: Arc<Metrics>,
    /// The snapshot cache (probes).
    cache: Arc<SnapshotCache>,
    /// The scheduler (admin service, probes, job metrics).
    scheduler: SchedulerService,
    /// Cancelled at shutdown (Watch streams, readiness, key reloads).
    stopping: CancellationToken,
    /// Every listener's counters.
    listeners: Arc<Listeners>,
    /// The connection caps the settings asked for (the ones in force may be lower, see
    /// [`keep_descriptors_in_reserve`]).
    configured_caps: Caps,
    /// The connection limits and timeouts of every HTTP listener (its name and the peers
    /// let past the per-peer share aside).
    connections: HttpListener,
}

/// The answer service over the cache (live) and the store (past moments).
fn answers(
    settings: &ServiceSettings,
    backends: &Backends,
    cache: &Arc<SnapshotCache>,
) -> AnswerService {
    let history = &settings.history;
    AnswerService::new(
        cache.clone(),
        settings.contact_email.clone(),
        History {
            store: backends.store.clone(),
            clock: backends.clock.clone(),
            limits: HistoryLimits {
                retention: history.retention,
                cache_capacity: history.history_cache_capacity,
                cache_ttl: history.history_cache_ttl,
                stale_after: settings.stale_after,
            },
        },
    )
}

/// The gRPC health service, and the task that publishes its statuses (from the cache, the
/// scheduler and the scheduler watchdog) until `stopping`.
async fn start_health(
    scheduler: &SchedulerService,
    cache: &SnapshotCache,
    stopping: &CancellationToken,
) -> anyhow::Result<(
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    JoinHandle<()>,
)> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let publisher = HealthPublisher::new(reporter).await;
    let (stuck_tx, stuck_rx) = tokio::sync::watch::channel(false);
    health::spawn_scheduler_watchdog(scheduler.clone(), stuck_tx, stopping.clone())
        .context("starting the scheduler watchdog thread")?;
    let health_task = tokio::spawn(health::run(
        publisher,
        cache.subscribe_loaded(),
        scheduler.subscribe_running(),
        stuck_rx,
        stopping.clone(),
    ));
    Ok((health_service, health_task))
}

/// The start-up warm-up: `before_warm_up` and `measure_offset` (the clock's offset from
/// the time of record, bounded by the store timeout) together first, then warm-ups until a
/// snapshot loads.
fn spawn_warm_up(
    settings: &ServiceSettings,
    scheduler: &SchedulerService,
    cache: Arc<SnapshotCache>,
    before_warm_up: Option<StartupStep>,
    measure_offset: impl Future<Output = ()> + Send + 'static,
    stopping: &CancellationToken,
) -> JoinHandle<()> {
    let first_warm_up = warm_up_until_loaded(
        scheduler.clone(),
        cache,
        jobs::startup_backoff(settings),
        stopping.clone(),
    );
    tokio::spawn(async move {
        let before = async {
            if let Some(step) = before_warm_up {
                step.await;
            }
        };
        tokio::join!(before, measure_offset);
        first_warm_up.await;
    })
}

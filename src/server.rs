//! Builds and runs the service: the gRPC server (data, scheduler admin, health,
//! reflection v1 and v1alpha), the ANEEL HTTP endpoint and the operations endpoint
//! (metrics, probes), the scheduler with the warm-up and retention purge jobs, and the
//! health task, all stopped by one shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tower::util::MapResponseLayer;

use crate::answer::{AnswerService, History, HistoryLimits};
use crate::cache::SnapshotCache;
use crate::clock::Clock;
use crate::config::{
    self, DEFAULT_DEMO_SCALE, DEFAULT_DEMO_SEED, OracleArgs, ServiceSettings, SourceSettings,
    StoreSettings,
};
use crate::domain::QueryBinds;
use crate::grpc::{AdminGuard, InterrupcoesGrpc, InterrupcoesServer, SchedulerAdminGrpc};
use crate::health::{self, HealthPublisher};
use crate::http::{self, HttpListeners, aneel, ops};
use crate::jobs::{CacheWarmupJob, RetentionPurgeJob, SharedTicks, warm_up_until_loaded};
use crate::metrics::{GrpcMetricsLayer, Metrics};
use crate::proto::scheduler::v1::scheduler_admin_server::SchedulerAdminServer;
use crate::scheduler::SchedulerService;
use crate::source::oracle::{OracleSettings, OracleSource};
use crate::source::sqlite::{self, SqliteSource};
use crate::source::{InterrupcaoSource, SettingNames};
use crate::store::oracle::OracleStore;
use crate::store::{SnapshotStore, SqliteStore};
use crate::transport::{Incoming, message_size_status};

/// A start-up step that must end before the first warm-up (e.g. creating the demo database).
type StartupStep = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the service runs on, chosen by `main` (or a test).
pub struct Backends {
    /// Where the answer comes from (the outage database).
    pub source: Arc<dyn InterrupcaoSource>,
    /// Where snapshots are stored and cron ticks claimed.
    pub store: Arc<dyn SnapshotStore>,
    /// What "now" is.
    pub clock: Arc<dyn Clock>,
}

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
    incoming: Arc<Incoming>,
}

impl Application {
    /// Assembles the service around `backends`, listening on `listener` (tests pass
    /// `127.0.0.1:0`). Fails when a cron expression is invalid.
    pub async fn build(
        settings: ServiceSettings,
        backends: Backends,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let Backends {
            source,
            store,
            clock,
        } = backends;
        let history = &settings.history;
        let cache = Arc::new(
            SnapshotCache::new(settings.stale_after).with_hard_limit(settings.stale_hard_limit),
        );
        let answers = AnswerService::new(
            cache.clone(),
            settings.contact_email.clone(),
            History {
                store: store.clone(),
                clock: clock.clone(),
                limits: HistoryLimits {
                    retention: history.retention,
                    cache_capacity: history.history_cache_capacity,
                    cache_ttl: history.history_cache_ttl,
                    stale_after: settings.stale_after,
                },
            },
        );
        let scheduler = SchedulerService::new(settings.time_zone, settings.retry());
        scheduler.set_manual_min_interval(settings.admin.manual_min_interval);
        let warmup = CacheWarmupJob::new(source, cache.clone())
            .with_clock(clock.clone())
            .with_history(
                SharedTicks {
                    store: store.clone(),
                    claim_wait: history.claim_wait,
                    claim_poll: history.claim_poll,
                    store_timeout: history.store_timeout,
                },
                history.instance_id.clone(),
            );
        scheduler
            .add_cron_job(Arc::new(warmup), settings.warmup_cron.clone())
            .await
            .context("scheduling the warm-up job")?;
        let purge =
            RetentionPurgeJob::new(store, clock, history.retention, history.purge_batch_size);
        scheduler
            .add_cron_job(Arc::new(purge), history.purge_cron.clone())
            .await
            .context("scheduling the retention purge job")?;
        let metrics = Arc::new(Metrics::new());
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
            incoming: Arc::new(Incoming::default()),
        })
    }

    /// Adds the HTTP listeners (ANEEL endpoint, operations endpoint).
    #[must_use]
    pub fn with_http(mut self, http: HttpListeners) -> Self {
        self.http = http;
        self
    }

    /// The metrics (shared).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Runs `step` once the server listens and before the first warm-up (the server
    /// answers, NOT_SERVING, meanwhile).
    #[must_use]
    pub fn before_warm_up(mut self, step: impl Future<Output = ()> + Send + 'static) -> Self {
        self.before_warm_up = Some(Box::pin(step));
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

    /// The listener's counters (refused connections, accept errors, handshake timeouts).
    pub fn incoming(&self) -> Arc<Incoming> {
        self.incoming.clone()
    }

    /// Serves until `shutdown` resolves, then: health NOT_SERVING, scheduler stopped,
    /// still answering (new connections too) for the drain delay so endpoints can be
    /// updated, then the listener closed and in-flight RPCs drained within the grace
    /// period. Returns once the server is down.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            settings,
            cache,
            answers,
            scheduler,
            metrics,
            http,
            before_warm_up,
            incoming,
        } = self;
        let limits = &settings.limits;
        let max_request_bytes = usize::try_from(limits.max_request_bytes).unwrap_or(usize::MAX);
        let stopping = CancellationToken::new();
        tokio::spawn({
            let stopping = stopping.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down: health NOT_SERVING, then the scheduler, then drain");
                stopping.cancel();
            }
        });

        let (reporter, health_service) = tonic_health::server::health_reporter();
        let health_service = health_service.max_decoding_message_size(max_request_bytes);
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

        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("building reflection v1")?
            .max_decoding_message_size(max_request_bytes);
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .context("building reflection v1alpha")?
            .max_decoding_message_size(max_request_bytes);

        let drain = CancellationToken::new();
        let addr = listener.local_addr()?;
        let grpc_metrics = GrpcMetricsLayer::new(
            metrics.clone(),
            &[
                crate::proto::FILE_DESCRIPTOR_SET,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
                tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            ],
        );
        let mut builder = Server::builder();
        if let Some(tls) = &settings.tls.loaded {
            builder = builder
                .tls_config(tls.server_config(limits.handshake_timeout))
                .with_context(|| config::variable("tls_cert_file"))?;
            tracing::info!(
                cert_file = %tls.cert_file.display(),
                client_certificates_required = tls.client_ca_file.is_some(),
                "gRPC listener serves TLS only"
            );
        }
        let server = builder
            .concurrency_limit_per_connection(
                usize::try_from(limits.max_calls_per_connection).unwrap_or(usize::MAX),
            )
            .load_shed(true)
            .timeout(limits.rpc_timeout)
            .max_concurrent_streams(limits.max_concurrent_streams)
            .http2_keepalive_interval(Some(limits.keepalive_interval))
            .http2_keepalive_timeout(Some(limits.keepalive_timeout))
            .max_connection_age(limits.max_connection_age)
            .max_connection_age_grace(limits.max_connection_age_grace)
            .trace_fn(|request| tracing::info_span!("rpc", method = %request.uri().path()))
            .layer(grpc_metrics)
            .layer(MapResponseLayer::new(message_size_status))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(
                InterrupcoesServer::new(InterrupcoesGrpc::new(answers.clone(), stopping.clone()))
                    .max_decoding_message_size(max_request_bytes),
            )
            .add_service(InterceptedService::new(
                SchedulerAdminServer::new(SchedulerAdminGrpc::new(scheduler.clone()))
                    .max_decoding_message_size(max_request_bytes),
                AdminGuard::new(
                    settings.admin.admin_token.clone(),
                    &format!(
                        "{} or {}",
                        config::variable("admin_token"),
                        config::variable("admin_token_file")
                    ),
                ),
            ))
            .serve_with_incoming_shutdown(
                incoming.clone().stream(
                    listener,
                    usize::try_from(limits.max_connections).unwrap_or(usize::MAX),
                    limits.handshake_timeout,
                ),
                drain.clone().cancelled_owned(),
            );
        let mut server = tokio::spawn(server);
        tracing::info!(%addr, "gRPC server listening");
        let mut http_servers = Vec::new();
        if let Some(listener) = http.aneel {
            let addr = listener.local_addr()?;
            tracing::info!(
                %addr,
                api_keys = ?http.api_keys.current().ids(),
                loopback_only = http.api_keys.current().is_empty(),
                "ANEEL HTTP server listening"
            );
            tokio::spawn(http::reload_keys(http.api_keys.clone(), stopping.clone()));
            let router = aneel::router(aneel::AneelState::new(
                answers.clone(),
                http.api_keys,
                metrics.clone(),
            ));
            let task = tokio::spawn(http::serve(
                listener,
                router,
                drain.clone().cancelled_owned(),
            ));
            http_servers.push(("ANEEL HTTP server", task));
        }
        if let Some(listener) = http.ops {
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "operations HTTP server listening");
            let router = ops::router(ops::OpsState::new(
                metrics.clone(),
                cache.clone(),
                scheduler.clone(),
                stopping.clone(),
                incoming.clone(),
            ));
            let task = tokio::spawn(http::serve(
                listener,
                router,
                drain.clone().cancelled_owned(),
            ));
            http_servers.push(("operations HTTP server", task));
        }

        scheduler.start().await.context("starting the scheduler")?;
        let warm_up = tokio::spawn({
            let first_warm_up = warm_up_until_loaded(
                scheduler.clone(),
                cache.clone(),
                settings.startup_backoff(),
                stopping.clone(),
            );
            async move {
                if let Some(step) = before_warm_up {
                    step.await;
                }
                first_warm_up.await;
            }
        });

        tokio::select! {
            result = &mut server => {
                stopping.cancel();
                drain.cancel(); // the HTTP servers stop with it
                let _ = scheduler.stop().await;
                return result.context("server task")?.context("gRPC server failed");
            }
            () = stopping.cancelled() => {}
        }

        let _ = health_task.await;
        if let Err(e) = scheduler.stop().await {
            tracing::warn!(error = %e, "stopping the scheduler failed");
        }
        warm_up.abort();
        if !settings.drain_delay.is_zero() {
            tracing::info!(
                drain_delay_ms =
                    u64::try_from(settings.drain_delay.as_millis()).unwrap_or(u64::MAX),
                "NOT_SERVING published: still answering until endpoints are updated"
            );
            tokio::select! {
                () = tokio::time::sleep(settings.drain_delay) => {}
                result = &mut server => {
                    return result.context("server task")?.context("gRPC server failed");
                }
            }
        }
        tracing::info!("closing the listener and draining the calls in flight");
        drain.cancel();
        let deadline = tokio::time::Instant::now() + settings.shutdown_grace;
        for (name, mut task) in http_servers {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(Ok(()))) => tracing::info!(server = name, "HTTP server stopped"),
                Ok(Ok(Err(e))) => tracing::error!(server = name, error = %e, "HTTP server failed"),
                Ok(Err(e)) => tracing::error!(server = name, error = %e, "HTTP server task failed"),
                Err(_) => {
                    tracing::warn!(server = name, "grace period over: closing its connections");
                    task.abort();
                }
            }
        }
        if let Ok(result) = tokio::time::timeout_at(deadline, &mut server).await {
            result
                .context("server task")?
                .context("gRPC server failed")?;
        } else {
            tracing::warn!(
                grace_secs = settings.shutdown_grace.as_secs(),
                "grace period over: closing the remaining connections"
            );
            server.abort();
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The adapter the settings select.
pub fn source_for(settings: &SourceSettings, binds: &QueryBinds) -> Arc<dyn InterrupcaoSource> {
    match settings {
        SourceSettings::Sqlite { path, .. } => Arc::new(SqliteSource::new(
            path.clone(),
            binds.clone(),
            setting_names(),
        )),
        SourceSettings::Oracle(oracle) => {
            Arc::new(OracleSource::new(oracle_settings(oracle), binds.clone()))
        }
    }
}

/// The snapshot store the settings select.
pub fn store_for(settings: &StoreSettings) -> Arc<dyn SnapshotStore> {
    match settings {
        StoreSettings::Sqlite { path } => Arc::new(
            SqliteStore::new(path.clone()).naming_setting(config::variable("store_sqlite_path")),
        ),
        StoreSettings::Oracle(oracle) => Arc::new(OracleStore::new(oracle_settings(oracle))),
    }
}

/// The variables of the settings the adapters' errors advise about, from clap's own
/// argument list.
pub fn setting_names() -> SettingNames {
    SettingNames {
        job_timeout: config::variable("job_timeout"),
        sqlite_path: config::variable("sqlite_path"),
        sqlite_create_demo: config::variable("sqlite_create_demo"),
        oracle_connect_string: config::variable("connect_string"),
        oracle_user: config::variable("user"),
        oracle_password: config::variable("password"),
        oracle_password_file: config::variable("password_file"),
        oracle_client_lib_dir: config::variable("client_lib_dir"),
        oracle_pool_max: config::variable("pool_max"),
        oracle_call_timeout: config::variable("call_timeout"),
    }
}

/// What the Oracle adapter needs, from the validated Oracle settings.
pub fn oracle_settings(oracle: &OracleArgs) -> OracleSettings {
    OracleSettings {
        connect_string: oracle.connect_string().to_owned(),
        user: oracle.user().to_owned(),
        password: oracle.password(),
        client_lib_dir: oracle.client_lib_dir.clone(),
        pool_min: oracle.pool_min,
        pool_max: oracle.pool_max,
        ping_interval: oracle.ping_interval,
        stmt_cache_size: oracle.stmt_cache_size,
        call_timeout: oracle.call_timeout,
        fetch_deadline: oracle.fetch_deadline(),
        names: setting_names(),
    }
}

/// Creates the demo database (default scale and seed) when the settings ask for it and the
/// file is missing. A failure is logged: the warm-up then fails naming the missing file.
pub async fn create_demo_if_missing(settings: SourceSettings) {
    let SourceSettings::Sqlite {
        path,
        create_demo: true,
    } = settings
    else {
        return;
    };
    let created = tokio::task::spawn_blocking(move || {
        let names = setting_names();
        if sqlite::exists(&path, &names)? {
            return Ok(None);
        }
        tracing::info!(
            path = %path.display(),
            scale = DEFAULT_DEMO_SCALE,
            seed = DEFAULT_DEMO_SEED,
            "SQLite database missing: generating the demo database"
        );
        sqlite::generate(&path, DEFAULT_DEMO_SCALE, DEFAULT_DEMO_SEED, &names)
            .map(|s| Some((path, s)))
    })
    .await;
    match created {
        Ok(Ok(Some((path, summary)))) => tracing::info!(
            path = %path.display(),
            elapsed_ms = u64::try_from(summary.elapsed.as_millis()).unwrap_or(u64::MAX),
            %summary,
            "demo database generated"
        ),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "the demo database could not be generated"),
        Err(e) => tracing::error!(error = %e, "the demo generation task failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The adapters' tests check their advice with these names: they must be the variables
    /// the service really reads, or the advice would name settings nobody can set.
    #[test]
    fn the_adapters_are_told_the_variables_the_service_reads() {
        assert_eq!(setting_names(), SettingNames::for_tests());
    }
}

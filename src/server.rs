//! Builds and runs the service: the gRPC server (data, scheduler admin, health,
//! reflection v1 and v1alpha), the scheduler with the warm-up job, and the health task,
//! all stopped by one shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tower::util::MapResponseLayer;

use crate::cache::SnapshotCache;
use crate::config::ServiceSettings;
use crate::grpc::{AdminGuard, InterrupcoesGrpc, SchedulerAdminGrpc};
use crate::health::{self, HealthPublisher};
use crate::jobs::{CacheWarmupJob, warm_up_until_loaded};
use crate::proto::interrupcoes::v1::interrupcoes_service_server::InterrupcoesServiceServer;
use crate::proto::scheduler::v1::scheduler_admin_server::SchedulerAdminServer;
use crate::scheduler::SchedulerService;
use crate::source::InterrupcaoSource;
use crate::transport::{Incoming, message_size_status};

/// The assembled service, bound to its listener but not yet running.
pub struct Application {
    listener: TcpListener,
    settings: ServiceSettings,
    cache: Arc<SnapshotCache>,
    scheduler: SchedulerService,
    incoming: Arc<Incoming>,
}

impl Application {
    /// Assembles the service around `source`, listening on `listener` (tests pass
    /// `127.0.0.1:0`). Fails when the warm-up cron is invalid.
    pub async fn build(
        settings: ServiceSettings,
        source: Arc<dyn InterrupcaoSource>,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let cache = Arc::new(
            SnapshotCache::new(settings.stale_after).with_hard_limit(settings.stale_hard_limit),
        );
        let scheduler = SchedulerService::new(settings.time_zone, settings.retry);
        scheduler.set_manual_min_interval(settings.admin.manual_min_interval);
        scheduler
            .add_cron_job(
                Arc::new(CacheWarmupJob::new(source, cache.clone())),
                &settings.warmup_cron,
            )
            .await
            .context("RADAR_WARMUP_CRON")?;
        Ok(Self {
            listener,
            settings,
            cache,
            scheduler,
            incoming: Arc::new(Incoming::default()),
        })
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

    /// The listener's counters (refused connections, accept errors, timeouts).
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
            scheduler,
            incoming,
        } = self;
        let limits = settings.limits;
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
        let health_service = health_service.max_decoding_message_size(limits.max_request_bytes);
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
            .max_decoding_message_size(limits.max_request_bytes);
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .context("building reflection v1alpha")?
            .max_decoding_message_size(limits.max_request_bytes);

        let drain = CancellationToken::new();
        let addr = listener.local_addr()?;
        let mut builder = Server::builder();
        if let Some(tls) = &settings.tls {
            builder = builder
                .tls_config(tls.server_config(limits.handshake_timeout))
                .context("RADAR_TLS_CERT_FILE")?;
            tracing::info!(
                cert_file = %tls.cert_file.display(),
                client_certificates_required = tls.client_ca_file.is_some(),
                "gRPC listener serves TLS only"
            );
        }
        let server = builder
            .concurrency_limit_per_connection(limits.max_concurrent_calls_per_connection)
            .load_shed(true)
            .timeout(limits.rpc_timeout)
            .max_concurrent_streams(limits.max_concurrent_streams)
            .http2_keepalive_interval(Some(limits.keepalive_interval))
            .http2_keepalive_timeout(Some(limits.keepalive_timeout))
            .max_connection_age(limits.max_connection_age)
            .max_connection_age_grace(limits.max_connection_age_grace)
            .trace_fn(|request| tracing::info_span!("rpc", method = %request.uri().path()))
            .layer(MapResponseLayer::new(message_size_status))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(
                InterrupcoesServiceServer::new(InterrupcoesGrpc::new(
                    cache.clone(),
                    settings.contact_email.clone(),
                ))
                .max_decoding_message_size(limits.max_request_bytes),
            )
            .add_service(InterceptedService::new(
                SchedulerAdminServer::new(SchedulerAdminGrpc::new(scheduler.clone()))
                    .max_decoding_message_size(limits.max_request_bytes),
                AdminGuard::new(&settings.admin),
            ))
            .serve_with_incoming_shutdown(
                incoming.stream(listener, limits),
                drain.clone().cancelled_owned(),
            );
        let mut server = tokio::spawn(server);
        tracing::info!(%addr, "gRPC server listening");

        scheduler.start().await.context("starting the scheduler")?;
        let warm_up = tokio::spawn(warm_up_until_loaded(
            scheduler.clone(),
            cache.clone(),
            settings.startup_retry,
            stopping.clone(),
        ));

        tokio::select! {
            result = &mut server => {
                stopping.cancel();
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
                drain_delay_ms = settings.drain_delay.as_millis() as u64,
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
        match tokio::time::timeout(settings.shutdown_grace, &mut server).await {
            Ok(result) => result
                .context("server task")?
                .context("gRPC server failed")?,
            Err(_) => {
                tracing::warn!(
                    grace_secs = settings.shutdown_grace.as_secs(),
                    "grace period over: closing the remaining connections"
                );
                server.abort();
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}

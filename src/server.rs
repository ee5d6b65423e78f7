//! Builds and runs the service: the gRPC server (data, scheduler admin, health,
//! reflection v1 and v1alpha), the scheduler with the warm-up and retention purge jobs,
//! and the health task, all stopped by one shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::answer::{Answers, HistoryLimits};
use crate::cache::SnapshotCache;
use crate::clock::Clock;
use crate::config::ServiceSettings;
use crate::grpc::{InterrupcoesGrpc, SchedulerAdminGrpc};
use crate::health::{self, HealthPublisher};
use crate::jobs::{CacheWarmupJob, RetentionPurgeJob, SharedTicks, warm_up_until_loaded};
use crate::proto::interrupcoes::v1::interrupcoes_service_server::InterrupcoesServiceServer;
use crate::proto::scheduler::v1::scheduler_admin_server::SchedulerAdminServer;
use crate::scheduler::SchedulerService;
use crate::source::InterrupcaoSource;
use crate::store::SnapshotStore;

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
    answers: Arc<Answers>,
    scheduler: SchedulerService,
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
        let cache = Arc::new(SnapshotCache::new(settings.stale_after));
        let answers = Arc::new(Answers::new(
            cache.clone(),
            store.clone(),
            clock.clone(),
            HistoryLimits {
                retention: history.retention,
                cache_capacity: history.cache_capacity,
                cache_ttl: history.cache_ttl,
                stale_after: settings.stale_after,
            },
        ));
        let scheduler = SchedulerService::new(settings.time_zone, settings.retry);
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
            .add_cron_job(Arc::new(warmup), &settings.warmup_cron)
            .await
            .context("RADAR_WARMUP_CRON")?;
        let purge =
            RetentionPurgeJob::new(store, clock, history.retention, history.purge_batch_size);
        scheduler
            .add_cron_job(Arc::new(purge), &history.purge_cron)
            .await
            .context("RADAR_PURGE_CRON")?;
        Ok(Self {
            listener,
            settings,
            cache,
            answers,
            scheduler,
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

    /// Serves until `shutdown` resolves, then: health NOT_SERVING, scheduler stopped,
    /// in-flight RPCs drained within the grace period. Returns once the server is down.
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
        } = self;
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
        let publisher = HealthPublisher::new(reporter).await;
        let health_task = tokio::spawn(health::run(
            publisher,
            cache.subscribe_loaded(),
            scheduler.subscribe_running(),
            stopping.clone(),
        ));

        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("building reflection v1")?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .context("building reflection v1alpha")?;

        let drain = CancellationToken::new();
        let addr = listener.local_addr()?;
        let server = Server::builder()
            .trace_fn(|request| tracing::info_span!("rpc", method = %request.uri().path()))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(InterrupcoesServiceServer::new(InterrupcoesGrpc::new(
                answers,
                cache.clone(),
                settings.contact_email.clone(),
                stopping.clone(),
            )))
            .add_service(SchedulerAdminServer::new(SchedulerAdminGrpc::new(
                scheduler.clone(),
            )))
            .serve_with_incoming_shutdown(
                // TCP_NODELAY: without it, small answers wait on delayed ACKs (~40 ms each).
                TcpIncoming::from(listener).with_nodelay(Some(true)),
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

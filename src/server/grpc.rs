//! The gRPC router: health, reflection v1 and v1alpha, the data service and the scheduler
//! admin, behind the listener's limits, the metrics layer and TLS when configured. Adding
//! a service is one `add_service` in [`router`].

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic_health::pb::health_server::{Health, HealthServer};
use tower::util::MapResponseLayer;

use crate::answer::AnswerService;
use crate::config::{self, LimitsSettings, ServiceSettings};
use crate::grpc::{AdminGuard, InterrupcoesGrpc, InterrupcoesServer, SchedulerAdminGrpc};
use crate::metrics::{GrpcMetricsLayer, Metrics};
use crate::proto::scheduler::v1::scheduler_admin_server::SchedulerAdminServer;
use crate::scheduler::SchedulerService;
use crate::transport::{Incoming, message_size_status};

/// The descriptor sets of every service served, for reflection and the metrics' method
/// names.
const DESCRIPTOR_SETS: [&[u8]; 4] = [
    crate::proto::FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
];

/// What the gRPC services answer from.
pub(super) struct Services<H> {
    /// The gRPC health service (its reporter is held by the health task).
    pub health: HealthServer<H>,
    /// The answers of the data service.
    pub answers: AnswerService,
    /// The scheduler, for the admin service.
    pub scheduler: SchedulerService,
    /// Cancelled at shutdown (ends the Watch streams).
    pub stopping: CancellationToken,
}

/// The gRPC server on `listener`, serving until `drain` is cancelled.
pub(super) fn serve<H: Health>(
    settings: &ServiceSettings,
    services: Services<H>,
    metrics: Arc<Metrics>,
    listener: TcpListener,
    incoming: Arc<Incoming>,
    drain: CancellationToken,
) -> anyhow::Result<impl Future<Output = Result<(), tonic::transport::Error>> + use<H>> {
    let limits = &settings.limits;
    let routes = routes(settings, services)?;
    let router = configured(settings)?
        .layer(GrpcMetricsLayer::new(metrics, &DESCRIPTOR_SETS))
        .layer(MapResponseLayer::new(message_size_status))
        .add_routes(routes);
    Ok(router.serve_with_incoming_shutdown(
        incoming.stream(
            listener,
            usize::try_from(limits.max_connections).unwrap_or(usize::MAX),
            limits.handshake_timeout,
        ),
        drain.cancelled_owned(),
    ))
}

/// The server with the listener's limits and TLS (when configured).
fn configured(settings: &ServiceSettings) -> anyhow::Result<Server> {
    let limits: &LimitsSettings = &settings.limits;
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
    Ok(builder
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
        .trace_fn(|request| tracing::info_span!("rpc", method = %request.uri().path())))
}

/// Every service, each refusing requests larger than the limit.
fn routes<H: Health>(settings: &ServiceSettings, services: Services<H>) -> anyhow::Result<Routes> {
    let max_request_bytes =
        usize::try_from(settings.limits.max_request_bytes).unwrap_or(usize::MAX);
    let Services {
        health,
        answers,
        scheduler,
        stopping,
    } = services;
    let admin_guard = AdminGuard::new(
        settings.admin.admin_token.clone(),
        &format!(
            "{} or {}",
            config::variable("admin_token"),
            config::variable("admin_token_file")
        ),
    );
    Ok(Routes::default()
        .add_service(health.max_decoding_message_size(max_request_bytes))
        .add_service(
            reflection()
                .build_v1()
                .context("building reflection v1")?
                .max_decoding_message_size(max_request_bytes),
        )
        .add_service(
            reflection()
                .build_v1alpha()
                .context("building reflection v1alpha")?
                .max_decoding_message_size(max_request_bytes),
        )
        .add_service(
            InterrupcoesServer::new(InterrupcoesGrpc::new(answers, stopping))
                .max_decoding_message_size(max_request_bytes),
        )
        .add_service(InterceptedService::new(
            SchedulerAdminServer::new(SchedulerAdminGrpc::new(scheduler))
                .max_decoding_message_size(max_request_bytes),
            admin_guard,
        )))
}

/// Reflection over the service's own protos and the health protocol.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

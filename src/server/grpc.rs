//! The gRPC routes: health, reflection v1 and v1alpha, the data service and the scheduler
//! admin, behind the metrics layer, served by the crate's own serve loop
//! ([`crate::transport::grpc_calls`]) with the listener's limits and TLS when configured.
//! Adding a service is one `add_service` in [`routes`].

use std::future::Future;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic_health::pb::health_server::{Health, HealthServer};
use tower::ServiceBuilder;
use tower::util::MapResponseLayer;

use secrecy::SecretString;

use super::Shared;
use super::files::ServiceFiles;
use crate::config::{LimitsSettings, ServiceSettings, names};
use crate::domain::IpRanges;
use crate::grpc::{AdminGuard, InterrupcoesGrpc, InterrupcoesServer, SchedulerAdminGrpc};
use crate::metrics::GrpcMetricsLayer;
use crate::proto::scheduler::v1::scheduler_admin_server::SchedulerAdminServer;
use crate::transport::grpc_calls::{self, CallLimits, GrpcListener, Http2Limits};
use crate::transport::{
    ConnectionPolicy, PeerLimits, StreamLimitLayer, TlsSettings, message_size_status,
    streaming_paths,
};

/// The descriptor sets of every service served, for reflection and the metrics' method
/// names.
const DESCRIPTOR_SETS: [&[u8]; 4] = [
    crate::proto::FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
];

/// The gRPC server on `listener`, serving until `drain` is cancelled.
pub(super) fn serve<H: Health>(
    settings: &ServiceSettings,
    files: ServiceFiles,
    health: HealthServer<H>,
    shared: &Shared,
    listener: TcpListener,
    drain: &CancellationToken,
) -> anyhow::Result<impl Future<Output = ()> + use<H>> {
    let routes = ServiceBuilder::new()
        .layer(GrpcMetricsLayer::new(
            shared.metrics.clone(),
            &DESCRIPTOR_SETS,
        ))
        .layer(MapResponseLayer::new(message_size_status))
        .layer(StreamLimitLayer::new(
            PeerLimits::new(
                usize::try_from(settings.limits.max_streams).unwrap_or(usize::MAX),
                usize::try_from(settings.limits.max_streams_per_peer).unwrap_or(usize::MAX),
            ),
            streaming_paths(&DESCRIPTOR_SETS),
        ))
        .layer(StreamLimitLayer::unary_calls(
            PeerLimits::new(
                usize::try_from(settings.limits.max_calls).unwrap_or(usize::MAX),
                usize::try_from(settings.limits.max_calls_per_peer).unwrap_or(usize::MAX),
            ),
            streaming_paths(&DESCRIPTOR_SETS),
        ))
        .service(routes(settings, files.admin_token, health, shared)?.prepare());
    Ok(grpc_calls::serve(
        listener,
        listener_setup(
            &settings.limits,
            shared.configured_caps.grpc,
            files.tls.as_ref(),
        ),
        shared.listeners.grpc.clone(),
        routes,
        drain.clone(),
    ))
}

/// The listener's limits (its cap lowered from `configured_cap` when descriptors are short)
/// and TLS (when configured), from the settings.
fn listener_setup(
    limits: &LimitsSettings,
    configured_cap: u32,
    tls: Option<&TlsSettings>,
) -> GrpcListener {
    let tls = tls.map(|tls| {
        tracing::info!(
            cert_file = %tls.cert_file.display(),
            client_certificates_required = tls.client_ca_file.is_some(),
            "gRPC listener serves TLS only"
        );
        tls.acceptor()
    });
    GrpcListener {
        connections: ConnectionPolicy {
            name: "gRPC",
            limits: PeerLimits::new(
                usize::try_from(limits.max_connections).unwrap_or(usize::MAX),
                usize::try_from(limits.max_connections_per_peer).unwrap_or(usize::MAX),
            )
            .lowered_from(usize::try_from(configured_cap).unwrap_or(usize::MAX)),
            uncapped_peers: IpRanges::default(),
            preface_timeout: Some(limits.handshake_timeout),
            idle_timeout: limits.idle_timeout,
            max_age: Some(limits.max_connection_age),
            close_grace: limits.max_connection_age_grace,
            http1: false,
        },
        calls: CallLimits {
            max_calls_per_connection: usize::try_from(limits.max_calls_per_connection)
                .unwrap_or(usize::MAX),
            rpc_timeout: limits.rpc_timeout,
        },
        http2: Http2Limits {
            max_concurrent_streams: limits.max_concurrent_streams,
            keepalive_interval: limits.keepalive_interval,
            keepalive_timeout: limits.keepalive_timeout,
        },
        tls,
    }
}

/// Every service, each refusing requests larger than the limit.
fn routes<H: Health>(
    settings: &ServiceSettings,
    admin_token: Option<SecretString>,
    health: HealthServer<H>,
    shared: &Shared,
) -> anyhow::Result<Routes> {
    let max_request_bytes =
        usize::try_from(settings.limits.max_request_bytes).unwrap_or(usize::MAX);
    let admin_guard = AdminGuard::new(
        admin_token,
        &format!(
            "{} or {}",
            names::ADMIN_TOKEN.var,
            names::ADMIN_TOKEN_FILE.var
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
            InterrupcoesServer::new(InterrupcoesGrpc::new(
                shared.answers.clone(),
                shared.stopping.clone(),
            ))
            .max_decoding_message_size(max_request_bytes),
        )
        .add_service(InterceptedService::new(
            SchedulerAdminServer::new(SchedulerAdminGrpc::new(shared.scheduler.clone()))
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

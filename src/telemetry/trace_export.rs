//! The trace pipeline, when [`TraceSettings`] turn export on: the OTLP exporter over the
//! transport the settings name, the resource, the sampler, the queued processor
//! ([`span_queue`](super::span_queue)) and the `tracing` layer that turns the service's
//! spans into OpenTelemetry spans.
//!
//! Only this crate's spans are exported (a per-layer filter on its target): the
//! exporter's own HTTP/2 client must never trace its exports.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_semantic_conventions as semconv;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

use super::span_queue::{self, ExportTask, QueueSettings, SpanDrops};
use super::trace_settings::{Protocol, RootSampler, Sampler, TraceSettings};

/// Set once export has started; read by the propagation helpers and the request id.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are being exported (so trace ids exist and callers' contexts matter).
pub fn tracing_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Lets unit tests exercise the propagation helpers with a layer of their own.
#[cfg(test)]
pub(crate) fn enable_for_tests() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// The name and version of the instrumentation scope: this crate.
const SCOPE: &str = env!("CARGO_PKG_NAME");

/// Export, running. Flush it with [`TraceExport::shutdown`] within the shutdown drain.
#[derive(Debug)]
pub struct TraceExport {
    provider: SdkTracerProvider,
    task: ExportTask,
    drops: SpanDrops,
    settings: TraceSettings,
}

/// Who this process is, for the resource (besides `service.name` from the settings).
#[derive(Debug, Clone)]
pub struct ServiceIdentity {
    /// `service.version`: the crate version and git revision.
    pub version: String,
    /// `service.instance.id`: the replica's instance id (as in answers and stored
    /// snapshots).
    pub instance_id: String,
}

/// Starts export: builds the exporter and spawns the export task on the current Tokio
/// runtime (the gRPC exporter's channel needs one). Returns the handle and the tracer for
/// [`layer`]. An endpoint the exporter refuses is reported as the exporter words it.
pub fn start(
    settings: &TraceSettings,
    identity: &ServiceIdentity,
) -> Result<(TraceExport, SdkTracer), opentelemetry_otlp::ExporterBuildError> {
    let exporter = match settings.endpoint.protocol {
        Protocol::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_endpoint(settings.endpoint.url.clone())
            .build()?,
        Protocol::HttpProtobuf => SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(settings.endpoint.url.clone())
            .build()?,
    };
    let resource = resource(settings, identity);
    let drops = span_queue::span_drops().clone();
    let (processor, task) =
        span_queue::spawn(exporter, &resource, QueueSettings::default(), drops.clone());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sdk_sampler(settings.sampler))
        .with_resource(resource)
        .build();
    let scope = InstrumentationScope::builder(SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(semconv::SCHEMA_URL)
        .build();
    let tracer = provider.tracer_with_scope(scope);
    ENABLED.store(true, Ordering::Relaxed);
    Ok((
        TraceExport {
            provider,
            task,
            drops,
            settings: settings.clone(),
        },
        tracer,
    ))
}

/// The layer that records this crate's `tracing` spans as OpenTelemetry spans.
pub fn layer<S>(tracer: SdkTracer) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // Every span is made in `spans.rs` or a job's module: the code location says
        // nothing the span's name does not.
        .with_location(false)
        .with_threads(false)
        .with_level(false)
        .with_target(false)
        // `busy_ns` and `idle_ns` are no convention's, and cost two clock reads per poll
        // of every span and two attributes per exported span: the span's own start and
        // end say how long it took.
        .with_tracked_inactivity(false)
        .with_filter(Targets::new().with_target(env!("CARGO_CRATE_NAME"), tracing::Level::INFO))
}

impl TraceExport {
    /// The drop counters (the metrics registry exposes them).
    pub fn drops(&self) -> &SpanDrops {
        &self.drops
    }

    /// The URL spans go to.
    pub fn endpoint(&self) -> &str {
        &self.settings.endpoint.url
    }

    /// The transport's name (`grpc`, `http/protobuf`).
    pub fn protocol(&self) -> &'static str {
        self.settings.endpoint.protocol.as_str()
    }

    /// The `service.name` of the spans.
    pub fn service_name(&self) -> &str {
        &self.settings.service_name
    }

    /// The sampler in force.
    pub fn sampler(&self) -> Sampler {
        self.settings.sampler
    }

    /// Exports what is queued within `within`, then stops. False when time ran out.
    pub async fn shutdown(self, within: Duration) -> bool {
        let flushed = self.task.finish(within).await;
        // Only marks the processor closed: the spans went out above.
        let _ = self.provider.shutdown();
        ENABLED.store(false, Ordering::Relaxed);
        flushed
    }
}

fn resource(settings: &TraceSettings, identity: &ServiceIdentity) -> Resource {
    let ours = [
        KeyValue::new(semconv::resource::SERVICE_VERSION, identity.version.clone()),
        KeyValue::new(
            semconv::resource::SERVICE_INSTANCE_ID,
            identity.instance_id.clone(),
        ),
    ];
    // The operator's attributes come last, so theirs win for a key both name.
    let theirs = settings
        .resource_attributes
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()));
    Resource::builder_empty()
        .with_attributes(ours.into_iter().chain(theirs))
        .with_service_name(settings.service_name.clone())
        .build()
}

fn sdk_sampler(sampler: Sampler) -> opentelemetry_sdk::trace::Sampler {
    use opentelemetry_sdk::trace::Sampler as Sdk;
    let root = |root: RootSampler| match root {
        RootSampler::AlwaysOn => Sdk::AlwaysOn,
        RootSampler::AlwaysOff => Sdk::AlwaysOff,
        RootSampler::TraceIdRatio(r) => Sdk::TraceIdRatioBased(r),
    };
    match sampler {
        Sampler::AlwaysOn => Sdk::AlwaysOn,
        Sampler::AlwaysOff => Sdk::AlwaysOff,
        Sampler::TraceIdRatio(r) => Sdk::TraceIdRatioBased(r),
        Sampler::ParentBased(r) => Sdk::ParentBased(Box::new(root(r))),
    }
}

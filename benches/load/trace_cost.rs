//! What tracing costs the data RPC (the README's "Tracing" and "Load benchmark"): the
//! real binary with trace export off, against the same binary exporting every call's span
//! (`OTEL_TRACES_SAMPLER=always_on`) to an OTLP receiver on loopback, and against the
//! binary with the OpenTelemetry layer on but nothing sampled (the default parent-based
//! sampler with `parentbased_always_off` for roots, the caller sending no `traceparent`):
//! the layer's own cost, without export.
//!
//! Tracing is process-wide (one global subscriber, set up once from the `OTEL_*`
//! variables), so each setting is a child process of its own: the binary `cargo bench`
//! built, as `tests/process` starts it. The benchmark is their client; the rounds go in
//! sets of one round each, export off first in one set and last in the next, and each
//! ratio is the median over sets of a setting's round against export off's.
//!
//! Proof that export really happened: the receiver counts the data RPC's spans it got,
//! and the exporting service's own metrics count the calls it answered and the spans it
//! dropped (`radar_trace_spans_dropped_total`). Every call makes one span, so received
//! plus dropped is the calls answered. The receiver runs in this process (its decoding
//! shares the two cores with the client and the services, as a collector sidecar would).

#[path = "../../tests/process/mod.rs"]
mod process;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::bytes::Bytes;
use tonic::transport::Channel;

use super::{Comparison, DATA, Plan, Table, Target, connect, demo_database, round};
use process::Service;

/// The data RPC's span name (`otel.name`: the method path without its leading slash).
const DATA_SPAN: &str =
    "radar.interrupcoes.v1.InterrupcoesService/GetQuantitativoInterrupcoesAtivas";
/// The data RPC's `grpc_method` label in the service's metrics.
const DATA_METHOD: &str = "GetQuantitativoInterrupcoesAtivas";

/// An OTLP/gRPC receiver that counts what it is sent and keeps nothing.
#[derive(Clone, Default)]
struct SpanCounts {
    spans: Arc<AtomicU64>,
    data_rpc: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl TraceService for SpanCounts {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        for span in spans {
            self.spans.fetch_add(1, Ordering::Relaxed);
            if span.name == DATA_SPAN {
                self.data_rpc.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl SpanCounts {
    /// Serves the counts on 127.0.0.1:0 for the rest of the process; returns the value of
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` that reaches it.
    async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
        endpoint
    }
}

/// One service under test: the binary with its trace settings, its gRPC channels and its
/// metrics' URL.
struct Child {
    service: Service,
    channels: Vec<Channel>,
    metrics_url: String,
}

/// Starts the binary on the demo database `demo`, its store in `dir`, with `otel`
/// (the `OTEL_*` variables; none: export off), and waits until it serves the data RPC.
async fn start_child(demo: &Path, dir: &Path, otel: &[(&str, &str)]) -> Child {
    let mut cmd = process::command();
    cmd.env("RADAR_SQLITE_PATH", demo)
        .env("RADAR_STORE_SQLITE_PATH", dir.join("store.sqlite"))
        // No scheduled warm-up during the rounds, only the one at start-up: a weekly run
        // three days away, the slowest schedule the longest hard limit (7 days) accepts.
        .env("RADAR_WARMUP_CRON", weekly_cron_days_away(3))
        .env("RADAR_TIME_ZONE", "UTC")
        .env("RADAR_STALE_HARD_LIMIT_SECS", "604800")
        .env("RADAR_SHUTDOWN_DRAIN_DELAY_SECS", "0");
    for (key, value) in otel {
        cmd.env(key, value);
    }
    let service = tokio::task::spawn_blocking(move || {
        let service = Service::start(cmd);
        let metrics = service.addr_logged("operations HTTP server listening");
        (service, metrics)
    })
    .await
    .unwrap();
    let (service, metrics_addr) = service;
    service.wait_serving().await;
    Child {
        channels: connect(&service.url()).await,
        service,
        metrics_url: format!("http://{metrics_addr}/metrics"),
    }
}

/// A weekly cron (UTC) firing at midnight on the weekday `days` from today.
fn weekly_cron_days_away(days: i64) -> String {
    use chrono::Datelike as _;
    let day = (chrono::Utc::now() + chrono::Duration::days(days)).weekday();
    format!("0 0 * * {}", day.num_days_from_sunday())
}

/// What a service's metrics say about the data RPC and the trace pipeline.
#[derive(Debug, Clone, Copy)]
struct Counted {
    /// Data RPC calls answered (`grpc_server_handled_total`, every code).
    data_calls: f64,
    /// Spans dropped (`radar_trace_spans_dropped_total`, every reason).
    spans_dropped: f64,
}

async fn scrape(http: &reqwest::Client, url: &str) -> Counted {
    let text = http
        .get(url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .text()
        .await
        .unwrap();
    let sum = |keep: &dyn Fn(&str) -> bool| -> f64 {
        text.lines()
            .filter(|l| keep(l))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    };
    Counted {
        data_calls: sum(&|l| {
            l.starts_with("grpc_server_handled_total{")
                && l.contains(&format!("grpc_method=\"{DATA_METHOD}\""))
        }),
        spans_dropped: sum(&|l| l.starts_with("radar_trace_spans_dropped_total{")),
    }
}

/// The data RPC with export off, on (every call sampled and exported) and with the layer
/// on but nothing sampled, rounds alternating; rows for the throughput and p99 ratios,
/// and the spans received per call.
pub async fn trace_export(plan: &Plan, scale: f64, table: &mut Table) {
    let demo = demo_database(scale);
    // A receiver each, so that what each service sent is counted apart.
    let (counts, unsampled_counts) = (SpanCounts::default(), SpanCounts::default());
    let (endpoint, unsampled_endpoint) = (counts.serve().await, unsampled_counts.serve().await);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let off = start_child(&demo, dirs[0].path(), &[]).await;
    let on = start_child(
        &demo,
        dirs[1].path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ],
    )
    .await;
    let unsampled = start_child(
        &demo,
        dirs[2].path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &unsampled_endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "parentbased_always_off"),
        ],
    )
    .await;
    let data = Target::Grpc(DATA, Bytes::new());
    println!(
        "trace export: the binary with export off, on (always_on, to a receiver on \
         loopback) and on with nothing sampled (parentbased_always_off, no traceparent); \
         {} rounds of {:?} each",
        plan.rounds, plan.round
    );
    // One discarded round each: connections, allocator and caches settle.
    for child in [&off, &on, &unsampled] {
        round(&child.channels, &data, plan.round).await;
    }
    let (mut off_rounds, mut on_rounds, mut unsampled_rounds) =
        (Vec::new(), Vec::new(), Vec::new());
    for i in 0..plan.rounds {
        // Export off first in even sets, last in odd ones: a setting's place in the set
        // (e.g. right after the exporting one's batches) weighs on neither side alone.
        if i % 2 == 0 {
            off_rounds.push(round(&off.channels, &data, plan.round).await);
        }
        on_rounds.push(round(&on.channels, &data, plan.round).await);
        unsampled_rounds.push(round(&unsampled.channels, &data, plan.round).await);
        if i % 2 == 1 {
            off_rounds.push(round(&off.channels, &data, plan.round).await);
        }
    }

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let on_counted = scrape(&http, &on.metrics_url).await;
    let unsampled_counted = scrape(&http, &unsampled.metrics_url).await;
    // Stopping flushes what is still queued (within the shutdown drain): every span sent
    // has reached the receiver once the process has exited.
    let terminated = tokio::task::spawn_blocking(move || {
        [on, unsampled, off].map(|child| child.service.terminate())
    })
    .await
    .unwrap();
    assert!(
        terminated.iter().all(|code| *code == Some(0)),
        "a service did not stop cleanly: exit codes {terminated:?}"
    );
    let received = counts.data_rpc.load(Ordering::Relaxed) as f64;

    compared_rows(
        table,
        "export on, always_on",
        &Comparison {
            a: off_rounds.clone(),
            b: on_rounds,
        },
    );
    compared_rows(
        table,
        "layer on, nothing sampled",
        &Comparison {
            a: off_rounds,
            b: unsampled_rounds,
        },
    );
    table.row(
        "data RPC spans received per call, export on (always_on)",
        format!(
            "{received:.0} spans / {:.0} calls; {:.0} dropped (radar_trace_spans_dropped_total)",
            on_counted.data_calls, on_counted.spans_dropped
        ),
        received / on_counted.data_calls,
        "1.00 (received + dropped = calls)",
        // Counts, read as the floats Prometheus writes.
        Some((received + on_counted.spans_dropped - on_counted.data_calls).abs() < 0.5),
    );
    table.row(
        "spans received per call, layer on with nothing sampled",
        format!(
            "{} spans / {:.0} calls; {:.0} dropped",
            unsampled_counts.spans.load(Ordering::Relaxed),
            unsampled_counted.data_calls,
            unsampled_counted.spans_dropped
        ),
        unsampled_counts.spans.load(Ordering::Relaxed) as f64 / unsampled_counted.data_calls,
        "0.00",
        Some(unsampled_counts.spans.load(Ordering::Relaxed) == 0),
    );
}

/// Throughput and p99 of `setting` (rounds b) against export off (rounds a).
fn compared_rows(table: &mut Table, setting: &str, comparison: &Comparison) {
    let (off_rate, _, off_p99) = Comparison::medians(&comparison.a);
    let (rate, _, p99) = Comparison::medians(&comparison.b);
    let throughput = comparison.throughput_ratio();
    table.row(
        &format!("throughput of the data RPC, tracing {setting} / export off"),
        format!("{rate:.0} / {off_rate:.0} calls/s"),
        throughput,
        ">= 0.90",
        Some(throughput >= 0.9),
    );
    table.row(
        &format!("p99 of the data RPC, tracing {setting} / export off"),
        format!("{p99:.2} / {off_p99:.2} ms"),
        comparison.p99_ratio(),
        "",
        None,
    );
}

//! Distributed tracing end to end: the real binary exports its spans over OTLP to a
//! receiver of the test's own on loopback, and the test asserts what arrived: the data
//! RPC joined to the caller's trace, ANEEL's request as a new root linked to its caller,
//! the attributes of the semantic conventions, log lines carrying the trace ids, nothing
//! secret; and, with no receiver, that calls and warm-ups go on and drops are counted.

mod otlp_receiver;
mod process;

use std::time::{Duration, Instant};

use otlp_receiver::{Received, Receiver, hex};
use process::{Service, command};
use radar_interrupcoes::proto::interrupcoes::v1::GetQuantitativoInterrupcoesAtivasRequest;
use radar_interrupcoes::proto::interrupcoes::v1::interrupcoes_service_client::InterrupcoesServiceClient;
use radar_interrupcoes::proto::scheduler::v1::TriggerNowRequest;
use radar_interrupcoes::proto::scheduler::v1::scheduler_admin_client::SchedulerAdminClient;

/// The caller's trace and span, as an internal client would send them.
const CALLER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";
const DATA_RPC: &str =
    "radar.interrupcoes.v1.InterrupcoesService/GetQuantitativoInterrupcoesAtivas";
const ANEEL_KEY: &str = "c2VjcmV0LWFuZWVsLWtleS0yMDI2LXh5eg";
const ADMIN_TOKEN: &str = "admin-token-that-must-never-be-exported";

fn traceparent() -> String {
    format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01")
}

/// The binary on a small demo database in `dir`, its store there too, exporting to
/// `endpoint`.
fn start(dir: &std::path::Path, endpoint: &str, protocol: &str) -> Service {
    let demo = dir.join("demo.sqlite");
    let generated = command()
        .args(["generate-demo", "--scale", "0.05"])
        .env("RADAR_SQLITE_PATH", &demo)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    let mut cmd = command();
    cmd.env("RADAR_SQLITE_PATH", &demo)
        .env("RADAR_STORE_SQLITE_PATH", dir.join("store.sqlite"))
        .env("RADAR_ANEEL_API_KEYS", format!("aneel-2026:{ANEEL_KEY}"))
        .env("RADAR_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RADAR_MANUAL_TRIGGER_MIN_INTERVAL_SECS", "0")
        .env("RADAR_SHUTDOWN_DRAIN_DELAY_SECS", "0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test,team=cop%20rr",
        );
    Service::start(cmd)
}

async fn call_data_rpc(service: &Service) {
    let channel = tonic::transport::Channel::from_shared(service.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(GetQuantitativoInterrupcoesAtivasRequest::default());
    request
        .metadata_mut()
        .insert("traceparent", traceparent().parse().unwrap());
    InterrupcoesServiceClient::new(channel)
        .get_quantitativo_interrupcoes_ativas(request)
        .await
        .unwrap();
}

async fn trigger_warm_up(service: &Service) {
    let channel = tonic::transport::Channel::from_shared(service.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(TriggerNowRequest {
        job_name: "interrupcao_cache_warmup".into(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
    );
    let run = SchedulerAdminClient::new(channel)
        .trigger_now(request)
        .await
        .unwrap()
        .into_inner();
    assert!(!run.reused_recent_run, "{run:?}");
}

fn find(spans: &[Received], what: impl Fn(&Received) -> bool) -> Option<&Received> {
    spans.iter().find(|s| what(s))
}

fn is_data_rpc(s: &Received) -> bool {
    s.attr("rpc.method").as_deref() == Some(DATA_RPC)
}

/// The run of the warm-up that `TriggerNow` started.
fn is_manual_warm_up(s: &Received) -> bool {
    s.name() == "interrupcao_cache_warmup" && s.attr("trigger").as_deref() == Some("manual")
}

/// Whether `span` is `ancestor` or below it, by the parent ids the spans carry.
fn descends_from(spans: &[Received], span: &Received, ancestor: &Received) -> bool {
    let mut current = span;
    loop {
        if current.span_id() == ancestor.span_id() {
            return current.trace_id() == ancestor.trace_id();
        }
        let parent = current.parent_span_id();
        match spans.iter().find(|s| s.span_id() == parent) {
            Some(next) => current = next,
            None => return false,
        }
    }
}

/// The span named `name` under `run`.
fn step<'a>(spans: &'a [Received], run: &Received, name: &str) -> Option<&'a Received> {
    spans
        .iter()
        .find(|s| s.name() == name && descends_from(spans, s, run))
}

// Multi-threaded: the receiver keeps answering while this thread waits for the exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_warm_ups_arrive_as_traces_joined_to_their_callers() {
    let receiver = Receiver::grpc().await;
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path(), &receiver.endpoint(), receiver.protocol());
    service.wait_serving().await;
    call_data_rpc(&service).await;
    trigger_warm_up(&service).await;
    let aneel = service.addr_logged("ANEEL HTTP server listening");
    let answer = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{aneel}/quantitativointerrupcoesativas"))
        .header("x-api-key", ANEEL_KEY)
        .header("traceparent", traceparent())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let request_id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let spans = receiver
        .wait_for(
            "the data RPC, ANEEL's request and the warm-up's steps",
            |spans| {
                find(spans, is_data_rpc).is_some()
                    && find(spans, |s| s.name().starts_with("GET ")).is_some()
                    && find(spans, is_manual_warm_up).is_some_and(|run| {
                        step(spans, run, "SELECT interrupcoes_ativas").is_some()
                            && step(spans, run, "INSERT snapshot").is_some()
                    })
            },
        )
        .await;

    // The internal client's call continues its caller's trace, as a server span.
    let rpc = find(&spans, is_data_rpc).unwrap();
    assert_eq!(rpc.trace_id(), CALLER_TRACE);
    assert_eq!(rpc.parent_span_id(), CALLER_SPAN);
    assert_eq!(rpc.name(), DATA_RPC);
    assert_eq!(rpc.span.kind, 2, "SPAN_KIND_SERVER");
    assert_eq!(rpc.attr("rpc.system.name").as_deref(), Some("grpc"));
    assert_eq!(rpc.attr("rpc.response.status_code").as_deref(), Some("OK"));
    assert_eq!(rpc.scope, "radar-interrupcoes");
    assert_eq!(
        rpc.schema_url,
        opentelemetry_semantic_conventions::SCHEMA_URL
    );
    // The resource: our defaults and the operator's attributes.
    assert_eq!(rpc.resource["service.name"], "radar-interrupcoes");
    assert_eq!(rpc.resource["deployment.environment.name"], "test");
    assert_eq!(rpc.resource["team"], "cop rr");
    assert!(rpc.resource["service.version"].starts_with(env!("CARGO_PKG_VERSION")));
    assert!(!rpc.resource["service.instance.id"].is_empty());

    // ANEEL's request is a new root, only linked to its caller's context.
    let http = find(&spans, |s| {
        s.name() == "GET /quantitativointerrupcoesativas"
    })
    .unwrap();
    assert_ne!(http.trace_id(), CALLER_TRACE);
    assert_eq!(http.parent_span_id(), "");
    assert_eq!(http.span.kind, 2, "SPAN_KIND_SERVER");
    let link = &http.span.links[0];
    assert_eq!(hex(&link.trace_id), CALLER_TRACE);
    assert_eq!(hex(&link.span_id), CALLER_SPAN);
    assert_eq!(http.attr("http.request.method").as_deref(), Some("GET"));
    assert_eq!(
        http.attr("http.route").as_deref(),
        Some("/quantitativointerrupcoesativas")
    );
    assert_eq!(
        http.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    // With no id of the caller's, the request id is the trace id, and the request's log
    // line carries both.
    assert_eq!(request_id, http.trace_id());
    let line = service
        .json_logs()
        .into_iter()
        .find(|v| v["message"] == "aneel request")
        .unwrap();
    assert_eq!(line["trace_id"], http.trace_id().as_str(), "{line}");
    assert_eq!(line["span_id"], http.span_id().as_str(), "{line}");
    assert_eq!(line["request_id"], request_id.as_str(), "{line}");

    // Each warm-up is a tree: the run, its attempt, the source query, the validation of
    // its rows and the store write, the queries as database client spans.
    let run = find(&spans, is_manual_warm_up).unwrap();
    assert_eq!(run.attr("outcome").as_deref(), Some("succeeded"));
    assert_eq!(run.attr("attempt").as_deref(), Some("1"));
    assert_eq!(run.attr("job").as_deref(), Some("interrupcao_cache_warmup"));
    assert!(
        run.span.status.as_ref().is_none_or(|s| s.code != 2),
        "{run:?}"
    );
    assert!(step(&spans, run, "attempt 1").is_some());
    assert!(step(&spans, run, "row validation").is_some());
    for (name, operation) in [
        ("SELECT interrupcoes_ativas", "SELECT"),
        ("INSERT snapshot", "INSERT"),
    ] {
        let query = step(&spans, run, name).unwrap();
        assert_eq!(query.span.kind, 3, "SPAN_KIND_CLIENT: {name}");
        assert_eq!(query.attr("db.system.name").as_deref(), Some("sqlite"));
        assert_eq!(query.attr("db.operation.name").as_deref(), Some(operation));
        assert_eq!(query.attr("db.query.summary").as_deref(), Some(name));
    }
    let select = step(&spans, run, "SELECT interrupcoes_ativas").unwrap();
    assert!(
        select
            .attr("db.response.returned_rows")
            .is_some_and(|n| n.parse::<u64>().unwrap() > 0),
        "{select:?}"
    );
    // The start-up warm-up is traced too, as its own trace.
    let startup = find(&spans, |s| {
        s.name() == "interrupcao_cache_warmup" && s.attr("trigger").as_deref() == Some("startup")
    })
    .unwrap();
    assert!(step(&spans, startup, "SELECT interrupcoes_ativas").is_some());

    // Nothing secret in any span.
    for span in &spans {
        let text = span.all_text();
        assert!(!text.contains(ANEEL_KEY), "{text}");
        assert!(!text.contains(ADMIN_TOKEN), "{text}");
    }

    // A call just before SIGTERM reaches the receiver: the exporter is flushed in the drain.
    let before = receiver.spans().len();
    call_data_rpc(&service).await;
    assert_eq!(service.terminate(), Some(0));
    receiver
        .wait_for("the last call's span, flushed at shutdown", |spans| {
            spans[before..].iter().any(is_data_rpc)
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_is_the_other_transport() {
    let receiver = Receiver::http().await;
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path(), &receiver.endpoint(), receiver.protocol());
    service.wait_serving().await;
    call_data_rpc(&service).await;
    let spans = receiver
        .wait_for("the data RPC over OTLP/HTTP", |spans| {
            find(spans, is_data_rpc).is_some()
        })
        .await;
    assert_eq!(find(&spans, is_data_rpc).unwrap().trace_id(), CALLER_TRACE);
}

#[tokio::test]
async fn with_the_collector_down_calls_and_warm_ups_go_on_and_drops_are_counted() {
    // A port that was free a moment ago: connections to it are refused.
    let endpoint = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let service = start(dir.path(), &endpoint, "grpc");
    service.wait_serving().await;
    for _ in 0..3 {
        call_data_rpc(&service).await;
        trigger_warm_up(&service).await;
    }
    let ops = service.addr_logged("operations HTTP server listening");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = client
            .get(format!("http://{ops}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let failed = text.lines().find_map(|l| {
            l.strip_prefix(r#"radar_trace_spans_dropped_total{reason="export_failed"} "#)
                .map(|v| v.parse::<f64>().unwrap())
        });
        if failed.is_some_and(|n| n > 0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "no drops counted: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Still answering, and the failure was said once, not per batch.
    call_data_rpc(&service).await;
    let warnings = service
        .json_logs()
        .into_iter()
        .filter(|v| {
            v["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("trace export failed")
        })
        .count();
    assert_eq!(warnings, 1, "{}", service.logs());
    assert_eq!(service.terminate(), Some(0));
}

#[test]
fn an_unusable_otel_variable_stops_start_up_naming_it() {
    for (variable, value) in [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
    ] {
        let out = command()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
            .env(variable, value)
            .env("RADAR_LISTEN_ADDR", "127.0.0.1:0")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{variable}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
    }
}

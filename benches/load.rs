//! Load benchmark: what the data answer costs next to a health check, on the same server in
//! the same run, and what warm-ups, calls, history lookups and scale do to latency, memory
//! and duration.
//!
//! `cargo bench --bench load` (one command; several minutes with its release build, longer
//! the first time the 5x and 25x demo databases are generated). Sections:
//!
//! 1. **Serving.** A closed loop of 50 concurrent calls over 4 connections (loopback, the
//!    real server around the Roraima demo database), several rounds per target, the two
//!    targets alternating round by round, each ratio the median over pairs of rounds:
//!    `grpc.health.v1.Health/Check` against `GetQuantitativoInterrupcoesAtivas` (with the
//!    process's CPU time per call); history lookups (`dthRecuperacao`), cached and read
//!    from the store, against the live answer; the data RPC idle against the data RPC
//!    while warm-ups run back to back; the ANEEL HTTP endpoint against the operations
//!    endpoint's `/livez` (50 concurrent HTTP/1.1 requests: one connection each). The gRPC
//!    client does not decode the answers (it reads their bytes and checks the status), so
//!    its share of the 2 shared cores is the same for every target and the ratios measure
//!    the server.
//! 2. **Memory.** Resident memory after 10 000 and after 100 000 data calls, after 10 and
//!    after 1 000 warm-ups, with a week of snapshots (336) in the history cache, and after
//!    more moments than the history cache holds.
//! 3. **Scale.** The warm-up (query and validation) at 1x, 5x and 25x Roraima, each in a
//!    child process of its own so that its peak memory is its own. The demo databases are
//!    generated once into the system's temp directory and reused.
//! 4. **Trace export.** The data RPC on the real binary with trace export off, against
//!    export on with every call sampled, and against the OpenTelemetry layer on with
//!    nothing sampled, each a child process ([`trace_cost`]); `--trace-export` runs it
//!    alone.
//! 5. **Watch flood.** Resident memory of a server (a child process with the default
//!    limits) flooded with `WatchQuantitativoInterrupcoesAtivas` streams from 96 loopback
//!    addresses, more than its stream and connection bounds admit: idle, held, and 15 s
//!    after every stream closed, twice, as ratios to idle ([`watch_memory`]);
//!    `--watch-memory` runs it alone.
//!
//! The in-process server runs under the subscriber the service installs with export off
//! (`telemetry::init_with_writer`: the same filter, span layers and JSON log lines),
//! writing its log lines to a file in the temp directory instead of the terminal.
//!
//! Absolute figures on a shared machine are not comparable between runs: compare the
//! ratios, which come from one run. `RADAR_BENCH_QUICK=1` makes a short smoke run;
//! `RADAR_BENCH_SCALE=5` serves the demo database at 5x Roraima (a larger answer).
//! Options for finding where time goes (on `target/release/deps/load-*`): `--grpc-only`
//! runs only the data RPC against Health/Check; `--closed-loop health|data` runs one
//! target's closed loop alone and prints the calls made (for `strace -f -c`); `--calls N
//! health|data` makes N sequential calls and exits, for instruction counts under
//! `valgrind --tool=callgrind` (see the README); `--watch-memory` runs only the Watch
//! flood, with the allocator of the build (see `src/allocator.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prost::Message;
use prost::bytes::{Buf, BufMut, Bytes};
use radar_interrupcoes::cache::{Snapshot, SnapshotCache};
use radar_interrupcoes::clock::SystemClock;
use radar_interrupcoes::config::{DEFAULT_DEMO_SEED, ServiceSettings};
use radar_interrupcoes::domain::{QueryBinds, dth_recuperacao};
use radar_interrupcoes::http::{ApiKeys, GuardSettings, HttpListeners, KeyStore, aneel};
use radar_interrupcoes::jobs::{CacheWarmupJob, WARMUP_JOB_NAME};
use radar_interrupcoes::proto::interrupcoes::v1::GetQuantitativoInterrupcoesAtivasRequest;
use radar_interrupcoes::scheduler::{Job, RunContext, SchedulerService, Trigger};
use radar_interrupcoes::server::{Application, Backends};
use radar_interrupcoes::source::sqlite::{self, SqliteSource};
use radar_interrupcoes::store::{SnapshotStore, SqliteStore, StoredSnapshot};
use radar_interrupcoes::telemetry;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};

#[path = "load/trace_cost.rs"]
mod trace_cost;
#[path = "load/watch_memory.rs"]
mod watch_memory;

const CONCURRENCY: usize = 50;
/// Resident memory may grow by at most this ratio over many calls, warm-ups or history
/// passes. Only growth is a defect: jemalloc's background threads give freed memory back
/// to the system, so a later reading can be lower than an earlier one.
const MAX_MEMORY_GROWTH: f64 = 1.10;
const CONNECTIONS: usize = 4;
const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
const DATA: &str = "/radar.interrupcoes.v1.InterrupcoesService/GetQuantitativoInterrupcoesAtivas";

/// How long and how often: the full run, or a smoke run (`RADAR_BENCH_QUICK=1`).
struct Plan {
    rounds: usize,
    round: Duration,
    calls_small: u64,
    calls_large: u64,
    warmups_small: u64,
    warmups_large: u64,
    scales: Vec<f64>,
}

impl Plan {
    fn from_env() -> Self {
        if std::env::var_os("RADAR_BENCH_QUICK").is_some() {
            Self {
                rounds: 3,
                round: Duration::from_millis(500),
                calls_small: 1_000,
                calls_large: 10_000,
                warmups_small: 2,
                warmups_large: 20,
                scales: vec![0.2, 1.0],
            }
        } else {
            Self {
                rounds: 7,
                round: Duration::from_secs(2),
                calls_small: 10_000,
                calls_large: 100_000,
                warmups_small: 10,
                warmups_large: 1_000,
                scales: vec![1.0, 5.0, 25.0],
            }
        }
    }
}

/// A codec that sends and receives the message bytes as they are: the client's work is the
/// same whatever the answer, and none of the 2 shared cores goes to decoding it.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// What a caller calls: a gRPC method with its request's bytes (over the shared
/// channels), or an HTTP GET.
#[derive(Clone)]
enum Target {
    Grpc(&'static str, Bytes),
    Http(reqwest::Client, Arc<str>),
}

impl Target {
    async fn call(&self, channel: &Channel) {
        match self {
            Target::Grpc(path, request) => {
                call_with(channel, path, request.clone())
                    .await
                    .unwrap_or_else(|s| panic!("{path}: {s}"));
            }
            Target::Http(client, url) => {
                let response = client.get(&**url).send().await.unwrap();
                assert!(
                    response.status().is_success(),
                    "{url}: {}",
                    response.status()
                );
                response.bytes().await.unwrap();
            }
        }
    }
}

/// One unary call with an empty request, returning the answer's size.
async fn call(channel: &Channel, path: &'static str) -> Result<usize, Status> {
    call_with(channel, path, Bytes::new()).await
}

/// One unary call with `request` (the encoded request message), returning the answer's size.
async fn call_with(channel: &Channel, path: &'static str, request: Bytes) -> Result<usize, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let answer = grpc
        .unary(
            tonic::Request::new(request),
            tonic::codegen::http::uri::PathAndQuery::from_static(path),
            RawCodec,
        )
        .await?;
    Ok(answer.into_inner().len())
}

/// What one round measured.
#[derive(Debug, Clone, Copy)]
struct Round {
    calls_per_sec: f64,
    p50: Duration,
    p99: Duration,
    /// The process's (client and server) resources per call during the round.
    per_call: Usage,
}

/// Resources of the whole process (client and server threads together), from `/proc`:
/// CPU in user space and in the kernel, context switches. (System calls are not counted
/// here: `/proc/self/io` counts `writev` but not `send`, which tokio uses for plain writes;
/// count them with `strace -f -c` and `--closed-loop`, see the README.)
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    user_us: f64,
    system_us: f64,
    voluntary_switches: f64,
    involuntary_switches: f64,
}

impl Usage {
    /// The counters now (zeros where `/proc` cannot be read).
    fn now() -> Self {
        let mut usage = Self::default();
        // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux);
        // the command name (field 2) may hold spaces, so count from its closing parenthesis.
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some((_, rest)) = stat.rsplit_once(')')
        {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
            usage.user_us = ticks(11).unwrap_or(0.0) * 10_000.0;
            usage.system_us = ticks(12).unwrap_or(0.0) * 10_000.0;
        }
        // Context switches are counted per thread: add up the process's threads.
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
                    usage.voluntary_switches += proc_field(&status, "voluntary_ctxt_switches:");
                    usage.involuntary_switches +=
                        proc_field(&status, "nonvoluntary_ctxt_switches:");
                }
            }
        }
        usage
    }

    /// What was used since `earlier`, per one of `calls`.
    fn per_call_since(self, earlier: Self, calls: usize) -> Self {
        let n = calls.max(1) as f64;
        Self {
            user_us: (self.user_us - earlier.user_us) / n,
            system_us: (self.system_us - earlier.system_us) / n,
            voluntary_switches: (self.voluntary_switches - earlier.voluntary_switches) / n,
            involuntary_switches: (self.involuntary_switches - earlier.involuntary_switches) / n,
        }
    }

    fn cpu_us(&self) -> f64 {
        self.user_us + self.system_us
    }
}

/// One figure of a [`Usage`].
type UsageFigure = fn(&Usage) -> f64;

/// The number after `name` in a `/proc` file of `name value` lines.
fn proc_field(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Runs `CONCURRENCY` callers over `channels` for `length`, each calling again as soon as
/// its answer arrives.
async fn round(channels: &[Channel], target: &Target, length: Duration) -> Round {
    let usage = Usage::now();
    let start = Instant::now();
    let deadline = start + length;
    let mut callers = Vec::with_capacity(CONCURRENCY);
    for i in 0..CONCURRENCY {
        let channel = channels[i % channels.len()].clone();
        let target = target.clone();
        callers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(8_192);
            while Instant::now() < deadline {
                let sent = Instant::now();
                target.call(&channel).await;
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for caller in callers {
        latencies.extend(caller.await.unwrap());
    }
    let elapsed = start.elapsed();
    let per_call = Usage::now().per_call_since(usage, latencies.len());
    latencies.sort_unstable();
    Round {
        calls_per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        per_call,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Rounds of `a` and `b`, alternating (so drift in the machine's load hits both alike);
/// `during_b` runs alongside every round of `b` and is stopped after it.
struct Comparison {
    a: Vec<Round>,
    b: Vec<Round>,
}

impl Comparison {
    /// The median over rounds of `measure(b) / measure(a)`, each round of b against the
    /// round of a just before it.
    fn ratio(&self, measure: impl Fn(&Round) -> f64) -> f64 {
        median(
            self.a
                .iter()
                .zip(&self.b)
                .map(|(a, b)| measure(b) / measure(a))
                .collect(),
        )
    }

    /// The median over rounds of b/a throughput.
    fn throughput_ratio(&self) -> f64 {
        self.ratio(|r| r.calls_per_sec)
    }

    /// The median over rounds of b/a p99.
    fn p99_ratio(&self) -> f64 {
        self.ratio(|r| r.p99.as_secs_f64())
    }

    fn medians(rounds: &[Round]) -> (f64, f64, f64) {
        (
            median(rounds.iter().map(|r| r.calls_per_sec).collect()),
            median(rounds.iter().map(|r| r.p50.as_secs_f64() * 1e3).collect()),
            median(rounds.iter().map(|r| r.p99.as_secs_f64() * 1e3).collect()),
        )
    }

    /// Per call, median over rounds: `a` figure / `b` figure (ratio b/a), for each of the
    /// process's resources.
    fn print_usage(&self, a_name: &str, b_name: &str) {
        let rows: [(&str, UsageFigure); 4] = [
            ("CPU, user + system (us)", Usage::cpu_us),
            ("CPU, user (us)", |u| u.user_us),
            ("CPU, system (us)", |u| u.system_us),
            ("context switches, voluntary", |u| u.voluntary_switches),
        ];
        println!(
            "per call, process-wide (client and server), median of rounds: {b_name} / {a_name} (ratio)"
        );
        for (name, figure) in rows {
            let med =
                |rounds: &[Round]| median(rounds.iter().map(|r| figure(&r.per_call)).collect());
            println!(
                "  {name}: {:.2} / {:.2} ({:.2})",
                med(&self.b),
                med(&self.a),
                self.ratio(|r| figure(&r.per_call))
            );
        }
        let involuntary = |rounds: &[Round]| {
            median(
                rounds
                    .iter()
                    .map(|r| r.per_call.involuntary_switches)
                    .collect(),
            )
        };
        println!(
            "  context switches, involuntary: {:.3} / {:.3}",
            involuntary(&self.b),
            involuntary(&self.a)
        );
    }
}

/// Warm-ups back to back through the scheduler until `stop` is set; counts them in `runs`.
fn warm_ups_back_to_back(
    scheduler: SchedulerService,
    stop: Arc<AtomicBool>,
    runs: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let result = scheduler
                .trigger(WARMUP_JOB_NAME, Trigger::Manual)
                .await
                .expect("the warm-up job is registered");
            assert!(
                result.run.outcome.is_success(),
                "warm-up failed: {:?}",
                result.run.error
            );
            runs.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// A field of /proc/self/status in KiB (`VmRSS`, `VmHWM`), where there is one.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn rss_kib() -> u64 {
    proc_status_kib("VmRSS:").unwrap_or(0)
}

/// The demo database at `scale`, generated once into the temp directory and reused (the
/// generator is deterministic for a given scale and seed).
fn demo_database(scale: f64) -> PathBuf {
    let dir = std::env::temp_dir().join("radar-interrupcoes-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!(
        "demo-scale{scale}-seed{DEFAULT_DEMO_SEED:x}.sqlite"
    ));
    if !path.exists() {
        eprintln!(
            "generating the demo database at scale {scale} into {}",
            path.display()
        );
        sqlite::generate(&path, scale, DEFAULT_DEMO_SEED).unwrap();
    }
    path
}

/// Table rows: measure, figures, ratio, target, met.
struct Table(Vec<[String; 5]>);

impl Table {
    fn row(&mut self, measure: &str, figures: String, ratio: f64, target: &str, met: Option<bool>) {
        self.0.push([
            measure.to_owned(),
            figures,
            format!("{ratio:.2}"),
            target.to_owned(),
            match met {
                Some(true) => "yes".to_owned(),
                Some(false) => "NO".to_owned(),
                None => String::new(),
            },
        ]);
    }

    fn print(&self) {
        println!("| measure | figures (this run only) | ratio | target | met |");
        println!("|---|---|---|---|---|");
        for [a, b, c, d, e] in &self.0 {
            println!("| {a} | {b} | {c} | {d} | {e} |");
        }
    }
}

/// The scale of the demo database served: `RADAR_BENCH_SCALE`, else 1 (Roraima).
fn served_scale() -> f64 {
    std::env::var("RADAR_BENCH_SCALE").map_or(1.0, |s| {
        s.parse()
            .expect("RADAR_BENCH_SCALE is a scale of the demo database, e.g. 5")
    })
}

/// Installs the subscriber the service installs with trace export off (JSON lines at
/// `info`, as deployed), writing to `radar-interrupcoes-bench/load.log` in the temp
/// directory: what the server does per call is measured, the terminal keeps the tables.
/// `fresh` empties the file first (the parent; its children add to it).
fn start_logging(fresh: bool) -> PathBuf {
    let dir = std::env::temp_dir().join("radar-interrupcoes-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("load.log");
    if fresh {
        std::fs::File::create(&path).unwrap();
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    telemetry::init_with_writer(
        telemetry::LogFormat::Json,
        "info".parse().unwrap(),
        None,
        Arc::new(file),
        false,
    );
    path
}

/// The running server: `CONNECTIONS` gRPC channels to it, the ANEEL endpoint's URL and the
/// operations endpoint's liveness URL.
struct Server {
    channels: Vec<Channel>,
    scheduler: SchedulerService,
    cache: Arc<SnapshotCache>,
    store: Arc<SqliteStore>,
    aneel_url: Arc<str>,
    livez_url: Arc<str>,
}

/// The real server around the Roraima demo database (or the scale in `RADAR_BENCH_SCALE`,
/// for larger answers), loaded, with its HTTP endpoints.
async fn start_server() -> Server {
    let path = demo_database(served_scale());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut settings = ServiceSettings {
        warmup_cron: "0 0 0 1 1 *".parse().unwrap(),
        ..ServiceSettings::default()
    };
    // Every trigger runs a warm-up: none returns the previous run instead.
    settings.admin.manual_min_interval = Duration::ZERO;
    // The benchmark is one address standing for many HTTP clients (50 at once).
    settings.limits.http_max_connections_per_peer = settings.limits.http_max_connections;
    let source = Arc::new(SqliteSource::new(path, QueryBinds::default()));
    let aneel = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let aneel_url = format!("http://{}{}", aneel.local_addr().unwrap(), aneel::PATH).into();
    let livez_url = format!("http://{}/livez", ops.local_addr().unwrap()).into();
    // The snapshot store (history) in a directory that lives as long as the process.
    let store_dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    let store = Arc::new(SqliteStore::new(store_dir.path().join("store.sqlite")));
    let backends = Backends {
        source,
        store: store.clone(),
        clock: Arc::new(SystemClock),
    };
    let app = Application::build(settings, backends, listener)
        .await
        .unwrap()
        .with_http(HttpListeners {
            aneel: Some(aneel),
            api_keys: Arc::new(KeyStore::from(ApiKeys::default())),
            // The benchmark measures the endpoint's throughput, not the limiter's refusals.
            guard: GuardSettings {
                rate_limit: None,
                ..GuardSettings::default()
            },
            ops: Some(ops),
        });
    let addr = app.local_addr().unwrap();
    let scheduler = app.scheduler();
    let cache = app.cache();
    tokio::spawn(app.run(std::future::pending()));
    while !cache.is_loaded() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Server {
        channels: connect(&format!("http://{addr}")).await,
        scheduler,
        cache,
        store,
        aneel_url,
        livez_url,
    }
}

/// `CONNECTIONS` gRPC channels to `url`.
async fn connect(url: &str) -> Vec<Channel> {
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        let channel = Endpoint::from_shared(url.to_owned())
            .unwrap()
            .tcp_nodelay(true)
            .connect()
            .await
            .unwrap();
        channels.push(channel);
    }
    channels
}

/// The data RPC against `Health/Check`, rounds alternating: throughput, p99, and the
/// process's resources per call.
async fn health_vs_data(channels: &[Channel], plan: &Plan, table: &mut Table) {
    let (health, data) = (
        Target::Grpc(HEALTH_CHECK, Bytes::new()),
        Target::Grpc(DATA, Bytes::new()),
    );
    let answer_bytes = call(&channels[0], DATA).await.unwrap();
    let health_bytes = call(&channels[0], HEALTH_CHECK).await.unwrap();
    println!(
        "answers: data RPC {answer_bytes} bytes, Health/Check {health_bytes} bytes; \
         {CONCURRENCY} callers over {CONNECTIONS} connections, {} rounds of {:?} per target",
        plan.rounds, plan.round
    );
    // One discarded round each: connections, allocator and caches settle.
    round(channels, &health, plan.round).await;
    round(channels, &data, plan.round).await;

    let mut health_vs_data = Comparison {
        a: Vec::new(),
        b: Vec::new(),
    };
    for _ in 0..plan.rounds {
        health_vs_data
            .a
            .push(round(channels, &health, plan.round).await);
        health_vs_data
            .b
            .push(round(channels, &data, plan.round).await);
    }
    let (h_rate, h_p50, h_p99) = Comparison::medians(&health_vs_data.a);
    let (d_rate, d_p50, d_p99) = Comparison::medians(&health_vs_data.b);
    let throughput = health_vs_data.throughput_ratio();
    let p99 = health_vs_data.p99_ratio();
    table.row(
        "throughput, data RPC / Health/Check",
        format!("{d_rate:.0} / {h_rate:.0} calls/s"),
        throughput,
        ">= 0.90",
        Some(throughput >= 0.9),
    );
    health_vs_data.print_usage("Health/Check", "data RPC");
    let cpu = health_vs_data.ratio(|r| r.per_call.cpu_us());
    table.row(
        "CPU per call (process: client and server), data RPC / Health/Check",
        format!(
            "{:.1} / {:.1} us",
            median(
                health_vs_data
                    .b
                    .iter()
                    .map(|r| r.per_call.cpu_us())
                    .collect()
            ),
            median(
                health_vs_data
                    .a
                    .iter()
                    .map(|r| r.per_call.cpu_us())
                    .collect()
            )
        ),
        cpu,
        "",
        None,
    );
    table.row(
        "p99, data RPC / Health/Check",
        format!("{d_p99:.2} / {h_p99:.2} ms (p50 {d_p50:.2} / {h_p50:.2} ms)"),
        p99,
        "<= 1.20",
        Some(p99 <= 1.2),
    );
}

/// Snapshots a week holds at one every 30 minutes (the warm-up's schedule).
const WEEK_OF_SNAPSHOTS: i64 = 7 * 48;

/// Stores a week of snapshots, one every 30 minutes before now (copies of the loaded one,
/// each with its own collection time), and returns one moment answered by each: 10 minutes
/// after it, so every moment is old enough for its answer to be cached (the newest is 10
/// minutes ago) and inside the 7 days' retention (the oldest, 6 days 23 h 40 min ago).
async fn seed_history(store: &SqliteStore, cache: &SnapshotCache) -> Vec<DateTime<Utc>> {
    let loaded = cache.current().await.unwrap().snapshot;
    let now = Utc::now();
    let newest = now - chrono::Duration::minutes(20);
    let mut moments = Vec::new();
    for k in 0..WEEK_OF_SNAPSHOTS {
        let collected_at = newest - chrono::Duration::minutes(30 * k);
        let stored = StoredSnapshot {
            id: uuid::Uuid::new_v4().to_string(),
            tick_at: Some(collected_at),
            trigger: "cron".to_owned(),
            snapshot: Snapshot {
                collected_at,
                ..(*loaded).clone()
            },
        };
        store.save(&stored).await.unwrap();
        moments.push(collected_at + chrono::Duration::minutes(10));
    }
    moments
}

/// A data RPC request for the moment `at` (`dthRecuperacao`).
fn at_moment(at: DateTime<Utc>) -> Target {
    let request = GetQuantitativoInterrupcoesAtivasRequest {
        dth_recuperacao: dth_recuperacao::format(at),
    };
    Target::Grpc(DATA, request.encode_to_vec().into())
}

/// History lookups against the live answer: a moment whose answer the history cache holds
/// (a day ago), and a moment read from the store on every call (two minutes ago: answers
/// for moments under 5 minutes old are never cached, since a snapshot may still be on its
/// way to the store).
async fn history_lookups(
    channels: &[Channel],
    plan: &Plan,
    table: &mut Table,
    week: &[DateTime<Utc>],
) {
    let live = Target::Grpc(DATA, Bytes::new());
    let cached = at_moment(week[week.len() / 7]);
    round(channels, &cached, plan.round).await;
    let mut live_vs_cached = Comparison {
        a: Vec::new(),
        b: Vec::new(),
    };
    let mut live_vs_store = Comparison {
        a: Vec::new(),
        b: Vec::new(),
    };
    for _ in 0..plan.rounds {
        live_vs_cached
            .a
            .push(round(channels, &live, plan.round).await);
        live_vs_cached
            .b
            .push(round(channels, &cached, plan.round).await);
        live_vs_store
            .a
            .push(round(channels, &live, plan.round).await);
        let recent = at_moment(Utc::now() - chrono::Duration::minutes(2));
        live_vs_store
            .b
            .push(round(channels, &recent, plan.round).await);
    }
    for (comparison, name) in [
        (&live_vs_cached, "cached"),
        (&live_vs_store, "not cached (store)"),
    ] {
        let (l_rate, _, l_p99) = Comparison::medians(&comparison.a);
        let (h_rate, _, h_p99) = Comparison::medians(&comparison.b);
        table.row(
            &format!("throughput, history lookup {name} / live data RPC"),
            format!("{h_rate:.0} / {l_rate:.0} calls/s"),
            comparison.throughput_ratio(),
            "",
            None,
        );
        table.row(
            &format!("p99, history lookup {name} / live data RPC"),
            format!("{h_p99:.2} / {l_p99:.2} ms"),
            comparison.p99_ratio(),
            "",
            None,
        );
    }
}

/// Calls `targets`, `CONCURRENCY` at a time, each once.
async fn call_each(channels: &[Channel], targets: Vec<Target>) {
    let targets = Arc::new(targets);
    let next = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for i in 0..CONCURRENCY {
        let (channel, targets, next) = (
            channels[i % channels.len()].clone(),
            targets.clone(),
            next.clone(),
        );
        callers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(target) = targets.get(n) else { break };
                target.call(&channel).await;
            }
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
}

/// Resident memory with a week of snapshots in the history cache: after looking each up
/// once, after 10 more passes (answered from the cache), and after 3 000 other moments
/// (more than the cache's 1 000 entries: it must stay bounded).
async fn history_memory(channels: &[Channel], table: &mut Table, week: &[DateTime<Utc>]) {
    let pass = || week.iter().map(|&at| at_moment(at)).collect::<Vec<_>>();
    call_each(channels, pass()).await;
    let rss_week = rss_kib();
    for _ in 0..10 {
        call_each(channels, pass()).await;
    }
    let rss_passes = rss_kib();
    let ratio = rss_passes as f64 / rss_week as f64;
    table.row(
        &format!(
            "resident memory with {WEEK_OF_SNAPSHOTS} snapshots (7 days) in the history \
             cache, after 10 more passes / after the first"
        ),
        format!("{rss_passes} / {rss_week} KiB"),
        ratio,
        "<= 1.10",
        Some(ratio <= MAX_MEMORY_GROWTH),
    );
    // Moments a minute apart, each a new key: the cache holds at most its capacity.
    let newest = week[0];
    let others = (1..=3_000)
        .map(|m| at_moment(newest - chrono::Duration::minutes(m)))
        .collect();
    call_each(channels, others).await;
    let rss_others = rss_kib();
    table.row(
        "resident memory after 3000 more moments (cache capacity 1000 entries) / with 7 days cached",
        format!("{rss_others} / {rss_week} KiB"),
        rss_others as f64 / rss_week as f64,
        "",
        None,
    );
}

async fn serving_and_memory(plan: &Plan, table: &mut Table) {
    let Server {
        channels,
        scheduler,
        cache,
        store,
        aneel_url,
        livez_url,
    } = start_server().await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let (livez, aneel) = (
        Target::Http(http.clone(), livez_url),
        Target::Http(http, aneel_url),
    );
    health_vs_data(&channels, plan, table).await;
    let data = Target::Grpc(DATA, Bytes::new());
    let week = seed_history(&store, &cache).await;
    history_lookups(&channels, plan, table, &week).await;

    let mut idle_vs_warming = Comparison {
        a: Vec::new(),
        b: Vec::new(),
    };
    let warm_ups = Arc::new(AtomicU64::new(0));
    for _ in 0..plan.rounds {
        idle_vs_warming
            .a
            .push(round(&channels, &data, plan.round).await);
        let stop = Arc::new(AtomicBool::new(false));
        let warming = warm_ups_back_to_back(scheduler.clone(), stop.clone(), warm_ups.clone());
        idle_vs_warming
            .b
            .push(round(&channels, &data, plan.round).await);
        stop.store(true, Ordering::Relaxed);
        warming.await.unwrap();
    }
    let (i_rate, _, i_p99) = Comparison::medians(&idle_vs_warming.a);
    let (w_rate, _, w_p99) = Comparison::medians(&idle_vs_warming.b);
    let p99 = idle_vs_warming.p99_ratio();
    table.row(
        "p99 of the data RPC, warm-ups back to back / idle",
        format!(
            "{w_p99:.2} / {i_p99:.2} ms ({} warm-ups during {} rounds)",
            warm_ups.load(Ordering::Relaxed),
            plan.rounds
        ),
        p99,
        "<= 1.50",
        Some(p99 <= 1.5),
    );
    table.row(
        "throughput of the data RPC, warm-ups back to back / idle",
        format!("{w_rate:.0} / {i_rate:.0} calls/s"),
        idle_vs_warming.throughput_ratio(),
        "",
        None,
    );

    round(&channels, &livez, plan.round).await;
    round(&channels, &aneel, plan.round).await;
    let mut livez_vs_aneel = Comparison {
        a: Vec::new(),
        b: Vec::new(),
    };
    for _ in 0..plan.rounds {
        livez_vs_aneel
            .a
            .push(round(&channels, &livez, plan.round).await);
        livez_vs_aneel
            .b
            .push(round(&channels, &aneel, plan.round).await);
    }
    let (l_rate, _, l_p99) = Comparison::medians(&livez_vs_aneel.a);
    let (a_rate, _, a_p99) = Comparison::medians(&livez_vs_aneel.b);
    table.row(
        "HTTP throughput, ANEEL endpoint / /livez",
        format!("{a_rate:.0} / {l_rate:.0} requests/s"),
        livez_vs_aneel.throughput_ratio(),
        "",
        None,
    );
    table.row(
        "HTTP p99, ANEEL endpoint / /livez",
        format!("{a_p99:.2} / {l_p99:.2} ms"),
        livez_vs_aneel.p99_ratio(),
        "",
        None,
    );

    // Memory: the same server, calls one after another, then warm-ups one after another.
    let calls = |n: u64| {
        let channels = channels.clone();
        async move {
            let per_caller = n / CONCURRENCY as u64;
            let mut callers = Vec::new();
            for i in 0..CONCURRENCY {
                let channel = channels[i % channels.len()].clone();
                callers.push(tokio::spawn(async move {
                    for _ in 0..per_caller {
                        call(&channel, DATA).await.unwrap();
                    }
                }));
            }
            for caller in callers {
                caller.await.unwrap();
            }
        }
    };
    calls(plan.calls_small).await;
    let rss_small = rss_kib();
    calls(plan.calls_large - plan.calls_small).await;
    let rss_large = rss_kib();
    let ratio = rss_large as f64 / rss_small as f64;
    table.row(
        &format!(
            "resident memory after {} / after {} data calls",
            plan.calls_large, plan.calls_small
        ),
        format!("{rss_large} / {rss_small} KiB"),
        ratio,
        "<= 1.10",
        Some(ratio <= MAX_MEMORY_GROWTH),
    );

    let warm_up = |n: u64| {
        let scheduler = scheduler.clone();
        async move {
            for _ in 0..n {
                scheduler
                    .trigger(WARMUP_JOB_NAME, Trigger::Manual)
                    .await
                    .unwrap();
            }
        }
    };
    let started = Instant::now();
    warm_up(plan.warmups_small).await;
    let rss_small = rss_kib();
    warm_up(plan.warmups_large - plan.warmups_small).await;
    let rss_large = rss_kib();
    let per_run = started.elapsed() / u32::try_from(plan.warmups_large).unwrap();
    let ratio = rss_large as f64 / rss_small as f64;
    table.row(
        &format!(
            "resident memory after {} / after {} warm-ups (Roraima)",
            plan.warmups_large, plan.warmups_small
        ),
        format!(
            "{rss_large} / {rss_small} KiB ({:.0} ms per warm-up)",
            per_run.as_secs_f64() * 1e3
        ),
        ratio,
        "<= 1.10",
        Some(ratio <= MAX_MEMORY_GROWTH),
    );
    history_memory(&channels, table, &week).await;
}

/// What a child process measured for one scale.
struct ScaleRun {
    scale: f64,
    premises: usize,
    warm_up: Duration,
    peak_rss_kib: u64,
    baseline_rss_kib: u64,
}

/// How long the warm-ups of one scale add up to at least (see [`scale_child`]).
const SCALE_MIN_TOTAL: Duration = Duration::from_secs(2);

/// In the child: warm-ups (query, validation, preparation) into a fresh cache, at least 3
/// and until they add up to [`SCALE_MIN_TOTAL`] (at most 25), so that the short warm-up at
/// 1x, the denominator of every growth ratio, has a median as steady as the long ones;
/// prints the median duration and the peak resident memory.
async fn scale_child(scale: f64, path: &Path) {
    let baseline = rss_kib();
    let source = Arc::new(SqliteSource::new(path.to_owned(), QueryBinds::default()));
    let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
    let job = CacheWarmupJob::new(source, cache);
    let mut durations = Vec::new();
    while durations.len() < 3
        || (durations.iter().sum::<f64>() < SCALE_MIN_TOTAL.as_secs_f64() && durations.len() < 25)
    {
        let start = Instant::now();
        job.run(RunContext {
            attempt: 1,
            trigger: Trigger::Manual,
            scheduled_at: None,
        })
        .await
        .unwrap();
        durations.push(start.elapsed().as_secs_f64());
    }
    let peak = proc_status_kib("VmHWM:").unwrap_or(0);
    println!(
        "scale-result {scale} {} {peak} {baseline}",
        median(durations)
    );
}

fn scale_runs(plan: &Plan) -> Vec<ScaleRun> {
    let exe = std::env::current_exe().unwrap();
    let mut runs = Vec::new();
    for &scale in &plan.scales {
        let path = demo_database(scale);
        let premises = {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.query_row("SELECT COUNT(DISTINCT PREMISE) FROM CISPERSL", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap() as usize
        };
        let out = std::process::Command::new(&exe)
            .arg("--scale-child")
            .arg(scale.to_string())
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.starts_with("scale-result "))
            .unwrap_or_else(|| {
                panic!(
                    "scale child failed: {}\n{stdout}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        let fields: Vec<&str> = line.split_whitespace().collect();
        runs.push(ScaleRun {
            scale,
            premises,
            warm_up: Duration::from_secs_f64(fields[2].parse().unwrap()),
            peak_rss_kib: fields[3].parse().unwrap(),
            baseline_rss_kib: fields[4].parse().unwrap(),
        });
    }
    runs
}

fn scale_rows(runs: &[ScaleRun], table: &mut Table) {
    let Some(first) = runs.first() else { return };
    for (i, run) in runs.iter().enumerate() {
        let premises_ratio = run.premises as f64 / first.premises as f64;
        let duration_ratio = run.warm_up.as_secs_f64() / first.warm_up.as_secs_f64();
        let (target, met) = if (run.scale - 5.0).abs() < f64::EPSILON {
            ("<= 1 s at 5x", Some(run.warm_up <= Duration::from_secs(1)))
        } else {
            ("", None)
        };
        table.row(
            &format!("warm-up at {}x Roraima / at {}x", run.scale, first.scale),
            format!(
                "{:.0} / {:.0} ms; {} premises ({premises_ratio:.1}x); peak RSS {} MiB \
                 (process at start {} MiB)",
                run.warm_up.as_secs_f64() * 1e3,
                first.warm_up.as_secs_f64() * 1e3,
                run.premises,
                run.peak_rss_kib / 1024,
                run.baseline_rss_kib / 1024
            ),
            duration_ratio,
            target,
            met,
        );
        if i > 0 {
            // Growth no worse than linear: duration per premise does not rise.
            let growth = duration_ratio / premises_ratio;
            table.row(
                &format!(
                    "warm-up time per premise at {}x / at {}x",
                    run.scale, first.scale
                ),
                String::new(),
                growth,
                "<= 1.20 (linear or better)",
                Some(growth <= 1.2),
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let child = args.iter().any(|a| a == "--scale-child");
    let log = start_logging(!child);
    if let Some(i) = args.iter().position(|a| a == "--scale-child") {
        let scale: f64 = args[i + 1].parse().unwrap();
        scale_child(scale, Path::new(&args[i + 2])).await;
        return;
    }
    if args.iter().any(|a| a == "--watch-server") {
        watch_memory::serve_child().await;
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--calls") {
        // For profiling (e.g. under valgrind --tool=callgrind): `n` calls of one target, one
        // after another, then exit; instructions per call = (Ir(n) - Ir(0)) / n.
        let n: u64 = args[i + 1].parse().unwrap();
        let path = if args[i + 2] == "health" {
            HEALTH_CHECK
        } else {
            DATA
        };
        let channels = start_server().await.channels;
        for _ in 0..n {
            call(&channels[0], path).await.unwrap();
        }
        std::process::exit(0);
    }
    let plan = Plan::from_env();
    if let Some(i) = args.iter().position(|a| a == "--closed-loop") {
        // For counting system calls (e.g. under strace -f -c): the closed loop on one
        // target for the plan's rounds, then the number of calls made.
        let target = Target::Grpc(
            if args[i + 1] == "health" {
                HEALTH_CHECK
            } else {
                DATA
            },
            Bytes::new(),
        );
        let channels = start_server().await.channels;
        let mut calls = 0.0;
        for _ in 0..plan.rounds {
            let r = round(&channels, &target, plan.round).await;
            calls += r.calls_per_sec * plan.round.as_secs_f64();
        }
        println!("calls: {calls:.0}");
        std::process::exit(0);
    }
    println!("the server's log lines: {}", log.display());
    let mut table = Table(Vec::new());
    if args.iter().any(|a| a == "--trace-export") {
        trace_cost::trace_export(&plan, served_scale(), &mut table).await;
        table.print();
        std::process::exit(0);
    }
    if args.iter().any(|a| a == "--grpc-only") {
        // The data RPC against Health/Check only, with the resources per call.
        let channels = start_server().await.channels;
        health_vs_data(&channels, &plan, &mut table).await;
        table.print();
        std::process::exit(0);
    }
    if args.iter().any(|a| a == "--watch-memory") {
        watch_memory::section(&mut table).await;
        table.print();
        std::process::exit(0);
    }
    serving_and_memory(&plan, &mut table).await;
    trace_cost::trace_export(&plan, served_scale(), &mut table).await;
    let runs = tokio::task::spawn_blocking(move || scale_runs(&plan))
        .await
        .unwrap();
    scale_rows(&runs, &mut table);
    watch_memory::section(&mut table).await;
    println!();
    table.print();
    println!();
    println!(
        "Ratios come from this run; absolute figures on a shared machine are not comparable \
         between runs."
    );
    // The server and its scheduler are still running: do not wait for them.
    std::process::exit(0);
}

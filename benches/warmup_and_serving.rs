//! Benchmark: the warm-up query on a Roraima-sized and an Amazonas-sized demo database, the
//! snapshot store's write and read against that query, and the data RPC's latency through
//! the real server, idle, while a warm-up runs, and for a past moment (`dthRecuperacao`).
//!
//! `cargo bench` prints figures and the ratios between them, all measured in one run on the
//! same machine (absolute times on shared machines are noise; ratios are what to compare).

use std::sync::Arc;
use std::time::{Duration, Instant};

use radar_interrupcoes::cache::Snapshot;
use radar_interrupcoes::clock::SystemClock;
use radar_interrupcoes::config::{DEFAULT_DEMO_SEED, ServiceSettings};
use radar_interrupcoes::domain::QueryBinds;
use radar_interrupcoes::jobs::WARMUP_JOB_NAME;
use radar_interrupcoes::proto::interrupcoes::v1::GetQuantitativoInterrupcoesAtivasRequest;
use radar_interrupcoes::proto::interrupcoes::v1::interrupcoes_service_client::InterrupcoesServiceClient;
use radar_interrupcoes::scheduler::Trigger;
use radar_interrupcoes::server::{Application, Backends};
use radar_interrupcoes::source::InterrupcaoSource;
use radar_interrupcoes::source::sqlite::{self, SqliteSource};
use radar_interrupcoes::store::{SnapshotStore, SqliteStore, StoredSnapshot};

const QUERY_REPEATS: usize = 5;
const RPC_CALLS: usize = 10_000;

/// A field of /proc/self/status in KiB (`VmRSS`, `VmHWM`), where there is one.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)]
}

async fn query_time(source: &SqliteSource) -> (Duration, usize) {
    let mut samples = Vec::new();
    let mut rows = 0;
    for _ in 0..QUERY_REPEATS {
        let start = Instant::now();
        rows = source.fetch_interrupcoes().await.unwrap().len();
        samples.push(start.elapsed());
    }
    (median(samples), rows)
}

async fn rpc_latencies(
    client: &InterrupcoesServiceClient<tonic::transport::Channel>,
) -> Vec<Duration> {
    rpc_latencies_at(client, "", RPC_CALLS).await
}

/// `calls` sequential data RPCs for the moment `dth` (empty: live).
async fn rpc_latencies_at(
    client: &InterrupcoesServiceClient<tonic::transport::Channel>,
    dth: &str,
    calls: usize,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        client
            .clone()
            .get_quantitativo_interrupcoes_ativas(GetQuantitativoInterrupcoesAtivasRequest {
                dth_recuperacao: dth.to_owned(),
            })
            .await
            .unwrap();
        samples.push(start.elapsed());
    }
    samples
}

/// Median time to store the scale-5 answer and to read it back, in a fresh SQLite store
/// (snapshots collected 10 minutes ago).
async fn store_times(source: &SqliteSource, dir: &std::path::Path) -> (Duration, Duration, usize) {
    let rows = source.fetch_interrupcoes().await.unwrap();
    let items = radar_interrupcoes::domain::validate_rows(rows).items;
    let n = items.len();
    let store = SqliteStore::new(dir.join("bench-store.sqlite"));
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    for i in 0..QUERY_REPEATS {
        let stored = StoredSnapshot {
            id: format!("bench-{i}"),
            tick_at: None,
            trigger: "manual".into(),
            snapshot: Snapshot {
                collected_at: chrono::Utc::now() - chrono::Duration::minutes(10),
                source: "sqlite".into(),
                instance: "bench".into(),
                items: items.clone(),
                rejected: Vec::new(),
            },
        };
        let start = Instant::now();
        store.save(&stored).await.unwrap();
        writes.push(start.elapsed());
        let start = Instant::now();
        store
            .latest_at_or_before(chrono::Utc::now())
            .await
            .unwrap()
            .unwrap();
        reads.push(start.elapsed());
    }
    (median(writes), median(reads), n)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut sources = Vec::new();
    for (name, scale) in [
        ("Roraima (scale 1)", 1.0),
        ("Amazonas-sized (scale 5)", 5.0),
    ] {
        let path = dir.path().join(format!("demo-{scale}.sqlite"));
        let summary = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || sqlite::generate(&path, scale, DEFAULT_DEMO_SEED))
                .await
                .unwrap()
                .unwrap()
        };
        println!("{name}: {summary}");
        let source = SqliteSource::new(path, QueryBinds::default());
        let (time, rows) = query_time(&source).await;
        println!("  warm-up query: median {time:?} over {QUERY_REPEATS} runs, {rows} rows");
        sources.push((source, time));
    }
    let ratio = sources[1].1.as_secs_f64() / sources[0].1.as_secs_f64();
    println!("query time ratio, scale 5 / scale 1: {ratio:.2}");

    let (write, read, items) = store_times(&sources[1].0, dir.path()).await;
    // The server's store (below) gets the last of these snapshots, 10 minutes old, so
    // that past moments have an answer.
    std::fs::rename(
        dir.path().join("bench-store.sqlite"),
        dir.path().join("store.sqlite"),
    )
    .unwrap();
    println!(
        "snapshot store (SQLite), {items} items: write median {write:?}, read median {read:?}; \
         write / scale-5 warm-up query: {:.3}, read / query: {:.3}",
        write.as_secs_f64() / sources[1].1.as_secs_f64(),
        read.as_secs_f64() / sources[1].1.as_secs_f64()
    );

    let rss_before = proc_status_kib("VmRSS:");

    // Serving: the real server around the scale-5 source.
    let (big, _) = sources.pop().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = Application::build(
        ServiceSettings {
            warmup_cron: "0 0 0 1 1 *".parse().unwrap(),
            ..ServiceSettings::default()
        },
        Backends {
            source: Arc::new(big),
            store: Arc::new(SqliteStore::new(dir.path().join("store.sqlite"))),
            clock: Arc::new(SystemClock),
        },
        listener,
    )
    .await
    .unwrap();
    let addr = app.local_addr().unwrap();
    let scheduler = app.scheduler();
    let cache = app.cache();
    tokio::spawn(app.run(std::future::pending()));
    while !cache.is_loaded() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = InterrupcoesServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

    let mut idle = rpc_latencies(&client).await;
    let idle_p50 = percentile(&mut idle, 0.50);
    let idle_p99 = percentile(&mut idle, 0.99);

    // Past moments: one 2 minutes ago is too recent to be cached, so each call reads the
    // store (the history cache's miss path); one 8 minutes ago is cached after the first.
    for (minutes, path) in [(2, "store read each time"), (8, "history cache")] {
        let moment = radar_interrupcoes::domain::dth_recuperacao::format(
            chrono::Utc::now() - chrono::Duration::minutes(minutes),
        );
        let mut past = rpc_latencies_at(&client, &moment, RPC_CALLS / 10).await;
        let past_p99 = percentile(&mut past, 0.99);
        println!(
            "data RPC for a past moment ({path}), {} calls: p50 {:?}, p99 {past_p99:?}; \
             p99 / live idle p99: {:.1}",
            RPC_CALLS / 10,
            percentile(&mut past, 0.50),
            past_p99.as_secs_f64() / idle_p99.as_secs_f64()
        );
    }

    // The same calls while warm-ups run back to back on the blocking pool.
    let warming = tokio::spawn({
        let scheduler = scheduler.clone();
        async move {
            let mut runs = 0u32;
            loop {
                scheduler
                    .trigger(WARMUP_JOB_NAME, Trigger::Manual)
                    .await
                    .unwrap();
                runs += 1;
                if runs >= 1_000 {
                    break;
                }
            }
        }
    });
    let mut busy = rpc_latencies(&client).await;
    warming.abort();
    let busy_p50 = percentile(&mut busy, 0.50);
    let busy_p99 = percentile(&mut busy, 0.99);
    let runs = scheduler.statuses().await[0].stats.total_runs;

    println!("data RPC over loopback, {RPC_CALLS} sequential calls:");
    println!("  idle:              p50 {idle_p50:?}, p99 {idle_p99:?}");
    println!(
        "  during warm-ups:   p50 {busy_p50:?}, p99 {busy_p99:?} ({runs} warm-up runs so far)"
    );
    println!(
        "  p99 during warm-ups / idle p99: {:.2}; warm-up query / idle p99: {:.0}",
        busy_p99.as_secs_f64() / idle_p99.as_secs_f64(),
        sources[0].1.as_secs_f64() * ratio / idle_p99.as_secs_f64()
    );
    println!(
        "  ANEEL budget (5 s) / p99 during warm-ups: {:.0}",
        5.0 / busy_p99.as_secs_f64()
    );
    if let (Some(before), Some(after), Some(peak)) = (
        rss_before,
        proc_status_kib("VmRSS:"),
        proc_status_kib("VmHWM:"),
    ) {
        println!(
            "memory: RSS {before} KiB before the server, {after} KiB after serving and warm-ups \
             (ratio {:.2}); peak {peak} KiB",
            after as f64 / before as f64
        );
    }
    // Do not wait for the warm-up still running on the blocking pool.
    std::process::exit(0);
}

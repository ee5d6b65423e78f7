//! The Watch-stream flood (`--watch-memory`): the resident memory of a server that many
//! clients flood with `WatchQuantitativoInterrupcoesAtivas` streams, idle, while the
//! streams are open, and after every stream closed, twice over (a second flood shows
//! whether what stays behind grows). The server runs in a child process of its own
//! (`--watch-server`) with the default limits, so that its figures are its own and not
//! the clients': this process holds the clients' thousands of connections and streams.
//! The child links this crate, so it runs the service's allocator (`radar_interrupcoes::
//! allocator`, jemalloc): build with `--no-default-features` for the system allocator.
//!
//! Each client is a loopback address of its own (127.0.0.2 and up) opening several
//! connections, each trying several streams and reading the first message of each: more
//! connections and streams than the default bounds admit, in all and per client, so the
//! flood holds as many streams as the bounds allow and sees the rest refused.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use radar_interrupcoes::allocator;
use radar_interrupcoes::clock::SystemClock;
use radar_interrupcoes::config::ServiceSettings;
use radar_interrupcoes::domain::QueryBinds;
use radar_interrupcoes::proto::interrupcoes::v1::interrupcoes_service_client::InterrupcoesServiceClient;
use radar_interrupcoes::proto::interrupcoes::v1::{
    GetQuantitativoInterrupcoesAtivasResponse, WatchQuantitativoInterrupcoesAtivasRequest,
};
use radar_interrupcoes::server::{Application, Backends};
use radar_interrupcoes::source::sqlite::SqliteSource;
use radar_interrupcoes::store::SqliteStore;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Streaming};

use super::{Table, demo_database, proc_field};

/// Clients (loopback addresses), connections per client, streams tried per connection:
/// 1 152 connections and 6 912 streams tried against the defaults' 1 024 connections
/// (64 per client) and 1 024 streams (64 per client).
const CLIENTS: u8 = 96;
const CONNECTIONS_PER_CLIENT: usize = 12;
const STREAMS_PER_CONNECTION: usize = 6;
/// How long after every connection closed the memory is read: long enough for an
/// allocator that returns memory with a delay (jemalloc's decay is 10 s) to have done so.
const SETTLE: Duration = Duration::from_secs(15);
/// The base manifest's memory limit (deploy/kubernetes/base/deployment.yaml: 128Mi).
const MANIFEST_LIMIT_KIB: u64 = 128 * 1024;
/// A bound on every wait, so that a broken server fails the run instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(60);
/// The line the child prints when it serves: `watch-server ADDRESS`.
const READY: &str = "watch-server";

/// In the child: the real server, default limits, around the demo database (loaded);
/// prints its address and serves until its standard input closes (the parent is gone).
pub async fn serve_child() {
    let scale = std::env::var("RADAR_BENCH_SCALE").map_or(1.0, |s| s.parse().unwrap());
    let source = Arc::new(SqliteSource::new(
        demo_database(scale),
        QueryBinds::default(),
    ));
    let store_dir = tempfile::tempdir().unwrap();
    let backends = Backends {
        source,
        store: Arc::new(SqliteStore::new(store_dir.path().join("store.sqlite"))),
        clock: Arc::new(SystemClock),
    };
    let settings = ServiceSettings {
        // Only the start-up warm-up: none during the measurement.
        warmup_cron: "0 0 0 1 1 *".parse().unwrap(),
        ..ServiceSettings::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = Application::build(settings, backends, listener)
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    let cache = app.cache();
    tokio::spawn(app.run(std::future::pending()));
    while !cache.is_loaded() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("{READY} {addr}");
    let mut stdin = tokio::io::stdin();
    let _ = stdin.read_to_end(&mut Vec::new()).await;
}

/// The server child: its process id and address; killed when dropped.
struct Child {
    process: tokio::process::Child,
    pid: u32,
    addr: SocketAddr,
}

impl Child {
    async fn start() -> Self {
        let mut process = tokio::process::Command::new(std::env::current_exe().unwrap())
            .arg("--watch-server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = process.id().unwrap();
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let addr = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(addr) = line.strip_prefix(READY) {
                    return addr.trim().parse().unwrap();
                }
            }
            panic!("the watch server exited before serving")
        })
        .await
        .expect("the watch server serves within a minute");
        Self { process, pid, addr }
    }

    /// A figure of the child's /proc status in KiB (`VmRSS:`, `VmHWM:`).
    fn kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        proc_field(&status, field) as u64
    }

    fn rss(&self) -> u64 {
        self.kib("VmRSS:")
    }

    /// The child's open file descriptors (its listener, database files, connections).
    fn descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid)).map_or(0, Iterator::count)
    }

    /// Waits until the child holds no more descriptors than `idle` (every connection of
    /// the flood closed on its side), then [`SETTLE`]; its resident memory then. Prints
    /// the figure of every second in between, to show how fast memory comes back.
    async fn rss_after_close(&self, idle: usize) -> u64 {
        tokio::time::timeout(PATIENCE, async {
            while self.descriptors() > idle {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the server closes every connection of the flood within a minute");
        let mut seconds = Vec::new();
        for _ in 0..SETTLE.as_secs() {
            seconds.push(self.rss().to_string());
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        println!(
            "resident memory (KiB) each second from the last connection's close: {}",
            seconds.join(" ")
        );
        self.rss()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
    }
}

/// The streams a flood holds open, with their connections, and what it was told.
#[derive(Default)]
struct Flood {
    held: Vec<(
        Channel,
        Streaming<GetQuantitativoInterrupcoesAtivasResponse>,
    )>,
    /// Streams refused with RESOURCE_EXHAUSTED (a stream bound).
    refused: usize,
    /// Streams that failed otherwise: on a connection the server refused (its connection
    /// bounds) or closed.
    failed: usize,
    /// One of those failures, to tell them apart.
    failure: Option<String>,
}

impl Flood {
    fn tried() -> usize {
        usize::from(CLIENTS) * CONNECTIONS_PER_CLIENT * STREAMS_PER_CONNECTION
    }

    /// Counts `n` streams that ended with `status` before their first message.
    fn not_held(&mut self, status: &tonic::Status, n: usize) {
        if status.code() == Code::ResourceExhausted {
            self.refused += n;
        } else {
            self.failed += n;
            self.failure.get_or_insert_with(|| status.to_string());
        }
    }
}

/// One stream on `channel`, once its first message has arrived.
async fn watch(
    channel: Channel,
) -> Result<Streaming<GetQuantitativoInterrupcoesAtivasResponse>, tonic::Status> {
    let mut stream = InterrupcoesServiceClient::new(channel)
        .watch_quantitativo_interrupcoes_ativas(WatchQuantitativoInterrupcoesAtivasRequest {})
        .await?
        .into_inner();
    match stream.message().await? {
        Some(_) => Ok(stream),
        None => Err(tonic::Status::unknown("the stream ended with no message")),
    }
}

/// Every client's connections and streams, all at once; returns once each stream tried has
/// its first message or its refusal.
async fn flood(addr: SocketAddr) -> Flood {
    let mut connections = JoinSet::new();
    for client in 0..CLIENTS {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + client));
        for _ in 0..CONNECTIONS_PER_CLIENT {
            connections.spawn(async move {
                let channel = Endpoint::from_shared(format!("http://{addr}"))
                    .unwrap()
                    .local_address(Some(from))
                    .connect_timeout(PATIENCE)
                    .connect()
                    .await
                    .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
                let streams = (0..STREAMS_PER_CONNECTION).map(|_| watch(channel.clone()));
                let streams = futures::future::join_all(streams).await;
                Ok::<_, tonic::Status>((channel, streams))
            });
        }
    }
    let mut flood = Flood::default();
    let results = tokio::time::timeout(PATIENCE, connections.join_all())
        .await
        .expect("every stream of the flood is answered within a minute");
    for result in results {
        match result {
            Ok((channel, streams)) => {
                for stream in streams {
                    match stream {
                        Ok(stream) => flood.held.push((channel.clone(), stream)),
                        Err(status) => flood.not_held(&status, 1),
                    }
                }
            }
            Err(status) => flood.not_held(&status, STREAMS_PER_CONNECTION),
        }
    }
    flood
}

/// What one flood measured, in KiB.
struct FloodMemory {
    admitted: usize,
    refused: usize,
    failed: usize,
    open: u64,
    after: u64,
}

/// A flood on `child`, its memory while held, then closed; memory [`SETTLE`] after.
async fn flood_and_close(child: &Child, idle_descriptors: usize) -> FloodMemory {
    let flood = flood(child.addr).await;
    let open = child.rss();
    if let Some(failure) = &flood.failure {
        eprintln!("watch flood: e.g. {failure}");
    }
    let (admitted, refused, failed) = (flood.held.len(), flood.refused, flood.failed);
    drop(flood);
    let after = child.rss_after_close(idle_descriptors).await;
    FloodMemory {
        admitted,
        refused,
        failed,
        open,
        after,
    }
}

/// The section: idle, two floods, each held then closed; rows as ratios to idle.
pub async fn section(table: &mut Table) {
    let child = Child::start().await;
    // Let start-up's allocations settle before the idle figure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle, idle_descriptors) = (child.rss(), child.descriptors());
    let limits = ServiceSettings::default().limits;
    println!(
        "Watch flood: allocator {}; {CLIENTS} clients x {CONNECTIONS_PER_CLIENT} connections \
         x {STREAMS_PER_CONNECTION} streams tried ({} in all) against the default bounds \
         ({} streams, {} per client; {} connections, {} per client); idle resident memory \
         {idle} KiB",
        allocator::NAME,
        Flood::tried(),
        limits.max_streams,
        limits.max_streams_per_peer,
        limits.max_connections,
        limits.max_connections_per_peer,
    );
    let first = flood_and_close(&child, idle_descriptors).await;
    let peak_first = child.kib("VmHWM:");
    let second = flood_and_close(&child, idle_descriptors).await;
    let peak = child.kib("VmHWM:");
    let ratio = |kib: u64| kib as f64 / idle as f64;
    let alloc = allocator::NAME;
    for (name, run) in [("first", &first), ("second", &second)] {
        table.row(
            &format!("Watch flood, {name}: streams held / the bound ({alloc})"),
            format!(
                "{} held, {} refused RESOURCE_EXHAUSTED, {} on refused connections, of {}",
                run.admitted,
                run.refused,
                run.failed,
                Flood::tried()
            ),
            run.admitted as f64 / f64::from(limits.max_streams),
            "",
            None,
        );
        table.row(
            &format!("resident memory, {name} flood held / idle ({alloc})"),
            format!("{} / {idle} KiB", run.open),
            ratio(run.open),
            "",
            None,
        );
        let after = ratio(run.after);
        table.row(
            &format!(
                "resident memory {} s after the {name} flood closed / idle ({alloc})",
                SETTLE.as_secs()
            ),
            format!("{} / {idle} KiB", run.after),
            after,
            "<= 1.50",
            Some(after <= 1.5),
        );
    }
    table.row(
        &format!("peak resident memory (VmHWM) / idle ({alloc})"),
        format!("{peak} / {idle} KiB (after the first flood {peak_first} KiB)"),
        ratio(peak),
        "",
        None,
    );
    let of_limit = peak as f64 / MANIFEST_LIMIT_KIB as f64;
    table.row(
        &format!("peak resident memory / the base manifest's limit ({alloc})"),
        format!("{peak} / {MANIFEST_LIMIT_KIB} KiB (128 Mi)"),
        of_limit,
        "< 1.00",
        Some(of_limit < 1.0),
    );
}

//! `radar-interrupcoes`: parse the settings, start logging, run the service (or a
//! subcommand) until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use opentelemetry_sdk::trace::SdkTracer;
use radar_interrupcoes::clock::SystemClock;
use radar_interrupcoes::config::{
    self, Cli, Config, ConfigError, Invocation, LogSettings, OracleConnection, Setting, names,
};
use radar_interrupcoes::domain::QueryBinds;
use radar_interrupcoes::http::HttpListeners;
use radar_interrupcoes::server::{self, Application, Backends};
use radar_interrupcoes::source::{oracle, sqlite};
use radar_interrupcoes::telemetry::{ServiceIdentity, TraceExport, TraceSettings};
use radar_interrupcoes::{completions, telemetry, version};

/// Exit code of a usage error: an invalid setting, or a listen address that cannot be
/// bound (as clap's own usage errors and sysexits' EX_USAGE family: not 1, which is a
/// failure of the work itself).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let offered = server::offered();
    let invocation = match Cli::load(version::VERSION, &offered) {
        Ok(invocation) => invocation,
        Err(e) => {
            eprintln!("radar-interrupcoes: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Invocation::Completions(shell) = invocation {
        let mut command = Cli::command_for(&offered).version(version::VERSION);
        let script = completions::script(shell, &mut command);
        return match std::io::Write::write_all(&mut std::io::stdout(), &script) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("radar-interrupcoes: cannot write the completion script: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = tokio::runtime::Runtime::new();
    // Trace export is the service's only: the subcommands are short and local.
    let traces = match (&invocation, &runtime) {
        (Invocation::Serve(config), Ok(runtime)) => {
            // The exporter's channel and the export task run on the runtime.
            let _runtime = runtime.enter();
            start_trace_export(config)
        }
        _ => Ok(None),
    };
    let (traces, tracer) = match traces {
        Ok(Some((traces, tracer))) => (Some(traces), Some(tracer)),
        Ok(None) => (None, None),
        Err(e) => {
            if let Some(log) = invocation.log() {
                start_logging(log, None);
            }
            tracing::error!(error = format!("{e:#}"), "radar-interrupcoes cannot start");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(log) = invocation.log() {
        start_logging(log, tracer);
    }
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match invocation {
            Invocation::Serve(config) => serve(*config, traces).await,
            Invocation::GenerateDemo(args) => {
                generate_demo(args.sqlite.sqlite_path, args.scale, args.seed).await
            }
            Invocation::CheckOracle { oracle, binds, .. } => check_oracle(&oracle, &binds).await,
            Invocation::Completions(_) => Ok(()),
        }
    });
    // Printed once, as a log line in the chosen format (plain or JSON), on standard error.
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<ConfigError>().is_some() => {
            tracing::error!(error = format!("{e:#}"), "radar-interrupcoes cannot start");
            ExitCode::from(EXIT_USAGE)
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "radar-interrupcoes failed");
            ExitCode::FAILURE
        }
    }
}

/// Starts trace export when the `OTEL_*` variables turn it on. A variable that cannot be
/// used, or an endpoint the exporter refuses, stops start-up (exit code 2).
fn start_trace_export(config: &Config) -> anyhow::Result<Option<(TraceExport, SdkTracer)>> {
    let Some(settings) = TraceSettings::from_env()? else {
        return Ok(None);
    };
    let identity = ServiceIdentity {
        version: version::image_tag(),
        instance_id: config.service.history.instance_id.clone(),
    };
    let (traces, tracer) = telemetry::trace_export::start(&settings, &identity)
        .with_context(|| format!("invalid setting {}", settings.endpoint.variable))?;
    Ok(Some((traces, tracer)))
}

/// Logging as the settings say (the filter was checked by the settings).
fn start_logging(log: &LogSettings, tracer: Option<SdkTracer>) {
    let format = match log.format {
        config::LogFormat::Plain => telemetry::LogFormat::Plain,
        config::LogFormat::Json => telemetry::LogFormat::Json,
    };
    let filter = log
        .filter
        .parse()
        .expect("the settings checked the log filter");
    telemetry::init(format, filter, tracer);
}

async fn serve(config: Config, traces: Option<TraceExport>) -> anyhow::Result<()> {
    // Listen for signals before anything else, so a SIGTERM during start-up is a clean exit.
    let signal = tokio::spawn(shutdown_signal());
    let source = server::source_for(&config)?;
    let store = server::store_for(&config)?;
    let api_keys = server::api_keys(&config.http)?;
    tracing::info!(
        version = version::CRATE_VERSION,
        revision = version::GIT_REVISION,
        source = source.adapter.name(),
        store = store.name(),
        instance = %config.service.history.instance_id,
        listen_addr = %config.listen_addr,
        warmup_cron = config.service.warmup_cron.expression(),
        time_zone = %config.service.time_zone,
        "starting radar-interrupcoes"
    );
    if let Some(traces) = &traces {
        // The endpoint cannot hold credentials (refused at start-up); headers are never read.
        tracing::info!(
            endpoint = traces.endpoint(),
            protocol = traces.protocol(),
            service_name = traces.service_name(),
            sampler = %traces.sampler(),
            "exporting traces"
        );
    }
    let listener = bind(names::LISTEN_ADDR, Some(config.listen_addr))
        .await?
        .expect("the gRPC address is always set");
    let http = HttpListeners {
        aneel: bind(names::ANEEL_LISTEN_ADDR, config.http.aneel_listen_addr).await?,
        guard: server::aneel_guard(&config.http),
        api_keys,
        ops: bind(names::METRICS_LISTEN_ADDR, config.http.metrics_listen_addr).await?,
    };
    let backends = Backends {
        source: source.adapter,
        store,
        clock: std::sync::Arc::new(SystemClock),
    };
    let app = Application::build(config.service, backends, listener)
        .await?
        .with_http(http)
        .before_warm_up(source.before_warm_up)
        .with_trace_export(traces);
    app.run(async move {
        let _ = signal.await;
    })
    .await
}

/// Binds `addr` (if set); a failure is a settings error naming `setting` (exit code 2).
async fn bind(
    setting: Setting,
    addr: Option<std::net::SocketAddr>,
) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) => Err(setting
            .invalid(addr.to_string(), format!("cannot listen on it: {e}"))
            .into()),
    }
}

async fn generate_demo(path: PathBuf, scale: f64, seed: u64) -> anyhow::Result<()> {
    let written = path.clone();
    let summary = tokio::task::spawn_blocking(move || sqlite::generate(&path, scale, seed))
        .await
        .context("demo generation task")??;
    println!("wrote {}: {summary}", written.display());
    Ok(())
}

async fn check_oracle(settings: &OracleConnection, binds: &QueryBinds) -> anyhow::Result<()> {
    let report = oracle::connectivity_check(&server::oracle_settings(settings)?, binds)
        .await
        .context("Oracle connectivity check failed")?;
    println!("{report}");
    Ok(())
}

/// Resolves on SIGTERM (orchestrators) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutdown requested"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutdown requested"),
    }
}

//! `radar-interrupcoes`: parse the settings, start logging, run the service (or a
//! subcommand) until SIGTERM or SIGINT.

use std::process::ExitCode;

use anyhow::Context;
use radar_interrupcoes::clock::SystemClock;
use radar_interrupcoes::config::{self, Cli, Command, Config, ConfigError, SourceSettings};
use radar_interrupcoes::http::HttpListeners;
use radar_interrupcoes::server::{self, Application, Backends};
use radar_interrupcoes::source::{oracle, sqlite};
use radar_interrupcoes::telemetry;

/// Exit code for invalid settings (as sysexits' EX_USAGE family: not 1, which is a crash).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let (config, command) = match Cli::load() {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("radar-interrupcoes: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(config.log.format, config.log.filter.clone());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Serve => serve(config).await,
            Command::GenerateDemo { scale, seed } => generate_demo(&config, scale, seed).await,
            Command::CheckOracle => check_oracle(&config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<ConfigError>().is_some() => {
            tracing::error!(error = %e, "radar-interrupcoes cannot start");
            eprintln!("radar-interrupcoes: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "radar-interrupcoes failed");
            eprintln!("radar-interrupcoes: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Listen for signals before anything else, so a SIGTERM during start-up is a clean exit.
    let signal = tokio::spawn(shutdown_signal());
    let source = server::source_for(&config.source, &config.binds);
    let store = server::store_for(&config.store);
    tracing::info!(
        source = source.name(),
        store = store.name(),
        instance = %config.service.history.instance_id,
        listen_addr = %config.listen_addr,
        warmup_cron = config.service.warmup_cron.expression(),
        time_zone = %config.service.time_zone,
        "starting radar-interrupcoes"
    );
    let listener = bind("listen_addr", Some(config.listen_addr))
        .await?
        .expect("the gRPC address is always set");
    let http = HttpListeners {
        aneel: bind("aneel_listen_addr", config.http.aneel_listen_addr).await?,
        api_keys: config.http.api_keys,
        ops: bind("metrics_listen_addr", config.http.metrics_listen_addr).await?,
    };
    let backends = Backends {
        source,
        store,
        clock: std::sync::Arc::new(SystemClock),
    };
    let app = Application::build(config.service, backends, listener)
        .await?
        .with_http(http)
        .before_warm_up(server::create_demo_if_missing(config.source));
    app.run(async move {
        let _ = signal.await;
    })
    .await
}

/// Binds `addr` (if set); a failure is a settings error naming the setting whose argument
/// id is `id` (exit code 2).
async fn bind(
    id: &str,
    addr: Option<std::net::SocketAddr>,
) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) => {
            let (setting, flag) = config::setting_of(id);
            Err(ConfigError {
                setting,
                flag,
                value: addr.to_string(),
                reason: format!("cannot listen on it: {e}"),
            }
            .into())
        }
    }
}

async fn generate_demo(config: &Config, scale: f64, seed: u64) -> anyhow::Result<()> {
    let SourceSettings::Sqlite { path, .. } = &config.source else {
        anyhow::bail!(
            "generate-demo writes the SQLite database: set {}=sqlite",
            config::variable("source")
        );
    };
    let path = path.clone();
    let names = server::setting_names();
    let summary = tokio::task::spawn_blocking(move || sqlite::generate(&path, scale, seed, &names))
        .await
        .context("demo generation task")??;
    println!("{summary}");
    Ok(())
}

async fn check_oracle(config: &Config) -> anyhow::Result<()> {
    let SourceSettings::Oracle(settings) = &config.source else {
        anyhow::bail!(
            "check-oracle checks the Oracle source: set {}=oracle and {}",
            config::variable("source"),
            config::oracle::VARIABLES
        );
    };
    let report = oracle::connectivity_check(&server::oracle_settings(settings), &config.binds)
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

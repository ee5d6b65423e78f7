//! The settings as clap parses them: one typed field per setting, with its flag, default
//! and help (its variable is the flag's, from `names`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use clap::{Args, FromArgMatches, ValueEnum};

use super::hardening::{AdminSettings, LimitsSettings, TlsFiles};
use super::history::HistorySettings;
use super::http::HttpSettings;
use super::oracle::OracleArgs;
use super::{names, parse};
use crate::domain::{AG_ID_RORAIMA, CronSchedule, DIST_RORAIMA, QueryBinds};

/// Default of `RADAR_SQLITE_PATH`: the embedded demo database, relative to the working
/// directory.
pub const DEFAULT_SQLITE_PATH: &str = "data/radar-interrupcoes-demo.sqlite";

/// Default scale of the demo database (1.0 is Roraima).
pub const DEFAULT_DEMO_SCALE: f64 = 1.0;

/// Default seed of the demo generator.
pub const DEFAULT_DEMO_SEED: u64 = 0x5252_4441_5237_3030; // "RRDAR700"

/// Whether a missing SQLite database is created with demo data: `None` for `auto`.
fn create_demo(value: &str) -> Result<std::option::Option<bool>, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(None),
        "true" | "1" | "yes" => Ok(Some(true)),
        "false" | "0" | "no" => Ok(Some(false)),
        _ => Err("expected `auto`, `true` or `false`".to_owned()),
    }
}

/// Every setting, as clap parsed it.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address the gRPC server listens on.
    #[arg(
        long = names::LISTEN_ADDR.flag,
        default_value = "127.0.0.1:50051",
        value_parser = parse::trimmed::<SocketAddr>
    )]
    pub listen_addr: SocketAddr,
    /// Data source
    #[arg(long = names::SOURCE.flag)]
    pub source: String,
    /// Where snapshots are stored and cron ticks claimed
    #[arg(long = names::STORE.flag)]
    pub store: String,
    /// The SQLite database.
    #[command(flatten)]
    pub sqlite: SqlitePathArg,
    /// Whether a missing SQLite database is created with demo data: `auto` (only at the
    /// default path, so a mistyped path fails instead of serving synthetic data), `true`,
    /// `false`.
    #[arg(
        long = names::SQLITE_CREATE_DEMO.flag,
        default_value = "auto",
        value_parser = create_demo
    )]
    pub sqlite_create_demo: std::option::Option<bool>,
    /// The binds of the aggregation query.
    #[command(flatten)]
    pub binds: QueryBindArgs,
    /// The running service.
    #[command(flatten)]
    pub service: ServiceSettings,
    /// Logging.
    #[command(flatten)]
    pub log: LogSettings,
    /// Oracle connection settings (used when RADAR_SOURCE or RADAR_STORE is oracle).
    #[command(flatten)]
    pub oracle: OracleArgs,
    /// The ANEEL HTTP endpoint and the operations (metrics, probes) endpoint.
    #[command(flatten)]
    pub http: HttpSettings,
}

/// The SQLite database path (`serve` and `generate-demo`).
#[derive(Debug, Clone, Args)]
pub struct SqlitePathArg {
    /// Path of the SQLite database.
    #[arg(long = names::SQLITE_PATH.flag, default_value = DEFAULT_SQLITE_PATH)]
    pub sqlite_path: PathBuf,
}

/// The binds of the aggregation query (`serve` and `check-oracle`).
#[derive(Debug, Clone, Args)]
pub struct QueryBindArgs {
    /// `AGENCY_EVENT.AG_ID` of the distributor's events.
    #[arg(
        long = names::AGENCY_ID.flag,
        default_value_t = AG_ID_RORAIMA,
        value_parser = parse::positive::<i64>
    )]
    pub agency_id: i64,
    /// `OMS_CONNECTIVITY.DIST` of the distributor's devices.
    #[arg(
        long = names::DISTRIBUTOR_ID.flag,
        default_value = DIST_RORAIMA,
        value_parser = parse::not_blank
    )]
    pub distributor_id: String,
}

impl QueryBindArgs {
    /// The binds.
    pub fn binds(self) -> QueryBinds {
        QueryBinds {
            ag_id: self.agency_id,
            dist: self.distributor_id,
        }
    }
}

/// Settings of the running service (everything but the source and logging).
#[derive(Debug, Clone, Args)]
pub struct ServiceSettings {
    /// Cron of the cache warm-up: 5 fields, or 6 with seconds first.
    #[arg(
        long = names::WARMUP_CRON.flag,
        default_value = "*/30 * * * *",
        value_parser = parse::cron
    )]
    pub warmup_cron: CronSchedule,
    /// IANA time zone the cron expressions are read in.
    #[arg(
        long = names::TIME_ZONE.flag,
        default_value = "America/Sao_Paulo",
        value_parser = parse::time_zone
    )]
    pub time_zone: Tz,
    /// `emailIndisponibilidade` of every answer (at most 50 characters).
    #[arg(
        long = names::CONTACT_EMAIL.flag,
        default_value = "cop@roraimaenergia.com.br",
        value_parser = parse::email
    )]
    pub contact_email: String,
    /// A snapshot older than this is reported stale.
    #[arg(
        long = names::STALE_AFTER_SECS.flag,
        default_value = "3600",
        value_parser = parse::secs_between::<1, 604_800>
    )]
    pub stale_after: Duration,
    /// Limit of one warm-up attempt.
    #[arg(
        long = names::JOB_TIMEOUT_SECS.flag,
        default_value = "60",
        // Room above the Oracle fetch deadline at the largest call timeout (3 x 3600 + 5 s).
        value_parser = parse::secs_between::<1, 21_600>
    )]
    pub job_timeout: Duration,
    /// Attempts per run for transient failures.
    #[arg(
        long = names::JOB_MAX_ATTEMPTS.flag,
        default_value = "3",
        value_parser = parse::whole_number::<1, 10>
    )]
    pub job_max_attempts: u32,
    /// Pause after the first failed attempt of a run (doubled after each).
    #[arg(
        long = names::JOB_RETRY_BACKOFF_MS.flag,
        default_value = "1000",
        value_parser = parse::millis_between::<1, 30_000>
    )]
    pub job_retry_backoff: Duration,
    /// Cap of the pause between the attempts of a run (the first pause is at most this).
    /// Not a flag.
    #[arg(skip = Duration::from_secs(30))]
    pub job_retry_backoff_max: Duration,
    /// Cap of the pause between start-up warm-ups while no snapshot has loaded.
    #[arg(
        long = names::STARTUP_RETRY_MAX_SECS.flag,
        default_value = "60",
        value_parser = parse::secs_between::<1, 3600>
    )]
    pub startup_retry_max: Duration,
    /// First pause between start-up warm-ups (doubled after each). Not a flag.
    #[arg(skip = Duration::from_secs(2))]
    pub startup_retry_initial: Duration,
    /// The snapshot history and the cluster's tick sharing.
    #[command(flatten)]
    pub history: HistorySettings,
    /// Time given to in-flight RPCs to finish on shutdown.
    #[arg(
        long = names::SHUTDOWN_GRACE_SECS.flag,
        default_value = "10",
        value_parser = parse::secs_between::<1, 600>
    )]
    pub shutdown_grace: Duration,
    /// Time the service keeps accepting and answering after SIGTERM, NOT_SERVING, so the
    /// orchestrator can update its endpoints, before it closes the listener and drains.
    #[arg(
        long = names::SHUTDOWN_DRAIN_DELAY_SECS.flag,
        default_value = "5",
        value_parser = parse::secs_between::<0, 300>
    )]
    pub drain_delay: Duration,
    /// Age beyond which the live answer is ANEEL's error answer instead of old numbers
    /// (at least RADAR_STALE_AFTER_SECS).
    #[arg(
        long = names::STALE_HARD_LIMIT_SECS.flag,
        default_value = "7200",
        value_parser = parse::secs_between::<1, 604_800>
    )]
    pub stale_hard_limit: Duration,
    /// Limits of the gRPC listener.
    #[command(flatten)]
    pub limits: LimitsSettings,
    /// Who may call SchedulerAdmin, and how often it may query the source.
    #[command(flatten)]
    pub admin: AdminSettings,
    /// TLS of the gRPC listener.
    #[command(flatten)]
    pub tls: TlsFiles,
}

impl Default for ServiceSettings {
    /// The defaults of the flags (the environment is not read: the variables are attached
    /// by [`super::Cli::command_for`]).
    fn default() -> Self {
        let command = Self::augment_args(clap::Command::new("defaults"));
        let matches = command
            .try_get_matches_from(["defaults"])
            .expect("the defaults parse");
        Self::from_arg_matches(&matches).expect("the defaults parse")
    }
}

/// Logging settings.
#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log format: `plain` or `json`.
    #[arg(
        long = names::LOG_FORMAT.flag,
        value_enum,
        default_value = "plain",
        hide_possible_values = true
    )]
    pub format: LogFormat,
    /// Log filter, in `tracing` EnvFilter syntax (e.g. `info`, `radar_interrupcoes=debug`).
    /// Dependencies log at `warn` unless named (e.g. `info,tokio_cron_scheduler=info`).
    #[arg(
        long = names::LOG_LEVEL.flag,
        default_value = "info",
        value_parser = parse::log_filter
    )]
    pub filter: String,
}

/// The log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

//! Every setting of the service: a command-line flag and a `RADAR_*` environment variable,
//! validated before any port is bound. An invalid value stops start-up with a message that
//! names the setting and the value.

mod error;
mod history;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand};

pub use error::ConfigError;
pub use history::{
    DEFAULT_STORE_SQLITE_PATH, HistoryArgs, HistorySettings, MIN_RETENTION_DAYS, StoreSettings,
    default_instance_id,
};

use crate::domain::QueryBinds;
use crate::jobs::StartupRetry;
use crate::scheduler::{CronSchedule, RetryPolicy};
use crate::source::oracle::{OracleArgs, OracleSettings};
use crate::telemetry::LogFormat;

/// Default of `RADAR_SQLITE_PATH`: the embedded demo database, relative to the working
/// directory.
pub const DEFAULT_SQLITE_PATH: &str = "data/radar-interrupcoes-demo.sqlite";

/// `radar-interrupcoes`: the command line.
#[derive(Debug, Parser)]
#[command(name = "radar-interrupcoes", version, about, long_about = None)]
pub struct Cli {
    /// The settings (each also a `RADAR_*` environment variable).
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// What to do; without a subcommand the service runs.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands besides running the service.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the gRPC service (the default).
    Serve,
    /// (Re)generates the embedded SQLite demo database at RADAR_SQLITE_PATH.
    GenerateDemo {
        /// Size relative to Roraima (1.0 = about 218 thousand premises; 5.0 is more than
        /// 1 million, an Amazonas-sized network).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Seed of the deterministic generator.
        #[arg(long, default_value_t = crate::source::sqlite::DEFAULT_SEED)]
        seed: u64,
    },
    /// Read-only pre-deployment check of the Oracle source: connects, checks every table or
    /// synonym the query uses, runs the query once, prints row count and timings. Exits
    /// non-zero with the reason on failure. Uses the RADAR_ORACLE_* settings.
    CheckOracle,
}

/// Raw settings as given on the command line or in the environment.
#[derive(Debug, Clone, Args)]
pub struct SettingsArgs {
    /// Address the gRPC server listens on.
    #[arg(
        long,
        env = "RADAR_LISTEN_ADDR",
        default_value = "127.0.0.1:50051",
        global = true
    )]
    pub listen_addr: String,
    /// Data source: `sqlite` (embedded, default) or `oracle` (production).
    #[arg(long, env = "RADAR_SOURCE", default_value = "sqlite", global = true)]
    pub source: String,
    /// Path of the SQLite database.
    #[arg(long, env = "RADAR_SQLITE_PATH", default_value = DEFAULT_SQLITE_PATH, global = true)]
    pub sqlite_path: PathBuf,
    /// Whether a missing SQLite database is created with demo data: `auto` (only at the
    /// default path, so a mistyped path fails instead of serving synthetic data), `true`,
    /// `false`.
    #[arg(
        long,
        env = "RADAR_SQLITE_CREATE_DEMO",
        default_value = "auto",
        global = true
    )]
    pub sqlite_create_demo: String,
    /// `AGENCY_EVENT.AG_ID` of the distributor's events.
    #[arg(long, env = "RADAR_AGENCY_ID", default_value = "370", global = true)]
    pub agency_id: String,
    /// `OMS_CONNECTIVITY.DIST` of the distributor's devices.
    #[arg(
        long,
        env = "RADAR_DISTRIBUTOR_ID",
        default_value = "370",
        global = true
    )]
    pub distributor_id: String,
    /// Cron of the cache warm-up: 5 fields, or 6 with seconds first.
    #[arg(
        long,
        env = "RADAR_WARMUP_CRON",
        default_value = "*/30 * * * *",
        global = true
    )]
    pub warmup_cron: String,
    /// IANA time zone the cron expressions are read in.
    #[arg(
        long,
        env = "RADAR_TIME_ZONE",
        default_value = "America/Sao_Paulo",
        global = true
    )]
    pub time_zone: String,
    /// `emailIndisponibilidade` of every answer (at most 50 characters).
    #[arg(
        long,
        env = "RADAR_CONTACT_EMAIL",
        default_value = "cop@roraimaenergia.com.br",
        global = true
    )]
    pub contact_email: String,
    /// A snapshot older than this is reported stale.
    #[arg(
        long,
        env = "RADAR_STALE_AFTER_SECS",
        default_value = "3600",
        global = true
    )]
    pub stale_after_secs: String,
    /// Limit of one warm-up attempt.
    #[arg(
        long,
        env = "RADAR_JOB_TIMEOUT_SECS",
        default_value = "60",
        global = true
    )]
    pub job_timeout_secs: String,
    /// Attempts per run for transient failures.
    #[arg(
        long,
        env = "RADAR_JOB_MAX_ATTEMPTS",
        default_value = "3",
        global = true
    )]
    pub job_max_attempts: String,
    /// Pause after the first failed attempt of a run (doubled after each).
    #[arg(
        long,
        env = "RADAR_JOB_RETRY_BACKOFF_MS",
        default_value = "1000",
        global = true
    )]
    pub job_retry_backoff_ms: String,
    /// Cap of the pause between start-up warm-ups while no snapshot has loaded.
    #[arg(
        long,
        env = "RADAR_STARTUP_RETRY_MAX_SECS",
        default_value = "60",
        global = true
    )]
    pub startup_retry_max_secs: String,
    /// Time given to in-flight RPCs to finish on shutdown.
    #[arg(
        long,
        env = "RADAR_SHUTDOWN_GRACE_SECS",
        default_value = "10",
        global = true
    )]
    pub shutdown_grace_secs: String,
    /// Log format: `plain` or `json`.
    #[arg(long, env = "RADAR_LOG_FORMAT", default_value = "plain", global = true)]
    pub log_format: String,
    /// Log filter, in `tracing` EnvFilter syntax (e.g. `info`, `radar_interrupcoes=debug`).
    #[arg(long, env = "RADAR_LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,
    /// Oracle connection settings (used when RADAR_SOURCE=oracle).
    #[command(flatten)]
    pub oracle: OracleArgs,
    /// Snapshot history settings.
    #[command(flatten)]
    pub history: HistoryArgs,
}

/// Which data source the service reads.
#[derive(Debug, Clone)]
pub enum SourceSettings {
    /// The embedded SQLite database.
    Sqlite {
        /// Its path.
        path: PathBuf,
        /// Whether to create it with demo data when missing.
        create_demo: bool,
    },
    /// The production Oracle database.
    Oracle(OracleSettings),
}

/// Settings of the running service (everything but the source and logging).
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Address to listen on.
    pub listen_addr: SocketAddr,
    /// Cron of the warm-up job.
    pub warmup_cron: String,
    /// Time zone of the cron expressions.
    pub time_zone: Tz,
    /// `emailIndisponibilidade`.
    pub contact_email: String,
    /// Age after which a snapshot is stale.
    pub stale_after: Duration,
    /// Attempts, timeout and backoff of each job run.
    pub retry: RetryPolicy,
    /// Backoff of the start-up warm-up until a snapshot loads.
    pub startup_retry: StartupRetry,
    /// Time given to in-flight RPCs on shutdown.
    pub shutdown_grace: Duration,
    /// The snapshot history and cluster settings.
    pub history: HistorySettings,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            warmup_cron: "*/30 * * * *".to_owned(),
            time_zone: chrono_tz::America::Sao_Paulo,
            contact_email: "cop@roraimaenergia.com.br".to_owned(),
            stale_after: Duration::from_secs(3600),
            retry: RetryPolicy::default(),
            startup_retry: StartupRetry::default(),
            shutdown_grace: Duration::from_secs(10),
            history: HistorySettings::default(),
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Plain or JSON.
    pub format: LogFormat,
    /// EnvFilter directives.
    pub filter: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The service.
    pub service: ServiceSettings,
    /// The data source.
    pub source: SourceSettings,
    /// Where the snapshot history is stored.
    pub store: StoreSettings,
    /// The Oracle connection of an Oracle store (its `RADAR_ORACLE_*` settings).
    pub store_oracle: Option<OracleSettings>,
    /// The binds of the aggregation query.
    pub binds: QueryBinds,
    /// Logging.
    pub log: LogSettings,
}

/// Longest `emailIndisponibilidade` ANEEL accepts.
const MAX_EMAIL_LEN: usize = 50;

impl SettingsArgs {
    /// Validates every setting; the first invalid one is the error.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        let listen_addr = parse("RADAR_LISTEN_ADDR", "listen-addr", &self.listen_addr)?;
        let time_zone: Tz = self.time_zone.parse().map_err(|_| {
            ConfigError::new(
                "RADAR_TIME_ZONE",
                "time-zone",
                &self.time_zone,
                "not an IANA time zone name (e.g. America/Sao_Paulo)",
            )
        })?;
        CronSchedule::parse(&self.warmup_cron, time_zone).map_err(|e| {
            ConfigError::new(
                "RADAR_WARMUP_CRON",
                "warmup-cron",
                &self.warmup_cron,
                e.reason,
            )
        })?;
        let contact_email = self.contact_email.trim().to_owned();
        if contact_email.chars().count() > MAX_EMAIL_LEN || !looks_like_email(&contact_email) {
            return Err(ConfigError::new(
                "RADAR_CONTACT_EMAIL",
                "contact-email",
                &self.contact_email,
                format!("expected an e-mail address of at most {MAX_EMAIL_LEN} characters"),
            ));
        }
        let source = match self.source.as_str() {
            "sqlite" => SourceSettings::Sqlite {
                path: self.sqlite_path.clone(),
                create_demo: match self.sqlite_create_demo.trim().to_ascii_lowercase().as_str() {
                    "auto" => self.sqlite_path == std::path::Path::new(DEFAULT_SQLITE_PATH),
                    _ => parse_bool(
                        "RADAR_SQLITE_CREATE_DEMO",
                        "sqlite-create-demo",
                        &self.sqlite_create_demo,
                    )?,
                },
            },
            "oracle" => SourceSettings::Oracle(self.oracle.clone().validate()?),
            other => {
                return Err(ConfigError::new(
                    "RADAR_SOURCE",
                    "source",
                    other,
                    "expected `sqlite` or `oracle`",
                ));
            }
        };
        let distributor_id = self.distributor_id.trim().to_owned();
        if distributor_id.is_empty() {
            return Err(ConfigError::new(
                "RADAR_DISTRIBUTOR_ID",
                "distributor-id",
                &self.distributor_id,
                "must not be empty",
            ));
        }
        let binds = QueryBinds {
            ag_id: positive("RADAR_AGENCY_ID", "agency-id", &self.agency_id)?,
            dist: distributor_id,
        };
        let job_timeout = secs(
            "RADAR_JOB_TIMEOUT_SECS",
            "job-timeout-secs",
            &self.job_timeout_secs,
        )?;
        let (store, history) = self.history.validate(time_zone, job_timeout)?;
        let store_oracle = match (&store, &source) {
            (StoreSettings::Sqlite { .. }, _) => None,
            (StoreSettings::Oracle, SourceSettings::Oracle(oracle)) => Some(oracle.clone()),
            (StoreSettings::Oracle, SourceSettings::Sqlite { .. }) => {
                Some(self.oracle.clone().validate()?)
            }
        };
        let job_retry_backoff_ms = positive(
            "RADAR_JOB_RETRY_BACKOFF_MS",
            "job-retry-backoff-ms",
            &self.job_retry_backoff_ms,
        )?;
        let service = ServiceSettings {
            listen_addr,
            warmup_cron: self.warmup_cron.trim().to_owned(),
            time_zone,
            contact_email,
            stale_after: secs(
                "RADAR_STALE_AFTER_SECS",
                "stale-after-secs",
                &self.stale_after_secs,
            )?,
            retry: RetryPolicy {
                attempt_timeout: job_timeout,
                max_attempts: positive(
                    "RADAR_JOB_MAX_ATTEMPTS",
                    "job-max-attempts",
                    &self.job_max_attempts,
                )?,
                initial_backoff: Duration::from_millis(job_retry_backoff_ms),
                max_backoff: Duration::from_secs(30)
                    .max(Duration::from_millis(job_retry_backoff_ms)),
            },
            startup_retry: StartupRetry {
                initial_backoff: Duration::from_secs(2),
                max_backoff: secs(
                    "RADAR_STARTUP_RETRY_MAX_SECS",
                    "startup-retry-max-secs",
                    &self.startup_retry_max_secs,
                )?,
            },
            shutdown_grace: secs(
                "RADAR_SHUTDOWN_GRACE_SECS",
                "shutdown-grace-secs",
                &self.shutdown_grace_secs,
            )?,
            history,
        };
        if let SourceSettings::Oracle(oracle) = &source {
            // The attempt timeout must leave the adapter time to give its own, clearer error.
            if service.retry.attempt_timeout <= oracle.fetch_deadline() {
                return Err(ConfigError::new(
                    "RADAR_JOB_TIMEOUT_SECS",
                    "job-timeout-secs",
                    &self.job_timeout_secs,
                    format!(
                        "must exceed 3 x RADAR_ORACLE_CALL_TIMEOUT_SECS + 5 = {} s; raise it or \
                         lower RADAR_ORACLE_CALL_TIMEOUT_SECS",
                        oracle.fetch_deadline().as_secs()
                    ),
                ));
            }
        }
        let log = LogSettings {
            format: match self.log_format.as_str() {
                "plain" => LogFormat::Plain,
                "json" => LogFormat::Json,
                other => {
                    return Err(ConfigError::new(
                        "RADAR_LOG_FORMAT",
                        "log-format",
                        other,
                        "expected `plain` or `json`",
                    ));
                }
            },
            filter: {
                tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|e| {
                    ConfigError::new(
                        "RADAR_LOG_LEVEL",
                        "log-level",
                        &self.log_level,
                        e.to_string(),
                    )
                })?;
                self.log_level.clone()
            },
        };
        Ok(Config {
            service,
            source,
            store,
            store_oracle,
            binds,
            log,
        })
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn parse<T: FromStr>(
    setting: &'static str,
    flag: &'static str,
    value: &str,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| ConfigError::new(setting, flag, value, e.to_string()))
}

fn positive<T: FromStr + PartialOrd + Default>(
    setting: &'static str,
    flag: &'static str,
    value: &str,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    let n: T = parse(setting, flag, value)?;
    if n <= T::default() {
        return Err(ConfigError::new(
            setting,
            flag,
            value,
            "must be greater than 0",
        ));
    }
    Ok(n)
}

fn secs(setting: &'static str, flag: &'static str, value: &str) -> Result<Duration, ConfigError> {
    positive::<u64>(setting, flag, value).map(Duration::from_secs)
}

fn parse_bool(setting: &'static str, flag: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::new(
            setting,
            flag,
            value,
            "expected `auto`, `true` or `false`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> SettingsArgs {
        let mut argv = vec!["radar-interrupcoes"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().settings
    }

    #[test]
    fn defaults_are_valid_and_work_on_a_laptop() {
        let c = args(&[]).validate().unwrap();
        assert_eq!(c.service.listen_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(c.service.warmup_cron, "*/30 * * * *");
        assert_eq!(c.service.time_zone, chrono_tz::America::Sao_Paulo);
        assert_eq!(c.service.stale_after, Duration::from_secs(3600));
        assert_eq!(c.binds, QueryBinds::default());
        assert!(matches!(
            c.source,
            SourceSettings::Sqlite {
                create_demo: true,
                ..
            }
        ));
    }

    fn error_of(extra: &[&str]) -> ConfigError {
        args(extra).validate().unwrap_err()
    }

    #[test]
    fn each_bad_value_names_its_setting_and_value() {
        let cases: &[(&[&str], &str, &str)] = &[
            (
                &["--listen-addr", "localhost"],
                "RADAR_LISTEN_ADDR",
                "localhost",
            ),
            (
                &["--warmup-cron", "*/30 * *"],
                "RADAR_WARMUP_CRON",
                "*/30 * *",
            ),
            (
                &["--time-zone", "Brasil/Roraima"],
                "RADAR_TIME_ZONE",
                "Brasil/Roraima",
            ),
            (
                &["--contact-email", "nobody"],
                "RADAR_CONTACT_EMAIL",
                "nobody",
            ),
            (&["--source", "postgres"], "RADAR_SOURCE", "postgres"),
            (&["--agency-id=-1"], "RADAR_AGENCY_ID", "-1"),
            (&["--distributor-id", " "], "RADAR_DISTRIBUTOR_ID", " "),
            (&["--stale-after-secs", "0"], "RADAR_STALE_AFTER_SECS", "0"),
            (
                &["--job-timeout-secs", "1m"],
                "RADAR_JOB_TIMEOUT_SECS",
                "1m",
            ),
            (&["--job-max-attempts", "0"], "RADAR_JOB_MAX_ATTEMPTS", "0"),
            (&["--log-format", "xml"], "RADAR_LOG_FORMAT", "xml"),
            (
                &["--sqlite-create-demo", "maybe"],
                "RADAR_SQLITE_CREATE_DEMO",
                "maybe",
            ),
            (
                &["--shutdown-grace-secs", "x"],
                "RADAR_SHUTDOWN_GRACE_SECS",
                "x",
            ),
        ];
        for (argv, setting, value) in cases {
            let e = error_of(argv);
            assert_eq!(e.setting, *setting, "{argv:?}");
            let msg = e.to_string();
            assert!(msg.contains(setting) && msg.contains(value), "{msg}");
        }
    }

    #[test]
    fn the_contact_email_is_at_most_50_characters() {
        let fifty = format!("{}@roraimaenergia.com.br", "a".repeat(50 - 22));
        assert_eq!(fifty.len(), 50);
        assert!(args(&["--contact-email", &fifty]).validate().is_ok());
        let e = error_of(&["--contact-email", &format!("a{fifty}")]);
        assert_eq!(e.setting, "RADAR_CONTACT_EMAIL");
    }

    #[test]
    fn the_demo_is_created_automatically_only_at_the_default_path() {
        let create = |argv: &[&str]| match args(argv).validate().unwrap().source {
            SourceSettings::Sqlite { create_demo, .. } => create_demo,
            other => panic!("{other:?}"),
        };
        assert!(create(&[]));
        assert!(!create(&["--sqlite-path", "/srv/oms/copy.sqlite"]));
        assert!(create(&[
            "--sqlite-path",
            "/tmp/x.sqlite",
            "--sqlite-create-demo",
            "true"
        ]));
        assert!(!create(&["--sqlite-create-demo", "false"]));
    }

    #[test]
    fn with_oracle_the_job_timeout_must_exceed_the_fetch_deadline() {
        let oracle = [
            "--source",
            "oracle",
            "--oracle-connect-string",
            "db:1521/X",
            "--oracle-user",
            "radar",
            "--oracle-password",
            "pw",
        ];
        // Defaults: 60 s > 3 x 15 + 5 = 50 s.
        assert!(args(&oracle).validate().is_ok());
        let mut argv = oracle.to_vec();
        argv.extend(["--oracle-call-timeout-secs", "30"]);
        let e = error_of(&argv);
        assert_eq!(e.setting, "RADAR_JOB_TIMEOUT_SECS");
        assert!(e.reason.contains("95 s"), "{e}");
        argv.extend(["--job-timeout-secs", "96"]);
        assert!(args(&argv).validate().is_ok());
    }

    #[test]
    fn six_field_crons_and_other_time_zones_are_accepted() {
        let c = args(&["--warmup-cron", "*/5 * * * * *", "--time-zone", "UTC"])
            .validate()
            .unwrap();
        assert_eq!(c.service.warmup_cron, "*/5 * * * * *");
        assert_eq!(c.service.time_zone, chrono_tz::UTC);
    }
}

//! Every setting of the service: a command-line flag and a `RADAR_*` environment variable,
//! validated before any port is bound. An invalid value stops start-up with a message that
//! names the setting and the value.

mod error;
mod hardening;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand};

pub use error::ConfigError;
pub use hardening::HardeningArgs;

use crate::domain::QueryBinds;
use crate::grpc::AdminAuth;
use crate::jobs::StartupRetry;
use crate::scheduler::{CronSchedule, RetryPolicy};
use crate::source::oracle::{OracleArgs, OracleSettings};
use crate::telemetry::LogFormat;
use crate::transport::{ConnectionLimits, TlsSettings};
use hardening::{number_in, secs_in};

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
    /// Limits and security.
    #[command(flatten)]
    pub hardening: HardeningArgs,
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
    /// Time the service keeps answering after SIGTERM, NOT_SERVING, before it stops
    /// accepting connections.
    pub drain_delay: Duration,
    /// Age beyond which the live answer is ANEEL's error answer.
    pub stale_hard_limit: Duration,
    /// Limits of the gRPC listener.
    pub limits: ConnectionLimits,
    /// Who may call SchedulerAdmin, and how often it may query the source.
    pub admin: AdminAuth,
    /// TLS of the listener; `None` serves plaintext.
    pub tls: Option<TlsSettings>,
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
            drain_delay: Duration::from_secs(5),
            stale_hard_limit: Duration::from_secs(7200),
            limits: ConnectionLimits::default(),
            admin: AdminAuth {
                token: None,
                manual_min_interval: Duration::from_secs(30),
            },
            tls: None,
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
    /// The binds of the aggregation query.
    pub binds: QueryBinds,
    /// Logging.
    pub log: LogSettings,
}

/// The cap of the pause between attempts of a run, and the largest first pause (ms).
const MAX_BACKOFF_MS: u64 = 30_000;

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
        let job_retry_backoff = Duration::from_millis(number_in(
            "RADAR_JOB_RETRY_BACKOFF_MS",
            "job-retry-backoff-ms",
            &self.job_retry_backoff_ms,
            1..=MAX_BACKOFF_MS,
        )?);
        let limits = self.hardening.limits()?;
        let stale_after = secs_in(
            "RADAR_STALE_AFTER_SECS",
            "stale-after-secs",
            &self.stale_after_secs,
            1..=7 * 86_400,
        )?;
        let service = ServiceSettings {
            listen_addr,
            warmup_cron: self.warmup_cron.trim().to_owned(),
            time_zone,
            contact_email,
            stale_after,
            retry: RetryPolicy {
                attempt_timeout: secs_in(
                    "RADAR_JOB_TIMEOUT_SECS",
                    "job-timeout-secs",
                    &self.job_timeout_secs,
                    1..=3600,
                )?,
                max_attempts: u32::try_from(number_in(
                    "RADAR_JOB_MAX_ATTEMPTS",
                    "job-max-attempts",
                    &self.job_max_attempts,
                    1..=10,
                )?)
                .unwrap_or(1),
                initial_backoff: job_retry_backoff,
                max_backoff: Duration::from_millis(MAX_BACKOFF_MS),
            },
            startup_retry: StartupRetry {
                initial_backoff: Duration::from_secs(2),
                max_backoff: secs_in(
                    "RADAR_STARTUP_RETRY_MAX_SECS",
                    "startup-retry-max-secs",
                    &self.startup_retry_max_secs,
                    1..=3600,
                )?,
            },
            shutdown_grace: secs_in(
                "RADAR_SHUTDOWN_GRACE_SECS",
                "shutdown-grace-secs",
                &self.shutdown_grace_secs,
                1..=600,
            )?,
            drain_delay: self.hardening.drain_delay()?,
            stale_hard_limit: self.hardening.stale_hard_limit(stale_after)?,
            tls: self.hardening.tls(limits.handshake_timeout)?,
            limits,
            admin: self.hardening.admin()?,
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
    fn durations_and_limits_have_upper_bounds_and_the_backoff_cap_is_30_s() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--job-retry-backoff-ms", "18446744073709551615"],
                "RADAR_JOB_RETRY_BACKOFF_MS",
            ),
            (
                &["--job-retry-backoff-ms", "30001"],
                "RADAR_JOB_RETRY_BACKOFF_MS",
            ),
            (&["--job-timeout-secs", "3601"], "RADAR_JOB_TIMEOUT_SECS"),
            (&["--job-max-attempts", "11"], "RADAR_JOB_MAX_ATTEMPTS"),
            (
                &["--stale-after-secs", "18446744073709551615"],
                "RADAR_STALE_AFTER_SECS",
            ),
            (
                &["--startup-retry-max-secs", "3601"],
                "RADAR_STARTUP_RETRY_MAX_SECS",
            ),
            (
                &["--shutdown-grace-secs", "601"],
                "RADAR_SHUTDOWN_GRACE_SECS",
            ),
            (
                &["--shutdown-drain-delay-secs", "301"],
                "RADAR_SHUTDOWN_DRAIN_DELAY_SECS",
            ),
            (
                &["--stale-hard-limit-secs", "604801"],
                "RADAR_STALE_HARD_LIMIT_SECS",
            ),
            (
                &["--stale-hard-limit-secs", "3599"],
                "RADAR_STALE_HARD_LIMIT_SECS",
            ),
            (
                &["--handshake-timeout-secs", "0"],
                "RADAR_HANDSHAKE_TIMEOUT_SECS",
            ),
            (
                &["--max-connection-age-secs", "9"],
                "RADAR_MAX_CONNECTION_AGE_SECS",
            ),
            (
                &["--max-connection-age-grace-secs", "601"],
                "RADAR_MAX_CONNECTION_AGE_GRACE_SECS",
            ),
            (
                &["--keepalive-interval-secs", "0"],
                "RADAR_KEEPALIVE_INTERVAL_SECS",
            ),
            (
                &["--keepalive-timeout-secs", "601"],
                "RADAR_KEEPALIVE_TIMEOUT_SECS",
            ),
            (&["--max-connections", "0"], "RADAR_MAX_CONNECTIONS"),
            (
                &["--max-concurrent-streams", "10001"],
                "RADAR_MAX_CONCURRENT_STREAMS",
            ),
            (
                &["--max-calls-per-connection", "0"],
                "RADAR_MAX_CALLS_PER_CONNECTION",
            ),
            (&["--max-request-bytes", "100"], "RADAR_MAX_REQUEST_BYTES"),
            (&["--rpc-timeout-secs", "301"], "RADAR_RPC_TIMEOUT_SECS"),
            (
                &["--manual-trigger-min-interval-secs", "3601"],
                "RADAR_MANUAL_TRIGGER_MIN_INTERVAL_SECS",
            ),
        ];
        for (argv, setting) in cases {
            let e = error_of(argv);
            assert_eq!(e.setting, *setting, "{argv:?}");
            assert!(e.to_string().contains(argv[1]), "{e}");
        }
        let c = args(&["--job-retry-backoff-ms", "30000"])
            .validate()
            .unwrap();
        assert_eq!(c.service.retry.max_backoff, Duration::from_secs(30));
        assert_eq!(c.service.retry.initial_backoff, Duration::from_secs(30));
        let c = args(&[]).validate().unwrap();
        assert_eq!(c.service.retry.max_backoff, Duration::from_secs(30));
        assert_eq!(c.service.stale_hard_limit, Duration::from_secs(7200));
        assert_eq!(c.service.drain_delay, Duration::from_secs(5));
        assert_eq!(c.service.admin.manual_min_interval, Duration::from_secs(30));
        assert!(c.service.admin.token.is_none());
        assert_eq!(c.service.limits, ConnectionLimits::default());
    }

    #[test]
    fn the_admin_token_comes_from_the_value_or_the_file_and_is_never_shown() {
        let token = "s3cr3t-t0ken-0123456789";
        let c = args(&["--admin-token", token]).validate().unwrap();
        assert!(c.service.admin.token.is_some());
        assert!(!format!("{c:?}").contains(token), "Debug redacts the token");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, format!("{token}\n")).unwrap();
        let path = file.to_str().unwrap();
        let c = args(&["--admin-token-file", path]).validate().unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(c.service.admin.token.unwrap().expose_secret(), token);

        let e = error_of(&["--admin-token", token, "--admin-token-file", path]);
        assert_eq!(e.setting, "RADAR_ADMIN_TOKEN");
        let e = error_of(&["--admin-token", "short"]);
        assert_eq!(e.setting, "RADAR_ADMIN_TOKEN");
        assert!(!e.to_string().contains("short"), "{e}");
        let e = error_of(&["--admin-token-file", "/nonexistent/token"]);
        assert_eq!(e.setting, "RADAR_ADMIN_TOKEN_FILE");
    }

    #[test]
    fn tls_needs_a_certificate_and_its_key_and_bad_files_name_their_setting() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/");
        let f = |name: &str| format!("{fixtures}{name}");
        let (cert, key, ca) = (f("server.pem"), f("server.key"), f("ca.pem"));
        assert!(args(&[]).validate().unwrap().service.tls.is_none());
        let c = args(&["--tls-cert-file", &cert, "--tls-key-file", &key])
            .validate()
            .unwrap();
        let tls = c.service.tls.unwrap();
        assert!(tls.client_ca_file.is_none());
        assert!(
            !format!("{tls:?}").contains("PRIVATE"),
            "Debug never shows the key"
        );
        let c = args(&[
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-client-ca-file",
            &ca,
        ])
        .validate()
        .unwrap();
        assert!(c.service.tls.unwrap().client_ca_file.is_some());

        let cases: &[(&[&str], &str)] = &[
            (&["--tls-cert-file", &cert], "RADAR_TLS_KEY_FILE"),
            (&["--tls-key-file", &key], "RADAR_TLS_CERT_FILE"),
            (&["--tls-client-ca-file", &ca], "RADAR_TLS_CLIENT_CA_FILE"),
            (
                &["--tls-cert-file", &key, "--tls-key-file", &key],
                "RADAR_TLS_CERT_FILE",
            ),
            (
                &["--tls-cert-file", &cert, "--tls-key-file", &cert],
                "RADAR_TLS_KEY_FILE",
            ),
            (
                &[
                    "--tls-cert-file",
                    "/nonexistent.pem",
                    "--tls-key-file",
                    &key,
                ],
                "RADAR_TLS_CERT_FILE",
            ),
            (
                &[
                    "--tls-cert-file",
                    &cert,
                    "--tls-key-file",
                    &key,
                    "--tls-client-ca-file",
                    &key,
                ],
                "RADAR_TLS_CLIENT_CA_FILE",
            ),
        ];
        for (argv, setting) in cases {
            assert_eq!(error_of(argv).setting, *setting, "{argv:?}");
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

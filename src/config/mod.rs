//! Every setting of the service: a command-line flag and a `RADAR_*` environment variable,
//! parsed by clap into its type before any port is bound. A bad value stops start-up with
//! exit code 2 and a message that names the variable and the value ([`ConfigError`]).
//!
//! Each setting is one typed field below: its flag, variable, default and help are written
//! there and nowhere else. [`Settings::validate`] only checks rules between settings.

mod error;
pub mod oracle;
mod parse;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use clap::{Args, FromArgMatches, Parser, Subcommand, ValueEnum};

pub use error::{ConfigError, setting_of, variable};
pub use oracle::OracleArgs;

use crate::domain::{AG_ID_RORAIMA, DIST_RORAIMA, QueryBinds};
use crate::scheduler::{Backoff, CronSchedule, RetryPolicy};
use crate::telemetry::{LogFilter, LogFormat};

/// Default of `RADAR_SQLITE_PATH`: the embedded demo database, relative to the working
/// directory.
pub const DEFAULT_SQLITE_PATH: &str = "data/radar-interrupcoes-demo.sqlite";

/// Default scale of the demo database (1.0 is Roraima).
pub const DEFAULT_DEMO_SCALE: f64 = 1.0;

/// Default seed of the demo generator.
pub const DEFAULT_DEMO_SEED: u64 = 0x5252_4441_5237_3030; // "RRDAR700"

/// `radar-interrupcoes`: the command line.
#[derive(Debug, Parser)]
#[command(name = "radar-interrupcoes", version, about, long_about = None)]
pub struct Cli {
    /// The settings (each also a `RADAR_*` environment variable).
    #[command(flatten)]
    pub settings: Settings,
    /// What to do; without a subcommand the service runs.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands besides running the service.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Runs the gRPC service (the default).
    Serve,
    /// (Re)generates the embedded SQLite demo database at RADAR_SQLITE_PATH.
    GenerateDemo {
        /// Size relative to Roraima (1.0 = about 218 thousand premises; 5.0 is more than
        /// 1 million, an Amazonas-sized network).
        #[arg(long, default_value_t = DEFAULT_DEMO_SCALE)]
        scale: f64,
        /// Seed of the deterministic generator.
        #[arg(long, default_value_t = DEFAULT_DEMO_SEED)]
        seed: u64,
    },
    /// Read-only pre-deployment check of the Oracle source: connects, checks every table or
    /// synonym the query uses, runs the query once, prints row count and timings. Exits
    /// non-zero with the reason on failure. Uses the RADAR_ORACLE_* settings.
    CheckOracle,
}

impl Cli {
    /// Parses the command line and the environment and validates the settings. Help,
    /// version and malformed command lines are handled by clap, which exits.
    pub fn load() -> Result<(Config, Command), ConfigError> {
        Self::load_from(std::env::args_os())
    }

    /// [`load`](Self::load) from the given arguments (the first is the program name).
    pub fn load_from<I, T>(args: I) -> Result<(Config, Command), ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Self::try_parse_from(args)
            .map_err(|e| ConfigError::from_clap(&e).unwrap_or_else(|| e.exit()))?;
        let config = cli.settings.validate()?;
        Ok((config, cli.command.unwrap_or(Command::Serve)))
    }
}

/// The data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceKind {
    /// The embedded SQLite database.
    Sqlite,
    /// The production Oracle database.
    Oracle,
}

/// Whether a missing SQLite database is created with demo data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateDemo {
    /// Only at the default path.
    Auto,
    /// Always.
    Yes,
    /// Never.
    No,
}

fn create_demo(value: &str) -> Result<CreateDemo, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(CreateDemo::Auto),
        "true" | "1" | "yes" => Ok(CreateDemo::Yes),
        "false" | "0" | "no" => Ok(CreateDemo::No),
        _ => Err("expected `auto`, `true` or `false`".to_owned()),
    }
}

/// Every setting, as clap parsed it.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address the gRPC server listens on.
    #[arg(
        long,
        env = "RADAR_LISTEN_ADDR",
        default_value = "127.0.0.1:50051",
        value_parser = parse::trimmed::<SocketAddr>,
        global = true
    )]
    pub listen_addr: SocketAddr,
    /// Data source: `sqlite` (embedded, default) or `oracle` (production).
    #[arg(
        long,
        env = "RADAR_SOURCE",
        value_enum,
        default_value = "sqlite",
        hide_possible_values = true,
        global = true
    )]
    pub source: SourceKind,
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
        value_parser = create_demo,
        global = true
    )]
    pub sqlite_create_demo: CreateDemo,
    /// `AGENCY_EVENT.AG_ID` of the distributor's events.
    #[arg(
        long,
        env = "RADAR_AGENCY_ID",
        default_value_t = AG_ID_RORAIMA,
        value_parser = parse::positive::<i64>,
        global = true
    )]
    pub agency_id: i64,
    /// `OMS_CONNECTIVITY.DIST` of the distributor's devices.
    #[arg(
        long,
        env = "RADAR_DISTRIBUTOR_ID",
        default_value = DIST_RORAIMA,
        value_parser = parse::not_blank,
        global = true
    )]
    pub distributor_id: String,
    /// The running service.
    #[command(flatten)]
    pub service: ServiceSettings,
    /// Logging.
    #[command(flatten)]
    pub log: LogSettings,
    /// Oracle connection settings (used when RADAR_SOURCE=oracle).
    #[command(flatten)]
    pub oracle: OracleArgs,
}

/// Settings of the running service (everything but the source and logging).
#[derive(Debug, Clone, Args)]
pub struct ServiceSettings {
    /// Cron of the cache warm-up: 5 fields, or 6 with seconds first.
    #[arg(
        long,
        env = "RADAR_WARMUP_CRON",
        default_value = "*/30 * * * *",
        value_parser = parse::cron,
        global = true
    )]
    pub warmup_cron: CronSchedule,
    /// IANA time zone the cron expressions are read in.
    #[arg(
        long,
        env = "RADAR_TIME_ZONE",
        default_value = "America/Sao_Paulo",
        value_parser = parse::time_zone,
        global = true
    )]
    pub time_zone: Tz,
    /// `emailIndisponibilidade` of every answer (at most 50 characters).
    #[arg(
        long,
        env = "RADAR_CONTACT_EMAIL",
        default_value = "cop@roraimaenergia.com.br",
        value_parser = parse::email,
        global = true
    )]
    pub contact_email: String,
    /// A snapshot older than this is reported stale.
    #[arg(
        long = "stale-after-secs",
        value_name = "STALE_AFTER_SECS",
        env = "RADAR_STALE_AFTER_SECS",
        default_value = "3600",
        value_parser = parse::secs,
        global = true
    )]
    pub stale_after: Duration,
    /// Limit of one warm-up attempt.
    #[arg(
        long = "job-timeout-secs",
        value_name = "JOB_TIMEOUT_SECS",
        env = "RADAR_JOB_TIMEOUT_SECS",
        default_value = "60",
        value_parser = parse::secs,
        global = true
    )]
    pub job_timeout: Duration,
    /// Attempts per run for transient failures.
    #[arg(
        long,
        env = "RADAR_JOB_MAX_ATTEMPTS",
        default_value = "3",
        value_parser = parse::positive::<u32>,
        global = true
    )]
    pub job_max_attempts: u32,
    /// Pause after the first failed attempt of a run (doubled after each).
    #[arg(
        long = "job-retry-backoff-ms",
        value_name = "JOB_RETRY_BACKOFF_MS",
        env = "RADAR_JOB_RETRY_BACKOFF_MS",
        default_value = "1000",
        value_parser = parse::millis,
        global = true
    )]
    pub job_retry_backoff: Duration,
    /// Cap of the pause between the attempts of a run (raised to the first pause if that is
    /// longer). Not a flag.
    #[arg(skip = Duration::from_secs(30))]
    pub job_retry_backoff_max: Duration,
    /// Cap of the pause between start-up warm-ups while no snapshot has loaded.
    #[arg(
        long = "startup-retry-max-secs",
        value_name = "STARTUP_RETRY_MAX_SECS",
        env = "RADAR_STARTUP_RETRY_MAX_SECS",
        default_value = "60",
        value_parser = parse::secs,
        global = true
    )]
    pub startup_retry_max: Duration,
    /// First pause between start-up warm-ups (doubled after each). Not a flag.
    #[arg(skip = Duration::from_secs(2))]
    pub startup_retry_initial: Duration,
    /// Time given to in-flight RPCs to finish on shutdown.
    #[arg(
        long = "shutdown-grace-secs",
        value_name = "SHUTDOWN_GRACE_SECS",
        env = "RADAR_SHUTDOWN_GRACE_SECS",
        default_value = "10",
        value_parser = parse::secs,
        global = true
    )]
    pub shutdown_grace: Duration,
}

impl Default for ServiceSettings {
    /// The defaults of the flags, ignoring the environment.
    fn default() -> Self {
        let command = Self::augment_args(clap::Command::new("defaults")).mut_args(|a| a.env(None));
        let matches = command
            .try_get_matches_from(["defaults"])
            .expect("the defaults parse");
        Self::from_arg_matches(&matches).expect("the defaults parse")
    }
}

impl ServiceSettings {
    /// Attempts, timeout and backoff of each job run.
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            attempt_timeout: self.job_timeout,
            max_attempts: self.job_max_attempts,
            backoff: Backoff {
                initial: self.job_retry_backoff,
                max: self.job_retry_backoff_max.max(self.job_retry_backoff),
            },
        }
    }

    /// Backoff of the start-up warm-up until a snapshot loads.
    pub fn startup_backoff(&self) -> Backoff {
        Backoff {
            initial: self.startup_retry_initial.min(self.startup_retry_max),
            max: self.startup_retry_max,
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log format: `plain` or `json`.
    #[arg(
        long = "log-format",
        value_name = "LOG_FORMAT",
        env = "RADAR_LOG_FORMAT",
        value_enum,
        default_value = "plain",
        hide_possible_values = true,
        global = true
    )]
    pub format: LogFormat,
    /// Log filter, in `tracing` EnvFilter syntax (e.g. `info`, `radar_interrupcoes=debug`).
    #[arg(
        long = "log-level",
        value_name = "LOG_LEVEL",
        env = "RADAR_LOG_LEVEL",
        default_value = "info",
        global = true
    )]
    pub filter: LogFilter,
}

/// Which data source the service reads, validated.
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
    Oracle(OracleArgs),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen_addr: SocketAddr,
    /// The service.
    pub service: ServiceSettings,
    /// The data source.
    pub source: SourceSettings,
    /// The binds of the aggregation query.
    pub binds: QueryBinds,
    /// Logging.
    pub log: LogSettings,
}

impl Settings {
    /// Checks the rules between settings (each value alone was checked by clap) and reads
    /// the Oracle password file; the first broken rule is the error.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let source = match self.source {
            SourceKind::Sqlite => SourceSettings::Sqlite {
                create_demo: match self.sqlite_create_demo {
                    CreateDemo::Auto => {
                        self.sqlite_path == std::path::Path::new(DEFAULT_SQLITE_PATH)
                    }
                    CreateDemo::Yes => true,
                    CreateDemo::No => false,
                },
                path: self.sqlite_path,
            },
            SourceKind::Oracle => {
                let oracle = self.oracle.validate()?;
                // The attempt timeout must leave the adapter time to give its own, clearer
                // error.
                let deadline = oracle.fetch_deadline();
                if self.service.job_timeout <= deadline {
                    return Err(ConfigError::new(
                        "job_timeout",
                        self.service.job_timeout.as_secs().to_string(),
                        format!(
                            "must exceed 3 x {} + 5 = {} s; raise it or lower {0}",
                            variable("call_timeout"),
                            deadline.as_secs()
                        ),
                    ));
                }
                SourceSettings::Oracle(oracle)
            }
        };
        Ok(Config {
            listen_addr: self.listen_addr,
            service: self.service,
            source,
            binds: QueryBinds {
                ag_id: self.agency_id,
                dist: self.distributor_id,
            },
            log: self.log,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extra: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["radar-interrupcoes"];
        argv.extend_from_slice(extra);
        Cli::load_from(argv).map(|(config, _)| config)
    }

    #[test]
    fn defaults_are_valid_and_work_on_a_laptop() {
        let c = load(&[]).unwrap();
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(c.service.warmup_cron.expression(), "*/30 * * * *");
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
        load(extra).unwrap_err()
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
        assert!(load(&["--contact-email", &fifty]).is_ok());
        let e = error_of(&["--contact-email", &format!("a{fifty}")]);
        assert_eq!(e.setting, "RADAR_CONTACT_EMAIL");
    }

    #[test]
    fn the_demo_is_created_automatically_only_at_the_default_path() {
        let create = |argv: &[&str]| match load(argv).unwrap().source {
            SourceSettings::Sqlite { create_demo, .. } => create_demo,
            other @ SourceSettings::Oracle(_) => panic!("{other:?}"),
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
        assert!(load(&oracle).is_ok());
        let mut argv = oracle.to_vec();
        argv.extend(["--oracle-call-timeout-secs", "30"]);
        let e = error_of(&argv);
        assert_eq!(e.setting, "RADAR_JOB_TIMEOUT_SECS");
        assert!(e.reason.contains("95 s"), "{e}");
        argv.extend(["--job-timeout-secs", "96"]);
        assert!(load(&argv).is_ok());
    }

    #[test]
    fn six_field_crons_and_other_time_zones_are_accepted() {
        let c = load(&["--warmup-cron", "*/5 * * * * *", "--time-zone", "UTC"]).unwrap();
        assert_eq!(c.service.warmup_cron.expression(), "*/5 * * * * *");
        assert_eq!(c.service.time_zone, chrono_tz::UTC);
    }
}

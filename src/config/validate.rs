//! The rules between settings (each value alone was checked by clap), and the validated
//! configuration they produce.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use super::cli::{Command, GenerateDemoArgs};
use super::error::ConfigError;
use super::hardening;
use super::http::HttpSettings;
use super::names::{self, Setting};
use super::oracle::{OracleArgs, OracleConnection, REDACTED, Secret};
use super::settings::{DEFAULT_SQLITE_PATH, LogSettings, ServiceSettings, Settings};
use crate::domain::QueryBinds;

/// What the command line asks for, with its settings validated.
#[derive(Debug, Clone)]
pub enum Invocation {
    /// Run the service.
    Serve(Box<Config>),
    /// Write the demo database.
    GenerateDemo(GenerateDemoArgs),
    /// Check the Oracle source.
    CheckOracle {
        /// The validated Oracle settings.
        oracle: OracleConnection,
        /// The binds of the query.
        binds: QueryBinds,
        /// Logging.
        log: LogSettings,
    },
    /// Print a shell completion script.
    Completions(clap_complete::Shell),
}

impl Invocation {
    /// The logging settings; `None` for a command that logs nothing.
    pub fn log(&self) -> Option<&LogSettings> {
        match self {
            Self::Serve(config) => Some(&config.log),
            Self::GenerateDemo(GenerateDemoArgs { log, .. }) | Self::CheckOracle { log, .. } => {
                Some(log)
            }
            Self::Completions(_) => None,
        }
    }
}

impl Command {
    /// Validates the settings of the command.
    pub fn validate(self) -> Result<Invocation, ConfigError> {
        Ok(match self {
            Self::Serve(settings) => Invocation::Serve(Box::new(settings.validate()?)),
            Self::GenerateDemo(args) => Invocation::GenerateDemo(args),
            Self::CheckOracle(args) => Invocation::CheckOracle {
                oracle: args.oracle.validate()?,
                binds: args.binds.binds(),
                log: args.log,
            },
            Self::Completions { shell } => Invocation::Completions(shell),
        })
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen_addr: SocketAddr,
    /// The service.
    pub service: ServiceSettings,
    /// The data source's name, one the wiring offered.
    pub source: String,
    /// The snapshot store's name, one the wiring offered.
    pub store: String,
    /// The SQLite database of the `sqlite` source.
    pub sqlite: SqliteSettings,
    /// The Oracle connection as given: the backends that use it validate it
    /// ([`OracleArgs::validate`]), so the others need none of it.
    pub oracle: OracleArgs,
    /// The binds of the aggregation query.
    pub binds: QueryBinds,
    /// Logging.
    pub log: LogSettings,
    /// The HTTP listeners.
    pub http: HttpSettings,
}

/// The SQLite database of the `sqlite` source.
#[derive(Debug, Clone)]
pub struct SqliteSettings {
    /// Its path.
    pub path: PathBuf,
    /// Whether to create it with demo data when missing.
    pub create_demo: bool,
}

impl Settings {
    /// Checks the rules between settings (each value alone was checked by clap); the first
    /// broken rule is the error.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let history = &self.service.history;
        // The wait and a query of our own both happen within one attempt.
        if history.claim_wait >= self.service.job_timeout {
            return Err(names::CLAIM_WAIT_SECS.invalid(
                history.claim_wait.as_secs().to_string(),
                format!(
                    "must be below {} ({} s): the wait and a query of our own both happen \
                     within one attempt",
                    names::JOB_TIMEOUT_SECS.var,
                    self.service.job_timeout.as_secs()
                ),
            ));
        }
        let service = &self.service;
        if service.stale_hard_limit < service.stale_after {
            return Err(names::STALE_HARD_LIMIT_SECS.invalid(
                service.stale_hard_limit.as_secs().to_string(),
                format!(
                    "must be at least {} ({} s)",
                    names::STALE_AFTER_SECS.var,
                    service.stale_after.as_secs()
                ),
            ));
        }
        hardening::check_schedule(&service.warmup_cron, service.stale_hard_limit)?;
        hardening::check(&service.limits, &service.admin, &service.tls)?;
        let path = self.sqlite.sqlite_path;
        Ok(Config {
            listen_addr: self.listen_addr,
            service: self.service,
            source: self.source,
            store: self.store,
            // Auto: only at the default path, so a mistyped path fails instead of serving
            // synthetic data.
            sqlite: SqliteSettings {
                create_demo: self
                    .sqlite_create_demo
                    .unwrap_or_else(|| path == std::path::Path::new(DEFAULT_SQLITE_PATH)),
                path,
            },
            oracle: self.oracle,
            binds: self.binds.binds(),
            log: self.log,
            http: self.http,
        })
    }
}

impl OracleArgs {
    /// Checks the rules between the settings: connect string and user present, exactly one
    /// of password and password file, pool minimum at most the maximum. Called only where
    /// Oracle is used (an Oracle backend, `check-oracle`): the others need none of this.
    pub fn validate(self) -> Result<OracleConnection, ConfigError> {
        let connect_string = required(
            names::ORACLE_CONNECT_STRING,
            self.connect_string,
            "required for the Oracle source, e.g. db-host:1521/OMSPRD",
        )?;
        let user = required(
            names::ORACLE_USER,
            self.user,
            "required for the Oracle source: the service's own schema",
        )?;
        let password = password(self.password, self.password_file)?;
        if self.pool_min > self.pool_max {
            return Err(names::ORACLE_POOL_MIN.invalid(
                self.pool_min.to_string(),
                format!(
                    "must not exceed {} ({})",
                    names::ORACLE_POOL_MAX.var,
                    self.pool_max
                ),
            ));
        }
        Ok(OracleConnection {
            connect_string,
            user,
            password,
            client_lib_dir: self.client_lib_dir,
            pool_min: self.pool_min,
            pool_max: self.pool_max,
            ping_interval: self.ping_interval,
            stmt_cache_size: self.stmt_cache_size,
            call_timeout: self.call_timeout,
        })
    }
}

fn required(setting: Setting, value: Option<String>, reason: &str) -> Result<String, ConfigError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        other => Err(setting.invalid(other.unwrap_or_default(), reason)),
    }
}

/// Exactly one of the password and the password file (which the wiring reads).
fn password(password: Option<SecretString>, file: Option<PathBuf>) -> Result<Secret, ConfigError> {
    let (password_var, file_var) = (names::ORACLE_PASSWORD.var, names::ORACLE_PASSWORD_FILE.var);
    match (password, file) {
        (Some(_), Some(_)) => Err(names::ORACLE_PASSWORD.invalid(
            REDACTED,
            format!("set either {password_var} or {file_var}, not both"),
        )),
        (None, None) => Err(names::ORACLE_PASSWORD.invalid(
            "",
            format!("required for the Oracle source: set {password_var} or {file_var}"),
        )),
        (Some(p), None) if p.expose_secret().is_empty() => {
            Err(names::ORACLE_PASSWORD.invalid(REDACTED, "must not be empty"))
        }
        (Some(p), None) => Ok(Secret::Value(p)),
        (None, Some(path)) => Ok(Secret::File(path)),
    }
}

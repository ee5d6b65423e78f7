//! The rules between settings (each value alone was checked by clap), and the validated
//! configuration they produce.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::cli::Command;
use super::error::ConfigError;
use super::hardening;
use super::history::StoreKind;
use super::http::HttpArgs;
use super::names::{self, Setting};
use super::oracle::{OracleArgs, OracleConnection, REDACTED, Secret};
use super::settings::{
    CreateDemo, DEFAULT_SQLITE_PATH, LogSettings, ServiceSettings, Settings, SourceKind,
};
use crate::domain::{ForwardedHeader, IpRanges, QueryBinds};

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
    Oracle(OracleConnection),
}

/// What the command line asks for, with its settings validated.
#[derive(Debug, Clone)]
pub enum Invocation {
    /// Run the service.
    Serve(Box<Config>),
    /// Write the demo database.
    GenerateDemo {
        /// Where.
        path: PathBuf,
        /// Its scale (1.0 is Roraima).
        scale: f64,
        /// The generator's seed.
        seed: u64,
        /// Logging.
        log: LogSettings,
    },
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
            Self::GenerateDemo { log, .. } | Self::CheckOracle { log, .. } => Some(log),
            Self::Completions(_) => None,
        }
    }
}

impl Command {
    /// Validates the settings of the command.
    pub fn validate(self) -> Result<Invocation, ConfigError> {
        Ok(match self {
            Self::Serve(settings) => Invocation::Serve(Box::new(settings.validate()?)),
            Self::GenerateDemo(args) => Invocation::GenerateDemo {
                path: args.sqlite.sqlite_path,
                scale: args.scale,
                seed: args.seed,
                log: args.log,
            },
            Self::CheckOracle(args) => Invocation::CheckOracle {
                oracle: args.oracle.validate()?,
                binds: args.binds.binds(),
                log: args.log,
            },
            Self::Completions { shell } => Invocation::Completions(shell),
        })
    }
}

/// Where the snapshot history is stored, validated.
#[derive(Debug, Clone)]
pub enum StoreSettings {
    /// A SQLite file.
    Sqlite {
        /// Its path.
        path: PathBuf,
    },
    /// The service's own Oracle schema, with these connection settings.
    Oracle(OracleConnection),
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
    /// Where the snapshot history is stored.
    pub store: StoreSettings,
    /// The binds of the aggregation query.
    pub binds: QueryBinds,
    /// Logging.
    pub log: LogSettings,
    /// The HTTP listeners.
    pub http: HttpSettings,
}

/// The validated HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Address of the ANEEL endpoint; `None` when turned off.
    pub aneel_listen_addr: Option<SocketAddr>,
    /// Accepted keys of the ANEEL endpoint as configured (the wiring parses them).
    pub api_keys: Option<SecretString>,
    /// File of further keys (the wiring reads it, and again while running).
    pub api_keys_file: Option<PathBuf>,
    /// Proxies whose forwarding header names the ANEEL endpoint's client.
    pub trusted_proxies: IpRanges,
    /// The header they write.
    pub forwarded_header: ForwardedHeader,
    /// Client addresses let in; empty: every address.
    pub source_ranges: IpRanges,
    /// Requests per window for each key and each client address; `None`: no limit.
    pub rate_limit: Option<u32>,
    /// The rate limit's window.
    pub rate_limit_window: Duration,
    /// Address of the operations endpoint; `None` when turned off.
    pub metrics_listen_addr: Option<SocketAddr>,
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
        let store = match history.store {
            StoreKind::Sqlite => StoreSettings::Sqlite {
                path: history.store_sqlite_path.clone(),
            },
            StoreKind::Oracle => StoreSettings::Oracle(self.oracle.clone().validate()?),
        };
        let source = match self.source {
            SourceKind::Sqlite => SourceSettings::Sqlite {
                create_demo: match self.sqlite_create_demo {
                    CreateDemo::Auto => {
                        self.sqlite.sqlite_path == std::path::Path::new(DEFAULT_SQLITE_PATH)
                    }
                    CreateDemo::Yes => true,
                    CreateDemo::No => false,
                },
                path: self.sqlite.sqlite_path,
            },
            SourceKind::Oracle => {
                let oracle = self.oracle.validate()?;
                // The attempt timeout must leave the adapter time to give its own, clearer
                // error.
                let deadline = oracle.fetch_deadline();
                if self.service.job_timeout <= deadline {
                    return Err(names::JOB_TIMEOUT_SECS.invalid(
                        self.service.job_timeout.as_secs().to_string(),
                        format!(
                            "must exceed 3 x {} + 5 = {} s; raise it or lower {0}",
                            names::ORACLE_CALL_TIMEOUT_SECS.var,
                            deadline.as_secs()
                        ),
                    ));
                }
                SourceSettings::Oracle(oracle)
            }
        };
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
        hardening::check(&service.limits, &service.admin, &service.tls)?;
        let http = self.http.validate();
        Ok(Config {
            listen_addr: self.listen_addr,
            service: self.service,
            source,
            store,
            binds: self.binds.binds(),
            log: self.log,
            http,
        })
    }
}

impl HttpArgs {
    /// The HTTP settings (the wiring parses the keys and reads the key file).
    pub fn validate(self) -> HttpSettings {
        HttpSettings {
            aneel_listen_addr: self.aneel_listen_addr.0,
            api_keys: self.aneel_api_keys,
            api_keys_file: self.aneel_api_keys_file,
            trusted_proxies: self.aneel_trusted_proxies,
            forwarded_header: self.aneel_forwarded_header,
            source_ranges: self.aneel_source_ranges,
            rate_limit: (self.aneel_rate_limit > 0).then_some(self.aneel_rate_limit),
            rate_limit_window: self.aneel_rate_limit_window_secs,
            metrics_listen_addr: self.metrics_listen_addr.0,
        }
    }
}

impl OracleArgs {
    /// Checks the rules between the settings: connect string and user present, exactly one
    /// of password and password file, pool minimum at most the maximum. Call it only when
    /// Oracle is used (`RADAR_SOURCE=oracle`, `check-oracle`): the other sources need none
    /// of this.
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

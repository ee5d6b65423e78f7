//! The rules between settings (each value alone was checked by clap), and the validated
//! configuration they produce.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::cli::Command;
use super::error::ConfigError;
use super::hardening;
use super::history::StoreKind;
use super::http::HttpArgs;
use super::names::{invalid, variable};
use super::oracle::{OracleArgs, REDACTED};
use super::settings::{
    CreateDemo, DEFAULT_SQLITE_PATH, LogSettings, ServiceSettings, Settings, SourceKind,
};
use crate::domain::{ForwardedHeader, IpRanges, QueryBinds};
use crate::http::{ApiKeys, KeyStore};

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
        /// The validated Oracle settings (password read).
        oracle: OracleArgs,
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
    /// Accepted keys of the ANEEL endpoint (the key file is read again while running).
    pub api_keys: Arc<KeyStore>,
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
    /// Checks the rules between settings (each value alone was checked by clap) and reads
    /// the Oracle password file; the first broken rule is the error.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let history = &self.service.history;
        // The wait and a query of our own both happen within one attempt.
        if history.claim_wait >= self.service.job_timeout {
            return Err(invalid(
                "claim_wait",
                history.claim_wait.as_secs().to_string(),
                format!(
                    "must be below {} ({} s): the wait and a query of our own both happen \
                     within one attempt",
                    variable("job_timeout"),
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
                    return Err(invalid(
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
        let mut service = self.service;
        hardening::check(&mut service)?;
        let http = self.http.validate()?;
        Ok(Config {
            listen_addr: self.listen_addr,
            service,
            source,
            store,
            binds: self.binds.binds(),
            log: self.log,
            http,
        })
    }
}

impl HttpArgs {
    /// Checks the keys and reads the key file. Errors never show a key.
    pub fn validate(self) -> Result<HttpSettings, ConfigError> {
        let from_setting = match &self.aneel_api_keys {
            Some(keys) => ApiKeys::parse(keys.expose_secret())
                .map_err(|reason| invalid("aneel_api_keys", REDACTED, reason))?,
            None => ApiKeys::default(),
        };
        let api_keys = match self.aneel_api_keys_file {
            Some(path) => KeyStore::with_file(from_setting, path.clone()).map_err(|reason| {
                invalid("aneel_api_keys_file", path.display().to_string(), reason)
            })?,
            None => KeyStore::from(from_setting),
        };
        Ok(HttpSettings {
            aneel_listen_addr: self.aneel_listen_addr.0,
            api_keys: Arc::new(api_keys),
            trusted_proxies: self.aneel_trusted_proxies,
            forwarded_header: self.aneel_forwarded_header,
            source_ranges: self.aneel_source_ranges,
            rate_limit: (self.aneel_rate_limit > 0).then_some(self.aneel_rate_limit),
            rate_limit_window: self.aneel_rate_limit_window_secs,
            metrics_listen_addr: self.metrics_listen_addr.0,
        })
    }
}

impl OracleArgs {
    /// Checks the rules between the settings and reads the password file into the
    /// password. Call it only when Oracle is used (`RADAR_SOURCE=oracle`, `check-oracle`):
    /// the other sources need none of this.
    pub fn validate(mut self) -> Result<Self, ConfigError> {
        required(
            "connect_string",
            self.connect_string.as_deref(),
            "required for the Oracle source, e.g. db-host:1521/OMSPRD",
        )?;
        required(
            "user",
            self.user.as_deref(),
            "required for the Oracle source: the service's own schema",
        )?;
        self.password = Some(password(
            self.password.take(),
            self.password_file.as_deref(),
        )?);
        if self.pool_min > self.pool_max {
            return Err(invalid(
                "pool_min",
                self.pool_min.to_string(),
                format!(
                    "must not exceed {} ({})",
                    variable("pool_max"),
                    self.pool_max
                ),
            ));
        }
        Ok(self)
    }
}

fn required(id: &str, value: Option<&str>, reason: &str) -> Result<(), ConfigError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(()),
        other => Err(invalid(id, other.unwrap_or_default(), reason)),
    }
}

/// Exactly one of the password and the password file.
fn password(
    password: Option<SecretString>,
    file: Option<&std::path::Path>,
) -> Result<SecretString, ConfigError> {
    let (password_var, file_var) = (variable("password"), variable("password_file"));
    match (password, file) {
        (Some(_), Some(_)) => Err(invalid(
            "password",
            REDACTED,
            format!("set either {password_var} or {file_var}, not both"),
        )),
        (None, None) => Err(invalid(
            "password",
            "",
            format!("required for the Oracle source: set {password_var} or {file_var}"),
        )),
        (Some(p), None) if p.expose_secret().is_empty() => {
            Err(invalid("password", REDACTED, "must not be empty"))
        }
        (Some(p), None) => Ok(p),
        (None, Some(path)) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    "password_file",
                    shown.clone(),
                    format!("cannot read the password file: {e}"),
                )
            })?;
            let trimmed = text.strip_suffix('\n').unwrap_or(&text);
            let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
            if trimmed.is_empty() {
                return Err(invalid(
                    "password_file",
                    shown,
                    "the password file is empty",
                ));
            }
            Ok(SecretString::from(trimmed))
        }
    }
}

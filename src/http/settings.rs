//! Settings of the two HTTP listeners: the ANEEL endpoint and the operations endpoint
//! (metrics and probes). Validated with the rest of the configuration, before any bind.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::{ApiKeys, KeyStore};
use crate::config::ConfigError;

/// Default of `RADAR_ANEEL_LISTEN_ADDR`.
pub const DEFAULT_ANEEL_LISTEN_ADDR: &str = "127.0.0.1:8080";
/// Default of `RADAR_METRICS_LISTEN_ADDR`.
pub const DEFAULT_METRICS_LISTEN_ADDR: &str = "127.0.0.1:9464";

/// The HTTP settings as given on the command line or in the environment.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP: the ANEEL endpoint, metrics and probes")]
pub struct HttpArgs {
    /// Address of the ANEEL endpoint (GET /quantitativointerrupcoesativas); empty turns it off.
    #[arg(
        long,
        env = "RADAR_ANEEL_LISTEN_ADDR",
        default_value = DEFAULT_ANEEL_LISTEN_ADDR,
        global = true
    )]
    pub aneel_listen_addr: String,
    /// Accepted `x-api-key` values, comma-separated, each `id:secret` or `secret`. Without
    /// any key (here or in the file), only loopback clients are answered.
    #[arg(
        long,
        env = "RADAR_ANEEL_API_KEYS",
        hide_env_values = true,
        value_parser = parse_secret,
        global = true
    )]
    pub aneel_api_keys: Option<SecretString>,
    /// File of accepted `x-api-key` values (a mounted Secret): one `id:secret` or `secret`
    /// per line, `#` comments. Adds to RADAR_ANEEL_API_KEYS.
    #[arg(long, env = "RADAR_ANEEL_API_KEYS_FILE", global = true)]
    pub aneel_api_keys_file: Option<PathBuf>,
    /// Address of /metrics, /livez and /readyz; empty turns it off.
    #[arg(
        long,
        env = "RADAR_METRICS_LISTEN_ADDR",
        default_value = DEFAULT_METRICS_LISTEN_ADDR,
        global = true
    )]
    pub metrics_listen_addr: String,
}

fn parse_secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value.to_owned()))
}

/// The validated HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Address of the ANEEL endpoint; `None` when turned off.
    pub aneel_listen_addr: Option<SocketAddr>,
    /// Accepted keys of the ANEEL endpoint (the key file is read again while running).
    pub api_keys: Arc<KeyStore>,
    /// Address of the operations endpoint; `None` when turned off.
    pub metrics_listen_addr: Option<SocketAddr>,
}

impl HttpArgs {
    /// Validates the addresses and reads the key file.
    pub fn validate(&self) -> Result<HttpSettings, ConfigError> {
        let from_setting = match &self.aneel_api_keys {
            Some(keys) => ApiKeys::parse(keys.expose_secret()).map_err(|reason| {
                ConfigError::new(
                    "RADAR_ANEEL_API_KEYS",
                    "aneel-api-keys",
                    "<redacted>",
                    reason,
                )
            })?,
            None => ApiKeys::default(),
        };
        let api_keys = match &self.aneel_api_keys_file {
            Some(path) => KeyStore::with_file(from_setting, path.clone()).map_err(|reason| {
                ConfigError::new(
                    "RADAR_ANEEL_API_KEYS_FILE",
                    "aneel-api-keys-file",
                    path.display().to_string(),
                    reason,
                )
            })?,
            None => KeyStore::from(from_setting),
        };
        Ok(HttpSettings {
            aneel_listen_addr: optional_addr(
                "RADAR_ANEEL_LISTEN_ADDR",
                "aneel-listen-addr",
                &self.aneel_listen_addr,
            )?,
            api_keys: Arc::new(api_keys),
            metrics_listen_addr: optional_addr(
                "RADAR_METRICS_LISTEN_ADDR",
                "metrics-listen-addr",
                &self.metrics_listen_addr,
            )?,
        })
    }
}

fn optional_addr(
    setting: &'static str,
    flag: &'static str,
    value: &str,
) -> Result<Option<SocketAddr>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    value
        .trim()
        .parse()
        .map(Some)
        .map_err(|e: std::net::AddrParseError| {
            ConfigError::new(setting, flag, value, e.to_string())
        })
}

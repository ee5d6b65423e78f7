//! Settings that protect the service from abusive clients and a failing environment:
//! connection limits, admin authentication and its rate limit, the staleness hard limit,
//! the shutdown drain delay and TLS. Each group validates into its own struct.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, parse};
use crate::grpc::AdminAuth;
use crate::transport::{ConnectionLimits, TlsSettings};

/// Shown instead of a token in errors.
const REDACTED: &str = "<redacted>";

/// Shortest admin token accepted: a guessable token is no protection.
const MIN_TOKEN_LEN: usize = 16;

/// Raw hardening settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits and security")]
pub struct HardeningArgs {
    /// Open connections at most; further ones are closed at once.
    #[arg(
        long,
        env = "RADAR_MAX_CONNECTIONS",
        default_value = "1024",
        global = true
    )]
    pub max_connections: String,
    /// Seconds a new connection has to send the HTTP/2 preface (or start TLS).
    #[arg(
        long,
        env = "RADAR_HANDSHAKE_TIMEOUT_SECS",
        default_value = "5",
        global = true
    )]
    pub handshake_timeout_secs: String,
    /// Seconds after which a connection, idle or not, is closed gracefully (GOAWAY: calls
    /// in flight finish, clients reconnect for new ones).
    #[arg(
        long,
        env = "RADAR_MAX_CONNECTION_AGE_SECS",
        default_value = "300",
        global = true
    )]
    pub max_connection_age_secs: String,
    /// Seconds the calls in flight get after that GOAWAY before the connection is closed.
    #[arg(
        long,
        env = "RADAR_MAX_CONNECTION_AGE_GRACE_SECS",
        default_value = "10",
        global = true
    )]
    pub max_connection_age_grace_secs: String,
    /// Seconds between HTTP/2 keep-alive pings.
    #[arg(
        long,
        env = "RADAR_KEEPALIVE_INTERVAL_SECS",
        default_value = "30",
        global = true
    )]
    pub keepalive_interval_secs: String,
    /// Seconds a keep-alive ping may go unanswered before the connection is closed.
    #[arg(
        long,
        env = "RADAR_KEEPALIVE_TIMEOUT_SECS",
        default_value = "10",
        global = true
    )]
    pub keepalive_timeout_secs: String,
    /// Concurrent HTTP/2 streams per connection.
    #[arg(
        long,
        env = "RADAR_MAX_CONCURRENT_STREAMS",
        default_value = "64",
        global = true
    )]
    pub max_concurrent_streams: String,
    /// Calls served at once per connection; beyond it RESOURCE_EXHAUSTED at once.
    #[arg(
        long,
        env = "RADAR_MAX_CALLS_PER_CONNECTION",
        default_value = "32",
        global = true
    )]
    pub max_calls_per_connection: String,
    /// Largest request message in bytes; beyond it RESOURCE_EXHAUSTED.
    #[arg(
        long,
        env = "RADAR_MAX_REQUEST_BYTES",
        default_value = "16384",
        global = true
    )]
    pub max_request_bytes: String,
    /// Seconds one call may take (a shorter client deadline wins).
    #[arg(
        long,
        env = "RADAR_RPC_TIMEOUT_SECS",
        default_value = "10",
        global = true
    )]
    pub rpc_timeout_secs: String,
    /// Bearer token required by SchedulerAdmin. Prefer RADAR_ADMIN_TOKEN_FILE.
    #[arg(
        long,
        env = "RADAR_ADMIN_TOKEN",
        hide_env_values = true,
        value_parser = parse_secret,
        global = true
    )]
    pub admin_token: Option<SecretString>,
    /// File holding the admin token (a mounted Secret); one trailing newline is ignored.
    #[arg(long, env = "RADAR_ADMIN_TOKEN_FILE", global = true)]
    pub admin_token_file: Option<PathBuf>,
    /// Seconds after a run's start during which TriggerNow returns that run instead of
    /// querying the source again.
    #[arg(
        long,
        env = "RADAR_MANUAL_TRIGGER_MIN_INTERVAL_SECS",
        default_value = "30",
        global = true
    )]
    pub manual_trigger_min_interval_secs: String,
    /// Age beyond which the live answer is ANEEL's error answer instead of old numbers.
    #[arg(
        long,
        env = "RADAR_STALE_HARD_LIMIT_SECS",
        default_value = "7200",
        global = true
    )]
    pub stale_hard_limit_secs: String,
    /// Seconds the service keeps answering after SIGTERM (health already NOT_SERVING),
    /// so endpoints can be updated, before it stops accepting and drains.
    #[arg(
        long,
        env = "RADAR_SHUTDOWN_DRAIN_DELAY_SECS",
        default_value = "5",
        global = true
    )]
    pub shutdown_drain_delay_secs: String,
    /// PEM certificate chain of the gRPC listener; with RADAR_TLS_KEY_FILE it serves TLS
    /// only.
    #[arg(long, env = "RADAR_TLS_CERT_FILE", global = true)]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of RADAR_TLS_CERT_FILE.
    #[arg(long, env = "RADAR_TLS_KEY_FILE", global = true)]
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA that client certificates must be signed by; set, client certificates are
    /// required.
    #[arg(long, env = "RADAR_TLS_CLIENT_CA_FILE", global = true)]
    pub tls_client_ca_file: Option<PathBuf>,
}

fn parse_secret(value: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(value.to_owned()))
}

/// A whole number of seconds within `range`.
pub(super) fn secs_in(
    setting: &'static str,
    flag: &'static str,
    value: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    number_in(setting, flag, value, range).map(Duration::from_secs)
}

/// A whole number within `range`.
pub(super) fn number_in(
    setting: &'static str,
    flag: &'static str,
    value: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let n: u64 = parse(setting, flag, value)?;
    if !range.contains(&n) {
        return Err(ConfigError::new(
            setting,
            flag,
            value,
            format!("must be between {} and {}", range.start(), range.end()),
        ));
    }
    Ok(n)
}

fn usize_in(
    setting: &'static str,
    flag: &'static str,
    value: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<usize, ConfigError> {
    number_in(setting, flag, value, range).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

impl HardeningArgs {
    /// The connection limits.
    pub fn limits(&self) -> Result<ConnectionLimits, ConfigError> {
        let keepalive_interval = secs_in(
            "RADAR_KEEPALIVE_INTERVAL_SECS",
            "keepalive-interval-secs",
            &self.keepalive_interval_secs,
            1..=3600,
        )?;
        Ok(ConnectionLimits {
            max_connections: usize_in(
                "RADAR_MAX_CONNECTIONS",
                "max-connections",
                &self.max_connections,
                1..=65_536,
            )?,
            handshake_timeout: secs_in(
                "RADAR_HANDSHAKE_TIMEOUT_SECS",
                "handshake-timeout-secs",
                &self.handshake_timeout_secs,
                1..=60,
            )?,
            max_connection_age: secs_in(
                "RADAR_MAX_CONNECTION_AGE_SECS",
                "max-connection-age-secs",
                &self.max_connection_age_secs,
                10..=86_400,
            )?,
            max_connection_age_grace: secs_in(
                "RADAR_MAX_CONNECTION_AGE_GRACE_SECS",
                "max-connection-age-grace-secs",
                &self.max_connection_age_grace_secs,
                1..=600,
            )?,
            keepalive_interval,
            keepalive_timeout: secs_in(
                "RADAR_KEEPALIVE_TIMEOUT_SECS",
                "keepalive-timeout-secs",
                &self.keepalive_timeout_secs,
                1..=600,
            )?,
            max_concurrent_streams: u32::try_from(number_in(
                "RADAR_MAX_CONCURRENT_STREAMS",
                "max-concurrent-streams",
                &self.max_concurrent_streams,
                1..=10_000,
            )?)
            .unwrap_or(u32::MAX),
            max_concurrent_calls_per_connection: usize_in(
                "RADAR_MAX_CALLS_PER_CONNECTION",
                "max-calls-per-connection",
                &self.max_calls_per_connection,
                1..=10_000,
            )?,
            max_request_bytes: usize_in(
                "RADAR_MAX_REQUEST_BYTES",
                "max-request-bytes",
                &self.max_request_bytes,
                1024..=4 * 1024 * 1024,
            )?,
            rpc_timeout: secs_in(
                "RADAR_RPC_TIMEOUT_SECS",
                "rpc-timeout-secs",
                &self.rpc_timeout_secs,
                1..=300,
            )?,
            ..ConnectionLimits::default()
        })
    }

    /// Admin authentication: the token (from the value or the file), if any, and the
    /// minimum interval between manual source queries.
    pub fn admin(&self) -> Result<AdminAuth, ConfigError> {
        let token = match (&self.admin_token, &self.admin_token_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "RADAR_ADMIN_TOKEN",
                    "admin-token",
                    REDACTED,
                    "set either RADAR_ADMIN_TOKEN or RADAR_ADMIN_TOKEN_FILE, not both",
                ));
            }
            (Some(token), None) => Some(checked_token(
                "RADAR_ADMIN_TOKEN",
                "admin-token",
                REDACTED,
                token.expose_secret(),
            )?),
            (None, Some(path)) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::new(
                        "RADAR_ADMIN_TOKEN_FILE",
                        "admin-token-file",
                        shown.clone(),
                        format!("cannot read the token file: {e}"),
                    )
                })?;
                let text = SecretString::from(text);
                let trimmed = text.expose_secret();
                let trimmed = trimmed.strip_suffix('\n').unwrap_or(trimmed);
                let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
                Some(checked_token(
                    "RADAR_ADMIN_TOKEN_FILE",
                    "admin-token-file",
                    &shown,
                    trimmed,
                )?)
            }
            (None, None) => None,
        };
        Ok(AdminAuth {
            token,
            manual_min_interval: secs_in(
                "RADAR_MANUAL_TRIGGER_MIN_INTERVAL_SECS",
                "manual-trigger-min-interval-secs",
                &self.manual_trigger_min_interval_secs,
                0..=3600,
            )?,
        })
    }

    /// The staleness hard limit, at least `stale_after`.
    pub fn stale_hard_limit(&self, stale_after: Duration) -> Result<Duration, ConfigError> {
        let limit = secs_in(
            "RADAR_STALE_HARD_LIMIT_SECS",
            "stale-hard-limit-secs",
            &self.stale_hard_limit_secs,
            1..=7 * 86_400,
        )?;
        if limit < stale_after {
            return Err(ConfigError::new(
                "RADAR_STALE_HARD_LIMIT_SECS",
                "stale-hard-limit-secs",
                &self.stale_hard_limit_secs,
                format!(
                    "must be at least RADAR_STALE_AFTER_SECS ({} s)",
                    stale_after.as_secs()
                ),
            ));
        }
        Ok(limit)
    }

    /// The delay between NOT_SERVING and closing the listener on shutdown.
    pub fn drain_delay(&self) -> Result<Duration, ConfigError> {
        secs_in(
            "RADAR_SHUTDOWN_DRAIN_DELAY_SECS",
            "shutdown-drain-delay-secs",
            &self.shutdown_drain_delay_secs,
            0..=300,
        )
    }
}

/// Reads a PEM file, checking it holds a block whose label ends with `label`.
fn read_pem(
    setting: &'static str,
    flag: &'static str,
    path: &std::path::Path,
    label: &str,
) -> Result<Vec<u8>, ConfigError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|e| {
        ConfigError::new(
            setting,
            flag,
            shown.clone(),
            format!("cannot read the file: {e}"),
        )
    })?;
    let text = String::from_utf8_lossy(&pem);
    let has_block = text.lines().any(|line| {
        line.strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|found| found.ends_with(label))
    });
    if !has_block {
        return Err(ConfigError::new(
            setting,
            flag,
            shown,
            format!("not a PEM file with a {label} block"),
        ));
    }
    Ok(pem)
}

impl HardeningArgs {
    /// TLS of the listener, when a certificate is configured. Reads and checks the files.
    pub fn tls(&self, handshake_timeout: Duration) -> Result<Option<TlsSettings>, ConfigError> {
        let (cert_file, key_file) = match (&self.tls_cert_file, &self.tls_key_file) {
            (None, None) => {
                if let Some(ca) = &self.tls_client_ca_file {
                    return Err(ConfigError::new(
                        "RADAR_TLS_CLIENT_CA_FILE",
                        "tls-client-ca-file",
                        ca.display().to_string(),
                        "client certificates need TLS: set RADAR_TLS_CERT_FILE and \
                         RADAR_TLS_KEY_FILE too",
                    ));
                }
                return Ok(None);
            }
            (Some(cert), Some(key)) => (cert, key),
            (None, Some(key)) => {
                return Err(ConfigError::new(
                    "RADAR_TLS_CERT_FILE",
                    "tls-cert-file",
                    "",
                    format!("required with RADAR_TLS_KEY_FILE={}", key.display()),
                ));
            }
            (Some(cert), None) => {
                return Err(ConfigError::new(
                    "RADAR_TLS_KEY_FILE",
                    "tls-key-file",
                    "",
                    format!("required with RADAR_TLS_CERT_FILE={}", cert.display()),
                ));
            }
        };
        let cert = read_pem(
            "RADAR_TLS_CERT_FILE",
            "tls-cert-file",
            cert_file,
            "CERTIFICATE",
        )?;
        let key = read_pem(
            "RADAR_TLS_KEY_FILE",
            "tls-key-file",
            key_file,
            "PRIVATE KEY",
        )?;
        let client_ca = match &self.tls_client_ca_file {
            Some(path) => Some((
                path.clone(),
                read_pem(
                    "RADAR_TLS_CLIENT_CA_FILE",
                    "tls-client-ca-file",
                    path,
                    "CERTIFICATE",
                )?,
            )),
            None => None,
        };
        let tls = TlsSettings::new(cert_file.clone(), cert, key, client_ca);
        // Let rustls parse everything now, so a bad file stops start-up, not the first call.
        tonic::transport::Server::builder()
            .tls_config(tls.server_config(handshake_timeout))
            .map_err(|e| {
                ConfigError::new(
                    "RADAR_TLS_CERT_FILE",
                    "tls-cert-file",
                    cert_file.display().to_string(),
                    format!(
                        "with RADAR_TLS_KEY_FILE (and RADAR_TLS_CLIENT_CA_FILE, if set) it is \
                         not a usable TLS configuration: {e}"
                    ),
                )
            })?;
        Ok(Some(tls))
    }
}

fn checked_token(
    setting: &'static str,
    flag: &'static str,
    shown: &str,
    token: &str,
) -> Result<SecretString, ConfigError> {
    if token.chars().count() < MIN_TOKEN_LEN
        || token.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ConfigError::new(
            setting,
            flag,
            shown,
            format!(
                "the token must be at least {MIN_TOKEN_LEN} characters with no spaces \
                 (e.g. `openssl rand -hex 32`)"
            ),
        ));
    }
    Ok(SecretString::from(token.to_owned()))
}

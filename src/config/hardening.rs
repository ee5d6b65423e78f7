//! Settings that protect the service from abusive clients and a failing environment: the
//! listener's limits, who may administer the scheduler, and TLS. Each group is one typed
//! clap struct; the rules between settings (and reading the token and TLS files) are in
//! [`check`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::error::ConfigError;
use super::names::{invalid, variable};
use super::oracle::REDACTED;
use super::parse::{secs_between, whole_number};
use super::settings::ServiceSettings;
use crate::transport::TlsSettings;

/// Shortest admin token accepted: a guessable token is no protection.
const MIN_TOKEN_LEN: usize = 16;

/// Limits of the gRPC listener, each with a safe default.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection limits")]
pub struct LimitsSettings {
    /// Open connections at most; further ones are closed at once and counted.
    #[arg(
        long,
        env = "RADAR_MAX_CONNECTIONS",
        default_value = "1024",
        value_parser = whole_number::<1, 65_536>
    )]
    pub max_connections: u32,
    /// Open connections at most from one client address; its further ones are closed at
    /// once, so one client can never keep another (or a health probe) out.
    #[arg(
        long,
        env = "RADAR_MAX_CONNECTIONS_PER_PEER",
        default_value = "64",
        value_parser = whole_number::<1, 65_536>
    )]
    pub max_connections_per_peer: u32,
    /// Seconds a connection may stay with no call in flight before it is closed with a
    /// graceful GOAWAY (clients reconnect when they next call).
    #[arg(
        long = "idle-timeout-secs",
        value_name = "IDLE_TIMEOUT_SECS",
        env = "RADAR_IDLE_TIMEOUT_SECS",
        default_value = "60",
        value_parser = secs_between::<1, 3600>
    )]
    pub idle_timeout: Duration,
    /// Seconds a new connection has to send the HTTP/2 preface (or finish TLS).
    #[arg(
        long = "handshake-timeout-secs",
        value_name = "HANDSHAKE_TIMEOUT_SECS",
        env = "RADAR_HANDSHAKE_TIMEOUT_SECS",
        default_value = "5",
        value_parser = secs_between::<1, 60>
    )]
    pub handshake_timeout: Duration,
    /// Seconds after which a connection, idle or not, is recycled with a graceful GOAWAY
    /// (calls in flight finish, clients reconnect for new ones).
    #[arg(
        long = "max-connection-age-secs",
        value_name = "MAX_CONNECTION_AGE_SECS",
        env = "RADAR_MAX_CONNECTION_AGE_SECS",
        default_value = "300",
        value_parser = secs_between::<10, 86_400>
    )]
    pub max_connection_age: Duration,
    /// Seconds the calls in flight get after that GOAWAY before the connection is closed.
    #[arg(
        long = "max-connection-age-grace-secs",
        value_name = "MAX_CONNECTION_AGE_GRACE_SECS",
        env = "RADAR_MAX_CONNECTION_AGE_GRACE_SECS",
        default_value = "10",
        value_parser = secs_between::<1, 600>
    )]
    pub max_connection_age_grace: Duration,
    /// Seconds between HTTP/2 keep-alive pings.
    #[arg(
        long = "keepalive-interval-secs",
        value_name = "KEEPALIVE_INTERVAL_SECS",
        env = "RADAR_KEEPALIVE_INTERVAL_SECS",
        default_value = "30",
        value_parser = secs_between::<1, 3600>
    )]
    pub keepalive_interval: Duration,
    /// Seconds a keep-alive ping may go unanswered before the connection is closed.
    #[arg(
        long = "keepalive-timeout-secs",
        value_name = "KEEPALIVE_TIMEOUT_SECS",
        env = "RADAR_KEEPALIVE_TIMEOUT_SECS",
        default_value = "10",
        value_parser = secs_between::<1, 600>
    )]
    pub keepalive_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection (advertised; one more is refused).
    #[arg(
        long,
        env = "RADAR_MAX_CONCURRENT_STREAMS",
        default_value = "64",
        value_parser = whole_number::<1, 10_000>
    )]
    pub max_concurrent_streams: u32,
    /// Calls served at once per connection; beyond it RESOURCE_EXHAUSTED at once.
    #[arg(
        long,
        env = "RADAR_MAX_CALLS_PER_CONNECTION",
        default_value = "32",
        value_parser = whole_number::<1, 10_000>
    )]
    pub max_calls_per_connection: u32,
    /// Largest request message in bytes; beyond it RESOURCE_EXHAUSTED.
    #[arg(
        long,
        env = "RADAR_MAX_REQUEST_BYTES",
        default_value = "16384",
        value_parser = whole_number::<1024, 4_194_304>
    )]
    pub max_request_bytes: u32,
    /// Seconds one call may take (a shorter client deadline wins).
    #[arg(
        long = "rpc-timeout-secs",
        value_name = "RPC_TIMEOUT_SECS",
        env = "RADAR_RPC_TIMEOUT_SECS",
        default_value = "10",
        value_parser = secs_between::<1, 300>
    )]
    pub rpc_timeout: Duration,
    /// Streaming calls (Watch, reflection) open at most, all clients together; one more
    /// ends at once with RESOURCE_EXHAUSTED.
    #[arg(
        long,
        env = "RADAR_MAX_STREAMS",
        default_value = "1024",
        value_parser = whole_number::<1, 65_536>
    )]
    pub max_streams: u32,
    /// Streaming calls open at most from one client address.
    #[arg(
        long,
        env = "RADAR_MAX_STREAMS_PER_PEER",
        default_value = "64",
        value_parser = whole_number::<1, 65_536>
    )]
    pub max_streams_per_peer: u32,
    /// Open connections at most on each HTTP listener (ANEEL, operations).
    #[arg(
        long,
        env = "RADAR_HTTP_MAX_CONNECTIONS",
        default_value = "256",
        value_parser = whole_number::<1, 65_536>
    )]
    pub http_max_connections: u32,
    /// Open connections at most from one client address on each HTTP listener.
    #[arg(
        long,
        env = "RADAR_HTTP_MAX_CONNECTIONS_PER_PEER",
        default_value = "32",
        value_parser = whole_number::<1, 65_536>
    )]
    pub http_max_connections_per_peer: u32,
    /// Seconds an HTTP client has to send a request's headers (on a new connection, or
    /// for the next request on a kept-alive one); slower clients are disconnected.
    #[arg(
        long = "http-header-read-timeout-secs",
        value_name = "HTTP_HEADER_READ_TIMEOUT_SECS",
        env = "RADAR_HTTP_HEADER_READ_TIMEOUT_SECS",
        default_value = "10",
        value_parser = secs_between::<1, 300>
    )]
    pub http_header_read_timeout: Duration,
    /// Seconds a kept-alive HTTP connection may wait for its next request before it is
    /// closed; at most RADAR_HTTP_HEADER_READ_TIMEOUT_SECS.
    #[arg(
        long = "http-keepalive-timeout-secs",
        value_name = "HTTP_KEEPALIVE_TIMEOUT_SECS",
        env = "RADAR_HTTP_KEEPALIVE_TIMEOUT_SECS",
        default_value = "5",
        value_parser = secs_between::<1, 300>
    )]
    pub http_keepalive_timeout: Duration,
}

/// Who may call `SchedulerAdmin`, and how often it may make the service query the source.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Scheduler admin")]
pub struct AdminSettings {
    /// Bearer token SchedulerAdmin requires; unset, only loopback callers are answered.
    /// Prefer RADAR_ADMIN_TOKEN_FILE.
    #[arg(
        long,
        env = "RADAR_ADMIN_TOKEN",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub admin_token: Option<SecretString>,
    /// File holding the admin token (a mounted Secret); one trailing newline is ignored.
    #[arg(long, env = "RADAR_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Seconds after a run's start during which TriggerNow returns that run instead of
    /// querying the source again (0 turns this off).
    #[arg(
        long = "manual-trigger-min-interval-secs",
        value_name = "MANUAL_TRIGGER_MIN_INTERVAL_SECS",
        env = "RADAR_MANUAL_TRIGGER_MIN_INTERVAL_SECS",
        default_value = "30",
        value_parser = secs_between::<0, 3600>
    )]
    pub manual_min_interval: Duration,
}

/// TLS of the gRPC listener: the files as configured, and their contents once read.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "TLS")]
pub struct TlsArgs {
    /// PEM certificate chain; with RADAR_TLS_KEY_FILE the listener is TLS-only.
    #[arg(long, env = "RADAR_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "RADAR_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA; set, client certificates signed by it are required.
    #[arg(long, env = "RADAR_TLS_CLIENT_CA_FILE")]
    pub tls_client_ca_file: Option<PathBuf>,
    /// The certificate, key and CA read at start-up; `None` serves plaintext.
    #[arg(skip)]
    pub loaded: Option<TlsSettings>,
}

// Infallible: clap needs a parser that builds the secret without a copy in a plain String.
#[allow(clippy::unnecessary_wraps)]
fn parse_secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// Checks the rules between the hardening settings and reads the token and TLS files.
pub(super) fn check(service: &mut ServiceSettings) -> Result<(), ConfigError> {
    if service.stale_hard_limit < service.stale_after {
        return Err(invalid(
            "stale_hard_limit",
            service.stale_hard_limit.as_secs().to_string(),
            format!(
                "must be at least {} ({} s)",
                variable("stale_after"),
                service.stale_after.as_secs()
            ),
        ));
    }
    let limits = &service.limits;
    if limits.max_connections_per_peer > limits.max_connections {
        return Err(invalid(
            "max_connections_per_peer",
            limits.max_connections_per_peer.to_string(),
            format!(
                "must be at most {} ({})",
                variable("max_connections"),
                limits.max_connections
            ),
        ));
    }
    if limits.max_streams_per_peer > limits.max_streams {
        return Err(invalid(
            "max_streams_per_peer",
            limits.max_streams_per_peer.to_string(),
            format!(
                "must be at most {} ({})",
                variable("max_streams"),
                limits.max_streams
            ),
        ));
    }
    if limits.http_max_connections_per_peer > limits.http_max_connections {
        return Err(invalid(
            "http_max_connections_per_peer",
            limits.http_max_connections_per_peer.to_string(),
            format!(
                "must be at most {} ({})",
                variable("http_max_connections"),
                limits.http_max_connections
            ),
        ));
    }
    if limits.http_keepalive_timeout > limits.http_header_read_timeout {
        return Err(invalid(
            "http_keepalive_timeout",
            limits.http_keepalive_timeout.as_secs().to_string(),
            format!(
                "must be at most {} ({} s): waiting for the next request is reading its \
                 headers, so that timeout would close the connection first",
                variable("http_header_read_timeout"),
                limits.http_header_read_timeout.as_secs()
            ),
        ));
    }
    let admin = &mut service.admin;
    admin.admin_token = admin_token(admin.admin_token.take(), admin.admin_token_file.as_deref())?;
    let tls = &mut service.tls;
    tls.loaded = load_tls(tls)?;
    Ok(())
}

/// At most one of the token and the token file; a token worth the name.
fn admin_token(
    token: Option<SecretString>,
    file: Option<&Path>,
) -> Result<Option<SecretString>, ConfigError> {
    let (id, shown, token) = match (token, file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "admin_token",
                REDACTED,
                format!(
                    "set either {} or {}, not both",
                    variable("admin_token"),
                    variable("admin_token_file")
                ),
            ));
        }
        (None, None) => return Ok(None),
        (Some(token), None) => ("admin_token", REDACTED.to_owned(), token),
        (None, Some(path)) => {
            let shown = path.display().to_string();
            let text = SecretString::from(std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    "admin_token_file",
                    shown.clone(),
                    format!("cannot read the token file: {e}"),
                )
            })?);
            let trimmed = text.expose_secret();
            let trimmed = trimmed.strip_suffix('\n').unwrap_or(trimmed);
            let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
            ("admin_token_file", shown, SecretString::from(trimmed))
        }
    };
    let text = token.expose_secret();
    if text.chars().count() < MIN_TOKEN_LEN
        || text.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            id,
            shown,
            format!(
                "the token must be at least {MIN_TOKEN_LEN} characters with no spaces \
                 (e.g. `openssl rand -hex 32`)"
            ),
        ));
    }
    Ok(Some(token))
}

/// TLS from the configured files, checked by rustls now so that a bad file stops
/// start-up, not the first call.
fn load_tls(args: &TlsArgs) -> Result<Option<TlsSettings>, ConfigError> {
    let (cert_file, key_file) = match (&args.tls_cert_file, &args.tls_key_file) {
        (None, None) => {
            if let Some(ca) = &args.tls_client_ca_file {
                return Err(invalid(
                    "tls_client_ca_file",
                    ca.display().to_string(),
                    format!(
                        "client certificates need TLS: set {} and {} too",
                        variable("tls_cert_file"),
                        variable("tls_key_file")
                    ),
                ));
            }
            return Ok(None);
        }
        (Some(cert), Some(key)) => (cert, key),
        (None, Some(key)) => {
            return Err(invalid(
                "tls_cert_file",
                "",
                format!(
                    "required with {}={}",
                    variable("tls_key_file"),
                    key.display()
                ),
            ));
        }
        (Some(cert), None) => {
            return Err(invalid(
                "tls_key_file",
                "",
                format!(
                    "required with {}={}",
                    variable("tls_cert_file"),
                    cert.display()
                ),
            ));
        }
    };
    let cert = read_pem("tls_cert_file", cert_file, "CERTIFICATE")?;
    let key = read_pem("tls_key_file", key_file, "PRIVATE KEY")?;
    let client_ca = match &args.tls_client_ca_file {
        Some(path) => Some((
            path.clone(),
            read_pem("tls_client_ca_file", path, "CERTIFICATE")?,
        )),
        None => None,
    };
    let tls = TlsSettings::new(cert_file.clone(), &cert, &key, client_ca).map_err(|e| {
        invalid(
            "tls_cert_file",
            cert_file.display().to_string(),
            format!(
                "with {} (and {}, if set) it is not a usable TLS configuration: {e}",
                variable("tls_key_file"),
                variable("tls_client_ca_file")
            ),
        )
    })?;
    Ok(Some(tls))
}

/// Reads a PEM file, checking it holds a block whose label ends with `label`.
fn read_pem(id: &str, path: &Path, label: &str) -> Result<Vec<u8>, ConfigError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path)
        .map_err(|e| invalid(id, shown.clone(), format!("cannot read the file: {e}")))?;
    let text = String::from_utf8_lossy(&pem);
    let has_block = text.lines().any(|line| {
        line.strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|found| found.ends_with(label))
    });
    if !has_block {
        return Err(invalid(
            id,
            shown,
            format!("not a PEM file with a {label} block"),
        ));
    }
    Ok(pem)
}

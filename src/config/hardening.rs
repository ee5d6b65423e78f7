//! Settings that protect the service from abusive clients and a failing environment: the
//! listeners' limits, who may administer the scheduler, TLS. The rules between them are in
//! [`check`] and [`check_schedule`] (the wiring reads the token and TLS files).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::error::ConfigError;
use super::names::{self, Setting};
use super::oracle::{REDACTED, parse_secret};
use super::parse::{secs_between, whole_number};
use crate::domain::CronSchedule;

/// Shortest admin token accepted: a guessable token is no protection.
const MIN_TOKEN_LEN: usize = 16;

/// Limits of the gRPC listener, each with a safe default.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection limits")]
pub struct LimitsSettings {
    /// Open connections at most; further ones are closed at once and counted.
    #[arg(
        long = names::MAX_CONNECTIONS.flag,
        default_value = "1024",
        value_parser = whole_number::<1, 65_536>
    )]
    pub max_connections: u32,
    /// Open connections at most from one client address; its further ones are closed at
    /// once, so one client can never keep another (or a health probe) out.
    #[arg(
        long = names::MAX_CONNECTIONS_PER_PEER.flag,
        default_value = "64",
        value_parser = whole_number::<1, 65_536>
    )]
    pub max_connections_per_peer: u32,
    /// Seconds a connection may stay with no call in flight before it is closed with a
    /// graceful GOAWAY (clients reconnect when they next call).
    #[arg(
        long = names::IDLE_TIMEOUT_SECS.flag,
        default_value = "60",
        value_parser = secs_between::<1, 3600>
    )]
    pub idle_timeout: Duration,
    /// Seconds a new connection has to send the HTTP/2 preface (or finish TLS).
    #[arg(
        long = names::HANDSHAKE_TIMEOUT_SECS.flag,
        default_value = "5",
        value_parser = secs_between::<1, 60>
    )]
    pub handshake_timeout: Duration,
    /// Seconds after which a connection, idle or not, is recycled with a graceful GOAWAY
    /// (calls in flight finish, clients reconnect for new ones).
    #[arg(
        long = names::MAX_CONNECTION_AGE_SECS.flag,
        default_value = "300",
        value_parser = secs_between::<10, 86_400>
    )]
    pub max_connection_age: Duration,
    /// Seconds the calls in flight get after that GOAWAY before the connection is closed.
    #[arg(
        long = names::MAX_CONNECTION_AGE_GRACE_SECS.flag,
        default_value = "10",
        value_parser = secs_between::<1, 600>
    )]
    pub max_connection_age_grace: Duration,
    /// Seconds between HTTP/2 keep-alive pings.
    #[arg(
        long = names::KEEPALIVE_INTERVAL_SECS.flag,
        default_value = "30",
        value_parser = secs_between::<1, 3600>
    )]
    pub keepalive_interval: Duration,
    /// Seconds a keep-alive ping may go unanswered before the connection is closed.
    #[arg(
        long = names::KEEPALIVE_TIMEOUT_SECS.flag,
        default_value = "10",
        value_parser = secs_between::<1, 600>
    )]
    pub keepalive_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection (advertised; one more is refused).
    #[arg(
        long = names::MAX_CONCURRENT_STREAMS.flag,
        default_value = "64",
        value_parser = whole_number::<1, 10_000>
    )]
    pub max_concurrent_streams: u32,
    /// Calls served at once per connection; beyond it RESOURCE_EXHAUSTED at once.
    #[arg(
        long = names::MAX_CALLS_PER_CONNECTION.flag,
        default_value = "32",
        value_parser = whole_number::<1, 10_000>
    )]
    pub max_calls_per_connection: u32,
    /// Largest request message in bytes; beyond it RESOURCE_EXHAUSTED.
    #[arg(
        long = names::MAX_REQUEST_BYTES.flag,
        default_value = "16384",
        value_parser = whole_number::<1024, 4_194_304>
    )]
    pub max_request_bytes: u32,
    /// Seconds one call may take (a shorter client deadline wins).
    #[arg(
        long = names::RPC_TIMEOUT_SECS.flag,
        default_value = "10",
        value_parser = secs_between::<1, 300>
    )]
    pub rpc_timeout: Duration,
    /// Streaming calls (Watch, reflection) open at most, all clients together; one more
    /// ends at once with RESOURCE_EXHAUSTED.
    #[arg(
        long = names::MAX_STREAMS.flag,
        default_value = "1024",
        value_parser = whole_number::<1, 65_536>
    )]
    pub max_streams: u32,
    /// Streaming calls open at most from one client address.
    #[arg(
        long = names::MAX_STREAMS_PER_PEER.flag,
        default_value = "64",
        value_parser = whole_number::<1, 65_536>
    )]
    pub max_streams_per_peer: u32,
    /// Unary calls in flight at most, all clients together (streams have their own bound);
    /// one more ends at once with RESOURCE_EXHAUSTED.
    #[arg(
        long = names::MAX_CALLS.flag,
        default_value = "512",
        value_parser = whole_number::<1, 65_536>
    )]
    pub max_calls: u32,
    /// Unary calls in flight at most from one client address.
    #[arg(
        long = names::MAX_CALLS_PER_PEER.flag,
        default_value = "128",
        value_parser = whole_number::<1, 65_536>
    )]
    pub max_calls_per_peer: u32,
    /// Open connections at most on each HTTP listener (ANEEL, operations).
    #[arg(
        long = names::HTTP_MAX_CONNECTIONS.flag,
        default_value = "256",
        value_parser = whole_number::<1, 65_536>
    )]
    pub http_max_connections: u32,
    /// Open connections at most from one client address on each HTTP listener.
    #[arg(
        long = names::HTTP_MAX_CONNECTIONS_PER_PEER.flag,
        default_value = "32",
        value_parser = whole_number::<1, 65_536>
    )]
    pub http_max_connections_per_peer: u32,
    /// Seconds an HTTP client has to send a request's headers (on a new connection, or
    /// for the next request on a kept-alive one); slower clients are disconnected.
    #[arg(
        long = names::HTTP_HEADER_READ_TIMEOUT_SECS.flag,
        default_value = "10",
        value_parser = secs_between::<1, 300>
    )]
    pub http_header_read_timeout: Duration,
    /// Seconds a kept-alive HTTP connection may wait for its next request before it is
    /// closed; at most RADAR_HTTP_HEADER_READ_TIMEOUT_SECS.
    #[arg(
        long = names::HTTP_KEEPALIVE_TIMEOUT_SECS.flag,
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
        long = names::ADMIN_TOKEN.flag,
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub admin_token: Option<SecretString>,
    /// File holding the admin token (a mounted Secret); one trailing newline is ignored.
    #[arg(long = names::ADMIN_TOKEN_FILE.flag)]
    pub admin_token_file: Option<PathBuf>,
    /// Seconds after a run's start during which TriggerNow returns that run instead of
    /// querying the source again (0 turns this off).
    #[arg(
        long = names::MANUAL_TRIGGER_MIN_INTERVAL_SECS.flag,
        default_value = "30",
        value_parser = secs_between::<0, 3600>
    )]
    pub manual_min_interval: Duration,
}

/// TLS of the gRPC listener: the files as configured (the wiring reads them).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "TLS")]
pub struct TlsFiles {
    /// PEM certificate chain; with RADAR_TLS_KEY_FILE the listener is TLS-only.
    #[arg(long = names::TLS_CERT_FILE.flag)]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long = names::TLS_KEY_FILE.flag)]
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA; set, client certificates signed by it are required.
    #[arg(long = names::TLS_CLIENT_CA_FILE.flag)]
    pub tls_client_ca_file: Option<PathBuf>,
}

/// Checks the rules between the hardening settings (the wiring reads the token and TLS
/// files).
pub(super) fn check(
    limits: &LimitsSettings,
    admin: &AdminSettings,
    tls: &TlsFiles,
) -> Result<(), ConfigError> {
    check_limits(limits)?;
    match (&admin.admin_token, &admin.admin_token_file) {
        (Some(_), Some(_)) => {
            let (token, file) = (names::ADMIN_TOKEN.var, names::ADMIN_TOKEN_FILE.var);
            let reason = format!("set either {token} or {file}, not both");
            return Err(names::ADMIN_TOKEN.invalid(REDACTED, reason));
        }
        (Some(token), None) => check_admin_token(names::ADMIN_TOKEN, REDACTED, token)?,
        _ => {}
    }
    check_tls_files(tls)
}

/// A warm-up schedule that can leave longer than the hard limit between two runs would make
/// the live answer ANEEL's error answer for the rest of each such wait, every time: refused,
/// naming both settings and the longest wait found.
pub(super) fn check_schedule(
    warmup_cron: &CronSchedule,
    hard_limit: Duration,
) -> Result<(), ConfigError> {
    let limit = chrono::Duration::from_std(hard_limit).unwrap_or(chrono::Duration::MAX);
    let Some(gap) = warmup_cron.longest_gap_beyond(limit) else {
        return Ok(());
    };
    Err(names::WARMUP_CRON.invalid(
        warmup_cron.expression(),
        format!(
            "its longest wait between two runs is {gap}, longer than {} ({} s): past that \
             limit the answer is ANEEL's error answer until the next run; schedule the \
             warm-up more often or raise {1}",
            names::STALE_HARD_LIMIT_SECS.var,
            hard_limit.as_secs()
        ),
    ))
}

/// Per-peer caps within their listener's cap, and a keep-alive wait the header timeout
/// does not cut short.
fn check_limits(l: &LimitsSettings) -> Result<(), ConfigError> {
    // Each per-peer cap, then the cap of all peers it must not exceed.
    let caps = [
        (names::MAX_CONNECTIONS_PER_PEER, l.max_connections_per_peer),
        (names::MAX_CONNECTIONS, l.max_connections),
        (names::MAX_STREAMS_PER_PEER, l.max_streams_per_peer),
        (names::MAX_STREAMS, l.max_streams),
        (names::MAX_CALLS_PER_PEER, l.max_calls_per_peer),
        (names::MAX_CALLS, l.max_calls),
        (
            names::HTTP_MAX_CONNECTIONS_PER_PEER,
            l.http_max_connections_per_peer,
        ),
        (names::HTTP_MAX_CONNECTIONS, l.http_max_connections),
    ];
    for [(setting, value), (cap, max)] in caps.as_chunks::<2>().0 {
        if value > max {
            let reason = format!("must be at most {} ({max})", cap.var);
            return Err(setting.invalid(value.to_string(), reason));
        }
    }
    if l.http_keepalive_timeout > l.http_header_read_timeout {
        return Err(names::HTTP_KEEPALIVE_TIMEOUT_SECS.invalid(
            l.http_keepalive_timeout.as_secs().to_string(),
            format!(
                "must be at most {} ({} s): waiting for the next request is reading its \
                 headers, so that timeout would close the connection first",
                names::HTTP_HEADER_READ_TIMEOUT_SECS.var,
                l.http_header_read_timeout.as_secs()
            ),
        ));
    }
    Ok(())
}

/// A token worth the name: at least [`MIN_TOKEN_LEN`] characters, no spaces. `setting` is
/// where it came from (the token, or its file, read by the wiring), `shown` what errors
/// show of it.
pub fn check_admin_token(
    setting: Setting,
    shown: &str,
    token: &SecretString,
) -> Result<(), ConfigError> {
    let text = token.expose_secret();
    if text.chars().count() < MIN_TOKEN_LEN
        || text.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(setting.invalid(
            shown,
            format!(
                "the token must be at least {MIN_TOKEN_LEN} characters with no spaces \
                 (e.g. `openssl rand -hex 32`)"
            ),
        ));
    }
    Ok(())
}

/// A certificate and its key together, and a client CA only with them.
fn check_tls_files(files: &TlsFiles) -> Result<(), ConfigError> {
    let required = |missing: Setting, given: Setting, path: &PathBuf| {
        let reason = format!("required with {}={}", given.var, path.display());
        Err(missing.invalid("", reason))
    };
    match (&files.tls_cert_file, &files.tls_key_file) {
        (Some(_), Some(_)) => Ok(()),
        (None, Some(key)) => required(names::TLS_CERT_FILE, names::TLS_KEY_FILE, key),
        (Some(cert), None) => required(names::TLS_KEY_FILE, names::TLS_CERT_FILE, cert),
        (None, None) => match &files.tls_client_ca_file {
            Some(ca) => Err(names::TLS_CLIENT_CA_FILE.invalid(
                ca.display().to_string(),
                format!(
                    "client certificates need TLS: set {} and {} too",
                    names::TLS_CERT_FILE.var,
                    names::TLS_KEY_FILE.var
                ),
            )),
            None => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cron: &str, hard_limit_secs: u64) -> Result<(), ConfigError> {
        check_schedule(
            &CronSchedule::parse(cron).unwrap(),
            Duration::from_secs(hard_limit_secs),
        )
    }

    #[test]
    fn a_schedule_slower_than_the_hard_limit_is_refused_naming_both_and_the_gap() {
        let e = check("0 0 * * *", 7200).unwrap_err();
        assert_eq!(e.setting, "RADAR_WARMUP_CRON");
        assert_eq!(e.value, "0 0 * * *");
        assert!(
            e.reason.contains("RADAR_STALE_HARD_LIMIT_SECS (7200 s)"),
            "{e}"
        );
        assert!(e.reason.contains("86400 s (1 d)"), "{e}");
        let e = check("0 0 29 2 *", 604_800).unwrap_err();
        assert!(e.reason.contains("1461 d"), "{e}");
        // The default schedule under the default limit, and a daily one under a day.
        assert_eq!(check("*/30 * * * *", 7200), Ok(()));
        assert_eq!(check("0 0 * * *", 86_400), Ok(()));
    }
}

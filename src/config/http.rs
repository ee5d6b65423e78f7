//! The settings of the two HTTP listeners: the ANEEL endpoint and its guard (trusted
//! proxies, allow-list, rate limit), and the operations endpoint (metrics and probes). clap
//! parses each address, range list and limit; the wiring parses the keys and reads the key
//! file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::SecretString;

use super::{names, parse};
use crate::domain::{ForwardedHeader, IpRanges};

/// Largest `RADAR_ANEEL_RATE_LIMIT`: more is no limit for an endpoint polled every 30 min.
pub const MAX_ANEEL_RATE_LIMIT: u32 = 100_000;

/// An address, or the empty text for none: the listener is off.
fn listen_addr_or_off(value: &str) -> Result<std::option::Option<SocketAddr>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|e: std::net::AddrParseError| format!("{e} (or empty to turn it off)"))
}

/// A number of requests, or 0 for no limit.
fn rate_limit_or_off(value: &str) -> Result<std::option::Option<u32>, String> {
    parse::whole_number::<0, MAX_ANEEL_RATE_LIMIT>(value).map(|n| (n > 0).then_some(n))
}

/// The HTTP settings. An `Option` here is a listener or a limit that is off (the fully
/// qualified name keeps clap from reading it as an optional flag).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP: the ANEEL endpoint, metrics and probes")]
pub struct HttpSettings {
    /// Address of the ANEEL endpoint (GET /quantitativointerrupcoesativas); empty turns it off.
    #[arg(
        long = names::ANEEL_LISTEN_ADDR.flag,
        default_value = "127.0.0.1:8080",
        value_parser = listen_addr_or_off
    )]
    pub aneel_listen_addr: std::option::Option<SocketAddr>,
    /// Accepted `x-api-key` values, comma-separated, each `id:secret` or `secret`. Without
    /// any key (here or in the file), only loopback clients are answered.
    #[arg(
        long = names::ANEEL_API_KEYS.flag,
        hide_env_values = true,
        value_parser = super::oracle::parse_secret
    )]
    pub aneel_api_keys: Option<SecretString>,
    /// File of accepted `x-api-key` values (a mounted Secret): one `id:secret` or `secret`
    /// per line, `#` comments. Adds to RADAR_ANEEL_API_KEYS; read again every 10 s.
    #[arg(long = names::ANEEL_API_KEYS_FILE.flag)]
    pub aneel_api_keys_file: Option<PathBuf>,
    /// CIDR ranges (or addresses), comma-separated, of the proxies whose forwarding header
    /// names the client (the ingress's pods); empty: the connection's address is the client.
    #[arg(
        long = names::ANEEL_TRUSTED_PROXIES.flag,
        default_value = ""
    )]
    pub aneel_trusted_proxies: IpRanges,
    /// The header the trusted proxies write: x-forwarded-for or forwarded (RFC 7239). The
    /// other one is never read.
    #[arg(
        long = names::ANEEL_FORWARDED_HEADER.flag,
        default_value = "x-forwarded-for"
    )]
    pub aneel_forwarded_header: ForwardedHeader,
    /// CIDR ranges (or addresses), comma-separated, of the clients let in (ANEEL's); others
    /// get 403. Empty: every address (the key still applies).
    #[arg(
        long = names::ANEEL_SOURCE_RANGES.flag,
        default_value = ""
    )]
    pub aneel_source_ranges: IpRanges,
    /// Requests per window for each key and for each client address, per replica; beyond
    /// it, 429. 0 turns the limit off.
    #[arg(
        long = names::ANEEL_RATE_LIMIT.flag,
        // The peer implementation's 10 requests per 60 s.
        default_value = "10",
        value_parser = rate_limit_or_off
    )]
    pub aneel_rate_limit: std::option::Option<u32>,
    /// The rate limit's window, in seconds.
    #[arg(
        long = names::ANEEL_RATE_LIMIT_WINDOW_SECS.flag,
        default_value = "60",
        value_parser = parse::secs_between::<1, 86_400>
    )]
    pub aneel_rate_limit_window: Duration,
    /// Address of /metrics, /livez and /readyz; empty turns it off.
    #[arg(
        long = names::METRICS_LISTEN_ADDR.flag,
        default_value = "127.0.0.1:9464",
        value_parser = listen_addr_or_off
    )]
    pub metrics_listen_addr: std::option::Option<SocketAddr>,
}

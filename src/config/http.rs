//! The settings of the two HTTP listeners: the ANEEL endpoint and the operations endpoint
//! (metrics and probes). clap parses each address; `HttpArgs::validate` (in `validate.rs`)
//! checks the keys and reads the key file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use secrecy::SecretString;

/// Default of `RADAR_ANEEL_LISTEN_ADDR`.
pub const DEFAULT_ANEEL_LISTEN_ADDR: &str = "127.0.0.1:8080";
/// Default of `RADAR_METRICS_LISTEN_ADDR`.
pub const DEFAULT_METRICS_LISTEN_ADDR: &str = "127.0.0.1:9464";

/// An address to listen on, or none: the listener is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub Option<SocketAddr>);

/// An address, or the empty text for none.
fn listen_addr_or_off(value: &str) -> Result<ListenAddr, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(ListenAddr(None));
    }
    value
        .parse()
        .map(|addr| ListenAddr(Some(addr)))
        .map_err(|e: std::net::AddrParseError| format!("{e} (or empty to turn it off)"))
}

/// The HTTP settings as clap parsed them.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP: the ANEEL endpoint, metrics and probes")]
pub struct HttpArgs {
    /// Address of the ANEEL endpoint (GET /quantitativointerrupcoesativas); empty turns it off.
    #[arg(
        long,
        env = "RADAR_ANEEL_LISTEN_ADDR",
        default_value = DEFAULT_ANEEL_LISTEN_ADDR,
        value_parser = listen_addr_or_off
    )]
    pub aneel_listen_addr: ListenAddr,
    /// Accepted `x-api-key` values, comma-separated, each `id:secret` or `secret`. Without
    /// any key (here or in the file), only loopback clients are answered.
    #[arg(
        long,
        env = "RADAR_ANEEL_API_KEYS",
        hide_env_values = true,
        value_parser = super::oracle::parse_secret
    )]
    pub aneel_api_keys: Option<SecretString>,
    /// File of accepted `x-api-key` values (a mounted Secret): one `id:secret` or `secret`
    /// per line, `#` comments. Adds to RADAR_ANEEL_API_KEYS; read again every 10 s.
    #[arg(long, env = "RADAR_ANEEL_API_KEYS_FILE")]
    pub aneel_api_keys_file: Option<PathBuf>,
    /// Address of /metrics, /livez and /readyz; empty turns it off.
    #[arg(
        long,
        env = "RADAR_METRICS_LISTEN_ADDR",
        default_value = DEFAULT_METRICS_LISTEN_ADDR,
        value_parser = listen_addr_or_off
    )]
    pub metrics_listen_addr: ListenAddr,
}

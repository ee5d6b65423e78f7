//! What the Oracle adapters (the source and the store) need to connect: plain values, already
//! validated by whoever builds them (the service's settings, in `main`). Their errors name
//! the settings by the constants of [`crate::config::names`].

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// The adapter's connection settings. The password is a [`SecretString`]: `Debug` shows it
/// redacted and nothing in this crate logs or formats it.
#[derive(Clone, Debug)]
pub struct OracleSettings {
    /// Connect string (Easy Connect or tnsnames alias).
    pub connect_string: String,
    /// Database user.
    pub user: String,
    /// Database password.
    pub password: SecretString,
    /// Where to load the Oracle Client library from, if not from the system paths.
    pub client_lib_dir: Option<PathBuf>,
    /// Sessions the pool keeps open.
    pub pool_min: u32,
    /// Most sessions the pool opens (at least 1, at least `pool_min`).
    pub pool_max: u32,
    /// Idle time after which a pooled session is pinged before use.
    pub ping_interval: Duration,
    /// Statements kept parsed per session.
    pub stmt_cache_size: u32,
    /// Longest a database round trip, or the wait for a pooled session, may take.
    pub call_timeout: Duration,
    /// How long one whole fetch of the source may take before the source abandons it.
    pub fetch_deadline: Duration,
}

#[cfg(test)]
impl OracleSettings {
    /// Settings for the adapter's tests: these credentials, a small pool and short timeouts
    /// (test values, not the service's defaults, which are the flags').
    pub(crate) fn new(
        connect_string: impl Into<String>,
        user: impl Into<String>,
        password: SecretString,
    ) -> Self {
        Self {
            connect_string: connect_string.into(),
            user: user.into(),
            password,
            client_lib_dir: None,
            pool_min: 1,
            pool_max: 4,
            ping_interval: Duration::from_secs(60),
            stmt_cache_size: 20,
            call_timeout: Duration::from_secs(15),
            fetch_deadline: Duration::from_secs(50),
        }
    }
}

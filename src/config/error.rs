//! The start-up configuration error: names the setting and the value that was wrong.

/// An invalid setting. Start-up stops with this message and exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {setting} (--{flag}) = {value:?}: {reason}")]
pub struct ConfigError {
    /// The environment variable, e.g. `RADAR_LISTEN_ADDR`.
    pub setting: String,
    /// The command-line flag without dashes, e.g. `listen-addr`.
    pub flag: String,
    /// The value as given (`<redacted>` for secrets).
    pub value: String,
    /// What is wrong with it and what is expected.
    pub reason: String,
}

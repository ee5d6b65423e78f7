//! The start-up configuration error: names the setting and the value that was wrong.

/// An invalid setting. Start-up stops with this message and a non-zero exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {setting} (--{flag}) = {value:?}: {reason}")]
pub struct ConfigError {
    /// The environment variable, e.g. `RADAR_LISTEN_ADDR`.
    pub setting: &'static str,
    /// The command-line flag without dashes, e.g. `listen-addr`.
    pub flag: &'static str,
    /// The value as given (`<redacted>` for secrets).
    pub value: String,
    /// What is wrong with it and what is expected.
    pub reason: String,
}

impl ConfigError {
    /// Builds the error for `setting`/`flag` with the offending value.
    pub fn new(
        setting: &'static str,
        flag: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            setting,
            flag,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

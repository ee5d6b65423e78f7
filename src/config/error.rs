//! The start-up configuration error: names the setting and the value that was wrong.

/// An invalid setting. Start-up stops with this message and exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {} = {value:?}: {reason}", self.name())]
pub struct ConfigError {
    /// The environment variable, e.g. `RADAR_LISTEN_ADDR`; empty for a flag without one
    /// (`--scale`).
    pub setting: String,
    /// The command-line flag without dashes, e.g. `listen-addr`.
    pub flag: String,
    /// The value as given (`<redacted>` for secrets).
    pub value: String,
    /// What is wrong with it and what is expected.
    pub reason: String,
}

impl ConfigError {
    /// The variable and the flag (`RADAR_LISTEN_ADDR (--listen-addr)`), or the flag alone
    /// for a flag without a variable (`--scale`).
    fn name(&self) -> String {
        if self.setting.is_empty() {
            format!("--{}", self.flag)
        } else {
            format!("{} (--{})", self.setting, self.flag)
        }
    }
}

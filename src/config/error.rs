//! The start-up configuration error: names the setting and the value that was wrong.

use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::names::{ALL, Setting};

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

impl Setting {
    /// The error for this setting: `value` is wrong because of `reason`.
    pub fn invalid(self, value: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            setting: self.var.to_owned(),
            flag: self.flag.to_owned(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// The setting, value and reason of a value clap refused; `None` for every other clap error
/// (help, version, unknown flags), which clap reports itself. A flag without a variable
/// (`--scale`) is named by its flag alone.
pub(super) fn refused_value(error: &clap::Error) -> Option<ConfigError> {
    let text = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let reason = match error.kind() {
        ErrorKind::ValueValidation => std::error::Error::source(error)?.to_string(),
        ErrorKind::InvalidValue => match error.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(valid)) => format!(
                "expected {}",
                valid
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            _ => "not one of the accepted values".to_owned(),
        },
        _ => return None,
    };
    // clap shows the argument as `--listen-addr <LISTEN_ADDR>`.
    let arg = text(ContextKind::InvalidArg)?;
    let flag = arg.strip_prefix("--")?.split([' ', '=']).next()?;
    let setting = ALL.iter().find(|s| s.flag == flag).map_or("", |s| s.var);
    Some(ConfigError {
        setting: setting.to_owned(),
        flag: flag.to_owned(),
        value: text(ContextKind::InvalidValue).unwrap_or_default(),
        reason,
    })
}

//! The start-up configuration error: names the setting and the value that was wrong. The
//! setting's variable and flag come from clap's own argument list, so each `RADAR_*` name is
//! written once, in its `#[arg]`.

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::Cli;

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

/// The variable and the flag of the argument `id` (a field name of the settings), from
/// clap's argument list. Panics on an unknown id: that is a bug, caught by the tests.
pub fn setting_of(id: &str) -> (String, String) {
    find(|arg| arg.get_id().as_str() == id)
        .unwrap_or_else(|| panic!("no setting with the id {id:?}"))
}

/// The environment variable of the argument `id`, for messages that name a setting.
pub fn variable(id: &str) -> String {
    setting_of(id).0
}

fn find(matches: impl Fn(&clap::Arg) -> bool) -> Option<(String, String)> {
    let mut command = Cli::command();
    // Arguments show their value names only once the command is built.
    command.build();
    command.get_arguments().find(|arg| matches(arg)).map(|arg| {
        (
            arg.get_env()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default(),
            arg.get_long().unwrap_or_default().to_owned(),
        )
    })
}

impl ConfigError {
    /// The error for the setting whose argument id is `id` (a field name of the settings).
    pub fn new(id: &str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        let (setting, flag) = setting_of(id);
        Self {
            setting,
            flag,
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// The setting, value and reason of a value clap refused; `None` for every other clap
    /// error (help, version, unknown flags), which clap reports itself.
    pub fn from_clap(error: &clap::Error) -> Option<Self> {
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
        let arg = text(ContextKind::InvalidArg)?;
        let (setting, flag) = find(|a| a.to_string() == arg)?;
        Some(Self {
            setting,
            flag,
            value: text(ContextKind::InvalidValue).unwrap_or_default(),
            reason,
        })
    }
}

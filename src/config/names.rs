//! Finding a setting's variable and flag in clap's own argument list, so that each
//! `RADAR_*` name is written once, in its `#[arg]`.

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::cli::Cli;
use super::error::ConfigError;

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
    // `serve` holds every setting; the other subcommands share some of them (same id, same
    // variable and flag).
    let found = command
        .get_subcommands()
        .flat_map(clap::Command::get_arguments)
        .find(|arg| matches(arg));
    found.map(|arg| {
        (
            arg.get_env()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default(),
            arg.get_long().unwrap_or_default().to_owned(),
        )
    })
}

/// The error for the setting whose argument id is `id` (a field name of the settings).
pub fn invalid(id: &str, value: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    let (setting, flag) = setting_of(id);
    ConfigError {
        setting,
        flag,
        value: value.into(),
        reason: reason.into(),
    }
}

/// The setting, value and reason of a value clap refused; `None` for every other clap error
/// (help, version, unknown flags), which clap reports itself.
pub fn refused_value(error: &clap::Error) -> Option<ConfigError> {
    {
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
        // A positional argument (`completions SHELL`) is no setting: clap's own message
        // names it and lists the values it takes.
        if flag.is_empty() {
            return None;
        }
        Some(ConfigError {
            setting,
            flag,
            value: text(ContextKind::InvalidValue).unwrap_or_default(),
            reason,
        })
    }
}

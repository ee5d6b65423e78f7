//! An `oracle` crate error read once for every port: its native code (the cause, when the
//! message is stacked), what that code reports, the driver's text and the database link it
//! came through. Each port turns a [`Failure`] into its own error type with its own advice.
//! Oracle's messages never contain the password, and nothing here adds it.

use std::fmt;

use oracle::ErrorKind;

use super::codes::{Condition, condition_of};
use super::stacked::Stack;

/// A driver error, classified but not yet advised about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The native code of the cause (`ORA-12541`, `DPI-1047`); `None` for driver errors
    /// without one (an invalid bind name, a type conversion).
    pub code: Option<String>,
    /// What the code reports; `None` when the code is unknown or missing.
    pub condition: Option<Condition>,
    /// The driver's text: without the leading code (shown by the ports first), the lines of
    /// a stacked message joined by ` | `, no trailing full stop. For an error without a code,
    /// the driver's error kind and text.
    pub detail: String,
    /// The database link a stacked message came through.
    pub link: Option<String>,
    /// What is wrong with a configured setting, said before everything else (a client
    /// library directory that does not hold the library).
    pub note: Option<String>,
}

impl Failure {
    /// Reads an `oracle` crate error.
    pub fn of(err: &oracle::Error) -> Self {
        let text = err.to_string();
        let message = err.db_error().map_or(text.as_str(), |db| db.message());
        let code = match err.kind() {
            ErrorKind::OciError => err.oci_code().map(|c| format!("ORA-{c:05}")),
            ErrorKind::DpiError => err.dpi_code().map(|c| format!("DPI-{c:04}")),
            _ => None,
        }
        // A message such as "ORA-12541: TNS:no listener" names its code even when the crate
        // could not parse it (an OCI error without a code, a DPI error whose number it did not
        // find).
        .or_else(|| code_in(message));
        match code {
            Some(code) => Self::coded(&code, message),
            None => Self {
                code: None,
                condition: None,
                detail: format!("Oracle driver error ({:?}): {text}", err.kind()),
                link: None,
                note: None,
            },
        }
    }

    /// Reads a native code with the driver's message. `detail` may start with the code
    /// itself (`"ORA-12541: TNS:no listener"`); it is left out. A stacked message (several
    /// `ORA-` lines) is classified by its cause, the first code that is not a wrapper, and
    /// names the database link it came through (see [`super::stacked`]).
    pub fn coded(code: &str, detail: &str) -> Self {
        let stack = Stack::parse(code, detail);
        let code = stack.cause();
        let lines: Vec<&str> = detail
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let detail = lines.join(" | ");
        let detail = detail
            .strip_prefix(code)
            .map(|rest| rest.trim_start_matches([':', ' ']))
            .unwrap_or(&detail)
            .trim_end_matches('.');
        Self {
            code: Some(code.to_owned()),
            condition: condition_of(code),
            detail: detail.to_owned(),
            link: stack.link.clone(),
            note: None,
        }
    }

    /// The message a port shows: the driver's text, then the port's `advice` (capitalised),
    /// after the note about a setting if there is one.
    pub fn message_with(&self, advice: &str) -> String {
        let message = format!("{}. {}", self.detail, capitalized(advice));
        match &self.note {
            Some(note) => format!("{note}. {message}"),
            None => message,
        }
    }

    /// Whether a later attempt may succeed without an operator (a known transient code).
    pub fn is_transient(&self) -> bool {
        self.condition.is_some_and(Condition::is_transient)
    }
}

/// The code and the driver's text, for logs.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The `ORA-nnnnn` or `DPI-nnnn` code a message starts with.
fn code_in(message: &str) -> Option<String> {
    let message = message.trim_start();
    let (prefix, digits) = if let Some(rest) = message.strip_prefix("ORA-") {
        ("ORA", rest)
    } else {
        ("DPI", message.strip_prefix("DPI-")?)
    };
    let digits: String = digits.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then(|| format!("{prefix}-{digits}"))
}

#[cfg(test)]
mod tests {
    use oracle::Error;

    use super::*;
    use crate::db::oracle::driver_errors::oci;

    #[test]
    fn the_code_is_kept_and_left_out_of_the_detail() {
        let f = Failure::of(&oci(12541, "ORA-12541: TNS:no listener"));
        assert_eq!(f.code.as_deref(), Some("ORA-12541"));
        assert_eq!(f.condition, Some(Condition::Unreachable));
        assert_eq!(f.detail, "TNS:no listener");
        assert!(f.is_transient());
        assert_eq!(f.to_string(), "ORA-12541: TNS:no listener");
    }

    #[test]
    fn a_stacked_message_is_read_by_its_cause_and_names_its_link() {
        let f = Failure::coded(
            "ORA-04052",
            "ORA-04052: error occurred when looking up remote object X.T@L1\n\
             ORA-00604: error occurred at recursive SQL level 1\n\
             ORA-12541: TNS:no listener.",
        );
        assert_eq!(f.code.as_deref(), Some("ORA-12541"));
        assert_eq!(f.link.as_deref(), Some("L1"));
        assert!(f.is_transient());
        assert_eq!(
            f.detail,
            "ORA-04052: error occurred when looking up remote object X.T@L1 | ORA-00604: error \
             occurred at recursive SQL level 1 | ORA-12541: TNS:no listener"
        );
    }

    #[test]
    fn the_code_is_found_in_the_message_when_the_driver_gives_none() {
        let f = Failure::of(&oci(0, "ORA-03113: end-of-file on communication channel"));
        assert_eq!(f.code.as_deref(), Some("ORA-03113"));
        assert!(f.is_transient());
        assert_eq!(code_in("no code here"), None);
        assert_eq!(code_in("DPI-1047: x").as_deref(), Some("DPI-1047"));
    }

    #[test]
    fn the_message_puts_the_note_first_and_capitalises_the_advice() {
        let mut f = Failure::coded("DPI-1047", "DPI-1047: Cannot locate a library.");
        assert_eq!(
            f.message_with("install it"),
            "Cannot locate a library. Install it"
        );
        f.note = Some("DIR=/x: directory does not exist".into());
        assert_eq!(
            f.message_with("install it"),
            "DIR=/x: directory does not exist. Cannot locate a library. Install it"
        );
    }

    #[test]
    fn unknown_and_missing_codes_report_no_condition() {
        let f = Failure::of(&oci(2291, "ORA-02291: integrity constraint violated"));
        assert_eq!(f.code.as_deref(), Some("ORA-02291"));
        assert_eq!(f.condition, None);
        assert!(!f.is_transient());
        let f = Failure::of(&Error::new(
            ErrorKind::InvalidBindName,
            "invalid bind name AG",
        ));
        assert_eq!(f.code, None);
        assert!(
            f.detail
                .starts_with("Oracle driver error (InvalidBindName)"),
            "{f}"
        );
        assert!(f.detail.contains("invalid bind name AG"), "{f}");
    }
}

//! The one error type every source adapter translates its driver errors into.

use std::fmt;

use crate::db::blocking::CancelledTask;

/// Whether retrying may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceErrorKind {
    /// Worth retrying: no listener, timeout, lost connection, pool exhausted, busy file.
    Transient,
    /// Retrying will not help until an operator fixes something (credentials, missing
    /// table, missing client library, bad SQL).
    Permanent,
}

/// A failure of a data source, with the driver's native code kept (`ORA-12541`,
/// `DPI-1047`, `SQLITE_BUSY`) and, for permanent errors, what the operator should fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SourceError {
    /// Transient or permanent.
    pub kind: SourceErrorKind,
    /// The driver's native error code, when it has one.
    pub code: Option<String>,
    /// Every native code the driver reported, `code` first, then the codes stacked under it
    /// (`ORA-04052`, `ORA-00604` under an `ORA-12541` through a database link), each once.
    /// Read from the driver's error where it is translated, so no later layer parses text.
    pub codes: Vec<String>,
    /// What happened and, when known, what to do about it. Never contains secrets.
    pub message: String,
}

impl SourceError {
    /// A failure that a retry may cure.
    pub fn transient(code: Option<String>, message: impl Into<String>) -> Self {
        Self {
            kind: SourceErrorKind::Transient,
            codes: code.iter().cloned().collect(),
            code,
            message: message.into(),
        }
    }

    /// A failure that needs an operator.
    pub fn permanent(code: Option<String>, message: impl Into<String>) -> Self {
        Self {
            kind: SourceErrorKind::Permanent,
            codes: code.iter().cloned().collect(),
            code,
            message: message.into(),
        }
    }

    /// The same error with the codes stacked under its own, read from the driver's text by
    /// the adapter that translated it (its own code stays first, each code once).
    #[must_use]
    pub fn with_stacked_codes(mut self, stacked: impl IntoIterator<Item = String>) -> Self {
        for code in stacked {
            if !self.codes.contains(&code) {
                self.codes.push(code);
            }
        }
        self
    }

    /// Whether the job should retry.
    pub fn is_transient(&self) -> bool {
        self.kind == SourceErrorKind::Transient
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            SourceErrorKind::Transient => "transient",
            SourceErrorKind::Permanent => "permanent",
        };
        match &self.code {
            Some(code) => write!(f, "{code}: {} ({kind})", self.message),
            None => write!(f, "{} ({kind})", self.message),
        }
    }
}

/// A source's blocking call that the runtime cancelled (shutting down) may succeed on the
/// next run.
impl From<CancelledTask> for SourceError {
    fn from(CancelledTask(message): CancelledTask) -> Self {
        SourceError::transient(None, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_the_native_code_and_the_kind() {
        let e = SourceError::transient(Some("ORA-12541".into()), "no listener");
        assert_eq!(e.to_string(), "ORA-12541: no listener (transient)");
        assert!(e.is_transient());
        let e = SourceError::permanent(None, "table missing");
        assert_eq!(e.to_string(), "table missing (permanent)");
        assert!(!e.is_transient());
    }

    #[test]
    fn a_cancelled_task_is_a_transient_source_error() {
        let e = SourceError::from(CancelledTask("the Oracle fetch task was cancelled".into()));
        assert!(e.is_transient());
        assert_eq!(e.code, None);
        assert_eq!(e.message, "the Oracle fetch task was cancelled");
    }
}

//! The one error type every store adapter translates its driver errors into.

use crate::db::blocking::CancelledTask;

/// A failure of the snapshot store, with the driver's native code kept (`SQLITE_BUSY`,
/// `ORA-12541`). Never contains secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot store ({store}): {}{message}", code.as_ref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct StoreError {
    /// Which adapter failed (`sqlite`, `oracle`).
    pub store: &'static str,
    /// The driver's native error code, when it has one.
    pub code: Option<String>,
    /// What happened and, when known, what to do about it.
    pub message: String,
}

impl StoreError {
    /// An error of adapter `store`.
    pub fn new(store: &'static str, code: Option<String>, message: impl Into<String>) -> Self {
        Self {
            store,
            code,
            message: message.into(),
        }
    }

    /// Stored data that cannot be read back (a value out of range).
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(
            "store",
            None,
            format!("stored data is invalid: {}", message.into()),
        )
    }
}

/// A store call that the runtime cancelled (shutting down).
impl From<CancelledTask> for StoreError {
    fn from(CancelledTask(message): CancelledTask) -> Self {
        Self::new("store", None, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_store_and_keeps_the_native_code() {
        let e = StoreError::new("sqlite", Some("SQLITE_BUSY".into()), "locked");
        assert_eq!(
            e.to_string(),
            "snapshot store (sqlite): SQLITE_BUSY: locked"
        );
        let e = StoreError::new("oracle", None, "no pool");
        assert_eq!(e.to_string(), "snapshot store (oracle): no pool");
    }

    #[test]
    fn a_cancelled_task_is_a_store_error_naming_the_work() {
        let e = StoreError::from(CancelledTask("the SQLite store task was cancelled".into()));
        assert_eq!(
            e.to_string(),
            "snapshot store (store): the SQLite store task was cancelled"
        );
    }
}

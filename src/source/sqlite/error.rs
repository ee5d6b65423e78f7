//! Translation of rusqlite errors into [`SourceError`], at the adapter boundary.
//!
//! The SQLite primary result code is kept as the error's `code` (`SQLITE_BUSY`,
//! `SQLITE_ERROR`, ...). Busy and locked are transient (another connection holds a lock that
//! it will release), and so is a file that cannot be opened while the process is out of
//! file descriptors ([`crate::descriptors::exhausted`]: SQLite says `SQLITE_CANTOPEN`
//! either way); everything else needs an operator, so the message says what to fix.

use std::path::Path;

use rusqlite::ffi;

use crate::config::names;
use crate::db::sqlite::primary_code_name;
use crate::descriptors;
use crate::source::SourceError;

/// Translates a rusqlite error raised while reading or writing the database at `path`; the
/// advice names settings by their variables.
pub(crate) fn translate(err: &rusqlite::Error, path: &Path) -> SourceError {
    let path = path.display();
    match err {
        rusqlite::Error::SqliteFailure(failure, detail) => {
            let code = Some(primary_code_name(failure.extended_code).to_owned());
            let detail = detail
                .as_deref()
                .unwrap_or_else(|| ffi::code_to_str(failure.extended_code));
            match failure.code {
                ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked => {
                    SourceError::transient(
                        code,
                        format!(
                            "SQLite database {path} is locked by another connection ({detail}); \
                             the next run will retry"
                        ),
                    )
                }
                ffi::ErrorCode::OperationInterrupted => SourceError::transient(
                    code,
                    format!(
                        "query on SQLite database {path} was interrupted: its caller gave up \
                         (attempt timeout, {})",
                        names::JOB_TIMEOUT_SECS.var
                    ),
                ),
                // SQLite says CANTOPEN for a missing file and for a process out of
                // descriptors alike; only the second passes once connections close.
                ffi::ErrorCode::CannotOpen if descriptors::exhausted() => SourceError::transient(
                    code,
                    format!(
                        "cannot open SQLite database {path}: the process is out of file \
                         descriptors (too many open connections or files); the next attempt \
                         will retry"
                    ),
                ),
                ffi::ErrorCode::CannotOpen | ffi::ErrorCode::PermissionDenied => {
                    SourceError::permanent(
                        code,
                        format!(
                            "cannot open SQLite database {path} ({detail}): check that the file \
                             and its directory exist and are readable by the service \
                             (setting {})",
                            names::SQLITE_PATH.var
                        ),
                    )
                }
                ffi::ErrorCode::DatabaseCorrupt | ffi::ErrorCode::NotADatabase => {
                    SourceError::permanent(
                        code,
                        format!(
                            "{path} is corrupt or not a SQLite database ({detail}): replace the \
                             file, or delete it to let the service generate the demo database"
                        ),
                    )
                }
                _ => SourceError::permanent(
                    code,
                    format!(
                        "query on SQLite database {path} failed ({detail}): the database must \
                         hold the tables and columns of sql/sqlite/schema.sql"
                    ),
                ),
            }
        }
        other => SourceError::permanent(None, format!("SQLite adapter error on {path}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(err: &rusqlite::Error, path: &Path) -> SourceError {
        super::translate(err, path)
    }

    fn failure(code: std::os::raw::c_int, detail: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(detail.to_owned()))
    }

    #[test]
    fn busy_and_locked_are_transient_and_keep_the_code() {
        let e = translate(
            &failure(ffi::SQLITE_BUSY, "database is locked"),
            Path::new("x.db"),
        );
        assert!(e.is_transient());
        assert_eq!(e.code.as_deref(), Some("SQLITE_BUSY"));
        // An extended code keeps its primary name.
        let e = translate(
            &failure(ffi::SQLITE_LOCKED_SHAREDCACHE, "locked"),
            Path::new("x.db"),
        );
        assert!(e.is_transient());
        assert_eq!(e.code.as_deref(), Some("SQLITE_LOCKED"));
    }

    #[test]
    fn other_failures_are_permanent_and_say_what_to_fix() {
        let e = translate(
            &failure(ffi::SQLITE_CANTOPEN, "unable"),
            Path::new("/x/y.db"),
        );
        assert!(!e.is_transient());
        assert_eq!(e.code.as_deref(), Some("SQLITE_CANTOPEN"));
        assert!(e.message.contains("/x/y.db") && e.message.contains("RADAR_SQLITE_PATH"));

        let e = translate(&failure(ffi::SQLITE_NOTADB, "not a db"), Path::new("y.db"));
        assert_eq!(e.code.as_deref(), Some("SQLITE_NOTADB"));
        assert!(e.message.contains("corrupt"), "{}", e.message);

        let e = translate(
            &failure(ffi::SQLITE_ERROR, "no such table: CISPERSL"),
            Path::new("y.db"),
        );
        assert!(!e.is_transient());
        assert_eq!(e.code.as_deref(), Some("SQLITE_ERROR"));
        assert!(
            e.message.contains("no such table: CISPERSL"),
            "{}",
            e.message
        );
        assert!(e.message.contains("schema.sql"), "{}", e.message);
    }
}

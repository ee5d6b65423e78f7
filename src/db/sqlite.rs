//! What both ports need from SQLite: cancelling a running statement, and SQLite's native
//! result codes by name.

use rusqlite::{InterruptHandle, ffi};

use super::cancel::Cancel;

/// SQLite's cancellation: interrupt the statement running on the connection.
impl Cancel for InterruptHandle {
    fn cancel(&self) {
        self.interrupt();
    }
}

/// Name of the primary result code (the low byte of an extended code), as SQLite spells it.
pub fn primary_code_name(extended_code: std::os::raw::c_int) -> &'static str {
    match extended_code & 0xff {
        ffi::SQLITE_ERROR => "SQLITE_ERROR",
        ffi::SQLITE_INTERNAL => "SQLITE_INTERNAL",
        ffi::SQLITE_PERM => "SQLITE_PERM",
        ffi::SQLITE_ABORT => "SQLITE_ABORT",
        ffi::SQLITE_BUSY => "SQLITE_BUSY",
        ffi::SQLITE_LOCKED => "SQLITE_LOCKED",
        ffi::SQLITE_NOMEM => "SQLITE_NOMEM",
        ffi::SQLITE_READONLY => "SQLITE_READONLY",
        ffi::SQLITE_INTERRUPT => "SQLITE_INTERRUPT",
        ffi::SQLITE_IOERR => "SQLITE_IOERR",
        ffi::SQLITE_CORRUPT => "SQLITE_CORRUPT",
        ffi::SQLITE_NOTFOUND => "SQLITE_NOTFOUND",
        ffi::SQLITE_FULL => "SQLITE_FULL",
        ffi::SQLITE_CANTOPEN => "SQLITE_CANTOPEN",
        ffi::SQLITE_PROTOCOL => "SQLITE_PROTOCOL",
        ffi::SQLITE_SCHEMA => "SQLITE_SCHEMA",
        ffi::SQLITE_TOOBIG => "SQLITE_TOOBIG",
        ffi::SQLITE_CONSTRAINT => "SQLITE_CONSTRAINT",
        ffi::SQLITE_MISMATCH => "SQLITE_MISMATCH",
        ffi::SQLITE_MISUSE => "SQLITE_MISUSE",
        ffi::SQLITE_NOLFS => "SQLITE_NOLFS",
        ffi::SQLITE_AUTH => "SQLITE_AUTH",
        ffi::SQLITE_RANGE => "SQLITE_RANGE",
        ffi::SQLITE_NOTADB => "SQLITE_NOTADB",
        _ => "SQLITE_UNKNOWN",
    }
}

/// The native code of a rusqlite error, when it has one (`SQLITE_BUSY`, ...).
pub fn native_code(err: &rusqlite::Error) -> Option<&'static str> {
    match err {
        rusqlite::Error::SqliteFailure(failure, _) => {
            Some(primary_code_name(failure.extended_code))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: std::os::raw::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn an_extended_code_is_named_by_its_primary_code() {
        assert_eq!(primary_code_name(ffi::SQLITE_BUSY), "SQLITE_BUSY");
        assert_eq!(
            primary_code_name(ffi::SQLITE_LOCKED_SHAREDCACHE),
            "SQLITE_LOCKED"
        );
        assert_eq!(
            primary_code_name(ffi::SQLITE_CONSTRAINT_UNIQUE),
            "SQLITE_CONSTRAINT"
        );
        assert_eq!(primary_code_name(0xfe), "SQLITE_UNKNOWN");
        assert_eq!(native_code(&failure(ffi::SQLITE_FULL)), Some("SQLITE_FULL"));
        assert_eq!(native_code(&rusqlite::Error::QueryReturnedNoRows), None);
    }
}

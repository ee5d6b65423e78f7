//! Driver errors as the `oracle` crate hands them over, for the ports' translation tests.

use oracle::{DbError, Error};

/// An OCI error (`ORA-`) with its code and message, as raised while creating a session.
#[allow(deprecated)] // the variants are the only public way to build a driver error in 0.6
pub(crate) fn oci(code: i32, message: &str) -> Error {
    Error::OciError(DbError::new(
        code,
        0,
        message,
        "dpiConn_create",
        "create session",
    ))
}

/// An ODPI-C error (`DPI-`), whose code the crate reads from the message, as raised while
/// loading the client library.
#[allow(deprecated)]
pub(crate) fn dpi(message: &str) -> Error {
    Error::DpiError(DbError::new(
        0,
        0,
        message,
        "dpiPool_create",
        "load library",
    ))
}

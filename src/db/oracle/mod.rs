//! What both Oracle ports use, with the `oracle` crate (ODPI-C, which loads the Oracle Client
//! library at run time):
//!
//! - [`settings`]: what they need to connect (built by `server` from the settings);
//! - [`pool`]: the session pool, created on first use;
//! - [`session`]: the blocking calls that create the pool, take and release a session;
//! - [`codes`]: what each native code means, and whether a retry may cure it;
//! - [`stacked`]: the cause and the database link of a stacked `ORA-` message;
//! - [`failure`]: a driver error classified, for each port to advise about.
//!
//! Cancellation: a session shared with the [`CancelOnDrop`](crate::db::cancel::CancelOnDrop)
//! guard is broken (`break_execution`) when its caller stops waiting.

pub mod codes;
#[cfg(test)]
pub(crate) mod driver_errors;
pub mod failure;
pub mod pool;
pub mod session;
pub mod settings;
pub mod stacked;
#[cfg(test)]
pub(crate) mod test_db;

use std::sync::Arc;

use oracle::Connection;

pub use failure::Failure;
pub use pool::LazyPool;
pub use settings::OracleSettings;

use super::cancel::Cancel;

/// Oracle's cancellation: `break_execution` on the session running the call.
impl Cancel for Arc<Connection> {
    fn cancel(&self) {
        if let Err(e) = self.break_execution() {
            tracing::warn!(error = %e, "could not break the abandoned Oracle call");
        }
    }
}

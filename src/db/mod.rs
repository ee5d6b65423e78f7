//! Database code that both ports use: the data source ([`crate::source`]) and the snapshot
//! store ([`crate::store`]). Each port keeps its own error type and its own advice; what is
//! here knows neither.
//!
//! - [`blocking`]: running a blocking driver call from async code ([`blocking::run_blocking`]);
//! - [`cancel`]: cancelling that call when its caller stops waiting;
//! - [`sqlite`]: SQLite's cancellation and native result codes;
//! - [`oracle`]: the Oracle settings, lazy session pool and session, and what its native
//!   codes mean.
//!
//! # Poisoned locks
//!
//! The database code follows the service's one policy ([`crate::locks`]): a lock poisoned by
//! a panic is taken over, never turned into a second panic. Here that holds for the canceller
//! slot of [`cancel`] and the "creating the pool" token of [`oracle::LazyPool`]: each is
//! replaced whole under its lock, so a holder that panicked (a driver call that panicked on
//! its blocking thread) cannot have left it half-updated, and a panicked fetch must not make
//! every later fetch or store call panic too.

pub mod blocking;
pub mod cancel;
pub mod oracle;
pub mod sqlite;

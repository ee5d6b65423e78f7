//! The Oracle adapter: reads the OMS (InService) tables through synonyms in the service's own
//! schema, with the `oracle` crate (ODPI-C, which loads the Oracle Client library at run
//! time). See docs/oracle.md for running it and sql/oracle/ for the schema objects it needs.
//!
//! - [`binds`]: `:ag_id` and `:dist` as VARCHAR2 text;
//! - [`error`]: driver errors to [`SourceError`](crate::source::SourceError), with the
//!   source's advice;
//! - [`link_advice`]: that advice for an error that came through the database link;
//! - [`rows`]: fetched text to [`RawInterrupcaoRow`](crate::domain::RawInterrupcaoRow);
//! - `session`: the blocking driver calls (pool and session with the source's advice, query);
//! - [`adapter`]: [`OracleSource`], the [`InterrupcaoSource`](crate::source::InterrupcaoSource);
//! - [`check`]: the operator's pre-deployment [`connectivity_check`];
//! - [`inspect`]: where the synonyms point and where Oracle runs the query.
//!
//! The connection settings, the lazy pool, the session calls and what native codes mean are
//! shared with the Oracle store, in [`crate::db::oracle`].

pub mod adapter;
pub mod binds;
pub mod check;
#[cfg(test)]
pub(crate) mod contract_tests;
pub mod error;
pub mod inspect;
pub mod link_advice;
pub mod rows;
pub(crate) mod session;
#[cfg(test)]
mod stacked_tests;

pub use crate::db::oracle::OracleSettings;
pub use crate::source::OMS_TABLES;
pub use adapter::OracleSource;
pub use check::{CheckReport, connectivity_check};

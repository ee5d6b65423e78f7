//! The Oracle adapter: reads the OMS (InService) tables through synonyms in the service's own
//! schema, with the `oracle` crate (ODPI-C, which loads the Oracle Client library at run
//! time). See docs/oracle.md for running it and sql/oracle/ for the schema objects it needs.
//!
//! - [`binds`]: `:ag_id` and `:dist` as VARCHAR2 text;
//! - [`settings`]: what the adapter needs to connect (built by `main` from the settings);
//! - [`error`]: driver errors to [`SourceError`](crate::source::SourceError), classified;
//! - [`stacked`]: the cause and the database link of a stacked `ORA-` message;
//! - [`rows`]: fetched text to [`RawInterrupcaoRow`](crate::domain::RawInterrupcaoRow);
//! - `session`: the blocking driver calls (pool, connection, query);
//! - [`adapter`]: [`OracleSource`], the [`InterrupcaoSource`](crate::source::InterrupcaoSource);
//! - [`check`]: the operator's pre-deployment [`connectivity_check`];
//! - [`inspect`]: where the synonyms point and where Oracle runs the query.

pub mod adapter;
pub mod binds;
pub mod check;
#[cfg(test)]
pub(crate) mod contract_tests;
pub mod error;
pub mod inspect;
pub mod rows;
pub(crate) mod session;
pub mod settings;
pub mod stacked;
#[cfg(test)]
mod stacked_tests;

pub use adapter::OracleSource;
pub use check::{CheckReport, OMS_TABLES, connectivity_check};
pub use settings::OracleSettings;

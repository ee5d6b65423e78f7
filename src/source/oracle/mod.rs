//! The Oracle adapter: reads the OMS (InService) tables through synonyms in the service's own
//! schema, with the `oracle` crate (ODPI-C, which loads the Oracle Client library at run
//! time). See docs/oracle.md for running it and sql/oracle/ for the schema objects it needs.
//!
//! - [`settings`]: what the adapter needs to connect (built by `main` from the settings);
//! - [`error`]: driver errors to [`SourceError`](crate::source::SourceError), classified;
//! - [`rows`]: fetched text to [`RawInterrupcaoRow`](crate::domain::RawInterrupcaoRow);
//! - `session`: the blocking driver calls (pool, connection, query);
//! - [`adapter`]: [`OracleSource`], the [`InterrupcaoSource`](crate::source::InterrupcaoSource);
//! - [`check`]: the operator's pre-deployment [`connectivity_check`].

pub mod adapter;
pub mod check;
#[cfg(test)]
pub(crate) mod contract_tests;
pub mod error;
pub mod rows;
pub(crate) mod session;
pub mod settings;

pub use adapter::OracleSource;
pub use check::{CheckReport, OMS_TABLES, connectivity_check};
pub use settings::OracleSettings;

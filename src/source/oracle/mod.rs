//! The Oracle adapter: reads the OMS (InService) tables through synonyms in the service's own
//! schema, with the `oracle` crate (ODPI-C, which loads the Oracle Client library at run
//! time). See docs/oracle.md for running it and sql/oracle/ for the schema objects it needs.
//!
//! - [`settings`]: the `RADAR_ORACLE_*` flags and their validation;
//! - [`errors`]: driver errors to [`SourceError`](crate::source::SourceError), classified;
//! - [`rows`]: fetched text to [`RawInterrupcaoRow`](crate::domain::RawInterrupcaoRow);
//! - `session`: the blocking driver calls (pool, connection, query);
//! - [`source`]: [`OracleSource`], the [`InterrupcaoSource`](crate::source::InterrupcaoSource);
//! - [`check`]: the operator's pre-deployment [`connectivity_check`].

pub mod check;
#[cfg(test)]
pub(crate) mod contract_tests;
pub mod errors;
pub mod rows;
pub(crate) mod session;
pub mod settings;
pub mod source;

pub use check::{CheckReport, OMS_TABLES, connectivity_check};
pub use settings::{OracleArgs, OracleSettings};
pub use source::OracleSource;

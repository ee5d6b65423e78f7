//! The data-source port: where the aggregated interruptions come from, and its adapters.
//!
//! Every adapter runs the same SQL text ([`AGGREGATION_SQL`]) with the same named binds, and
//! translates its driver's errors into [`SourceError`] at its boundary. What the adapters
//! share with the snapshot store (blocking calls, cancellation, the Oracle pool and session)
//! is in [`crate::db`].

#[cfg(test)]
pub mod contract_suite;
pub mod error;
pub mod oracle;
pub mod sqlite;

use crate::telemetry::spans::DbSystem;
use async_trait::async_trait;

pub use error::{SourceError, SourceErrorKind};

use crate::domain::RawInterrupcaoRow;

/// The aggregation of docs/domain.md rules 1 to 6, shared by every adapter. Binds: `:ag_id`
/// (agency of the events) and `:dist` (distributor of the devices).
pub const AGGREGATION_SQL: &str = include_str!("../../sql/interrupcoes_ativas.sql");

/// The OMS tables [`AGGREGATION_SQL`] reads (synonyms in the service's Oracle schema, tables
/// in a SQLite file).
pub const OMS_TABLES: [&str; 4] = [
    "AGENCY_EVENT",
    "SWITCH_PLAN_TASKS",
    "OMS_CONNECTIVITY",
    "CISPERSL",
];

/// Output columns of [`AGGREGATION_SQL`], in order (see `RawInterrupcaoRow::from`).
pub const AGGREGATION_COLUMNS: [&str; 5] = [
    "conjunto",
    "municipio",
    "qtd_ucs_atendidas",
    "qtd_programada",
    "qtd_nao_programada",
];

/// A source of aggregated active interruptions (the outage-management database).
#[async_trait]
pub trait InterrupcaoSource: Send + Sync + 'static {
    /// Short name of the technology, shown in snapshot metadata and logs (`sqlite`, `oracle`).
    fn name(&self) -> &'static str;

    /// The database it queries, for the source-query span's `db.system.name` (`None`:
    /// not a database the semantic conventions name, e.g. a test's fake).
    fn db_system(&self) -> Option<DbSystem> {
        None
    }

    /// Runs the aggregation now, bypassing any cache, and returns its rows unvalidated,
    /// ordered by conjunto, then município.
    async fn fetch_interrupcoes(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError>;
}

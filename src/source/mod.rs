//! The data-source port: where the aggregated interruptions come from, and its adapters.
//!
//! Every adapter runs the same SQL text ([`AGGREGATION_SQL`]) with the same named binds, and
//! translates its driver's errors into [`SourceError`] at its boundary.

pub mod cancel;
#[cfg(test)]
pub mod contract_suite;
pub mod error;
pub mod oracle;
pub mod sqlite;

use async_trait::async_trait;

use crate::config::SourceSettings;
use crate::domain::QueryBinds;

pub use error::{SourceError, SourceErrorKind};

use crate::domain::RawInterrupcaoRow;

/// The aggregation of DOMAIN.md rules 1 to 6, shared by every adapter. Binds: `:ag_id`
/// (agency of the events) and `:dist` (distributor of the devices).
pub const AGGREGATION_SQL: &str = include_str!("../../sql/interrupcoes_ativas.sql");

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

    /// Runs the aggregation now, bypassing any cache, and returns its rows unvalidated,
    /// ordered by conjunto, then município.
    async fn fetch_interrupcoes(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError>;
}

/// The adapter the settings select.
pub fn build(settings: &SourceSettings, binds: &QueryBinds) -> Box<dyn InterrupcaoSource> {
    match settings {
        SourceSettings::Sqlite { path, create_demo } => {
            let missing = if *create_demo {
                sqlite::MissingDatabase::CreateDemo
            } else {
                sqlite::MissingDatabase::Fail
            };
            Box::new(sqlite::SqliteSource::new(
                path.clone(),
                binds.clone(),
                missing,
            ))
        }
        SourceSettings::Oracle(settings) => {
            Box::new(oracle::OracleSource::new(settings.clone(), binds.clone()))
        }
    }
}

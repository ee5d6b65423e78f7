//! The snapshot-store port: the history of loaded snapshots, kept in the service's own
//! database and shared by every replica, and the per-tick claims through which replicas
//! agree on which one queries the source.
//!
//! Adapters ([`sqlite::SqliteStore`], [`oracle::OracleStore`]) run the same SQL texts
//! ([`sql`]) and translate their driver's errors into [`StoreError`] at their boundary. The
//! SQL is portable on purpose: a unique key decides "already stored" and "already claimed"
//! (`SQLITE_CONSTRAINT`, `ORA-00001`), never an engine-specific upsert. What the adapters
//! share with the data source (blocking calls, cancellation, the Oracle pool and session) is
//! in [`crate::db`]; the store imports nothing from the source nor the cache.

mod claims;
#[cfg(test)]
pub mod contract_suite;
mod error;
pub mod oracle;
mod purge;
pub mod rows;
pub mod schema;
pub mod sql;
pub mod sqlite;

use crate::telemetry::spans::DbSystem;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use claims::StoreClaims;
pub use error::StoreError;
pub use sqlite::SqliteStore;

use crate::domain::Snapshot;

/// A snapshot as stored: the snapshot and what identifies it in the history.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSnapshot {
    /// Unique id (a UUID), chosen by the writer.
    pub id: String,
    /// The cron tick it was loaded for; `None` for start-up and `TriggerNow` runs.
    pub tick_at: Option<DateTime<Utc>>,
    /// What started the run that loaded it (`startup`, `cron`, `manual`).
    pub trigger: String,
    /// The snapshot itself (its collection time, source, instance, items).
    pub snapshot: Snapshot,
}

/// What [`SnapshotStore::save`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Header and items were written in one transaction.
    Stored,
    /// The tick already has a stored snapshot (the unique key said so): nothing was written.
    AlreadyStored,
}

/// What [`SnapshotStore::claim`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This instance owns the tick: it queries the source.
    Claimed,
    /// Another instance claimed the tick first.
    AlreadyClaimed {
        /// The instance that owns it.
        by: String,
    },
}

/// A claim of one cron tick of one job by one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The job's name.
    pub job: String,
    /// The tick's scheduled fire time (computed from the schedule, so every replica agrees).
    pub fire_at: DateTime<Utc>,
    /// The claiming instance.
    pub instance: String,
    /// When the claim was made.
    pub claimed_at: DateTime<Utc>,
}

/// What a purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Snapshots deleted (with their items).
    pub snapshots: u64,
    /// Claims deleted.
    pub claims: u64,
    /// Transactions used (each deleting at most one batch).
    pub batches: u64,
}

/// Where snapshots are stored and ticks are claimed.
#[async_trait]
pub trait SnapshotStore: Send + Sync + 'static {
    /// Short name of the technology (`sqlite`, `oracle`).
    fn name(&self) -> &'static str;

    /// Brings the schema to [`schema::LATEST`] where the service runs the steps itself
    /// (SQLite), or checks that the operator has (Oracle: an error names the script when
    /// the version is behind). Run at start-up; SQLite's operations also recreate a schema
    /// they find missing.
    async fn prepare(&self) -> Result<schema::SchemaState, StoreError>;

    /// The database it writes, for the store-write span's `db.system.name` (`None`: not
    /// a database the semantic conventions name, e.g. a test's fake).
    fn db_system(&self) -> Option<DbSystem> {
        None
    }

    /// Writes the header and every item in one transaction. A second snapshot for the
    /// same tick is [`SaveOutcome::AlreadyStored`], not an error.
    async fn save(&self, snapshot: &StoredSnapshot) -> Result<SaveOutcome, StoreError>;

    /// The latest snapshot collected at or before `at` (ties: the smallest id).
    async fn latest_at_or_before(
        &self,
        at: DateTime<Utc>,
    ) -> Result<Option<StoredSnapshot>, StoreError>;

    /// The snapshot stored for the cron tick `tick_at`, if any.
    async fn for_tick(&self, tick_at: DateTime<Utc>) -> Result<Option<StoredSnapshot>, StoreError>;

    /// Collection time of the oldest stored snapshot.
    async fn oldest(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Claims a tick: the first instance to insert the claim row owns it.
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, StoreError>;

    /// What the database's own clock reads now (UTC), the replicas' common time base;
    /// `None` for a store without a clock of its own (SQLite: a file that the replicas of
    /// one host open, so they share that host's clock).
    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Deletes, in transactions of at most `batch_size` snapshots (or claims) each, every
    /// snapshot superseded at or before `cutoff` (a newer one was collected at or before it:
    /// the one current at `cutoff` stays, since it answers the moments just after it) and
    /// every claim of a tick before `cutoff`.
    async fn purge(
        &self,
        cutoff: DateTime<Utc>,
        batch_size: u32,
    ) -> Result<PurgeReport, StoreError>;
}

/// Milliseconds since the Unix epoch: how instants are stored (a plain integer column,
/// the same on every engine).
pub(crate) fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`to_millis`].
pub(crate) fn from_millis(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::corrupt(format!("{ms} is not a valid time in milliseconds")))
}

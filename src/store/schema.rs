//! The store's schema versions, the same on every engine: the table that lists the steps
//! applied (`radar_schema_version`), and the version this build needs.
//!
//! A schema change is a new step with the next version: for SQLite an entry in
//! [`sqlite::schema::STEPS`](super::sqlite::schema::STEPS), which the service runs itself
//! (at start-up, and whenever it finds the schema missing); for Oracle a block of
//! `sql/oracle/03_store.sql`, which the operator runs (the service checks the version at
//! start-up and never runs DDL there). Steps only add (tables, indexes, columns with a
//! default), so a replica still on the previous version keeps working during an upgrade.

/// The schema version this build reads and writes.
pub const LATEST: u32 = 1;

/// The table of applied steps.
pub const VERSION_TABLE: &str = "radar_schema_version";

/// What [`SnapshotStore::prepare`](super::SnapshotStore::prepare) found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaState {
    /// The version found before (0: no schema at all, or one from before versions were
    /// kept, with its tables but no version table).
    pub found: u32,
    /// The version now: [`LATEST`], or higher when a newer build has migrated the store.
    pub version: u32,
}

impl SchemaState {
    /// Whether steps were applied.
    pub fn migrated(&self) -> bool {
        self.version > self.found
    }
}

/// One migration step: its version, what it adds (recorded with it), and its SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Its version: the steps run in this order, each once.
    pub version: u32,
    /// What it adds, as recorded in the version table.
    pub description: &'static str,
    /// Its statements. Idempotent (`IF NOT EXISTS`), so that a store whose objects exist
    /// but whose version is not recorded (created before versions were kept) is brought
    /// to the version without failing.
    pub sql: &'static str,
}

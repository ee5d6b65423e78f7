//! The SQL text of the SQLite copy of the OMS tables, shared by the demo generator and the
//! test fixtures.

/// DDL of the four OMS tables, as the demo generator and the test fixtures create them.
pub const SCHEMA_SQL: &str = include_str!("../../../sql/sqlite/schema.sql");

/// Indexes that the aggregation SQL uses; run after [`SCHEMA_SQL`] (after a bulk load).
pub const INDEXES_SQL: &str = include_str!("../../../sql/sqlite/indexes.sql");

//! SQLite adapter of [`InterrupcaoSource`]: runs [`AGGREGATION_SQL`] on a local file that
//! holds the four OMS tables (a copy of production data, or the synthetic demo network).
//!
//! Connection strategy: one read-only connection is opened per fetch, inside
//! `spawn_blocking`, and closed at its end. A fetch happens every 30 minutes, and opening a
//! SQLite file costs well under a millisecond, so a long-lived connection would buy nothing
//! and cost three things: a `Mutex` that serialises fetches (and can be poisoned by a
//! panic), a handle that keeps reading the old inode after the file is replaced by an
//! atomic rename (a new demo or a fresh copy), and a file held open between runs.

mod demo;
mod demo_data;
mod error;
#[cfg(test)]
mod plan_tests;
mod schema;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, InterruptHandle, OpenFlags, named_params};

pub use demo::{DemoSummary, MAX_SCALE as MAX_DEMO_SCALE, generate};
pub(crate) use error::translate;
pub use schema::{INDEXES_SQL, SCHEMA_SQL};

use super::{AGGREGATION_COLUMNS as COLUMNS, AGGREGATION_SQL, InterrupcaoSource, SourceError};
use crate::config::names;
use crate::db::blocking::{CancelSlot, Lane, run_blocking};
use crate::db::cancel;
use crate::domain::{QueryBinds, RawInterrupcaoRow};

/// How long a fetch waits for another connection's lock before failing with `SQLITE_BUSY`.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads active interruptions from a SQLite file. The file must exist: the demo database
/// is made at start-up or by `generate-demo`, never while fetching.
#[derive(Debug, Clone)]
pub struct SqliteSource {
    settings: Settings,
}

/// Everything one fetch needs, cloned into the blocking task.
#[derive(Debug, Clone)]
struct Settings {
    path: PathBuf,
    binds: QueryBinds,
    busy_timeout: Duration,
}

impl SqliteSource {
    /// A source reading `path` with `binds`. Does not touch the disk.
    pub fn new(path: PathBuf, binds: QueryBinds) -> Self {
        Self {
            settings: Settings {
                path,
                binds,
                busy_timeout: DEFAULT_BUSY_TIMEOUT,
            },
        }
    }

    /// Sets how long a fetch waits on a locked file (default [`DEFAULT_BUSY_TIMEOUT`]).
    #[must_use]
    pub fn with_busy_timeout(mut self, busy_timeout: Duration) -> Self {
        self.settings.busy_timeout = busy_timeout;
        self
    }

    /// The database file this source reads.
    pub fn path(&self) -> &Path {
        &self.settings.path
    }
}

#[async_trait]
impl InterrupcaoSource for SqliteSource {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn db_system(&self) -> Option<crate::telemetry::spans::DbSystem> {
        Some(crate::telemetry::spans::DbSystem::Sqlite)
    }

    async fn fetch_interrupcoes(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
        let settings = self.settings.clone();
        run_blocking("SQLite fetch", Lane::Background, move |slot| {
            fetch_blocking(&settings, slot)
        })
        .await
    }
}

fn fetch_blocking(
    settings: &Settings,
    interrupt: &CancelSlot<InterruptHandle>,
) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
    let path = &settings.path;
    if !exists(path)? {
        return Err(SourceError::permanent(
            None,
            format!(
                "SQLite database {} does not exist: set {} to an existing database file, or \
                 {}=true to create the demo database there (or run `radar-interrupcoes \
                 generate-demo`)",
                path.display(),
                names::SQLITE_PATH.var,
                names::SQLITE_CREATE_DEMO.var
            ),
        ));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| translate(&e, path))?;
    conn.busy_timeout(settings.busy_timeout)
        .map_err(|e| translate(&e, path))?;
    cancel::register(interrupt, conn.get_interrupt_handle());
    query(&conn, &settings.binds).map_err(|e| match e {
        QueryError::Sqlite(e) => translate(&e, path),
        QueryError::Source(e) => e,
    })
}

/// Whether the database file exists (a permanent error naming the path and its setting if
/// that cannot be told).
pub fn exists(path: &Path) -> Result<bool, SourceError> {
    path.try_exists().map_err(|e| {
        SourceError::permanent(
            None,
            format!(
                "cannot check SQLite database {}: {e}; check {} and the directory permissions",
                path.display(),
                names::SQLITE_PATH.var
            ),
        )
    })
}

enum QueryError {
    Sqlite(rusqlite::Error),
    Source(SourceError),
}

impl From<rusqlite::Error> for QueryError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

fn query(conn: &Connection, binds: &QueryBinds) -> Result<Vec<RawInterrupcaoRow>, QueryError> {
    let mut stmt = conn.prepare(AGGREGATION_SQL)?;
    let mut rows = stmt.query(named_params! {
        ":ag_id": binds.ag_id,
        ":dist": binds.dist.as_str(),
    })?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = [None; 5];
        for (i, value) in values.iter_mut().enumerate() {
            *value = integer_column(i, row.get_ref(i)?).map_err(QueryError::Source)?;
        }
        out.push(RawInterrupcaoRow::from(values));
    }
    Ok(out)
}

/// A NULL arrives as `None` (validation rejects that row and says which field). A TEXT, REAL
/// or BLOB is a typing error in the source tables, not a missing value: it fails the whole
/// fetch, permanently, naming the column, rather than being mistaken for a NULL.
fn integer_column(index: usize, value: ValueRef<'_>) -> Result<Option<i64>, SourceError> {
    let found = match value {
        ValueRef::Null => return Ok(None),
        ValueRef::Integer(v) => return Ok(Some(v)),
        ValueRef::Real(v) => format!("the REAL {v}"),
        ValueRef::Text(t) => format!("the TEXT {:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("a BLOB of {} bytes", b.len()),
    };
    Err(SourceError::permanent(
        Some("SQLITE_MISMATCH".to_owned()),
        format!(
            "column {} of the aggregation holds {found}, expected an integer: fix the type of \
             the source column (see sql/sqlite/schema.sql)",
            COLUMNS[index]
        ),
    ))
}

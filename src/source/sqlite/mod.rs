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
mod error;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, named_params};

pub use demo::{DEFAULT_SEED, DemoSummary, generate};
pub(crate) use error::{map_error, primary_code_name};

use super::cancel::{self, CancelOnDrop};
use super::{AGGREGATION_COLUMNS as COLUMNS, AGGREGATION_SQL, InterrupcaoSource, SourceError};
use crate::domain::{QueryBinds, RawInterrupcaoRow};

/// DDL of the four OMS tables, as the demo generator and the test fixtures create them.
pub const SCHEMA_SQL: &str = include_str!("../../../sql/sqlite/schema.sql");

/// Indexes that [`AGGREGATION_SQL`] uses; run after [`SCHEMA_SQL`] (after a bulk load).
pub const INDEXES_SQL: &str = include_str!("../../../sql/sqlite/indexes.sql");

/// The setting that names the SQLite file; quoted in errors so the operator knows what to fix.
const PATH_SETTING: &str = "RADAR_SQLITE_PATH";

/// What to do when the database file does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingDatabase {
    /// Generate the synthetic demo network there first (development and demos).
    CreateDemo,
    /// Fail with a permanent error naming the path and `RADAR_SQLITE_PATH` (production copy).
    Fail,
}

/// Size and seed of the demo database generated for [`MissingDatabase::CreateDemo`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoOptions {
    /// 1.0 is Roraima (about 218 000 premises); 5.0 is over a million.
    pub scale: f64,
    /// Seed of the generator: the same (scale, seed) gives the same database.
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            scale: 1.0,
            seed: DEFAULT_SEED,
        }
    }
}

/// How long a fetch waits for another connection's lock before failing with `SQLITE_BUSY`.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads active interruptions from a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteSource {
    settings: Settings,
    /// Serialises demo generation, so concurrent first fetches generate the file once.
    demo_lock: Arc<Mutex<()>>,
}

/// Everything one fetch needs, cloned into the blocking task.
#[derive(Debug, Clone)]
struct Settings {
    path: PathBuf,
    binds: QueryBinds,
    missing: MissingDatabase,
    demo: DemoOptions,
    busy_timeout: Duration,
}

impl SqliteSource {
    /// A source reading `path` with `binds`. Does not touch the disk: the file is checked,
    /// and generated when `missing` says so, on each fetch.
    pub fn new(path: PathBuf, binds: QueryBinds, missing: MissingDatabase) -> Self {
        Self {
            settings: Settings {
                path,
                binds,
                missing,
                demo: DemoOptions::default(),
                busy_timeout: DEFAULT_BUSY_TIMEOUT,
            },
            demo_lock: Arc::new(Mutex::new(())),
        }
    }

    /// Sets the scale and seed of the demo database (default: scale 1.0, [`DEFAULT_SEED`]).
    pub fn with_demo_options(mut self, demo: DemoOptions) -> Self {
        self.settings.demo = demo;
        self
    }

    /// Sets how long a fetch waits on a locked file (default [`DEFAULT_BUSY_TIMEOUT`]).
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

    async fn fetch_interrupcoes(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
        let settings = self.settings.clone();
        let demo_lock = Arc::clone(&self.demo_lock);
        // The blocking task runs on another thread: carry the caller's span (RPC or job run)
        // so the logs of the generation and the query stay attached to it.
        let span = tracing::Span::current();
        let interrupt = CancelOnDrop::default();
        let handle_slot = interrupt.slot();
        let task = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            fetch_blocking(&settings, &demo_lock, &handle_slot)
        });
        let joined = task.await;
        interrupt.disarm();
        match joined {
            Ok(result) => result,
            // Let the caller's panic handling see the original panic.
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(join) => Err(SourceError::transient(
                None,
                format!("SQLite fetch task was cancelled: {join}"),
            )),
        }
    }
}

fn fetch_blocking(
    settings: &Settings,
    demo_lock: &Mutex<()>,
    interrupt: &Mutex<Option<rusqlite::InterruptHandle>>,
) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
    ensure_database(settings, demo_lock)?;
    let path = &settings.path;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| map_error(e, path))?;
    conn.busy_timeout(settings.busy_timeout)
        .map_err(|e| map_error(e, path))?;
    cancel::register(interrupt, conn.get_interrupt_handle());
    query(&conn, &settings.binds).map_err(|e| match e {
        QueryError::Sqlite(e) => map_error(e, path),
        QueryError::Source(e) => e,
    })
}

/// Makes sure the file exists: generates the demo there, or fails, as configured.
fn ensure_database(settings: &Settings, demo_lock: &Mutex<()>) -> Result<(), SourceError> {
    let path = &settings.path;
    if exists(path)? {
        return Ok(());
    }
    match settings.missing {
        MissingDatabase::Fail => Err(SourceError::permanent(
            None,
            format!(
                "SQLite database {} does not exist: set {PATH_SETTING} to an existing database \
                 file, or RADAR_SQLITE_CREATE_DEMO=true to create the demo database there (or \
                 run `radar-interrupcoes generate-demo`)",
                path.display()
            ),
        )),
        MissingDatabase::CreateDemo => {
            // A panic in another generation only poisons this unit lock; the file is either
            // complete or absent (atomic rename), so going on is safe.
            let _guard = demo_lock.lock().unwrap_or_else(|p| p.into_inner());
            if exists(path)? {
                return Ok(());
            }
            let DemoOptions { scale, seed } = settings.demo;
            tracing::info!(
                path = %path.display(),
                scale,
                seed,
                "SQLite database missing: generating the demo database"
            );
            let summary = generate(path, scale, seed)?;
            tracing::info!(
                path = %path.display(),
                elapsed_ms = summary.elapsed.as_millis() as u64,
                %summary,
                "demo database generated"
            );
            Ok(())
        }
    }
}

fn exists(path: &Path) -> Result<bool, SourceError> {
    path.try_exists().map_err(|e| {
        SourceError::permanent(
            None,
            format!(
                "cannot check SQLite database {}: {e}; check {PATH_SETTING} and the directory \
                 permissions",
                path.display()
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

//! SQLite adapter of [`SnapshotStore`]: the store in a local file, shared by every replica
//! that opens the same file (one machine, or a shared volume with working locks).
//!
//! One connection per operation, opened inside `spawn_blocking` (as the source does): the
//! operations are a few per half hour plus the `dthRecuperacao` misses of the history cache.
//! The file is in WAL mode, so readers never wait for the writer; writers take the lock at
//! the start of their transaction (`BEGIN IMMEDIATE`) and wait up to the busy timeout.
//! Every connection brings the schema to the latest version first ([`schema`]): at
//! start-up, and whenever the file was deleted or replaced meanwhile.

pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, named_params};

use super::purge::purge_expired;
use super::rows::{HeaderRow, assemble};
use super::schema::SchemaState;
use super::sql;
use super::{
    Claim, ClaimOutcome, PurgeReport, SaveOutcome, SnapshotStore, StoreError, StoredSnapshot,
    from_millis, to_millis,
};
use crate::db::blocking::{Lane, run_blocking};
use crate::db::{cancel, sqlite};
use crate::domain::RowRejection;

/// Default wait for another connection's write lock.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const NAME: &str = "sqlite";

/// The snapshot store in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    /// The setting that names the file, quoted in errors (set by `server`).
    setting: Option<String>,
    busy_timeout: Duration,
    /// Set once this handle has seen the schema complete: finding it missing afterwards
    /// means the file was deleted or replaced, which is worth a warning.
    schema_seen: Arc<AtomicBool>,
}

impl SqliteStore {
    /// A store in the file at `path` (created, with its directory, on first use).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            setting: None,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            schema_seen: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Names the setting that chose the file in every error, so the operator knows what
    /// to fix.
    #[must_use]
    pub fn naming_setting(mut self, setting: String) -> Self {
        self.setting = Some(setting);
        self
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with a connection on the blocking pool (the shared helper: the caller's
    /// span kept, the call interrupted if the caller stops waiting, e.g. the store timeout).
    async fn with_connection<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let store = self.clone();
        run_blocking("SQLite store", Lane::Pool, move |slot| {
            let (mut conn, _) = store.open()?;
            cancel::register(slot, conn.get_interrupt_handle());
            f(&mut conn).map_err(|e| store.error(&e))
        })
        .await
    }

    /// A connection to the file, its schema brought to the latest version.
    fn open(&self) -> Result<(Connection, SchemaState), StoreError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::new(
                    NAME,
                    None,
                    format!(
                        "cannot create the directory of {} ({e}){}",
                        self.path.display(),
                        self.setting_hint()
                    ),
                )
            })?;
        }
        let mut conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| self.error(&e))?;
        conn.busy_timeout(self.busy_timeout)
            .map_err(|e| self.error(&e))?;
        let state = schema::migrate(&mut conn, schema::STEPS, to_millis(Utc::now()))
            .map_err(|e| self.error(&e))?;
        let seen_before = self.schema_seen.swap(true, Ordering::AcqRel);
        if seen_before && state.found == 0 {
            tracing::warn!(
                path = %self.path.display(),
                version = state.version,
                "the snapshot store's schema was missing (its file deleted or replaced while \
                 the service ran): created again; what was stored before is gone"
            );
        }
        Ok((conn, state))
    }

    fn error(&self, e: &rusqlite::Error) -> StoreError {
        StoreError::new(
            NAME,
            sqlite::native_code(e).map(str::to_owned),
            format!("{e} (file {}){}", self.path.display(), self.setting_hint()),
        )
    }

    fn setting_hint(&self) -> String {
        self.setting
            .as_deref()
            .map(|s| format!(": check {s}"))
            .unwrap_or_default()
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

#[async_trait]
impl SnapshotStore for SqliteStore {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn prepare(&self) -> Result<SchemaState, StoreError> {
        let store = self.clone();
        run_blocking("SQLite store", Lane::Pool, move |slot| {
            let (conn, state) = store.open()?;
            cancel::register(slot, conn.get_interrupt_handle());
            Ok(state)
        })
        .await
    }

    fn db_system(&self) -> Option<crate::telemetry::spans::DbSystem> {
        Some(crate::telemetry::spans::DbSystem::Sqlite)
    }

    async fn save(&self, stored: &StoredSnapshot) -> Result<SaveOutcome, StoreError> {
        let stored = stored.clone();
        self.with_connection(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let s = &stored.snapshot;
            let header = tx.execute(
                sql::INSERT_SNAPSHOT,
                named_params! {
                    ":snapshot_id": stored.id,
                    ":collected_at_ms": to_millis(s.collected_at),
                    ":tick_at_ms": stored.tick_at.map(to_millis),
                    ":run_trigger": stored.trigger,
                    ":source_name": s.source,
                    ":instance_id": s.instance,
                    ":item_count": s.items.len() as i64,
                    ":rejected_count": s.rejected.len() as i64,
                },
            );
            match header {
                Err(e) if is_unique_violation(&e) => return Ok(SaveOutcome::AlreadyStored),
                other => other?,
            };
            {
                let mut insert = tx.prepare(sql::INSERT_ITEM)?;
                for (position, item) in s.items.iter().enumerate() {
                    insert.execute(named_params! {
                        ":snapshot_id": stored.id,
                        ":item_position": position as i64,
                        ":ide_conjunto": item.ide_conjunto,
                        ":ide_municipio": item.ide_municipio,
                        ":qtd_ucs_atendidas": item.qtd_ucs_atendidas,
                        ":qtd_programada": item.qtd_ocorrencia_programada,
                        ":qtd_nao_programada": item.qtd_ocorrencia_nao_programada,
                    })?;
                }
            }
            {
                let mut insert = tx.prepare(sql::INSERT_REJECTION)?;
                for (position, rejection) in s.rejected.iter().enumerate() {
                    insert.execute(named_params! {
                        ":snapshot_id": stored.id,
                        ":item_position": position as i64,
                        ":conjunto": rejection.conjunto,
                        ":municipio": rejection.municipio,
                        ":reason": rejection.reason,
                    })?;
                }
            }
            tx.commit()?;
            Ok(SaveOutcome::Stored)
        })
        .await
    }

    async fn latest_at_or_before(
        &self,
        at: DateTime<Utc>,
    ) -> Result<Option<StoredSnapshot>, StoreError> {
        let at_ms = to_millis(at);
        self.with_connection(move |conn| {
            load(
                conn,
                sql::SELECT_LATEST_AT_OR_BEFORE,
                named_params! {":at_ms": at_ms},
            )
        })
        .await?
        .transpose()
    }

    async fn for_tick(&self, tick_at: DateTime<Utc>) -> Result<Option<StoredSnapshot>, StoreError> {
        let tick_ms = to_millis(tick_at);
        self.with_connection(move |conn| {
            load(
                conn,
                sql::SELECT_FOR_TICK,
                named_params! {":tick_at_ms": tick_ms},
            )
        })
        .await?
        .transpose()
    }

    async fn oldest(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let ms: Option<i64> = self
            .with_connection(|conn| conn.query_row(sql::SELECT_OLDEST, [], |row| row.get(0)))
            .await?;
        ms.map(from_millis).transpose()
    }

    /// None: the replicas sharing a SQLite store open one file on one host (or a volume with
    /// working locks), so they read one clock already.
    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(None)
    }

    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, StoreError> {
        let claim = claim.clone();
        self.with_connection(move |conn| {
            let inserted = conn.execute(
                sql::INSERT_CLAIM,
                named_params! {
                    ":job_name": claim.job,
                    ":fire_at_ms": to_millis(claim.fire_at),
                    ":instance_id": claim.instance,
                    ":claimed_at_ms": to_millis(claim.claimed_at),
                },
            );
            match inserted {
                Ok(_) => Ok(ClaimOutcome::Claimed),
                Err(e) if is_unique_violation(&e) => {
                    let by = conn.query_row(
                        sql::SELECT_CLAIM_OWNER,
                        named_params! {
                            ":job_name": claim.job,
                            ":fire_at_ms": to_millis(claim.fire_at),
                        },
                        |row| row.get(0),
                    )?;
                    Ok(ClaimOutcome::AlreadyClaimed { by })
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn purge(
        &self,
        cutoff: DateTime<Utc>,
        batch_size: u32,
    ) -> Result<PurgeReport, StoreError> {
        let cutoff_ms = to_millis(cutoff);
        self.with_connection(move |conn| {
            purge_expired(
                conn,
                batch_size,
                |conn, batch| {
                    let mut stmt = conn.prepare(sql::SELECT_EXPIRED_SNAPSHOTS)?;
                    let rows = stmt.query_map(named_params! {":cutoff_ms": cutoff_ms}, |r| {
                        r.get::<_, String>(0)
                    })?;
                    rows.take(batch).collect()
                },
                |conn, ids| {
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    let mut deleted = 0;
                    for id in ids {
                        tx.execute(sql::DELETE_ITEMS, named_params! {":snapshot_id": id})?;
                        tx.execute(sql::DELETE_REJECTIONS, named_params! {":snapshot_id": id})?;
                        deleted += tx
                            .execute(sql::DELETE_SNAPSHOT, named_params! {":snapshot_id": id})?
                            as u64;
                    }
                    tx.commit()?;
                    Ok(deleted)
                },
                |conn, batch| {
                    let mut stmt = conn.prepare(sql::SELECT_EXPIRED_CLAIMS)?;
                    let rows = stmt.query_map(named_params! {":cutoff_ms": cutoff_ms}, |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })?;
                    rows.take(batch).collect()
                },
                |conn, claims| {
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    let mut deleted = 0;
                    for (job, fire_at_ms) in claims {
                        deleted += tx.execute(
                            sql::DELETE_CLAIM,
                            named_params! {":job_name": job, ":fire_at_ms": fire_at_ms},
                        )? as u64;
                    }
                    tx.commit()?;
                    Ok(deleted)
                },
            )
        })
        .await
    }
}

/// Reads the first header of `query` and its items. The outer `Result` is the driver's;
/// the inner one says whether the stored values are valid.
fn load(
    conn: &Connection,
    query: &str,
    params: &[(&str, &dyn rusqlite::ToSql)],
) -> Result<Option<Result<StoredSnapshot, StoreError>>, rusqlite::Error> {
    let header: Option<HeaderRow> = conn
        .query_row(query, params, |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .optional()?;
    let Some(header) = header else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(sql::SELECT_ITEMS)?;
    let items = stmt
        .query_map(named_params! {":snapshot_id": header.0}, |r| {
            Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
        })?
        .collect::<Result<Vec<[i64; 5]>, _>>()?;
    let mut stmt = conn.prepare(sql::SELECT_REJECTIONS)?;
    let rejected = stmt
        .query_map(named_params! {":snapshot_id": header.0}, |r| {
            Ok(RowRejection {
                conjunto: r.get(0)?,
                municipio: r.get(1)?,
                reason: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(assemble(header, &items, rejected)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract_suite::{self, at, snapshot};

    #[tokio::test]
    async fn the_sqlite_store_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let n = std::sync::atomic::AtomicUsize::new(0);
        contract_suite::run_contract_suite(|| {
            let path = dir
                .path()
                .join(format!("store-{}.sqlite", n.fetch_add(1, Ordering::SeqCst)));
            async move { Arc::new(SqliteStore::new(path)) as Arc<dyn SnapshotStore> }
        })
        .await;
    }

    /// Fresh stores in one directory; the schema is lost by deleting the last one's file.
    struct Files {
        dir: tempfile::TempDir,
        last: std::sync::Mutex<PathBuf>,
        n: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl contract_suite::SchemaHarness for Files {
        async fn fresh(&self) -> Arc<dyn SnapshotStore> {
            let n = self.n.fetch_add(1, Ordering::SeqCst);
            let path = self.dir.path().join(format!("schema-{n}.sqlite"));
            *self.last.lock().unwrap() = path.clone();
            Arc::new(SqliteStore::new(path))
        }
        async fn lose_schema(&self) {
            // As the attack did: the main file only (the last connection closed has
            // already folded the WAL back into it).
            std::fs::remove_file(&*self.last.lock().unwrap()).unwrap();
        }
        async fn restore_schema(&self) {}
    }

    #[tokio::test]
    async fn the_sqlite_store_meets_the_schema_contract_and_heals_itself() {
        contract_suite::run_schema_suite(&Files {
            dir: tempfile::tempdir().unwrap(),
            last: std::sync::Mutex::new(PathBuf::new()),
            n: std::sync::atomic::AtomicUsize::new(0),
        })
        .await;
    }

    #[tokio::test]
    async fn a_store_file_deleted_while_running_is_recreated_and_the_next_write_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        let store = SqliteStore::new(path.clone());
        store.save(&snapshot(0, true, 2)).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        // Without the schema check every write failed with "no such table" until a restart.
        assert_eq!(
            store.save(&snapshot(30, true, 2)).await.unwrap(),
            SaveOutcome::Stored
        );
        assert!(store.for_tick(at(30)).await.unwrap().is_some());
        // Dropped tables (the file kept) are recreated too.
        store
            .with_connection(|conn| {
                conn.execute_batch("DROP TABLE radar_schema_version; DROP TABLE radar_snapshot;")
            })
            .await
            .unwrap();
        assert_eq!(
            store.save(&snapshot(60, true, 1)).await.unwrap(),
            SaveOutcome::Stored
        );
    }

    #[tokio::test]
    async fn a_write_that_fails_midway_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path().join("nested/dir/store.sqlite"));
        store.save(&snapshot(0, true, 2)).await.unwrap();
        // Make the third item of any later snapshot fail, as a crash or a full disk would.
        store
            .with_connection(|conn| {
                conn.execute_batch(
                    "CREATE TRIGGER fail_third BEFORE INSERT ON radar_snapshot_item \
                     WHEN NEW.item_position = 2 BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
                )
            })
            .await
            .unwrap();
        let e = store.save(&snapshot(30, true, 5)).await.unwrap_err();
        assert_eq!(e.code.as_deref(), Some("SQLITE_CONSTRAINT"), "{e}");
        assert!(e.to_string().contains("disk full"), "{e}");
        assert_eq!(store.for_tick(at(30)).await.unwrap(), None, "no header");
        let items: i64 = store
            .with_connection(|conn| {
                conn.query_row("SELECT COUNT(*) FROM radar_snapshot_item", [], |r| r.get(0))
            })
            .await
            .unwrap();
        assert_eq!(items, 2, "only the first snapshot's items");
    }

    #[tokio::test]
    async fn an_unusable_file_is_an_error_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-db.sqlite");
        std::fs::write(&path, b"this is not a database, just some text long enough").unwrap();
        let e = SqliteStore::new(path.clone())
            .naming_setting("STORE_PATH_SETTING".into())
            .oldest()
            .await
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("SQLITE_NOTADB"), "{e}");
        assert!(e.message.contains("check STORE_PATH_SETTING"), "{e}");
        assert!(e.message.contains(&path.display().to_string()), "{e}");
    }
}

//! Oracle adapter of [`SnapshotStore`]: the store in the service's own schema (tables of
//! `sql/oracle/03_store.sql`), reached with the same connection settings as the source.
//!
//! Same shape as the Oracle source, with the same shared code ([`crate::db::oracle`]): a
//! session pool created on first use (so the service starts while Oracle is down), each
//! operation on a pooled session on the blocking pool, every round trip bounded by the call
//! timeout. Writes commit explicitly and roll back on any error, so a failure leaves nothing
//! half-written. Errors carry the store's own advice ([`error`]).

mod error;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use oracle::{Connection, Row};

use self::error::{advise, translate};
use super::purge::purge_expired;
use super::rows::{HeaderRow, assemble};
use super::schema::{LATEST, SchemaState};
use super::sql;
use super::{
    Claim, ClaimOutcome, PurgeReport, SaveOutcome, SnapshotStore, StoreError, StoredSnapshot,
    from_millis, to_millis,
};
use crate::config::names;
use crate::db::blocking::{Lane, run_blocking};
use crate::db::cancel;
use crate::db::oracle::codes::UNIQUE_VIOLATED;
use crate::db::oracle::{LazyPool, OracleSettings, session};
use crate::domain::RowRejection;

const NAME: &str = "oracle";

/// The snapshot store in the service's Oracle schema.
#[derive(Clone)]
pub struct OracleStore {
    inner: Arc<Inner>,
}

struct Inner {
    settings: OracleSettings,
    pool: LazyPool,
}

impl std::fmt::Debug for OracleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleStore")
            .field("settings", &self.inner.settings)
            .field("pool", &self.inner.pool.state())
            .finish()
    }
}

/// An error of the store: the driver's, translated with its native code.
enum Failure {
    Driver(oracle::Error),
    Store(StoreError),
}

impl From<oracle::Error> for Failure {
    fn from(e: oracle::Error) -> Self {
        Self::Driver(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl OracleStore {
    /// A store reached with `settings`. Touches neither the network nor the client library.
    pub fn new(settings: OracleSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                pool: LazyPool::default(),
            }),
        }
    }

    /// Runs `f` on a pooled session on the blocking pool (the shared helper: the caller's
    /// span kept, the call broken if the caller stops waiting, e.g. the store timeout).
    async fn with_connection<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Failure> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        run_blocking("Oracle store", Lane::Pool, move |slot| {
            let conn = Arc::new(inner.connection()?);
            cancel::register(slot, Arc::clone(&conn));
            let result = f(&conn);
            if result.is_err() {
                // Whatever the failure, leave nothing half-written on the pooled session.
                let _ = conn.rollback();
            }
            result.map_err(|failure| match failure {
                Failure::Driver(e) => translate(&e),
                Failure::Store(e) => e,
            })
        })
        .await
    }
}

impl Inner {
    fn connection(&self) -> Result<Connection, StoreError> {
        let pool = self
            .pool
            .get_or_create(|| session::build_pool(&self.settings))
            .map_err(|f| advise(&f))?;
        session::connection(&pool, &self.settings).map_err(|f| advise(&f))
    }
}

fn is_unique_violation(e: &oracle::Error) -> bool {
    e.oci_code() == Some(UNIQUE_VIOLATED)
}

fn header_of(row: &Row) -> Result<HeaderRow, oracle::Error> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

/// Reads the first header of `query` and its items.
fn load(
    conn: &Connection,
    query: &str,
    params: &[(&str, &dyn oracle::sql_type::ToSql)],
) -> Result<Option<StoredSnapshot>, Failure> {
    let mut headers = conn.query_named(query, params)?;
    let Some(header) = headers.next() else {
        return Ok(None);
    };
    let header = header_of(&header?)?;
    let mut items = Vec::new();
    for row in conn.query_named(sql::SELECT_ITEMS, &[("snapshot_id", &header.0)])? {
        let row = row?;
        items.push([
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
        ]);
    }
    let mut rejected = Vec::new();
    for row in conn.query_named(sql::SELECT_REJECTIONS, &[("snapshot_id", &header.0)])? {
        let row = row?;
        rejected.push(RowRejection {
            conjunto: row.get(0)?,
            municipio: row.get(1)?,
            reason: row.get(2)?,
        });
    }
    Ok(Some(assemble(header, &items, rejected)?))
}

/// The database's clock in UTC: `SYSTIMESTAMP` carries the server's time zone, which
/// `SYS_EXTRACT_UTC` takes out.
const SELECT_TIME_OF_RECORD: &str = "SELECT SYS_EXTRACT_UTC(SYSTIMESTAMP) FROM DUAL";

/// The UTC instant a timestamp read from Oracle names (one with a time zone is moved to
/// UTC by its offset); an error names the reading when it is no valid date.
fn utc_of(ts: &oracle::sql_type::Timestamp) -> Result<DateTime<Utc>, StoreError> {
    chrono::NaiveDate::from_ymd_opt(ts.year(), ts.month(), ts.day())
        .and_then(|day| day.and_hms_nano_opt(ts.hour(), ts.minute(), ts.second(), ts.nanosecond()))
        .and_then(|local| {
            let offset = if ts.with_tz() { ts.tz_offset() } else { 0 };
            local
                .and_utc()
                .checked_sub_signed(chrono::Duration::seconds(i64::from(offset)))
        })
        .ok_or_else(|| {
            StoreError::new(
                NAME,
                None,
                format!("the database's clock read {ts}, which is not a valid time"),
            )
        })
}

/// Reads the schema version the operator's script recorded.
const SELECT_VERSION: &str = "SELECT MAX(version) FROM radar_schema_version";

/// What an Oracle store whose schema is behind this build says: the operator's script
/// brings it up (the service never runs DDL on Oracle).
fn behind(found: u32) -> String {
    let oracle_user = names::ORACLE_USER.var;
    format!(
        "the store's schema is at version {found}, this build needs {LATEST}: run \
         sql/oracle/03_store.sql (re-runnable: it applies only the missing steps) as \
         {oracle_user}"
    )
}

#[async_trait]
impl SnapshotStore for OracleStore {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn prepare(&self) -> Result<SchemaState, StoreError> {
        self.with_connection(move |conn| {
            // No version table: ORA-00942, whose advice names the script.
            let found = conn
                .query_row_as::<Option<i64>>(SELECT_VERSION, &[])?
                .map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX));
            if found < LATEST {
                return Err(StoreError::new(NAME, None, behind(found)).into());
            }
            Ok(SchemaState {
                found,
                version: found,
            })
        })
        .await
    }

    fn db_system(&self) -> Option<crate::telemetry::spans::DbSystem> {
        Some(crate::telemetry::spans::DbSystem::Oracle)
    }

    async fn save(&self, stored: &StoredSnapshot) -> Result<SaveOutcome, StoreError> {
        let stored = stored.clone();
        self.with_connection(move |conn| {
            let s = &stored.snapshot;
            let header = conn.execute_named(
                sql::INSERT_SNAPSHOT,
                &[
                    ("snapshot_id", &stored.id),
                    ("collected_at_ms", &to_millis(s.collected_at)),
                    ("tick_at_ms", &stored.tick_at.map(to_millis)),
                    ("run_trigger", &stored.trigger),
                    ("source_name", &s.source),
                    ("instance_id", &s.instance),
                    ("item_count", &(s.items.len() as i64)),
                    ("rejected_count", &(s.rejected.len() as i64)),
                ],
            );
            match header {
                Err(e) if is_unique_violation(&e) => return Ok(SaveOutcome::AlreadyStored),
                other => other?,
            };
            let mut insert = conn.statement(sql::INSERT_ITEM).build()?;
            for (position, item) in s.items.iter().enumerate() {
                insert.execute_named(&[
                    ("snapshot_id", &stored.id),
                    ("item_position", &(position as i64)),
                    ("ide_conjunto", &item.ide_conjunto),
                    ("ide_municipio", &item.ide_municipio),
                    ("qtd_ucs_atendidas", &item.qtd_ucs_atendidas),
                    ("qtd_programada", &item.qtd_ocorrencia_programada),
                    ("qtd_nao_programada", &item.qtd_ocorrencia_nao_programada),
                ])?;
            }
            let mut insert = conn.statement(sql::INSERT_REJECTION).build()?;
            for (position, rejection) in s.rejected.iter().enumerate() {
                insert.execute_named(&[
                    ("snapshot_id", &stored.id),
                    ("item_position", &(position as i64)),
                    ("conjunto", &rejection.conjunto),
                    ("municipio", &rejection.municipio),
                    ("reason", &rejection.reason),
                ])?;
            }
            conn.commit()?;
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
            load(conn, sql::SELECT_LATEST_AT_OR_BEFORE, &[("at_ms", &at_ms)])
        })
        .await
    }

    async fn for_tick(&self, tick_at: DateTime<Utc>) -> Result<Option<StoredSnapshot>, StoreError> {
        let tick_ms = to_millis(tick_at);
        self.with_connection(move |conn| {
            load(conn, sql::SELECT_FOR_TICK, &[("tick_at_ms", &tick_ms)])
        })
        .await
    }

    async fn oldest(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let ms: Option<i64> = self
            .with_connection(|conn| Ok(conn.query_row_as::<Option<i64>>(sql::SELECT_OLDEST, &[])?))
            .await?;
        ms.map(from_millis).transpose()
    }

    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let read = self
            .with_connection(|conn| {
                Ok(conn.query_row_as::<oracle::sql_type::Timestamp>(SELECT_TIME_OF_RECORD, &[])?)
            })
            .await?;
        utc_of(&read).map(Some)
    }

    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, StoreError> {
        let claim = claim.clone();
        self.with_connection(move |conn| {
            let fire_at_ms = to_millis(claim.fire_at);
            let inserted = conn.execute_named(
                sql::INSERT_CLAIM,
                &[
                    ("job_name", &claim.job),
                    ("fire_at_ms", &fire_at_ms),
                    ("instance_id", &claim.instance),
                    ("claimed_at_ms", &to_millis(claim.claimed_at)),
                ],
            );
            match inserted {
                Ok(_) => {
                    conn.commit()?;
                    Ok(ClaimOutcome::Claimed)
                }
                Err(e) if is_unique_violation(&e) => {
                    let by = conn
                        .query_row_named(
                            sql::SELECT_CLAIM_OWNER,
                            &[("job_name", &claim.job), ("fire_at_ms", &fire_at_ms)],
                        )?
                        .get(0)?;
                    Ok(ClaimOutcome::AlreadyClaimed { by })
                }
                Err(e) => Err(e.into()),
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
            Ok(purge_expired(
                conn,
                batch_size,
                |conn, batch| {
                    conn.query_named(sql::SELECT_EXPIRED_SNAPSHOTS, &[("cutoff_ms", &cutoff_ms)])?
                        .take(batch)
                        .map(|row| row.and_then(|row| row.get::<usize, String>(0)))
                        .collect()
                },
                |conn, ids| {
                    let mut deleted = 0;
                    for id in ids {
                        conn.execute_named(sql::DELETE_ITEMS, &[("snapshot_id", id)])?;
                        conn.execute_named(sql::DELETE_REJECTIONS, &[("snapshot_id", id)])?;
                        deleted += conn
                            .execute_named(sql::DELETE_SNAPSHOT, &[("snapshot_id", id)])?
                            .row_count()?;
                    }
                    conn.commit()?;
                    Ok(deleted)
                },
                |conn, batch| {
                    conn.query_named(sql::SELECT_EXPIRED_CLAIMS, &[("cutoff_ms", &cutoff_ms)])?
                        .take(batch)
                        .map(|row| {
                            row.and_then(|row| {
                                Ok((row.get::<usize, String>(0)?, row.get::<usize, i64>(1)?))
                            })
                        })
                        .collect()
                },
                |conn, claims| {
                    let mut deleted = 0;
                    for (job, fire_at_ms) in claims {
                        deleted += conn
                            .execute_named(
                                sql::DELETE_CLAIM,
                                &[("job_name", job), ("fire_at_ms", fire_at_ms)],
                            )?
                            .row_count()?;
                    }
                    conn.commit()?;
                    Ok(deleted)
                },
            )?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::oracle::test_db::{drop_table_sql, settings_from_env};
    use crate::store::contract_suite;

    /// The store's DDL as the operator runs it.
    const STORE_DDL: &str = include_str!("../../../sql/oracle/03_store.sql");

    const TABLES: [&str; 5] = [
        "radar_snapshot_item",
        "radar_snapshot_rejection",
        "radar_snapshot",
        "radar_job_claim",
        "radar_schema_version",
    ];

    /// The PL/SQL blocks of the DDL file, in order, as SQL*Plus sends them (each ends at a
    /// line holding only `/`), without the SQL*Plus commands around them.
    fn script_blocks() -> Vec<String> {
        let mut blocks = Vec::new();
        let mut block: Option<Vec<&str>> = None;
        for line in STORE_DDL.lines() {
            match &mut block {
                None if matches!(line.trim(), "DECLARE" | "BEGIN") => block = Some(vec![line]),
                None => {}
                Some(lines) if line.trim() == "/" => {
                    blocks.push(lines.join("\n"));
                    block = None;
                }
                Some(lines) => lines.push(line),
            }
        }
        assert!(block.is_none(), "a block is not ended by /");
        blocks
    }

    #[test]
    fn the_ddl_creates_the_version_table_then_each_step_in_blocks() {
        let blocks = script_blocks();
        assert_eq!(blocks.len(), 1 + LATEST as usize, "{blocks:#?}");
        assert!(blocks[0].contains("CREATE TABLE radar_schema_version ("));
        for table in TABLES {
            assert!(
                blocks
                    .iter()
                    .any(|b| b.contains(&format!("CREATE TABLE {table} ("))),
                "{table}"
            );
        }
        assert!(
            blocks
                .iter()
                .any(|b| b.contains("CREATE UNIQUE INDEX radar_snapshot_tick_uk"))
        );
    }

    #[test]
    fn the_database_clock_is_read_as_utc_whatever_its_time_zone() {
        use oracle::sql_type::Timestamp;
        let plain = Timestamp::new(2026, 12, 6, 14, 30, 15, 123_456_789).unwrap();
        let utc = "2026-12-06T14:30:15.123456789Z"
            .parse::<DateTime<Utc>>()
            .unwrap();
        assert_eq!(utc_of(&plain).unwrap(), utc);
        // 11:30:15 in São Paulo (UTC-3) is 14:30:15 UTC.
        let sao_paulo = Timestamp::new(2026, 12, 6, 11, 30, 15, 123_456_789)
            .unwrap()
            .and_tz_hm_offset(-3, 0)
            .unwrap();
        assert_eq!(utc_of(&sao_paulo).unwrap(), utc);
        // Ranges the driver accepts but no calendar has.
        let no_such_day = Timestamp::new(2026, 2, 30, 0, 0, 0, 0).unwrap();
        let e = utc_of(&no_such_day).unwrap_err();
        assert_eq!(e.store, "oracle");
        assert!(e.message.contains("not a valid time"), "{e}");
    }

    #[test]
    fn its_name_is_oracle_it_connects_lazily_and_hides_the_password() {
        let settings = OracleSettings::new(
            "127.0.0.1:1/NO_SUCH_SERVICE",
            "RADAR",
            secrecy::SecretString::from("never-shown-7"),
        );
        let store = OracleStore::new(settings);
        assert_eq!(store.name(), "oracle");
        assert!(!store.inner.pool.is_created());
        assert!(!format!("{store:?}").contains("never-shown-7"));
    }

    /// Runs `work` on a session with the test settings, off the runtime.
    async fn with_conn(
        settings: &OracleSettings,
        work: impl FnOnce(&Connection) -> oracle::Result<()> + Send + 'static,
    ) {
        let settings = settings.clone();
        tokio::task::spawn_blocking(move || {
            let pool = session::build_pool(&settings).expect("the RADAR_TEST_ORACLE_* database");
            let conn = session::connection(&pool, &settings).expect("a session");
            work(&conn).expect("fixture SQL");
            conn.commit().expect("commit");
        })
        .await
        .unwrap();
    }

    /// Drops every table of the store.
    fn drop_all(conn: &Connection) -> oracle::Result<()> {
        for table in TABLES {
            conn.execute(&drop_table_sql(table), &[])?;
        }
        Ok(())
    }

    /// Runs 03_store.sql as SQL*Plus would: its blocks in order.
    fn run_script(conn: &Connection) -> oracle::Result<()> {
        for block in script_blocks() {
            conn.execute(&block, &[])?;
        }
        Ok(())
    }

    /// Fresh stores (the rows deleted) on the test schema; the schema lost by dropping the
    /// tables and restored by running the script again, as an operator would.
    struct TestSchema {
        settings: OracleSettings,
        store: OracleStore,
    }

    #[async_trait]
    impl contract_suite::SchemaHarness for TestSchema {
        async fn fresh(&self) -> Arc<dyn SnapshotStore> {
            with_conn(&self.settings, |conn| {
                for table in &TABLES[..4] {
                    conn.execute(&format!("DELETE FROM {table}"), &[])?;
                }
                Ok(())
            })
            .await;
            Arc::new(self.store.clone())
        }
        async fn lose_schema(&self) {
            with_conn(&self.settings, drop_all).await;
        }
        async fn restore_schema(&self) {
            with_conn(&self.settings, run_script).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn oracle_store_contract_suite_when_configured() {
        let Some(settings) = settings_from_env() else {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "NOTICE: Oracle store contract suite SKIPPED: set RADAR_TEST_ORACLE_CONNECT_STRING, \
                 RADAR_TEST_ORACLE_USER and RADAR_TEST_ORACLE_PASSWORD to run it (docs/oracle.md)"
            );
            return;
        };
        // The script twice: the second run finds every step applied and changes nothing.
        with_conn(&settings, move |conn| {
            drop_all(conn)?;
            run_script(conn)?;
            run_script(conn)
        })
        .await;
        let harness = TestSchema {
            settings: settings.clone(),
            store: OracleStore::new(settings.clone()),
        };
        contract_suite::run_contract_suite(|| {
            use contract_suite::SchemaHarness as _;
            harness.fresh()
        })
        .await;
        contract_suite::run_schema_suite(&harness).await;
        // The database's clock, read as UTC: within a minute of this host's (a test
        // database's host and this one are both synchronised, or the offset is real news).
        let record = harness.store.time_of_record().await.unwrap().unwrap();
        let apart = (record - Utc::now()).abs();
        assert!(
            apart < chrono::Duration::seconds(60),
            "{record} is {apart} from now"
        );
        // A schema from before versions were kept (the tables, no version table) is
        // reported as behind, naming the script; the script brings it to the latest.
        with_conn(&settings, |conn| {
            conn.execute(&drop_table_sql("radar_schema_version"), &[])
                .map(|_| ())
        })
        .await;
        let e = harness.store.prepare().await.unwrap_err();
        assert_eq!(e.code.as_deref(), Some("ORA-00942"), "{e}");
        assert!(e.message.contains("03_store.sql"), "{e}");
        with_conn(&settings, run_script).await;
        assert_eq!(
            harness.store.prepare().await.unwrap(),
            SchemaState {
                found: LATEST,
                version: LATEST
            }
        );
        with_conn(&settings, drop_all).await;
    }
}

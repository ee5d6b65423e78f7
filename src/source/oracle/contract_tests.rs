//! The shared contract suite against a real Oracle database, when one is configured with
//! `RADAR_TEST_ORACLE_CONNECT_STRING`, `RADAR_TEST_ORACLE_USER` and
//! `RADAR_TEST_ORACLE_PASSWORD` (and the client library through the service's own
//! client-library variable or `LD_LIBRARY_PATH`). The fixture tables are real tables named like the OMS ones, in the
//! test user's schema: there the query reads them directly, as it reads synonyms in
//! production. With none of the three variables set the suite is skipped, with a NOTICE;
//! with only some of them set it fails, naming the missing ones.

use async_trait::async_trait;
use oracle::Connection;
use oracle::pool::Pool;

use super::adapter::OracleSource;
use super::{inspect, session};
use crate::db::oracle::OracleSettings;
use crate::db::oracle::test_db::{drop_table_sql, settings_from_env};
use crate::domain::QueryBinds;
use crate::source::InterrupcaoSource;
use crate::source::contract_suite::{self, Fixture, FixtureDatabase};

/// The four OMS tables with Oracle types (docs/domain.md column names). `AG_ID` is VARCHAR2, as the
/// distributor's own queries (`AG_ID = '370'`) show it to be: the text bind must match it.
const CREATE_TABLES: [&str; 4] = [
    "CREATE TABLE AGENCY_EVENT (
       NUM_1          NUMBER(12) NOT NULL PRIMARY KEY,
       AG_ID          VARCHAR2(10),
       IS_OPEN        VARCHAR2(1),
       NUM_CUST       NUMBER(10),
       DEV_ID         NUMBER(12),
       DEV_NAME       VARCHAR2(64),
       TYCOD          VARCHAR2(32),
       HXGN_DT_ORACLE DATE)",
    "CREATE TABLE SWITCH_PLAN_TASKS (
       ID         NUMBER(12) NOT NULL PRIMARY KEY,
       OUTAGE_NUM NUMBER(12))",
    "CREATE TABLE OMS_CONNECTIVITY (
       DEV_NAME VARCHAR2(64),
       CONJ     NUMBER(10),
       DIST     VARCHAR2(8))",
    "CREATE TABLE CISPERSL (
       PREMISE                 NUMBER(12),
       XFMR                    VARCHAR2(64),
       HXGN_COD_MUNICIPIO_IBGE NUMBER(7))",
];

const TABLES: [&str; 4] = [
    "AGENCY_EVENT",
    "SWITCH_PLAN_TASKS",
    "OMS_CONNECTIVITY",
    "CISPERSL",
];

fn drop_all(conn: &Connection) -> oracle::Result<()> {
    for table in TABLES {
        conn.execute(&drop_table_sql(table), &[])?;
    }
    Ok(())
}

/// The test schema, with one pool for the fixture DDL and one adapter under test.
struct OracleFixtureDb {
    settings: OracleSettings,
    pool: Pool,
    source: OracleSource,
}

impl OracleFixtureDb {
    async fn connect(settings: OracleSettings) -> anyhow::Result<Self> {
        let for_pool = settings.clone();
        let pool = tokio::task::spawn_blocking(move || session::build_pool(&for_pool)).await??;
        let source = OracleSource::new(settings.clone(), QueryBinds::default());
        Ok(Self {
            settings,
            pool,
            source,
        })
    }

    /// Runs `work` on a session of the fixture pool, off the async runtime.
    async fn with_conn<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let settings = self.settings.clone();
        tokio::task::spawn_blocking(move || {
            let conn = session::connection(&pool, &settings)?;
            work(&conn)
        })
        .await?
    }
}

#[async_trait]
impl FixtureDatabase for OracleFixtureDb {
    async fn create_tables(&self) -> anyhow::Result<()> {
        self.with_conn(|conn| {
            // Leftovers of an aborted run would make CREATE fail with ORA-00955.
            drop_all(conn)?;
            for ddl in CREATE_TABLES {
                conn.execute(ddl, &[])?;
            }
            Ok(())
        })
        .await
    }

    async fn insert(&self, fixture: &Fixture) -> anyhow::Result<()> {
        let fixture = fixture.clone();
        self.with_conn(move |conn| {
            for e in &fixture.agency_events {
                conn.execute(
                    "INSERT INTO AGENCY_EVENT (NUM_1, AG_ID, IS_OPEN, NUM_CUST, DEV_ID, \
                     DEV_NAME, TYCOD, HXGN_DT_ORACLE) VALUES (:1, :2, :3, :4, :5, :6, :7, \
                     TO_DATE(:8, 'YYYY-MM-DD HH24:MI:SS'))",
                    &[
                        &e.num_1,
                        &e.ag_id,
                        &e.is_open,
                        &e.num_cust,
                        &e.dev_id,
                        &e.dev_name,
                        &e.tycod,
                        &e.hxgn_dt_oracle,
                    ],
                )?;
            }
            for (id, outage) in (1_i64..).zip(&fixture.switch_plan_tasks) {
                conn.execute(
                    "INSERT INTO SWITCH_PLAN_TASKS (ID, OUTAGE_NUM) VALUES (:1, :2)",
                    &[&id, outage],
                )?;
            }
            for c in &fixture.connectivity {
                conn.execute(
                    "INSERT INTO OMS_CONNECTIVITY (DEV_NAME, CONJ, DIST) VALUES (:1, :2, :3)",
                    &[&c.dev_name, &c.conj, &c.dist],
                )?;
            }
            for p in &fixture.premises {
                conn.execute(
                    "INSERT INTO CISPERSL (PREMISE, XFMR, HXGN_COD_MUNICIPIO_IBGE) \
                     VALUES (:1, :2, :3)",
                    &[&p.premise, &p.xfmr, &p.ibge],
                )?;
            }
            conn.commit()?;
            Ok(())
        })
        .await
    }

    async fn drop_tables(&self) -> anyhow::Result<()> {
        self.with_conn(|conn| Ok(drop_all(conn)?)).await
    }

    fn source(&self) -> Box<dyn InterrupcaoSource> {
        Box::new(self.source.clone())
    }
}

/// Drops the fixture tables when the test ends, even by a panic, so a failed run leaves the
/// test schema clean.
struct DropTablesGuard {
    pool: Pool,
    settings: OracleSettings,
}

impl Drop for DropTablesGuard {
    fn drop(&mut self) {
        let dropped = session::connection(&self.pool, &self.settings)
            .map_err(|e| e.to_string())
            .and_then(|conn| drop_all(&conn).map_err(|e| e.to_string()));
        if let Err(e) = dropped {
            eprintln!("could not drop the Oracle fixture tables: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_contract_suite_when_configured() {
    let Some(settings) = settings_from_env() else {
        // Written to the real stderr, not through libtest's capture, so that the skip is seen
        // in every `cargo test` output instead of passing silently.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "NOTICE: Oracle contract suite SKIPPED: set RADAR_TEST_ORACLE_CONNECT_STRING, \
             RADAR_TEST_ORACLE_USER and RADAR_TEST_ORACLE_PASSWORD to run it (docs/oracle.md)"
        );
        return;
    };
    let db = OracleFixtureDb::connect(settings)
        .await
        .expect("connect to the RADAR_TEST_ORACLE_* database");
    let _guard = DropTablesGuard {
        pool: db.pool.clone(),
        settings: db.settings.clone(),
    };
    contract_suite::run_contract_suite(&db).await;

    // What check-oracle reads, against the real dictionary: the fixture tables are local
    // tables, not synonyms, and EXPLAIN PLAN (with the VARCHAR2 binds) finds no remote step.
    db.create_tables()
        .await
        .expect("fixture tables for the inspection");
    let (synonyms, plan) = db
        .with_conn(|conn| {
            let synonyms = inspect::synonyms(conn)?;
            let plan = inspect::explain(conn, &QueryBinds::default())?;
            Ok((synonyms, plan))
        })
        .await
        .expect("read synonyms and plan");
    let names: Vec<&str> = synonyms.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, super::OMS_TABLES);
    assert!(synonyms.iter().all(|(_, t)| t.is_none()), "{synonyms:?}");
    assert!(!plan.is_empty());
    assert_eq!(
        inspect::pushdown(&plan),
        inspect::Pushdown::Local,
        "{plan:?}"
    );
}

//! Tests of the SQLite adapter: the shared contract suite on a temporary file, then what is
//! specific to SQLite (missing file, demo database, locks, schema and type errors).

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior, params};
use tempfile::TempDir;

use super::*;
use crate::source::SourceErrorKind;
use crate::source::contract_suite::{self, Fixture, FixtureDatabase};

/// A temporary SQLite file that the contract suite fills.
struct SqliteFixtureDb {
    _dir: TempDir,
    path: PathBuf,
}

impl SqliteFixtureDb {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("oms.db");
        Self { _dir: dir, path }
    }

    fn conn(&self) -> rusqlite::Result<Connection> {
        Connection::open(&self.path)
    }
}

#[async_trait]
impl FixtureDatabase for SqliteFixtureDb {
    async fn create_tables(&self) -> anyhow::Result<()> {
        let conn = self.conn()?;
        conn.execute_batch(SCHEMA_SQL)?;
        conn.execute_batch(INDEXES_SQL)?;
        Ok(())
    }

    async fn insert(&self, fixture: &Fixture) -> anyhow::Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        for e in &fixture.agency_events {
            tx.execute(
                "INSERT INTO AGENCY_EVENT (NUM_1, AG_ID, IS_OPEN, NUM_CUST, DEV_ID, DEV_NAME, \
                 TYCOD, HXGN_DT_ORACLE) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    e.num_1,
                    e.ag_id,
                    e.is_open,
                    e.num_cust,
                    e.dev_id,
                    e.dev_name,
                    e.tycod,
                    e.hxgn_dt_oracle
                ],
            )?;
        }
        for (id, outage) in fixture.switch_plan_tasks.iter().enumerate() {
            tx.execute(
                "INSERT INTO SWITCH_PLAN_TASKS (ID, OUTAGE_NUM) VALUES (?1, ?2)",
                params![id as i64 + 1, outage],
            )?;
        }
        for c in &fixture.connectivity {
            tx.execute(
                "INSERT INTO OMS_CONNECTIVITY (DEV_NAME, CONJ, DIST) VALUES (?1, ?2, ?3)",
                params![c.dev_name, c.conj, c.dist],
            )?;
        }
        for p in &fixture.premises {
            tx.execute(
                "INSERT INTO CISPERSL (PREMISE, XFMR, HXGN_COD_MUNICIPIO_IBGE) \
                 VALUES (?1, ?2, ?3)",
                params![p.premise, p.xfmr, p.ibge],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    async fn drop_tables(&self) -> anyhow::Result<()> {
        self.conn()?.execute_batch(
            "DROP TABLE IF EXISTS AGENCY_EVENT; DROP TABLE IF EXISTS SWITCH_PLAN_TASKS; \
             DROP TABLE IF EXISTS OMS_CONNECTIVITY; DROP TABLE IF EXISTS CISPERSL;",
        )?;
        Ok(())
    }

    fn source(&self) -> Box<dyn InterrupcaoSource> {
        Box::new(SqliteSource::new(self.path.clone(), QueryBinds::default()))
    }
}

#[tokio::test]
async fn sqlite_passes_the_contract_suite() {
    contract_suite::run_contract_suite(&SqliteFixtureDb::new()).await;
}

/// A small demo network, for speed.
const SMALL_SCALE: f64 = 0.02;

/// The seed of the tests' demo databases.
const SEED: u64 = 0x5252_4441_5237_3030;

fn source(path: &Path) -> SqliteSource {
    SqliteSource::new(path.to_path_buf(), QueryBinds::default())
}

async fn fetch(path: &Path) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
    source(path).fetch_interrupcoes().await
}

#[test]
fn name_is_sqlite_and_new_does_not_touch_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not/yet/oms.db");
    let s = source(&path);
    assert_eq!(s.name(), "sqlite");
    assert_eq!(s.path(), path);
    assert!(!dir.path().join("not").exists());
}

#[tokio::test]
async fn missing_file_with_fail_is_permanent_and_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.db");
    let err = fetch(&path).await.unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::Permanent);
    assert!(err.message.contains("RADAR_SQLITE_PATH"), "{err}");
    assert!(err.message.contains(&path.display().to_string()), "{err}");
    assert!(!path.exists(), "Fail must not create the file");
}

#[tokio::test]
async fn a_generated_demo_database_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/demo.db");
    generate(&path, SMALL_SCALE, SEED).unwrap();
    let rows = fetch(&path).await.unwrap();
    assert!(path.exists());
    assert!(!rows.is_empty());
    // Every row passes the domain validation, and the file is left alone: no temp file.
    let valid = crate::domain::validate_rows(rows.clone());
    assert!(valid.rejected.is_empty(), "{:?}", valid.rejected);
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["demo.db"]);
    // A second fetch reads the same file.
    assert_eq!(fetch(&path).await.unwrap(), rows);
}

#[tokio::test]
async fn demo_is_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.db"),
        dir.path().join("b.db"),
        dir.path().join("c.db"),
    );
    let sa = generate(&a, SMALL_SCALE, 7).unwrap();
    let sb = generate(&b, SMALL_SCALE, 7).unwrap();
    generate(&c, SMALL_SCALE, 8).unwrap();
    let untimed = |s: DemoSummary| DemoSummary {
        elapsed: Duration::ZERO,
        ..s
    };
    assert_eq!(untimed(sa.clone()), untimed(sb));
    let (ra, rb, rc) = (
        fetch(&a).await.unwrap(),
        fetch(&b).await.unwrap(),
        fetch(&c).await.unwrap(),
    );
    assert_eq!(ra, rb);
    assert_ne!(ra, rc);
    assert!(sa.to_string().contains("premises"), "{sa}");
}

#[test]
fn demo_shape_follows_the_scale() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&dir.path().join("d.db"), SMALL_SCALE, SEED).unwrap();
    assert_eq!((s.municipalities, s.conjuntos), (15, 24));
    // 2 % of Roraima's 218 000, plus the border transformers and the 10-premise minimums.
    assert!((4_300..5_200).contains(&s.premises), "{s}");
    assert!(s.open_unplanned >= 3 && s.open_planned >= 2, "{s}");
    assert!(s.switch_plan_tasks > s.open_planned, "{s}");
    assert!(
        s.excluded_events >= 7 && s.excluded_premise_rows >= 1,
        "{s}"
    );
}

#[tokio::test]
async fn demo_answer_shows_a_conjunto_in_two_municipios() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    generate(&path, SMALL_SCALE, SEED).unwrap();
    let rows = fetch(&path).await.unwrap();
    // The first unplanned events sit on border transformers of conjuntos 110 and 115.
    for conj in [110, 115] {
        let n = rows.iter().filter(|r| r.conjunto == Some(conj)).count();
        assert!(
            n >= 2,
            "conjunto {conj} should count in two municipios: {rows:?}"
        );
    }
    // Ordered by conjunto, then municipio.
    let keys: Vec<_> = rows.iter().map(|r| (r.conjunto, r.municipio)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn bad_scales_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
        let err = generate(&dir.path().join("x.db"), scale, 1).unwrap_err();
        assert_eq!(err.kind, SourceErrorKind::Permanent);
        assert!(err.message.contains("scale"), "{err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_locked_database_is_transient_sqlite_busy() {
    let db = SqliteFixtureDb::new();
    db.create_tables().await.unwrap();
    let mut holder = db.conn().unwrap();
    let tx = holder
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .unwrap();
    let err = SqliteSource::new(db.path.clone(), QueryBinds::default())
        .with_busy_timeout(Duration::ZERO)
        .fetch_interrupcoes()
        .await
        .unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::Transient, "{err}");
    assert_eq!(err.code.as_deref(), Some("SQLITE_BUSY"));
    tx.rollback().unwrap();
}

#[tokio::test]
async fn a_missing_table_is_permanent() {
    let db = SqliteFixtureDb::new();
    db.create_tables().await.unwrap();
    db.conn()
        .unwrap()
        .execute_batch("DROP TABLE CISPERSL")
        .unwrap();
    let err = fetch(&db.path).await.unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::Permanent);
    assert_eq!(err.code.as_deref(), Some("SQLITE_ERROR"));
    assert!(err.message.contains("no such table: CISPERSL"), "{err}");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = fetch(&path).await.unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::Permanent);
    assert_eq!(err.code.as_deref(), Some("SQLITE_NOTADB"));
}

#[tokio::test]
async fn a_null_arrives_as_none_and_text_is_a_permanent_error() {
    let db = SqliteFixtureDb::new();
    db.create_tables().await.unwrap();
    let conn = db.conn().unwrap();
    conn.execute_batch(
        "INSERT INTO AGENCY_EVENT VALUES (1, 370, 'T', 4, 1, 'T1', 'X', '2026-04-01 00:00:00');
         INSERT INTO OMS_CONNECTIVITY VALUES ('T1', NULL, '370');
         INSERT INTO CISPERSL VALUES (1, 'T1', 1400100);",
    )
    .unwrap();
    // A null CONJ is a valid placement for SQL, so the row arrives with conjunto None.
    let rows = fetch(&db.path).await.unwrap();
    assert_eq!(
        rows,
        vec![RawInterrupcaoRow {
            conjunto: None,
            municipio: Some(1_400_100),
            qtd_ucs_atendidas: Some(0),
            qtd_programada: Some(0),
            qtd_nao_programada: Some(4),
        }]
    );
    // Text that SQLite cannot turn into an integer: the fetch fails naming the column.
    conn.execute_batch("UPDATE OMS_CONNECTIVITY SET CONJ = 'dez'")
        .unwrap();
    let err = fetch(&db.path).await.unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::Permanent);
    assert!(err.message.contains("column conjunto"), "{err}");
    assert!(err.message.contains("\"dez\""), "{err}");
}

/// The SQL text binds exactly `:ag_id` and `:dist`, and avoids what Oracle rejects.
#[test]
fn aggregation_sql_is_portable() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(SCHEMA_SQL).unwrap();
    let stmt = conn.prepare(AGGREGATION_SQL).unwrap();
    let mut names: Vec<_> = (1..=stmt.parameter_count())
        .map(|i| stmt.parameter_name(i).unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, [":ag_id", ":dist"]);

    let code: String = AGGREGATION_SQL
        .lines()
        .map(|l| l.split("--").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
        .to_uppercase();
    assert!(!code.trim_end().ends_with(';'));
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .collect();
    for banned in ["LIMIT", "TRUE", "FALSE", "IFNULL", "IIF", "GROUP_CONCAT"] {
        assert!(
            !words.contains(&banned),
            "{banned} is not portable to Oracle"
        );
    }
    // No AS before a table alias: FROM/JOIN <table> AS <alias>.
    let tokens: Vec<&str> = code.split_whitespace().collect();
    for w in tokens.windows(3) {
        if w[0] == "FROM" || w[0] == "JOIN" {
            assert_ne!(w[2], "AS", "Oracle rejects AS before a table alias: {w:?}");
        }
    }
}

/// Measures the full-size demo (debug: a few seconds). `cargo test -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "slow: generates the full Roraima-sized demo"]
async fn demo_at_scale_1_timing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roraima.db");
    let summary = generate(&path, 1.0, SEED).unwrap();
    let started = std::time::Instant::now();
    let rows = fetch(&path).await.unwrap();
    println!(
        "scale 1.0: {summary}\nquery: {} rows in {} ms",
        rows.len(),
        started.elapsed().as_millis()
    );
    assert!(rows.len() >= 20, "{rows:?}");
}

/// Prints the plan of the aggregation on a small demo, to check the indexes are used.
#[test]
#[ignore = "diagnostic: prints the query plan"]
fn aggregation_query_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.db");
    let summary = generate(&path, 0.02, SEED).unwrap();
    println!("scale 0.02: {summary}");
    let conn = Connection::open(&path).unwrap();
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {AGGREGATION_SQL}"))
        .unwrap();
    let mut rows = stmt
        .query(rusqlite::named_params! {":ag_id": 370, ":dist": "370"})
        .unwrap();
    while let Some(row) = rows.next().unwrap() {
        println!("{}", row.get::<_, String>(3).unwrap());
    }
}

/// A database whose `AGENCY_EVENT` is an endless view: the aggregation never finishes.
fn endless_database(dir: &Path) -> PathBuf {
    let path = dir.join("endless.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE VIEW AGENCY_EVENT AS
           WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)
           SELECT x AS NUM_1, 370 AS AG_ID, 'T' AS IS_OPEN, 1 AS NUM_CUST, x AS DEV_ID,
                  'T1' AS DEV_NAME, 'FALTA' AS TYCOD, '2026-04-01' AS HXGN_DT_ORACLE
             FROM n;
         CREATE TABLE SWITCH_PLAN_TASKS (OUTAGE_NUM INTEGER);
         CREATE TABLE OMS_CONNECTIVITY (DEV_NAME TEXT, CONJ INTEGER, DIST TEXT);
         CREATE TABLE CISPERSL (PREMISE INTEGER, XFMR TEXT, HXGN_COD_MUNICIPIO_IBGE INTEGER);
         INSERT INTO OMS_CONNECTIVITY VALUES ('T1', 10, '370');
         INSERT INTO CISPERSL VALUES (1, 'T1', 1400100);",
    )
    .unwrap();
    path
}

#[test]
fn an_abandoned_fetch_interrupts_its_query_and_frees_the_blocking_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = endless_database(dir.path());
    // One blocking thread: if the abandoned query kept it, nothing else could run there.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let source = SqliteSource::new(path, QueryBinds::default());
            let fetch =
                tokio::time::timeout(Duration::from_millis(300), source.fetch_interrupcoes()).await;
            assert!(
                fetch.is_err(),
                "the endless query must still run at the timeout"
            );
            let probe =
                tokio::time::timeout(Duration::from_secs(10), tokio::task::spawn_blocking(|| 42))
                    .await
                    .expect("the blocking thread is still held by the abandoned query");
            assert_eq!(probe.unwrap(), 42);
        });
    }));
    // Never wait for a stuck blocking thread when the test fails.
    rt.shutdown_background();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

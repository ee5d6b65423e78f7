//! The SQLite store's migration steps and the runner that applies them: at start-up, and
//! whenever an operation finds the schema missing (a store file deleted or replaced while
//! the service runs is recreated at once, instead of failing every write until a restart).
//!
//! Every connection first reads the version (one small query); only when it is behind does
//! the runner take the write lock (`BEGIN IMMEDIATE`), read the version again (another
//! replica sharing the file may have migrated meanwhile) and apply the missing steps in
//! order, each recorded in the version table, all in one transaction.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, named_params};

use crate::store::schema::{SchemaState, Step, VERSION_TABLE};

/// The steps, in version order; the last one's version is
/// [`LATEST`](crate::store::schema::LATEST).
pub const STEPS: &[Step] = &[Step {
    version: 1,
    description: "snapshots, items, rejected rows, tick claims",
    sql: include_str!("../../../sql/sqlite/store.sql"),
}];

/// The version table (idempotent).
const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS radar_schema_version (
  version       INTEGER NOT NULL PRIMARY KEY,
  description   TEXT    NOT NULL,
  applied_at_ms INTEGER NOT NULL
)";

const RECORD_STEP: &str = "INSERT INTO radar_schema_version (version, description, \
     applied_at_ms) VALUES (:version, :description, :applied_at_ms)";

const SELECT_VERSION: &str = "SELECT MAX(version) FROM radar_schema_version";

/// The recorded version: `None` without a version table (a new file, or one from before
/// versions were kept), 0 with an empty one.
pub fn recorded_version(conn: &Connection) -> rusqlite::Result<Option<u32>> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name",
            named_params! {":name": VERSION_TABLE},
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    let version: Option<i64> = conn.query_row(SELECT_VERSION, [], |r| r.get(0))?;
    Ok(Some(
        version.map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX)),
    ))
}

/// Brings the schema of `conn`'s file to the last of `steps`, stamping each step applied
/// with `now_ms`. Cheap when it is there already (one query).
pub fn migrate(
    conn: &mut Connection,
    steps: &[Step],
    now_ms: i64,
) -> rusqlite::Result<SchemaState> {
    let target = steps.last().map_or(0, |s| s.version);
    if let Ok(Some(version)) = recorded_version(conn)
        && version >= target
    {
        return Ok(SchemaState {
            found: version,
            version,
        });
    }
    // A new file: WAL, so that readers never wait for the writer (it is kept in the file;
    // it cannot be changed inside a transaction).
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = recorded_version(&tx)?.unwrap_or(0);
    tx.execute_batch(CREATE_VERSION_TABLE)?;
    for step in steps.iter().filter(|s| s.version > found) {
        tx.execute_batch(step.sql)?;
        tx.execute(
            RECORD_STEP,
            named_params! {
                ":version": step.version,
                ":description": step.description,
                ":applied_at_ms": now_ms,
            },
        )?;
    }
    tx.commit()?;
    Ok(SchemaState {
        found,
        version: found.max(target),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::LATEST;

    fn open(path: &std::path::Path) -> Connection {
        Connection::open(path).unwrap()
    }

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn the_steps_are_in_order_and_end_at_the_latest_version() {
        let versions: Vec<u32> = STEPS.iter().map(|s| s.version).collect();
        assert_eq!(versions, (1..=LATEST).collect::<Vec<_>>());
    }

    #[test]
    fn a_new_file_gets_every_step_once_and_a_second_run_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("s.sqlite"));
        let state = migrate(&mut conn, STEPS, 1_000).unwrap();
        assert_eq!(
            state,
            SchemaState {
                found: 0,
                version: LATEST
            }
        );
        assert!(state.migrated());
        assert_eq!(
            tables(&conn),
            vec![
                "radar_job_claim",
                "radar_schema_version",
                "radar_snapshot",
                "radar_snapshot_item",
                "radar_snapshot_rejection"
            ]
        );
        let again = migrate(&mut conn, STEPS, 2_000).unwrap();
        assert_eq!(
            again,
            SchemaState {
                found: LATEST,
                version: LATEST
            }
        );
        let recorded: Vec<(i64, i64)> = conn
            .prepare("SELECT version, applied_at_ms FROM radar_schema_version ORDER BY version")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(recorded, vec![(1, 1_000)], "recorded once, when applied");
    }

    #[test]
    fn a_store_from_before_versions_is_brought_to_the_latest_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("s.sqlite"));
        // The store as the first release created it: the tables, no version table.
        conn.execute_batch(STEPS[0].sql).unwrap();
        conn.execute(
            "INSERT INTO radar_job_claim VALUES ('warmup', 1, 'a', 1)",
            [],
        )
        .unwrap();
        assert_eq!(recorded_version(&conn).unwrap(), None);
        let state = migrate(&mut conn, STEPS, 5).unwrap();
        assert_eq!(
            state,
            SchemaState {
                found: 0,
                version: LATEST
            }
        );
        let claims: i64 = conn
            .query_row("SELECT COUNT(*) FROM radar_job_claim", [], |r| r.get(0))
            .unwrap();
        assert_eq!(claims, 1, "kept");
    }

    #[test]
    fn only_the_missing_steps_run_in_order() {
        let steps = [
            Step {
                version: 1,
                description: "a",
                sql: "CREATE TABLE IF NOT EXISTS t1 (a INTEGER);",
            },
            Step {
                version: 2,
                description: "b",
                // Fails unless step 1 ran before it, and if it ran twice.
                sql: "ALTER TABLE t1 ADD COLUMN b INTEGER;",
            },
            Step {
                version: 3,
                description: "c",
                sql: "CREATE INDEX t1_b ON t1 (b);",
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("s.sqlite"));
        assert_eq!(
            migrate(&mut conn, &steps[..2], 1).unwrap(),
            SchemaState {
                found: 0,
                version: 2
            }
        );
        assert_eq!(
            migrate(&mut conn, &steps, 2).unwrap(),
            SchemaState {
                found: 2,
                version: 3
            }
        );
        // A build that knows fewer steps than the file has leaves it as it is.
        assert_eq!(
            migrate(&mut conn, &steps[..1], 3).unwrap(),
            SchemaState {
                found: 3,
                version: 3
            }
        );
    }

    #[test]
    fn a_failing_step_leaves_the_file_as_it_was() {
        let steps = [
            STEPS[0],
            Step {
                version: 2,
                description: "broken",
                sql: "CREATE TABLE extra (a INTEGER); SELECT no_such_function();",
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("s.sqlite"));
        migrate(&mut conn, &steps, 1).unwrap_err();
        assert_eq!(recorded_version(&conn).unwrap(), None, "nothing recorded");
        assert!(tables(&conn).is_empty(), "{:?}", tables(&conn));
    }
}

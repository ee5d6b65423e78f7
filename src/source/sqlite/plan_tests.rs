//! The aggregation's SQLite query plan: every access to an OMS table goes through an index.
//! A join that scans a table instead turns the warm-up into a pass over every premise,
//! once per affected pair.

use rusqlite::Connection;

use super::generate;
use crate::source::{AGGREGATION_SQL, OMS_TABLES};

/// Any seed gives the same shape of data; this one is the service's default.
const SEED: u64 = 0x5252_4441_5237_3030;

/// The aliases the SQL gives the OMS tables (`FROM CISPERSL p2` gives `p2`).
fn table_aliases(sql: &str) -> Vec<(String, String)> {
    let code: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    let tokens: Vec<&str> = code.split_whitespace().collect();
    tokens
        .windows(3)
        .filter(|w| (w[0] == "FROM" || w[0] == "JOIN") && OMS_TABLES.contains(&w[1]))
        .map(|w| (w[1].to_owned(), w[2].to_owned()))
        .collect()
}

/// The `detail` column of `EXPLAIN QUERY PLAN`.
fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    stmt.query_map(
        rusqlite::named_params! {":ag_id": 370, ":dist": "370"},
        |row| row.get::<_, String>(3),
    )
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The plan lines that read `alias` without an index, if any; `None` if it is not read.
fn unindexed_reads(plan: &[String], alias: &str) -> Option<Vec<String>> {
    let reads: Vec<&String> = plan
        .iter()
        .filter(|d| {
            let mut words = d.split_whitespace();
            matches!(words.next(), Some("SCAN" | "SEARCH")) && words.next() == Some(alias)
        })
        .collect();
    (!reads.is_empty()).then(|| {
        reads
            .into_iter()
            .filter(|d| {
                !(d.starts_with("SEARCH") && (d.contains("INDEX") || d.contains("PRIMARY KEY")))
            })
            .cloned()
            .collect()
    })
}

#[test]
fn every_oms_table_is_read_through_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.db");
    // At Roraima's size: on a tiny demo, ANALYZE rightly prefers scanning a few rows.
    generate(&path, 1.0, SEED).unwrap();
    let conn = Connection::open(&path).unwrap();
    let plan = plan(&conn, AGGREGATION_SQL);
    let aliases = table_aliases(AGGREGATION_SQL);
    assert!(aliases.len() >= 4, "{aliases:?}");
    for (table, alias) in &aliases {
        let unindexed = unindexed_reads(&plan, alias)
            .unwrap_or_else(|| panic!("{table} {alias} not in the plan:\n{}", plan.join("\n")));
        assert!(
            unindexed.is_empty(),
            "{table} {alias} read without an index: {unindexed:?}\n{}",
            plan.join("\n")
        );
    }
}

#[test]
fn a_table_scan_is_caught() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(super::SCHEMA_SQL).unwrap();
    let sql = "SELECT p.PREMISE FROM CISPERSL p WHERE p.XFMR = :dist AND :ag_id = 1";
    assert_eq!(
        table_aliases(sql),
        [("CISPERSL".to_owned(), "p".to_owned())]
    );
    let without = plan(&conn, sql);
    assert_eq!(
        unindexed_reads(&without, "p").map(|u| u.len()),
        Some(1),
        "{without:?}"
    );
    conn.execute_batch(super::INDEXES_SQL).unwrap();
    let with = plan(&conn, sql);
    assert_eq!(unindexed_reads(&with, "p"), Some(vec![]), "{with:?}");
    assert_eq!(unindexed_reads(&with, "q"), None);
}

/// The `TABLE (COLUMNS)` of each `CREATE INDEX name ON TABLE (COLUMNS)` in `sql`.
fn index_definitions(sql: &str) -> Vec<String> {
    sql.lines()
        .filter_map(|line| line.trim().strip_prefix("CREATE INDEX "))
        .map(|rest| {
            let on = rest.split_once(" ON ").map_or("", |(_, on)| on);
            on.trim_end_matches(';').trim().to_owned()
        })
        .collect()
}

#[test]
fn the_oracle_guide_recommends_the_indexes_the_plan_uses() {
    let guide = include_str!("../../../docs/oracle.md");
    let indexes = index_definitions(super::INDEXES_SQL);
    assert_eq!(indexes.len(), 5, "{indexes:?}");
    for index in &indexes {
        assert!(
            guide.contains(&format!("`{index}`")),
            "docs/oracle.md section 3 does not recommend {index}, which \
             sql/sqlite/indexes.sql creates and the plan uses"
        );
    }
}

//! Benchmark: the shapes of rule 5 (`qtd_ucs_atendidas`) on one demo database, in one run:
//! the service's SQL (a correlated subquery per affected pair) and two grouped
//! alternatives, built from the service's rules 1 to 4 followed by a rule 5 from
//! `benches/sql/`: the plain grouped join, and the fastest grouped pass found for SQLite (it
//! streams the pairs in order, so the `GROUP BY` needs no sorter). All must give the same
//! rows; the ratios of their median times are what to compare (absolute times on shared
//! machines are noise). `docs/oracle.md` section 8 explains the choice.
//!
//! `cargo bench --bench aggregation_shapes` (scale 5 by default; `RADAR_BENCH_SCALE=1` for
//! Roraima's size).

use std::time::{Duration, Instant};

use radar_interrupcoes::source::AGGREGATION_SQL;
use radar_interrupcoes::source::sqlite;
use rusqlite::{Connection, OpenFlags, named_params};

const GROUPED_JOIN: &str = include_str!("sql/rule5_grouped_join.sql");
const GROUPED_STREAMED: &str = include_str!("sql/rule5_grouped_streamed.sql");
const REPEATS: usize = 7;

/// Where rule 5 starts in the service's SQL: everything before it (rules 1 to 4) is shared.
const RULE_5: &str = "-- Rule 5:";
/// The end of the `afetados` block, where the streamed shape adds its ordering.
const AFETADOS_END: &str = "> 0\n)\n";

/// The service's rules 1 to 4, then `rule_5`.
fn with_rule_5(rule_5: &str) -> String {
    let shared = &AGGREGATION_SQL[..AGGREGATION_SQL
        .find(RULE_5)
        .expect("the service's SQL marks where rule 5 starts")];
    format!("{}\n{rule_5}", shared.trim_end())
}

/// The streamed shape: `afetados` ordered by its key, then the grouped pass.
fn streamed() -> String {
    let sql = with_rule_5(GROUPED_STREAMED);
    assert_eq!(
        sql.matches(AFETADOS_END).count(),
        1,
        "the afetados block must end the WITH list's HAVING once"
    );
    sql.replacen(AFETADOS_END, "> 0\n   ORDER BY ps.CONJ, ps.IBGE\n)\n", 1)
}

type Row = (i64, i64, i64, i64, i64);

fn run(conn: &Connection, sql: &str) -> (Duration, Vec<Row>) {
    let started = Instant::now();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt
        .query_map(named_params! {":ag_id": 370, ":dist": "370"}, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<Vec<Row>, _>>()
        .unwrap();
    (started.elapsed(), rows)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn main() {
    let scale: f64 = std::env::var("RADAR_BENCH_SCALE")
        .ok()
        .map(|s| s.parse().expect("RADAR_BENCH_SCALE: a number"))
        .unwrap_or(5.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    let summary =
        sqlite::generate(&path, scale, radar_interrupcoes::config::DEFAULT_DEMO_SEED).unwrap();
    println!("scale {scale}: {summary}");
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();

    let shapes = [
        ("correlated subquery (service)", AGGREGATION_SQL.to_owned()),
        ("grouped join", with_rule_5(GROUPED_JOIN)),
        ("grouped pass, streamed", streamed()),
    ];
    let mut samples = vec![Vec::new(); shapes.len()];
    let mut answers: Vec<Option<Vec<Row>>> = vec![None; shapes.len()];
    // Interleaved, so that a noisy moment hurts both shapes alike.
    for _ in 0..REPEATS {
        for (i, (_, sql)) in shapes.iter().enumerate() {
            let (time, rows) = run(&conn, sql);
            samples[i].push(time);
            answers[i] = Some(rows);
        }
    }
    for (i, (name, _)) in shapes.iter().enumerate().skip(1) {
        assert_eq!(
            answers[0], answers[i],
            "{name} must give the service's rows"
        );
    }
    let rows = answers[0].as_ref().map_or(0, Vec::len);
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    for ((name, _), m) in shapes.iter().zip(&medians) {
        println!(
            "  {name:32}: median {m:?} over {REPEATS} runs, {rows} rows, {:.2}x the service's",
            m.as_secs_f64() / medians[0].as_secs_f64()
        );
    }
    println!(
        "absolute times on a shared machine are not comparable between runs: compare the ratios"
    );
}

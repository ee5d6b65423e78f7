//! Benchmark: the two shapes of rule 5 (`qtd_ucs_atendidas`) on one demo database, in one
//! run: the service's SQL (a correlated subquery per affected pair) and the grouped-join
//! alternative in benches/sql/grouped_join.sql. Both must give the same rows; the ratio of
//! their median times is what to compare (absolute times on shared machines are noise).
//!
//! `cargo bench --bench aggregation_shapes` (scale 5 by default; `RADAR_BENCH_SCALE=1` for
//! Roraima's size).

use std::time::{Duration, Instant};

use radar_interrupcoes::source::AGGREGATION_SQL;
use radar_interrupcoes::source::sqlite;
use rusqlite::{Connection, OpenFlags, named_params};

const GROUPED_JOIN_SQL: &str = include_str!("sql/grouped_join.sql");
const REPEATS: usize = 5;

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
    let summary = sqlite::generate(
        &path,
        scale,
        radar_interrupcoes::config::DEFAULT_DEMO_SEED,
        &radar_interrupcoes::server::setting_names(),
    )
    .unwrap();
    println!("scale {scale}: {summary}");
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();

    let shapes = [
        ("correlated subquery (service)", AGGREGATION_SQL),
        ("grouped join (alternative)", GROUPED_JOIN_SQL),
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
    assert_eq!(
        answers[0], answers[1],
        "the two shapes must give the same rows"
    );
    let rows = answers[0].as_ref().map_or(0, Vec::len);
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    for ((name, _), m) in shapes.iter().zip(&medians) {
        println!("  {name:32}: median {m:?} over {REPEATS} runs, {rows} rows");
    }
    println!(
        "grouped join / correlated subquery: {:.2}",
        medians[1].as_secs_f64() / medians[0].as_secs_f64()
    );
}

//! Black-box tests of the snapshot history: `dthRecuperacao` answers with controlled times,
//! across restarts, with a failing store, and the retention purge job.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{Behaviour, FakeSource, TestApp, row, test_settings};
use radar_interrupcoes::clock::ManualClock;
use radar_interrupcoes::health::INTERRUPCOES_SERVICE;
use radar_interrupcoes::jobs::{PURGE_JOB_NAME, STORE_WRITE_STEP, WARMUP_JOB_NAME};
use radar_interrupcoes::proto::interrupcoes::v1 as data_pb;
use radar_interrupcoes::proto::scheduler::v1::{FailureKind, RunOutcome};
use radar_interrupcoes::source::SourceError;
use radar_interrupcoes::store::{SnapshotStore, SqliteStore, schema};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus::Serving;

/// 20/11/2026 10:00 in Brasília (13:00 UTC), plus `minutes`.
fn brasilia(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 13, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// The (conjunto, programada) pairs of an answer: enough to tell snapshots apart.
fn items(answer: &data_pb::GetQuantitativoInterrupcoesAtivasResponse) -> Vec<(i32, i32)> {
    answer
        .resposta
        .as_ref()
        .unwrap()
        .interrupcao_fornecimento
        .iter()
        .map(|i| {
            (
                i.ide_conjunto_unidade_consumidora,
                i.qtd_ocorrencia_programada,
            )
        })
        .collect()
}

fn collected_at(answer: &data_pb::GetQuantitativoInterrupcoesAtivasResponse) -> i64 {
    answer
        .snapshot
        .as_ref()
        .unwrap()
        .collected_at
        .unwrap()
        .seconds
}

/// A server whose clock the test sets, storing in `store`.
async fn spawn_at(
    source: Arc<FakeSource>,
    store: Arc<SqliteStore>,
    clock: &ManualClock,
    instance: &str,
) -> TestApp {
    let mut settings = test_settings();
    settings.history.instance_id = instance.to_owned();
    // The live cache ages by the system clock, not the test's: keep the controlled past
    // within the hard limit, so live answers still carry their items.
    settings.stale_hard_limit = std::time::Duration::from_secs(3650 * 86_400);
    TestApp::spawn_backends(source, store, Arc::new(clock.clone()), settings).await
}

#[tokio::test]
async fn each_past_moment_gets_the_snapshot_current_then_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::new(dir.path().join("store.sqlite")));
    let clock = ManualClock::new(brasilia(0));
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 10, 0)]));
    let mut app = spawn_at(source.clone(), store.clone(), &clock, "replica-a").await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await; // start-up load at 10:00

    // Warm-ups at 10:30 and 11:00, each with other numbers.
    for (minutes, programada) in [(30, 20), (60, 30)] {
        clock.set(brasilia(minutes));
        source.set(Behaviour::Rows(vec![row(1, programada, 0), row(2, 1, 0)]));
        let run = app.trigger(WARMUP_JOB_NAME).await.unwrap().run.unwrap();
        assert_eq!(run.outcome, RunOutcome::Succeeded as i32);
        assert!(run.facts.contains_key("stored"), "{:?}", run.facts);
    }
    clock.set(brasilia(95));

    let first = vec![(1, 10)];
    let second = vec![(1, 20), (2, 1)];
    let third = vec![(1, 30), (2, 1)];
    let expected = [
        ("20/11/2026 10:00", &first, 0),
        ("20/11/2026 10:29", &first, 0),
        ("20/11/2026 10:30", &second, 30),
        ("20/11/2026 10:59", &second, 30),
        ("20/11/2026 11:00", &third, 60),
        ("20/11/2026 11:35", &third, 60),
    ];
    for (dth, want, minutes) in expected {
        let answer = app.get_at(dth).await.unwrap();
        assert_eq!(&items(&answer), want, "{dth}");
        let meta = answer.snapshot.as_ref().unwrap();
        assert_eq!(
            collected_at(&answer),
            brasilia(minutes).timestamp(),
            "{dth}"
        );
        assert_eq!(meta.instance, "replica-a");
        assert!(!meta.snapshot_id.is_empty());
        assert!(
            meta.cache_key.starts_with("interrupcoes:historico:v1:"),
            "{}",
            meta.cache_key
        );
        assert!(meta.dth_recuperacao.is_some());
        // Asked again: the same stored snapshot (now from the history cache).
        let again = app.get_at(dth).await.unwrap();
        assert_eq!(again.snapshot.unwrap().snapshot_id, meta.snapshot_id);
    }
    // The live answer is the latest snapshot, with no history metadata.
    let live = app.get().await.unwrap();
    assert_eq!(items(&live), third);
    assert!(live.snapshot.unwrap().snapshot_id.is_empty());

    // Restarted, with a source that now fails: the past is still answered.
    app.shutdown().await.unwrap();
    let down = FakeSource::new(Behaviour::Fail(SourceError::permanent(None, "source down")));
    let app = spawn_at(down, store, &clock, "replica-b").await;
    let answer = app.get_at("20/11/2026 10:45").await.unwrap();
    assert_eq!(items(&answer), second);
    assert_eq!(answer.snapshot.unwrap().instance, "replica-a");
}

#[tokio::test]
async fn every_bad_moment_gets_its_status_and_a_message_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::new(dir.path().join("store.sqlite")));
    let clock = ManualClock::new(brasilia(0));
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 10, 0)]));
    let app = spawn_at(source, store, &clock, "replica-a").await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    clock.set(brasilia(24 * 60)); // 21/11/2026 10:00

    let cases: &[(&str, Code, &[&str])] = &[
        (
            "2026-11-20 10:00",
            Code::InvalidArgument,
            &["dthRecuperacao", "2026-11-20 10:00", "dd/mm/yyyy hh:mm"],
        ),
        (
            "31/02/2026 10:00",
            Code::InvalidArgument,
            &["31/02/2026 10:00", "dd/mm/yyyy hh:mm"],
        ),
        (
            "29/02/2026 10:00",
            Code::InvalidArgument,
            &["29/02/2026 10:00"],
        ),
        (
            "20/11/2026 24:00",
            Code::InvalidArgument,
            &["20/11/2026 24:00"],
        ),
        (
            "21/11/2026 10:01",
            Code::InvalidArgument,
            &["future", "21/11/2026 10:00"],
        ),
        // Before the first stored snapshot.
        (
            "20/11/2026 09:59",
            Code::NotFound,
            &["oldest moment", "20/11/2026 10:00"],
        ),
        // Older than the 7-day retention.
        (
            "13/11/2026 09:00",
            Code::NotFound,
            &["oldest moment", "20/11/2026 10:00", "7 days"],
        ),
    ];
    for (dth, code, words) in cases {
        let e = app.get_at(dth).await.unwrap_err();
        assert_eq!(e.code(), *code, "{dth}: {}", e.message());
        for word in *words {
            assert!(
                e.message().contains(word),
                "{dth}: {word:?} not in {:?}",
                e.message()
            );
        }
    }
    assert!(
        app.get_at("21/11/2026 10:00").await.is_ok(),
        "now is not the future"
    );

    // Eight days later, the retention window starts after the first snapshot: the oldest
    // answerable moment is the window's start.
    clock.set(brasilia(8 * 24 * 60));
    let e = app.get_at("20/11/2026 10:00").await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("21/11/2026 10:00"), "{}", e.message());
    assert!(app.get_at("21/11/2026 10:00").await.is_ok());
}

#[tokio::test]
async fn a_failing_store_leaves_the_live_answer_refreshing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be: every store call fails.
    let path = dir.path().join("store.sqlite");
    std::fs::create_dir(&path).unwrap();
    let store =
        Arc::new(SqliteStore::new(path.clone()).naming_setting("RADAR_STORE_SQLITE_PATH".into()));
    let clock = ManualClock::new(brasilia(0));
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 10, 0)]));
    let app = spawn_at(source.clone(), store, &clock, "replica-a").await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;

    clock.set(brasilia(30));
    source.set(Behaviour::Rows(vec![row(7, 70, 0)]));
    let run = app.trigger(WARMUP_JOB_NAME).await.unwrap().run.unwrap();
    // Served but not stored: not a plain success, and said in typed fields.
    assert_eq!(run.outcome, RunOutcome::Degraded as i32);
    let failed = run.degraded.as_ref().expect("the failed step");
    assert_eq!(failed.step, STORE_WRITE_STEP);
    assert_eq!(failed.kind, FailureKind::Transient as i32);
    assert_eq!(failed.codes, vec!["SQLITE_CANTOPEN"]);
    assert!(
        failed.error.starts_with("snapshot store (sqlite)"),
        "{}",
        failed.error
    );
    assert!(!run.facts.contains_key("stored"), "{:?}", run.facts);
    let last = app
        .jobs()
        .await
        .jobs
        .into_iter()
        .find(|j| j.name == WARMUP_JOB_NAME);
    let last = last.unwrap().last_run.unwrap();
    assert_eq!(
        last.outcome,
        RunOutcome::Degraded as i32,
        "ListJobs says so too"
    );
    assert_eq!(last.degraded, run.degraded);
    assert_eq!(
        items(&app.get().await.unwrap()),
        vec![(7, 70)],
        "live answer refreshed"
    );

    // Clients get the kind and the code; the file and the setting stay in ListJobs (above)
    // and the logs.
    assert!(
        failed.error.contains("RADAR_STORE_SQLITE_PATH"),
        "{}",
        failed.error
    );
    let e = app.get_at("20/11/2026 10:15").await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    assert_eq!(
        e.message(),
        "the history is unavailable (snapshot store sqlite, SQLITE_CANTOPEN); the current \
         answer (without dthRecuperacao) is unaffected"
    );
    let dir_text = dir.path().display().to_string();
    for hidden in [dir_text.as_str(), "RADAR_STORE_SQLITE_PATH", "check"] {
        assert!(!e.message().contains(hidden), "{hidden}: {}", e.message());
    }
}

#[tokio::test]
async fn the_purge_job_is_listed_triggered_and_deletes_only_what_the_retention_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::new(dir.path().join("store.sqlite")));
    let clock = ManualClock::new(brasilia(0));
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = spawn_at(source.clone(), store.clone(), &clock, "replica-a").await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    // Snapshots on day 0 (start-up), day 1 and day 2, at 10:00.
    for day in [1, 2] {
        clock.set(brasilia(day * 24 * 60));
        source.set(Behaviour::Rows(vec![row(1, i64::from(day as i32) + 1, 0)]));
        app.trigger(WARMUP_JOB_NAME).await.unwrap();
    }
    // Day 8 at 12:00: the window starts on day 1 at 12:00. Day 0's snapshot was superseded
    // by day 1's before that: it goes. Day 1's answers day 1 from 12:00: it stays.
    clock.set(brasilia(8 * 24 * 60 + 120));
    let run = app.trigger(PURGE_JOB_NAME).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded as i32, "{}", run.error);
    let fact = |key: &str| run.facts.get(key).cloned();
    assert_eq!(
        fact("snapshots_deleted").as_deref(),
        Some("1"),
        "{:?}",
        run.facts
    );
    assert_eq!(store.oldest().await.unwrap(), Some(brasilia(24 * 60)));
    let answer = app.get_at("21/11/2026 12:00").await.unwrap();
    assert_eq!(items(&answer), vec![(1, 2)]);
    assert!(app.get_at("22/11/2026 10:00").await.is_ok());
}

#[tokio::test]
async fn at_start_up_a_store_from_before_schema_versions_is_migrated_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    // The store as the first release left it: its tables and a claim, no version table.
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(include_str!("../sql/sqlite/store.sql"))
        .unwrap();
    old.execute(
        "INSERT INTO radar_job_claim VALUES ('interrupcao_cache_warmup', 1, 'a', 1)",
        [],
    )
    .unwrap();
    drop(old);
    // A source that fails: no warm-up writes, so only the start-up step migrates.
    let down = FakeSource::new(Behaviour::Fail(SourceError::permanent(None, "source down")));
    let store = Arc::new(SqliteStore::new(path.clone()));
    let _app = spawn_at(down, store, &ManualClock::new(brasilia(0)), "replica-a").await;
    let version = || -> Option<i64> {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row("SELECT MAX(version) FROM radar_schema_version", [], |r| {
            r.get(0)
        })
        .ok()
    };
    for _ in 0..400 {
        if version().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(version(), Some(i64::from(schema::LATEST)));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let claims: i64 = conn
        .query_row("SELECT COUNT(*) FROM radar_job_claim", [], |r| r.get(0))
        .unwrap();
    assert_eq!(claims, 1, "kept");
}

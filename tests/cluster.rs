//! Several servers sharing one SQLite store and one cron tick: one source query per tick
//! cluster-wide, the same snapshot everywhere, and a dead claimant replaced after the
//! deadline; and a replica whose clock is not the store's stamping its first snapshot on
//! the store's time of record.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use common::{Behaviour, FakeSource, TestApp, row, test_settings};
use radar_interrupcoes::clock::SystemClock;
use radar_interrupcoes::health::INTERRUPCOES_SERVICE;
use radar_interrupcoes::jobs::WARMUP_JOB_NAME;
use radar_interrupcoes::proto::scheduler::v1::{JobRun, RunOutcome};
use radar_interrupcoes::store::schema::SchemaState;
use radar_interrupcoes::store::{
    Claim, ClaimOutcome, PurgeReport, SaveOutcome, SnapshotStore, SqliteStore, StoreError,
    StoredSnapshot,
};
use tonic_health::pb::health_check_response::ServingStatus::Serving;

async fn replica(source: Arc<FakeSource>, store: Arc<SqliteStore>, name: &str) -> TestApp {
    let mut settings = test_settings();
    settings.history.instance_id = name.to_owned();
    let app = TestApp::spawn_backends(source, store, Arc::new(SystemClock), settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    app
}

fn fact(run: &JobRun, key: &str) -> String {
    run.facts
        .get(key)
        .cloned()
        .unwrap_or_else(|| panic!("no fact {key:?} in {:?}", run.facts))
}

async fn fire(app: &TestApp, tick: DateTime<Utc>) -> JobRun {
    let run = app
        .scheduler
        .fire_tick(WARMUP_JOB_NAME, tick)
        .await
        .unwrap()
        .run;
    // Read it back as operators do.
    let listed = app.jobs().await.jobs;
    let job = listed.iter().find(|j| j.name == WARMUP_JOB_NAME).unwrap();
    let last = job.last_run.clone().unwrap();
    assert_eq!(last.run_id, run.run_id);
    assert_eq!(last.scheduled_at.unwrap().seconds, tick.timestamp());
    last
}

async fn collected_at(app: &TestApp) -> prost_types::Timestamp {
    app.get()
        .await
        .unwrap()
        .snapshot
        .unwrap()
        .collected_at
        .unwrap()
}

#[tokio::test]
async fn three_replicas_cost_the_source_one_query_per_tick_and_serve_the_same_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::new(dir.path().join("shared.sqlite")));
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let names = ["replica-a", "replica-b", "replica-c"];
    let mut apps = Vec::new();
    for name in names {
        apps.push(replica(source.clone(), store.clone(), name).await);
    }
    let before = source.calls(); // one start-up query each
    assert_eq!(before, 3);

    source.set(Behaviour::Rows(vec![row(1, 9, 0), row(4, 0, 2)]));
    let tick = Utc::now().trunc_subsecs(0);
    let runs = futures::future::join_all(apps.iter().map(|app| fire(app, tick))).await;

    assert_eq!(source.calls() - before, 1, "one source query for the tick");
    let mut modes: Vec<String> = runs.iter().map(|r| fact(r, "mode")).collect();
    modes.sort();
    assert_eq!(modes, ["adopted", "adopted", "queried"]);
    let claimant = runs
        .iter()
        .zip(names)
        .find(|(r, _)| fact(r, "mode") == "queried")
        .map(|(_, name)| name)
        .unwrap();
    for run in &runs {
        assert_eq!(run.outcome, RunOutcome::Succeeded as i32);
        assert_eq!(run.items, 2);
        if fact(run, "mode") == "adopted" {
            assert_eq!(fact(run, "snapshot_instance"), claimant);
            assert_eq!(fact(run, "claim"), format!("claimed by {claimant}"));
        }
    }

    let stored = store
        .for_tick(tick)
        .await
        .unwrap()
        .expect("the tick's snapshot");
    assert_eq!(stored.snapshot.instance, claimant);
    let first = collected_at(&apps[0]).await;
    assert_eq!(first.seconds, stored.snapshot.collected_at.timestamp());
    for app in &apps[1..] {
        assert_eq!(collected_at(app).await, first, "same snapshot everywhere");
    }
    for app in &apps {
        let meta = app.get().await.unwrap().snapshot.unwrap();
        assert_eq!(meta.instance, claimant);
    }
}

#[tokio::test]
async fn when_the_claimant_dies_mid_query_the_others_load_fresh_data_after_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::new(dir.path().join("shared.sqlite")));
    let dying = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let mut a = replica(dying.clone(), store.clone(), "replica-a").await;
    let survivors = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let b = replica(survivors.clone(), store.clone(), "replica-b").await;
    let c = replica(survivors.clone(), store.clone(), "replica-c").await;

    // A claims the tick and hangs in its query; then it is stopped.
    dying.set(Behaviour::Hang);
    let tick = Utc::now().trunc_subsecs(0);
    let calls = dying.calls();
    let scheduler = a.scheduler.clone();
    let hung = tokio::spawn(async move { scheduler.fire_tick(WARMUP_JOB_NAME, tick).await });
    while dying.calls() == calls {
        tokio::task::yield_now().await;
    }
    a.shutdown().await.unwrap();

    survivors.set(Behaviour::Rows(vec![row(3, 3, 3)]));
    let before = survivors.calls();
    let (rb, rc) = tokio::join!(fire(&b, tick), fire(&c, tick));
    for run in [&rb, &rc] {
        assert_eq!(run.outcome, RunOutcome::Succeeded as i32, "{}", run.error);
    }
    // One of them queried once the deadline passed and stored the tick's snapshot. The
    // other either queried too and then adopted the stored one (it lost the race to store),
    // or, when it looked once more after the winner stored, adopted it without a query.
    let mut runs = [&rb, &rc];
    runs.sort_by_key(|r| fact(r, "mode") != "queried");
    let [winner, other] = runs;
    assert_eq!(fact(winner, "mode"), "queried");
    assert_eq!(
        fact(winner, "claim"),
        "claimed by replica-a, who stored nothing by the deadline"
    );
    match fact(other, "mode").as_str() {
        "queried after the deadline, adopted the stored one" => {
            assert_eq!(survivors.calls() - before, 2);
        }
        "adopted" => assert_eq!(survivors.calls() - before, 1),
        mode => panic!("unexpected mode {mode:?}: {:?}", other.facts),
    }
    let stored = store
        .for_tick(tick)
        .await
        .unwrap()
        .expect("a snapshot for the tick");
    assert!(["replica-b", "replica-c"].contains(&stored.snapshot.instance.as_str()));
    assert_eq!(collected_at(&b).await, collected_at(&c).await);
    let answer = b.get().await.unwrap();
    let items = &answer.resposta.unwrap().interrupcao_fornecimento;
    assert_eq!(items[0].ide_conjunto_unidade_consumidora, 3, "fresh data");
    hung.abort();
}

/// The engine's own ticks, not `fire_tick`: two replicas on a cron every 2 seconds name
/// each tick alike (from the schedule, not their clocks), so one queries and the other
/// adopts. Polls `ListJobs` until both have run the same tick (bounded), asserts no time.
#[tokio::test]
async fn replicas_on_the_real_cron_agree_on_each_tick() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::new(dir.path().join("shared.sqlite")));
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let mut apps = Vec::new();
    for name in ["replica-a", "replica-b"] {
        let mut settings = test_settings();
        settings.warmup_cron = "*/2 * * * * *".parse().unwrap();
        settings.history.instance_id = name.to_owned();
        let app = TestApp::spawn_backends(
            source.clone(),
            store.clone(),
            Arc::new(SystemClock),
            settings,
        )
        .await;
        app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
        apps.push(app);
    }
    let mut seen: [std::collections::BTreeMap<i64, String>; 2] = Default::default();
    for _ in 0..600 {
        for (app, seen) in apps.iter().zip(seen.iter_mut()) {
            let jobs = app.jobs().await.jobs;
            let job = jobs.iter().find(|j| j.name == WARMUP_JOB_NAME).unwrap();
            if let Some(run) = &job.last_run
                && run.trigger == "cron"
                && run.outcome == RunOutcome::Succeeded as i32
            {
                seen.insert(run.scheduled_at.unwrap().seconds, fact(run, "mode"));
            }
        }
        if seen[0].keys().any(|tick| seen[1].contains_key(tick)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (tick, mode_a) = seen[0]
        .iter()
        .find(|(tick, _)| seen[1].contains_key(tick))
        .expect("both replicas ran one same tick");
    assert_eq!(tick % 2, 0, "a tick of the schedule: {tick}");
    let mut modes = [mode_a.clone(), seen[1][tick].clone()];
    modes.sort();
    assert_eq!(modes, ["adopted", "queried"], "tick {tick}");
    let stored = store
        .for_tick(DateTime::from_timestamp(*tick, 0).unwrap())
        .await
        .unwrap()
        .expect("the tick's snapshot");
    assert!(stored.snapshot.instance.starts_with("replica-"));
}

/// A SQLite store with a clock of its own, as an Oracle store has: its time of record is
/// `behind` this machine's clock, read half-way through a round trip of a few hundred
/// milliseconds (a start-up measurement that takes longer than a warm-up); `None`: it never
/// answers.
struct StoreWithClock {
    inner: SqliteStore,
    behind: Option<chrono::Duration>,
}

#[async_trait]
impl SnapshotStore for StoreWithClock {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn prepare(&self) -> Result<SchemaState, StoreError> {
        self.inner.prepare().await
    }
    async fn save(&self, snapshot: &StoredSnapshot) -> Result<SaveOutcome, StoreError> {
        self.inner.save(snapshot).await
    }
    async fn latest_at_or_before(
        &self,
        at: DateTime<Utc>,
    ) -> Result<Option<StoredSnapshot>, StoreError> {
        self.inner.latest_at_or_before(at).await
    }
    async fn for_tick(&self, tick_at: DateTime<Utc>) -> Result<Option<StoredSnapshot>, StoreError> {
        self.inner.for_tick(tick_at).await
    }
    async fn oldest(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.oldest().await
    }
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, StoreError> {
        self.inner.claim(claim).await
    }
    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(behind) = self.behind else {
            return std::future::pending().await;
        };
        let half_trip = std::time::Duration::from_millis(250);
        tokio::time::sleep(half_trip).await;
        let record = Utc::now() - behind;
        tokio::time::sleep(half_trip).await;
        Ok(Some(record))
    }
    async fn purge(
        &self,
        cutoff: DateTime<Utc>,
        batch_size: u32,
    ) -> Result<PurgeReport, StoreError> {
        self.inner.purge(cutoff, batch_size).await
    }
}

async fn replica_with_store_clock(
    behind: Option<chrono::Duration>,
    settings: radar_interrupcoes::config::ServiceSettings,
) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(StoreWithClock {
        inner: SqliteStore::new(dir.path().join("store.sqlite")),
        behind,
    });
    let source = FakeSource::new(Behaviour::Rows(vec![row(1, 1, 0)]));
    let app = TestApp::spawn_backends(source, store, Arc::new(SystemClock), settings).await;
    app.wait_health(INTERRUPCOES_SERVICE, Serving).await;
    (app, dir)
}

fn to_utc(t: &prost_types::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap()).unwrap()
}

#[tokio::test]
async fn the_first_snapshot_is_stamped_on_the_stores_time_of_record_not_the_local_clock() {
    // This machine runs 3 h ahead of the database. Stamped on the local clock, the first
    // snapshot would be 3 h in the future on the store's time: age 0, and fresh past any
    // failure until the next tick.
    let behind = chrono::Duration::hours(3);
    let started = Utc::now();
    let (app, _dir) = replica_with_store_clock(Some(behind), test_settings()).await;
    let snapshot = app.get().await.unwrap().snapshot.unwrap();
    let collected = to_utc(&snapshot.collected_at.unwrap());
    let margin = chrono::Duration::minutes(1);
    assert!(
        collected >= started - behind - margin && collected <= Utc::now() - behind + margin,
        "collected at {collected}, on the local clock (started at {started}) rather than 3 h \
         behind it"
    );
    assert!(!snapshot.stale, "{}", snapshot.stale_reason);
}

#[tokio::test]
async fn a_store_whose_time_of_record_never_comes_delays_the_first_snapshot_by_its_timeout_only() {
    let mut settings = test_settings();
    settings.history.store_timeout = std::time::Duration::from_millis(300);
    let started = Utc::now();
    let (app, _dir) = replica_with_store_clock(None, settings).await;
    // Loaded after the store timeout, on the local clock.
    let collected = to_utc(&collected_at(&app).await);
    assert!(
        collected >= started.trunc_subsecs(0),
        "{collected} < {started}"
    );
}

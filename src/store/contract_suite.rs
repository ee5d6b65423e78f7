//! The contract of [`SnapshotStore`], as one suite that every adapter runs against a fresh,
//! empty store: SQLite always, Oracle when its test variables are set. The schema cases
//! ([`run_schema_suite`]) also lose the schema under a running store, through the adapter's
//! [`SchemaHarness`].

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::schema::{LATEST, SchemaState};
use super::{Claim, ClaimOutcome, PurgeReport, SaveOutcome, SnapshotStore, StoredSnapshot};
use crate::domain::{InterrupcaoAtiva, RowRejection, Snapshot};

/// 20/11/2026 12:00 UTC plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// A snapshot collected at `at(minutes)` with `n` items whose values derive from `minutes`.
pub fn snapshot(minutes: i64, tick: bool, n: i32) -> StoredSnapshot {
    let m = i32::try_from(minutes).unwrap();
    StoredSnapshot {
        id: format!("snap-{minutes:06}"),
        tick_at: tick.then(|| at(minutes)),
        trigger: if tick { "cron" } else { "manual" }.to_owned(),
        snapshot: Snapshot {
            collected_at: at(minutes) + Duration::milliseconds(250),
            source: "fake".to_owned(),
            instance: format!("replica-{}", m % 3),
            items: (0..n)
                .map(|i| InterrupcaoAtiva {
                    ide_conjunto: 100 - i,
                    ide_municipio: 1_400_100 + i,
                    qtd_ucs_atendidas: 1_000 + m,
                    qtd_ocorrencia_programada: i,
                    qtd_ocorrencia_nao_programada: i32::MAX - m,
                })
                .collect(),
            rejected: (0..m % 3)
                .map(|i| RowRejection {
                    conjunto: (i > 0).then_some(i64::from(i)),
                    municipio: Some(140_010),
                    reason: format!("ideMunicipio 140010 is not 7 digits ({i})"),
                })
                .collect(),
        },
    }
}

/// Runs every case, each against a store made by `fresh`.
pub async fn run_contract_suite<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn SnapshotStore>>,
{
    round_trip_keeps_every_field_and_the_item_order(fresh().await).await;
    the_latest_at_or_before_a_moment_answers_it(fresh().await).await;
    a_tick_has_at_most_one_snapshot(fresh().await).await;
    the_first_claim_of_a_tick_wins(fresh().await).await;
    purge_deletes_exactly_what_the_retention_no_longer_needs(fresh().await).await;
}

/// What the schema cases need of an adapter's test besides a fresh store.
#[async_trait]
pub trait SchemaHarness: Send + Sync {
    /// A fresh, empty store with its schema in place (as [`run_contract_suite`]'s).
    async fn fresh(&self) -> Arc<dyn SnapshotStore>;
    /// Loses the last fresh store's schema under it, as an accident would: SQLite's file
    /// deleted, Oracle's tables dropped.
    async fn lose_schema(&self);
    /// What the operator then does: nothing for SQLite (the store recreates its schema),
    /// `sql/oracle/03_store.sql` run again for Oracle.
    async fn restore_schema(&self);
}

/// Runs the schema cases: versions, and a schema lost under a running store.
pub async fn run_schema_suite(harness: &dyn SchemaHarness) {
    preparing_is_idempotent_and_keeps_the_rows(harness.fresh().await).await;
    a_lost_schema_comes_back_under_the_same_store(harness).await;
}

async fn preparing_is_idempotent_and_keeps_the_rows(store: Arc<dyn SnapshotStore>) {
    let first = store.prepare().await.unwrap();
    assert_eq!(first.version, LATEST, "{}: {first:?}", store.name());
    let written = snapshot(30, true, 2);
    store.save(&written).await.unwrap();
    assert_eq!(
        store.prepare().await.unwrap(),
        SchemaState {
            found: LATEST,
            version: LATEST
        },
        "{}: nothing left to apply",
        store.name()
    );
    assert_eq!(store.for_tick(at(30)).await.unwrap(), Some(written));
}

async fn a_lost_schema_comes_back_under_the_same_store(harness: &dyn SchemaHarness) {
    let store = harness.fresh().await;
    store.save(&snapshot(0, true, 2)).await.unwrap();
    harness.lose_schema().await;
    harness.restore_schema().await;
    // The same store, no restart: writes, reads and claims work again.
    let written = snapshot(30, true, 3);
    assert_eq!(
        store.save(&written).await.unwrap(),
        SaveOutcome::Stored,
        "{}",
        store.name()
    );
    assert_eq!(store.for_tick(at(30)).await.unwrap(), Some(written));
    assert_eq!(store.for_tick(at(0)).await.unwrap(), None, "what was lost");
    let claim = Claim {
        job: "warmup".into(),
        fire_at: at(30),
        instance: "a".into(),
        claimed_at: at(30),
    };
    assert_eq!(store.claim(&claim).await.unwrap(), ClaimOutcome::Claimed);
    assert_eq!(store.prepare().await.unwrap().version, LATEST);
}

async fn round_trip_keeps_every_field_and_the_item_order(store: Arc<dyn SnapshotStore>) {
    assert_eq!(store.oldest().await.unwrap(), None);
    assert_eq!(store.latest_at_or_before(at(0)).await.unwrap(), None);
    let written = snapshot(30, false, 250);
    assert_eq!(store.save(&written).await.unwrap(), SaveOutcome::Stored);
    let read = store.latest_at_or_before(at(31)).await.unwrap().unwrap();
    assert_eq!(
        read,
        written,
        "{}: what is read is what was written",
        store.name()
    );
    let empty = snapshot(60, true, 0);
    assert_eq!(store.save(&empty).await.unwrap(), SaveOutcome::Stored);
    assert_eq!(store.for_tick(at(60)).await.unwrap(), Some(empty));
    assert_eq!(
        store.oldest().await.unwrap(),
        Some(written.snapshot.collected_at)
    );
}

async fn the_latest_at_or_before_a_moment_answers_it(store: Arc<dyn SnapshotStore>) {
    for minutes in [0, 30, 60, 90] {
        store
            .save(&snapshot(minutes, minutes % 60 == 0, 2))
            .await
            .unwrap();
    }
    let id_at = async |moment: DateTime<Utc>| {
        store
            .latest_at_or_before(moment)
            .await
            .unwrap()
            .map(|s| s.id)
    };
    // Collected 250 ms after the whole minute: the minute itself is before it.
    assert_eq!(id_at(at(0)).await, None);
    assert_eq!(
        id_at(at(0) + Duration::milliseconds(250)).await.as_deref(),
        Some("snap-000000")
    );
    assert_eq!(id_at(at(29)).await.as_deref(), Some("snap-000000"));
    assert_eq!(id_at(at(45)).await.as_deref(), Some("snap-000030"));
    assert_eq!(id_at(at(90)).await.as_deref(), Some("snap-000060"));
    assert_eq!(id_at(at(10_000)).await.as_deref(), Some("snap-000090"));
}

async fn a_tick_has_at_most_one_snapshot(store: Arc<dyn SnapshotStore>) {
    let first = snapshot(30, true, 3);
    assert_eq!(store.save(&first).await.unwrap(), SaveOutcome::Stored);
    let mut second = snapshot(30, true, 5);
    second.id = "another-replica".to_owned();
    second.snapshot.collected_at += Duration::seconds(20);
    assert_eq!(
        store.save(&second).await.unwrap(),
        SaveOutcome::AlreadyStored,
        "{}",
        store.name()
    );
    // Nothing of the second was written: the tick still answers the first, items intact.
    assert_eq!(store.for_tick(at(30)).await.unwrap(), Some(first.clone()));
    assert_eq!(
        store.latest_at_or_before(at(100)).await.unwrap(),
        Some(first)
    );
    // Snapshots without a tick (start-up, manual) never collide.
    store.save(&snapshot(40, false, 1)).await.unwrap();
    store.save(&snapshot(41, false, 1)).await.unwrap();
    assert_eq!(store.for_tick(at(40)).await.unwrap(), None);
    assert_eq!(
        store
            .latest_at_or_before(at(100))
            .await
            .unwrap()
            .unwrap()
            .id,
        "snap-000041"
    );
}

async fn the_first_claim_of_a_tick_wins(store: Arc<dyn SnapshotStore>) {
    let claim = |job: &str, minutes: i64, instance: &str| Claim {
        job: job.to_owned(),
        fire_at: at(minutes),
        instance: instance.to_owned(),
        claimed_at: at(minutes) + Duration::milliseconds(3),
    };
    assert_eq!(
        store.claim(&claim("warmup", 30, "a")).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        store.claim(&claim("warmup", 30, "b")).await.unwrap(),
        ClaimOutcome::AlreadyClaimed { by: "a".into() }
    );
    assert_eq!(
        store.claim(&claim("warmup", 30, "a")).await.unwrap(),
        ClaimOutcome::AlreadyClaimed { by: "a".into() }
    );
    assert_eq!(
        store.claim(&claim("warmup", 60, "b")).await.unwrap(),
        ClaimOutcome::Claimed,
        "another tick"
    );
    assert_eq!(
        store.claim(&claim("purge", 30, "c")).await.unwrap(),
        ClaimOutcome::Claimed,
        "another job"
    );
}

async fn purge_deletes_exactly_what_the_retention_no_longer_needs(store: Arc<dyn SnapshotStore>) {
    // Eleven snapshots every 30 minutes, minutes 0..=300, and a claim for each.
    for minutes in (0..=300).step_by(30) {
        store.save(&snapshot(minutes, true, 4)).await.unwrap();
        store
            .claim(&Claim {
                job: "warmup".into(),
                fire_at: at(minutes),
                instance: "a".into(),
                claimed_at: at(minutes),
            })
            .await
            .unwrap();
    }
    // Cutoff at minute 100: minutes 0, 30, 60 were superseded before it; 90 was current
    // at the cutoff and answers 100..120, so it stays. Claims of ticks before 100 go.
    let report = store.purge(at(100), 2).await.unwrap();
    assert_eq!(
        (report.snapshots, report.claims),
        (3, 4),
        "{}: {report:?}",
        store.name()
    );
    assert!(report.batches >= 4, "batches of 2: {report:?}");
    assert_eq!(store.latest_at_or_before(at(89)).await.unwrap(), None);
    assert_eq!(
        store
            .latest_at_or_before(at(100))
            .await
            .unwrap()
            .unwrap()
            .id,
        "snap-000090"
    );
    assert_eq!(
        store.oldest().await.unwrap(),
        Some(snapshot(90, true, 0).snapshot.collected_at)
    );
    for minutes in (90..=300).step_by(30) {
        let kept = store.for_tick(at(minutes)).await.unwrap();
        assert_eq!(kept, Some(snapshot(minutes, true, 4)), "minute {minutes}");
    }
    // Claims from minute 100 on stay (a second claim of them is refused).
    let again = |minutes| Claim {
        job: "warmup".into(),
        fire_at: at(minutes),
        instance: "b".into(),
        claimed_at: at(minutes),
    };
    assert_eq!(
        store.claim(&again(90)).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert!(matches!(
        store.claim(&again(120)).await.unwrap(),
        ClaimOutcome::AlreadyClaimed { .. }
    ));
    // Purging again deletes nothing more.
    assert_eq!(
        store.purge(at(100), 2).await.unwrap(),
        PurgeReport {
            snapshots: 0,
            claims: 1, // the claim of minute 90 just made
            batches: 1,
        }
    );
}

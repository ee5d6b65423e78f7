//! The snapshot store as the scheduler's [`TickClaims`] port: a tick's claim is a row whose
//! unique key (job, tick) lets only the first replica insert it, and the store's clock (the
//! database's, for Oracle; none for SQLite, whose replicas share one host) is the time of
//! record.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Claim, ClaimOutcome, SnapshotStore};
use crate::scheduler::cluster::{self, ClaimError, TickClaim, TickClaims};

/// Claims ticks in a [`SnapshotStore`].
#[derive(Clone)]
pub struct StoreClaims(pub Arc<dyn SnapshotStore>);

#[async_trait]
impl TickClaims for StoreClaims {
    async fn claim(&self, claim: &TickClaim) -> Result<cluster::ClaimOutcome, ClaimError> {
        let claim = Claim {
            job: claim.job.clone(),
            fire_at: claim.fire_at,
            instance: claim.instance.clone(),
            claimed_at: claim.claimed_at,
        };
        match self.0.claim(&claim).await? {
            ClaimOutcome::Claimed => Ok(cluster::ClaimOutcome::Claimed),
            ClaimOutcome::AlreadyClaimed { by } => Ok(cluster::ClaimOutcome::AlreadyClaimed { by }),
        }
    }

    async fn time_of_record(&self) -> Result<Option<DateTime<Utc>>, ClaimError> {
        Ok(self.0.time_of_record().await?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::SqliteStore;

    #[tokio::test]
    async fn the_first_claim_of_a_tick_wins_and_the_others_learn_by_whom() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path().join("store.sqlite"));
        let claims = StoreClaims(Arc::new(store));
        let tick = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let claim = |instance: &str| TickClaim {
            job: "warmup".into(),
            fire_at: tick,
            instance: instance.into(),
            claimed_at: tick,
        };
        assert_eq!(
            claims.claim(&claim("a")).await.unwrap(),
            cluster::ClaimOutcome::Claimed
        );
        assert_eq!(
            claims.claim(&claim("b")).await.unwrap(),
            cluster::ClaimOutcome::AlreadyClaimed { by: "a".into() }
        );
    }

    #[tokio::test]
    async fn a_sqlite_store_has_no_clock_of_its_own_so_the_offset_stays_none() {
        use crate::clock::{Clock, CorrectedClock, ManualClock};
        let dir = tempfile::tempdir().unwrap();
        let claims = StoreClaims(Arc::new(SqliteStore::new(dir.path().join("store.sqlite"))));
        assert_eq!(claims.time_of_record().await.unwrap(), None);
        // A replica's clock 60 s ahead stays as it is: every replica of the file reads it.
        let local = Utc.with_ymd_and_hms(2026, 11, 29, 12, 1, 0).unwrap();
        let clock = CorrectedClock::new(Arc::new(ManualClock::new(local)));
        assert_eq!(
            cluster::measure_offset(&claims, &clock).await.unwrap(),
            None
        );
        assert_eq!(clock.offset(), chrono::Duration::zero());
        assert_eq!(clock.now(), local);
    }
}

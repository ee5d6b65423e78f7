//! Work done once per snapshot instead of once per call.
//!
//! A snapshot changes only when a warm-up replaces it (every 30 minutes), while it may be
//! read thousands of times a second. Each adapter keeps its own form of the current
//! snapshot's answer here (the gRPC message, the ANEEL JSON body), built by the first call
//! that reads a new snapshot and shared by every call after it; a call then adds only what
//! changes with time (age, staleness).
//!
//! Past answers (`dthRecuperacao`) get the same treatment per stored snapshot
//! ([`PerAnswer`]): a snapshot that answers many moments is prepared once, and a call adds
//! what depends on the moment (age and staleness then, the moment itself).

use std::sync::{Arc, RwLock, Weak};

use crate::answer::{Answer, HistoryLimits};
use crate::cache::Snapshot;

/// One prepared form per answering snapshot: the live one's, and those of the stored
/// snapshots that answer past moments. Past answers have their own bounded cache, keyed by
/// the stored snapshot's id (a stored snapshot never changes), so that they never evict the
/// live answer's form.
pub struct PerAnswer<T> {
    live: PerSnapshot<T>,
    past: moka::sync::Cache<Arc<str>, Arc<T>>,
}

impl<T: Send + Sync + 'static> PerAnswer<T> {
    /// An empty memo keeping at most as many past snapshots' forms, and for as long, as the
    /// history cache of `limits` keeps moments.
    pub fn new(limits: &HistoryLimits) -> Self {
        Self {
            live: PerSnapshot::new(),
            past: moka::sync::Cache::builder()
                .max_capacity(limits.cache_capacity)
                .time_to_live(limits.cache_ttl)
                .build(),
        }
    }

    /// The form of `answer`'s snapshot prepared by `prepare`, built at most once per
    /// snapshot while it is kept. `prepare` must use only what depends on the snapshot:
    /// the form is shared by every answer of it, at any age and, for a stored snapshot, at
    /// any moment.
    pub fn get_or_prepare(&self, answer: &Answer, prepare: impl FnOnce(&Answer) -> T) -> Arc<T> {
        match &answer.recovered {
            None => self
                .live
                .get_or_prepare(&answer.view.snapshot, |_| prepare(answer)),
            Some(recovered) => self
                .past
                .get_with_by_ref(&recovered.snapshot_id, || Arc::new(prepare(answer))),
        }
    }
}

/// One prepared form of the latest snapshot read, rebuilt when a different snapshot is read.
pub struct PerSnapshot<T> {
    slot: RwLock<Option<Entry<T>>>,
}

struct Entry<T> {
    /// Which snapshot `prepared` was built from. Weak, so that the memo never keeps a
    /// replaced snapshot's items alive; and while it exists the snapshot's allocation is not
    /// reused, so a new snapshot can never be mistaken for the old one.
    snapshot: Weak<Snapshot>,
    prepared: Arc<T>,
}

impl<T> Default for PerSnapshot<T> {
    fn default() -> Self {
        Self {
            slot: RwLock::new(None),
        }
    }
}

impl<T> PerSnapshot<T> {
    /// An empty memo: the first call prepares.
    pub fn new() -> Self {
        Self::default()
    }

    /// The form of `snapshot` prepared by `prepare`, built at most once per snapshot (by
    /// identity: a snapshot loaded again with the same content is a new snapshot).
    pub fn get_or_prepare(
        &self,
        snapshot: &Arc<Snapshot>,
        prepare: impl FnOnce(&Snapshot) -> T,
    ) -> Arc<T> {
        if let Some(prepared) =
            Self::hit(self.slot.read().expect("prepared lock").as_ref(), snapshot)
        {
            return prepared;
        }
        let mut slot = self.slot.write().expect("prepared lock");
        // Another call may have prepared it while this one waited for the lock.
        if let Some(prepared) = Self::hit(slot.as_ref(), snapshot) {
            return prepared;
        }
        let prepared = Arc::new(prepare(snapshot));
        *slot = Some(Entry {
            snapshot: Arc::downgrade(snapshot),
            prepared: prepared.clone(),
        });
        prepared
    }

    fn hit(slot: Option<&Entry<T>>, snapshot: &Arc<Snapshot>) -> Option<Arc<T>> {
        slot.filter(|entry| std::ptr::eq(entry.snapshot.as_ptr(), Arc::as_ptr(snapshot)))
            .map(|entry| entry.prepared.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::{DateTime, Utc};

    use super::*;

    fn snapshot() -> Arc<Snapshot> {
        Arc::new(Snapshot {
            collected_at: DateTime::<Utc>::UNIX_EPOCH,
            source: "test".to_owned(),
            instance: "radar-0".to_owned(),
            items: Vec::new(),
            rejected: Vec::new(),
        })
    }

    #[test]
    fn prepares_once_per_snapshot_and_again_for_a_new_one_with_the_same_content() {
        let memo = PerSnapshot::new();
        let builds = AtomicUsize::new(0);
        let prepare = |s: &Snapshot| {
            builds.fetch_add(1, Ordering::SeqCst);
            s.collected_at
        };
        let first = snapshot();
        let a = memo.get_or_prepare(&first, prepare);
        let b = memo.get_or_prepare(&first, prepare);
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second call shares the first one's work"
        );
        assert_eq!(builds.load(Ordering::SeqCst), 1);

        let second = Arc::new((*first).clone());
        memo.get_or_prepare(&second, prepare);
        assert_eq!(
            builds.load(Ordering::SeqCst),
            2,
            "a replaced snapshot is prepared anew"
        );
        memo.get_or_prepare(&first, prepare);
        assert_eq!(
            builds.load(Ordering::SeqCst),
            3,
            "only the latest form is kept"
        );
    }

    fn answer(snapshot: &Arc<Snapshot>, past_id: Option<&str>) -> Answer {
        Answer {
            view: crate::cache::SnapshotView {
                snapshot: snapshot.clone(),
                age: std::time::Duration::ZERO,
                stale_reason: None,
                expired: false,
            },
            email_indisponibilidade: "a@b.br".to_owned(),
            cache_key: "k".to_owned(),
            recovered: past_id.map(|id| crate::answer::Recovered {
                asked_at: snapshot.collected_at,
                snapshot_id: id.into(),
            }),
        }
    }

    #[test]
    fn past_answers_are_prepared_once_per_stored_snapshot_and_leave_the_live_form_alone() {
        let memo = PerAnswer::new(&HistoryLimits {
            retention: chrono::Duration::days(7),
            cache_capacity: 100,
            cache_ttl: std::time::Duration::from_secs(600),
            stale_after: std::time::Duration::from_secs(60),
        });
        let builds = AtomicUsize::new(0);
        let prepare = |a: &Answer| {
            builds.fetch_add(1, Ordering::SeqCst);
            a.recovered.as_ref().map(|r| r.snapshot_id.to_string())
        };
        let live = snapshot();
        let live_form = memo.get_or_prepare(&answer(&live, None), prepare);
        assert_eq!(*live_form, None);
        for n in 0..10 {
            let id = format!("stored-{}", n % 3);
            // Each moment's answer brings its own copy: the id says which snapshot it is.
            let form = memo.get_or_prepare(&answer(&snapshot(), Some(&id)), prepare);
            assert_eq!(form.as_deref(), Some(id.as_str()));
        }
        assert_eq!(
            builds.load(Ordering::SeqCst),
            4,
            "live + three stored snapshots"
        );
        let again = memo.get_or_prepare(&answer(&live, None), prepare);
        assert!(
            Arc::ptr_eq(&live_form, &again),
            "history calls never evict the live form"
        );
        assert_eq!(builds.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_replaced_snapshot_is_not_kept_alive_by_the_memo() {
        let memo = PerSnapshot::new();
        let first = snapshot();
        memo.get_or_prepare(&first, |_| ());
        let weak = Arc::downgrade(&first);
        drop(first);
        assert!(weak.upgrade().is_none());
        // A new snapshot is prepared, never mistaken for the dropped one.
        let builds = AtomicUsize::new(0);
        memo.get_or_prepare(&snapshot(), |_| {
            builds.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }
}

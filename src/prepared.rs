//! Work done once per snapshot instead of once per call.
//!
//! A snapshot changes only when a warm-up replaces it (every 30 minutes), while it may be
//! read thousands of times a second. Each adapter keeps its own form of the current
//! snapshot's answer here (the gRPC message, the ANEEL JSON body), built by the first call
//! that reads a new snapshot and shared by every call after it; a call then adds only what
//! changes with time (age, staleness).

use std::sync::{Arc, RwLock, Weak};

use crate::cache::Snapshot;

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

    use chrono::Utc;

    use super::*;

    fn snapshot() -> Arc<Snapshot> {
        Arc::new(Snapshot {
            collected_at: Utc::now(),
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

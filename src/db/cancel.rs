//! Cancelling a blocking database call whose caller went away.
//!
//! Adapters run their driver calls on tokio's blocking pool. When the caller stops waiting
//! (the job's attempt timed out and dropped the future, or the adapter's own deadline
//! passed), the blocking call would otherwise go on until it ends by itself, holding a
//! thread, a session and the database's attention while the retry starts another one.

use std::sync::{Arc, Mutex};

use crate::locks::lock;

/// Something that stops a running driver call from another thread. Each adapter implements
/// it for its driver's handle.
pub trait Cancel: Send + 'static {
    /// Asks the driver to abandon what it is running; it then returns an error.
    fn cancel(&self);
}

/// Held by the async side of a fetch; the blocking side registers its canceller in the
/// [`slot`](Self::slot) once it has a connection. Dropped while armed, it cancels.
pub struct CancelOnDrop<C: Cancel> {
    slot: Arc<Mutex<Option<C>>>,
}

impl<C: Cancel> Default for CancelOnDrop<C> {
    fn default() -> Self {
        Self {
            slot: Arc::new(Mutex::new(None)),
        }
    }
}

impl<C: Cancel> CancelOnDrop<C> {
    /// Where the blocking side puts its canceller (see [`register`]).
    pub fn slot(&self) -> Arc<Mutex<Option<C>>> {
        Arc::clone(&self.slot)
    }

    /// The fetch ended: nothing to cancel.
    pub fn disarm(self) {
        lock(&self.slot).take();
    }
}

impl<C: Cancel> Drop for CancelOnDrop<C> {
    fn drop(&mut self) {
        if let Some(canceller) = lock(&self.slot).take() {
            tracing::warn!("database call abandoned by its caller: cancelling it");
            canceller.cancel();
        }
    }
}

/// Called by the blocking side once the call can be cancelled.
pub fn register<C: Cancel>(slot: &Mutex<Option<C>>, canceller: C) {
    *lock(slot) = Some(canceller);
}

/// Called by the blocking side when the call is over, before it releases what it
/// registered: the async side then holds no handle, so the last reference (and whatever its
/// drop does: a session's implicit rollback and close) goes away on the blocking thread,
/// not on the async worker that happens to disarm the guard.
pub fn unregister<C: Cancel>(slot: &Mutex<Option<C>>) -> Option<C> {
    lock(slot).take()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Clone, Default)]
    struct Counter(Arc<AtomicUsize>);

    impl Cancel for Counter {
        fn cancel(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn an_abandoned_call_is_cancelled_once() {
        let counter = Counter::default();
        let guard = CancelOnDrop::default();
        register(&guard.slot(), counter.clone());
        drop(guard);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_finished_call_is_not_cancelled() {
        let counter = Counter::default();
        let guard = CancelOnDrop::default();
        register(&guard.slot(), counter.clone());
        guard.disarm();
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_unregistered_handle_is_no_longer_shared_nor_cancelled() {
        let counter = Counter::default();
        let guard = CancelOnDrop::default();
        register(&guard.slot(), counter.clone());
        assert_eq!(Arc::strong_count(&counter.0), 2);
        drop(unregister(&guard.slot()));
        assert_eq!(
            Arc::strong_count(&counter.0),
            1,
            "the guard still holds the handle"
        );
        drop(guard);
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn nothing_to_cancel_before_the_call_starts() {
        let guard: CancelOnDrop<Counter> = CancelOnDrop::default();
        drop(guard); // no canceller registered yet: nothing happens, no panic
    }
}

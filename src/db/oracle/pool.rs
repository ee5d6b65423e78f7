//! The session pool, created on first use rather than at start-up, so that the service starts
//! and answers health checks while Oracle is unreachable or its client library is missing; a
//! failed creation is tried again by the next call.

use std::sync::{Mutex, OnceLock, TryLockError};

use oracle::pool::Pool;

use crate::locks::lock;

/// A pool created by the first call that needs one.
#[derive(Default)]
pub struct LazyPool {
    /// Empty until a pool is created; read without waiting.
    pool: OnceLock<Pool>,
    /// Held while creating the pool (possibly for minutes against a hung network), so that
    /// concurrent calls do not create two. Nothing else waits on it.
    creating: Mutex<()>,
}

impl LazyPool {
    /// The pool, created with `create` if there is none yet. Blocks while another call
    /// creates it; call it only on a blocking thread.
    ///
    /// # Errors
    /// `create`'s error; the next call tries again.
    pub fn get_or_create<E>(&self, create: impl FnOnce() -> Result<Pool, E>) -> Result<Pool, E> {
        if let Some(pool) = self.pool.get() {
            return Ok(pool.clone());
        }
        let _creating = lock(&self.creating);
        // Another call may have created it while this one waited.
        if let Some(pool) = self.pool.get() {
            return Ok(pool.clone());
        }
        let pool = create()?;
        Ok(self.pool.get_or_init(|| pool).clone())
    }

    /// Whether the pool has been created. Never waits, also while a creation is under way.
    pub fn is_created(&self) -> bool {
        self.pool.get().is_some()
    }

    /// `created`, `creating` or `not created`, for `Debug` and status pages, without waiting
    /// for a creation under way.
    pub fn state(&self) -> &'static str {
        if self.is_created() {
            return "created";
        }
        match self.creating.try_lock() {
            Err(TryLockError::WouldBlock) => "creating",
            Ok(_) | Err(TryLockError::Poisoned(_)) => "not created",
        }
    }
}

impl std::fmt::Debug for LazyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.state())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_does_not_wait_for_a_creation_under_way() {
        let pool = LazyPool::default();
        assert_eq!(pool.state(), "not created");
        let _creating = lock(&pool.creating);
        // With `lock()` instead of `try_lock()` this would deadlock.
        assert_eq!(pool.state(), "creating");
        assert!(!pool.is_created());
    }

    #[test]
    fn a_failed_creation_leaves_no_pool_and_is_tried_again() {
        let pool = LazyPool::default();
        let mut attempts = 0;
        for _ in 0..2 {
            let created = pool.get_or_create(|| {
                attempts += 1;
                Err::<Pool, _>("no listener")
            });
            assert_eq!(created.unwrap_err(), "no listener");
            assert!(!pool.is_created());
        }
        assert_eq!(attempts, 2);
    }
}

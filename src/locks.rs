//! The service's one lock-poisoning policy: a poisoned lock is taken over, never a panic.
//!
//! A `std::sync` lock is poisoned when a thread panicked while holding it. Every critical
//! section in the service is a few plain assignments (bookkeeping, a cached value, the time
//! of a manual clock) that leave the data whole even if a panic interrupts the code around
//! them, so the value behind a poisoned lock is still valid. Panicking on it instead
//! (`expect`) would turn one caught panic (a job's, which the scheduler records) into a
//! failure of every later caller: a scheduler that can no longer list or run jobs, a cache
//! that can no longer answer. Files use these helpers instead of `lock().expect(..)`.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `mutex`, taking it over if a panic poisoned it (see the module doc).
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks `lock`, taking it over if a panic poisoned it (see the module doc).
pub fn read<T: ?Sized>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks `lock`, taking it over if a panic poisoned it (see the module doc).
pub fn write<T: ?Sized>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_poisoned_by_a_panic_still_gives_its_value() {
        let mutex = Mutex::new(1);
        let rw = RwLock::new(2);
        std::thread::scope(|s| {
            let poisoner = s.spawn(|| {
                let _m = mutex.lock().unwrap();
                let _w = rw.write().unwrap();
                panic!("poisoning on purpose");
            });
            assert!(poisoner.join().is_err());
        });
        assert!(mutex.is_poisoned() && rw.is_poisoned());
        *lock(&mutex) += 1;
        *write(&rw) += 1;
        assert_eq!((*lock(&mutex), *read(&rw)), (2, 3));
    }
}

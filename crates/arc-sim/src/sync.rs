//! Locking that survives a panicked holder: the simulator's state stays
//! usable (a test that panicked while holding a lock has already failed).

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Lock `m`, taking the guard of a poisoned mutex as well.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

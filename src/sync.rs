//! The one poison-tolerant lock: every mutex of ours guards data that each update leaves whole
//! (a push, an insert, a whole assignment), so a thread that panicked holding it cannot have
//! left it half-written, and the data stays usable.

use std::sync::{Mutex, MutexGuard};

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

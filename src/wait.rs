//! Blocking waits on a condition variable with an optional deadline, for the C caller's
//! threads (`ylokh_request_wait`, `ylokh_request_next`).

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Waits until `take` returns a value, or `timeout` passes (`None`: no limit). `take` runs with
/// the lock held, once at the start and after every wake-up.
pub fn wait_for<T, R>(
    mutex: &Mutex<T>,
    cv: &Condvar,
    timeout: Option<Duration>,
    mut take: impl FnMut(&mut T) -> Option<R>,
) -> Option<R> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(value) = take(&mut guard) {
            return Some(value);
        }
        guard = match deadline {
            None => cv.wait(guard).unwrap_or_else(|e| e.into_inner()),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                cv.wait_timeout(guard, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
    }
}

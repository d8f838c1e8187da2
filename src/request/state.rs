//! The part of a request target between its task and its handle: cancellation, and the final
//! status once the last event was delivered.

use crate::error::Error;
use crate::status::Status;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How a cancelled request ends.
pub(super) fn cancelled() -> Error {
    Error::new(Status::Cancelled, "the request was cancelled")
}

pub struct RequestState {
    cancelled: AtomicBool,
    cancel: Notify,
    /// The final status and message, once on_done has returned.
    finished: Mutex<Option<(Status, Option<String>)>>,
    finished_cv: Condvar,
}

impl Default for RequestState {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestState {
    pub fn new() -> Self {
        RequestState {
            cancelled: AtomicBool::new(false),
            cancel: Notify::new(),
            finished: Mutex::new(None),
            finished_cv: Condvar::new(),
        }
    }

    /// Asks the request to stop; never blocks; idempotent.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.cancel.notify_waiters();
    }

    /// Whether the request was asked to stop: checked before each delivery, so a cancel made
    /// inside a callback stops the events already read too.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Returns once the request was asked to stop.
    pub(crate) async fn cancelled(&self) {
        loop {
            // A `Notified` receives notify_waiters from its creation on, so no wake-up is lost.
            let notified = self.cancel.notified();
            if self.cancelled.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    /// Records the final status once on_done has returned, and wakes the waiters.
    pub fn finish(&self, status: Status, message: Option<String>) {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = Some((status, message));
        self.finished_cv.notify_all();
    }

    /// The final status and message, or `None` when `timeout` passed first (`None`: no limit).
    pub fn wait(&self, timeout: Option<Duration>) -> Option<(Status, Option<String>)> {
        crate::wait::wait_for(&self.finished, &self.finished_cv, timeout, |done| {
            done.clone()
        })
    }
}

//! `ylokh_request_fd`: a pull request's descriptor, for the caller's own event loop.

use super::boundary;
use super::request::ylokh_request;
use crate::error::Error;
use crate::status::Status;

/// A descriptor that is readable exactly while `ylokh_request_next(req, 0, &ev)` would return
/// an event (DONE included, until it has been handed out); level-triggered, for `poll`,
/// `epoll` (either mode), libuv's `uv_poll_t`, GLib's `g_unix_fd_add`, Qt's `QSocketNotifier`.
/// Only for a request started with `callbacks == NULL` (a pull request).
///
/// Owned by the request: valid until `ylokh_request_free`, which closes it. Never read, write
/// or close it. Every call returns the same descriptor. It is written only on the queue's
/// empty → non-empty edge and drained when the consumer takes the last event, so waking costs
/// nothing per token while the consumer is behind. Linux: an eventfd; elsewhere a pipe.
///
/// On a request with callbacks, on NULL, or when the process has no descriptor left: -1, and
/// `ylokh_last_error` says why (the status is YLOKH_INVALID_ARGUMENT, or YLOKH_INTERNAL for
/// the system's refusal). Any thread.
#[no_mangle]
pub unsafe extern "C" fn ylokh_request_fd(req: *const ylokh_request) -> std::ffi::c_int {
    boundary(
        |_| -1,
        || {
            // SAFETY: NULL or a live request handle (the contract).
            let req =
                unsafe { req.as_ref() }.ok_or_else(|| Error::invalid("req must not be NULL"))?;
            let Some(queue) = req.pull.as_ref() else {
                return Err(Error::invalid(
                    "ylokh_request_fd works only on a request started with callbacks == NULL (a pull request); a request with callbacks delivers its events on a library thread",
                ));
            };
            queue.fd().map_err(|e| {
                Error::new(
                    Status::Internal,
                    format!("could not make the request's descriptor: {e} (raise the open-files limit, ulimit -n)"),
                )
            })
        },
    )
}

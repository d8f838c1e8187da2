//! `ylokh_client`: the session handle.

use super::status::ylokh_status;
use super::{status_boundary, void_boundary, Out};
use crate::client::Client;
use crate::options::Options;

/// A client: its own runtime threads, a pool of keep-alive connections, and the requests it
/// runs. Thread-safe: requests may be started from any thread.
///
/// Methods: `ylokh_client_new`, `ylokh_client_free`; requests start with `ylokh_chat_send`
/// (`ylokh_chat_start`, `ylokh_chat_complete`: 0.1 forms), `ylokh_embed`, `ylokh_mcp_connect`
/// and `ylokh_agent_run`.
pub struct ylokh_client {
    pub(crate) inner: Client,
}

/// Creates a client from `opts` (copied, so it may be freed right after; NULL: the Ylokh
/// preset) and writes it to `*out`. The caller owns the client: free it with
/// `ylokh_client_free`, from any thread. Any thread; about 2 ms (it starts the client's threads).
/// (0.3) A client belongs to the process that made it: in a fork()ed child (which has none of
/// its threads) every call that would start a request fails at once with
/// YLOKH_INVALID_ARGUMENT and a message that says to make a new client in the child, and
/// `ylokh_client_free` there returns without touching the parent's threads.
#[no_mangle]
pub unsafe extern "C" fn ylokh_client_new(
    opts: *const super::options::ylokh_options,
    out: *mut *mut ylokh_client,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: `out` is NULL or writable, and `opts` NULL or a live options object (the
        // contract of this function).
        let (out, opts) = unsafe { (Out::new(out, "out")?, opts.as_ref()) };
        let client = match opts {
            None => Client::new(&Options::ylokh())?,
            Some(opts) => Client::new(&opts.inner)?,
        };
        out.write(Box::into_raw(Box::new(ylokh_client { inner: client })));
        Ok(())
    })
}

/// Cancels every request of the client that is still running, waits until each one's
/// `on_done` has returned and the client's threads have stopped, then returns: after it, no
/// callback of the client runs again. From inside a library callback it cannot wait: it starts
/// the same teardown and returns at once. NULL does nothing. Request handles stay valid (free
/// them with `ylokh_request_free`).
#[no_mangle]
pub unsafe extern "C" fn ylokh_client_free(client: *mut ylokh_client) {
    void_boundary(|| {
        if !client.is_null() {
            // SAFETY: a client from ylokh_client_new, freed once (the contract).
            drop(unsafe { Box::from_raw(client) });
        }
    })
}

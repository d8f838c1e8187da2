//! Where a request's events go: the C callbacks, or the pull queue.
//!
//! The per-token path copies the text once into a reused buffer (to add the NUL the contract
//! promises) and calls the callback: no allocation, no lock. The pull queue copies it into a
//! recycled buffer under the queue's lock.

use crate::error::Error;
use crate::ffi::types::{ylokh_callbacks, CResult};
use crate::pull::{PullQueue, TextKind};
use crate::request::Outcome;
use crate::status::YLOKH_ABORTED;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

type TextFn = unsafe extern "C" fn(*mut c_void, *const c_char, usize) -> c_int;

pub enum Sink {
    Callbacks(CallbackSink),
    Queue(Arc<PullQueue>),
}

pub struct CallbackSink {
    callbacks: ylokh_callbacks,
    text: Vec<u8>,
}

// SAFETY: API.md makes the caller promise that `user_data` and the callbacks may be used from a
// library thread until on_done returns; the sink is used by one task at a time.
unsafe impl Send for CallbackSink {}

impl CallbackSink {
    pub fn new(callbacks: ylokh_callbacks) -> Self {
        CallbackSink {
            callbacks,
            text: Vec::with_capacity(256),
        }
    }

    fn call_text(&mut self, f: Option<TextFn>, name: &str, text: &[u8]) -> Result<(), Error> {
        let Some(f) = f else { return Ok(()) };
        self.text.clear();
        self.text.extend_from_slice(text);
        self.text.push(0);
        // SAFETY: a C callback of the documented signature; the text lives until it returns.
        let rc = unsafe {
            f(
                self.callbacks.user_data,
                self.text.as_ptr().cast(),
                text.len(),
            )
        };
        if rc != 0 {
            return Err(aborted(name, rc));
        }
        Ok(())
    }
}

fn aborted(name: &str, rc: c_int) -> Error {
    Error::new(
        YLOKH_ABORTED,
        format!("the {name} callback returned {rc}, so the request was stopped"),
    )
}

impl Sink {
    pub async fn token(&mut self, text: &str) -> Result<(), Error> {
        match self {
            Sink::Callbacks(s) => s.call_text(s.callbacks.on_token, "on_token", text.as_bytes()),
            Sink::Queue(q) => {
                q.push_text(TextKind::Token, text.as_bytes()).await;
                Ok(())
            }
        }
    }

    pub async fn reasoning(&mut self, text: &str) -> Result<(), Error> {
        match self {
            Sink::Callbacks(s) => {
                s.call_text(s.callbacks.on_reasoning, "on_reasoning", text.as_bytes())
            }
            Sink::Queue(q) => {
                q.push_text(TextKind::Reasoning, text.as_bytes()).await;
                Ok(())
            }
        }
    }

    pub async fn chunk(&mut self, json: &[u8]) -> Result<(), Error> {
        match self {
            Sink::Callbacks(s) => s.call_text(s.callbacks.on_chunk, "on_chunk", json),
            Sink::Queue(q) if q.chunks => {
                q.push_text(TextKind::Chunk, json).await;
                Ok(())
            }
            Sink::Queue(_) => Ok(()),
        }
    }

    /// The last delivery of every request.
    pub fn done(&mut self, outcome: Outcome) {
        match self {
            Sink::Callbacks(s) => {
                if let Some(on_done) = s.callbacks.on_done {
                    let result = CResult::new(&outcome);
                    // SAFETY: a C callback of the documented signature; the result lives until it returns.
                    unsafe { on_done(s.callbacks.user_data, result.as_ptr()) };
                }
            }
            Sink::Queue(q) => q.push_done(outcome),
        }
    }
}

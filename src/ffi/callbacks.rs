//! A request's C callbacks as the core's event handler.
//!
//! The per-token path copies the text once into a reused buffer (to add the NUL the contract
//! promises) and calls the callback: no allocation, no lock.

use super::types::{ylokh_callbacks, CResult};
use crate::error::Error;
use crate::outcome::Outcome;
use crate::sink::EventHandler;
use crate::status::Status;
use std::ffi::{c_char, c_int, c_void};

type TextFn = unsafe extern "C" fn(*mut c_void, *const c_char, usize) -> c_int;

pub(crate) struct CallbackSink {
    callbacks: ylokh_callbacks,
    text: Vec<u8>,
}

// SAFETY: API.md makes the caller promise that `user_data` and the callbacks may be used from a
// library thread until on_done returns; the sink is used by one task at a time.
unsafe impl Send for CallbackSink {}

impl CallbackSink {
    pub(crate) fn new(callbacks: ylokh_callbacks) -> Self {
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
        // SAFETY: a C callback of the documented signature; the text is NUL-terminated and
        // lives until it returns; `user_data` is valid until on_done returns (the contract).
        let rc = unsafe {
            f(
                self.callbacks.user_data,
                self.text.as_ptr().cast(),
                text.len(),
            )
        };
        if rc != 0 {
            return Err(Error::new(
                Status::Aborted,
                format!("the {name} callback returned {rc}, so the request was stopped"),
            ));
        }
        Ok(())
    }
}

impl EventHandler for CallbackSink {
    #[inline]
    fn token(&mut self, text: &str) -> Result<(), Error> {
        self.call_text(self.callbacks.on_token, "on_token", text.as_bytes())
    }

    fn reasoning(&mut self, text: &str) -> Result<(), Error> {
        self.call_text(self.callbacks.on_reasoning, "on_reasoning", text.as_bytes())
    }

    fn chunk(&mut self, json: &[u8]) -> Result<(), Error> {
        self.call_text(self.callbacks.on_chunk, "on_chunk", json)
    }

    fn done(&mut self, outcome: Outcome) {
        if let Some(on_done) = self.callbacks.on_done {
            let result = CResult::new(&outcome);
            // SAFETY: a C callback of the documented signature; the result and its strings live
            // until it returns.
            unsafe { on_done(self.callbacks.user_data, result.as_ptr()) };
        }
    }
}

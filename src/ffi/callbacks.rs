//! A request's C callbacks as the core's event handler.
//!
//! The per-token path copies the text once into a reused buffer (to add the NUL the contract
//! promises) and calls the callback: no allocation, no lock.

use super::types::{ylokh_callbacks, ylokh_result, ylokh_tool_call, CResult};
use crate::error::Error;
use crate::outcome::Outcome;
use crate::sink::EventHandler;
use crate::status::Status;
use crate::tool_calls::{ToolCall, ToolCallDelta};
use std::ffi::{c_char, c_int, c_void};

/// A text callback (`on_token`, `on_reasoning`; `on_chunk` with the event's JSON): `text` is
/// UTF-8, NUL-terminated and borrowed until the callback returns; `len` is authoritative.
/// Non-zero stops the request with YLOKH_ABORTED.
pub type ylokh_text_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, text: *const c_char, len: usize) -> c_int>;
/// A tool-call callback (`on_tool_call_delta`, `on_tool_call`): `call` is borrowed until the
/// callback returns. Non-zero stops the request with YLOKH_ABORTED.
pub type ylokh_tool_call_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, call: *const ylokh_tool_call) -> c_int>;
/// The end of a request or a run (`on_done`): `result` is borrowed until the callback returns.
pub type ylokh_done_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, result: *const ylokh_result)>;

pub(crate) type TextFn = unsafe extern "C" fn(*mut c_void, *const c_char, usize) -> c_int;
pub(crate) type ToolCallFn = unsafe extern "C" fn(*mut c_void, *const ylokh_tool_call) -> c_int;
pub(crate) type DoneFn = unsafe extern "C" fn(*mut c_void, *const ylokh_result);

/// Every callback a request may have (those of `ylokh_callbacks` and of `ylokh_chat_request`).
#[derive(Clone, Copy)]
pub(crate) struct Callbacks {
    pub user_data: *mut c_void,
    pub on_token: Option<TextFn>,
    pub on_reasoning: Option<TextFn>,
    pub on_chunk: Option<TextFn>,
    pub on_tool_call_delta: Option<ToolCallFn>,
    pub on_tool_call: Option<ToolCallFn>,
    pub on_done: Option<DoneFn>,
}

impl From<ylokh_callbacks> for Callbacks {
    fn from(c: ylokh_callbacks) -> Self {
        Callbacks {
            user_data: c.user_data,
            on_token: c.on_token,
            on_reasoning: c.on_reasoning,
            on_chunk: c.on_chunk,
            on_tool_call_delta: None,
            on_tool_call: None,
            on_done: c.on_done,
        }
    }
}

pub(crate) struct CallbackSink {
    callbacks: Callbacks,
    text: Vec<u8>,
    /// NUL-terminated copies of a tool call's id and name, reused.
    id: Vec<u8>,
    name: Vec<u8>,
}

/// `text` with a NUL after it, in `buffer` (reused): a pointer valid until the next change.
fn nul_terminated(buffer: &mut Vec<u8>, text: &str) -> *const c_char {
    buffer.clear();
    buffer.extend_from_slice(text.as_bytes());
    buffer.push(0);
    buffer.as_ptr().cast()
}

// SAFETY: the documented contract (ylokh.h: ylokh_callbacks, ylokh_chat_request) makes the caller promise that `user_data` and the callbacks may be used from a
// library thread until on_done returns; the sink is used by one task at a time.
unsafe impl Send for CallbackSink {}

impl CallbackSink {
    pub(crate) fn new(callbacks: Callbacks) -> Self {
        CallbackSink {
            callbacks,
            text: Vec::with_capacity(256),
            id: Vec::new(),
            name: Vec::new(),
        }
    }

    /// Calls a tool-call callback with `call`, whose strings live in this sink's buffers.
    fn call_tool(
        &mut self,
        f: Option<ToolCallFn>,
        name: &str,
        call: &ylokh_tool_call,
    ) -> Result<(), Error> {
        let Some(f) = f else { return Ok(()) };
        // SAFETY: a C callback of the documented signature; `call` and the strings it points to
        // (this sink's buffers) live until it returns; `user_data` is valid until on_done
        // returns (the contract).
        let rc = unsafe { f(self.callbacks.user_data, call) };
        aborted(name, rc)
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
        aborted(name, rc)
    }
}

fn aborted(name: &str, rc: c_int) -> Result<(), Error> {
    if rc != 0 {
        return Err(Error::new(
            Status::Aborted,
            format!("the {name} callback returned {rc}, so the request was stopped"),
        ));
    }
    Ok(())
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

    fn wants_chunks(&self) -> bool {
        self.callbacks.on_chunk.is_some()
    }

    fn tool_call_delta(&mut self, delta: &ToolCallDelta<'_>) -> Result<(), Error> {
        if self.callbacks.on_tool_call_delta.is_none() {
            return Ok(());
        }
        let call = ylokh_tool_call {
            index: delta.index,
            id: nul_terminated(&mut self.id, delta.id),
            name: delta
                .name
                .map_or(std::ptr::null(), |n| nul_terminated(&mut self.name, n)),
            arguments: nul_terminated(&mut self.text, delta.arguments),
            arguments_len: delta.arguments.len(),
            arguments_valid: false,
        };
        self.call_tool(
            self.callbacks.on_tool_call_delta,
            "on_tool_call_delta",
            &call,
        )
    }

    fn tool_call(&mut self, call: &ToolCall) -> Result<(), Error> {
        if self.callbacks.on_tool_call.is_none() {
            return Ok(());
        }
        let c = ylokh_tool_call {
            index: call.index,
            id: nul_terminated(&mut self.id, &call.id),
            name: nul_terminated(&mut self.name, &call.name),
            arguments: nul_terminated(&mut self.text, &call.arguments),
            arguments_len: call.arguments.len(),
            arguments_valid: call.arguments_valid,
        };
        self.call_tool(self.callbacks.on_tool_call, "on_tool_call", &c)
    }

    fn done(&mut self, outcome: Outcome) {
        if let Some(on_done) = self.callbacks.on_done {
            let result = CResult::new(outcome);
            // SAFETY: a C callback of the documented signature; the result and its strings live
            // until it returns.
            unsafe { on_done(self.callbacks.user_data, result.as_ptr()) };
        }
    }
}

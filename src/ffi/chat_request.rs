//! (0.2) `ylokh_chat_request` + `ylokh_chat_send`: the extensible way to start a chat, with a
//! conversation, tools and the tool-call callbacks.

use super::callbacks::{ylokh_done_fn, ylokh_text_fn, ylokh_tool_call_fn, Callbacks};
use super::client::ylokh_client;
use super::conversation::ylokh_conversation;
use super::request::{messages_from_c, start_request, ylokh_request};
use super::status::ylokh_status;
use super::types::ylokh_message;
use super::{optional_str, read_versioned, required_ref, status_boundary, Out};
use crate::error::Error;
use crate::options::parse_object;
use crate::request::ChatInput;
use serde_json::Value;
use std::ffi::{c_char, c_void};
use std::mem::offset_of;

/// What to ask and where the answer goes. The caller allocates it, sets `struct_size` to
/// `sizeof(ylokh_chat_request)` and every member it uses (zero the rest, e.g. with `= {0}`).
/// Read at start: the caller may free it, and what it points to, right after the call returns.
#[repr(C)]
pub struct ylokh_chat_request {
    /// `sizeof(ylokh_chat_request)` as the caller's header has it; members past it count as
    /// NULL/false (a program built against an older header keeps working).
    pub struct_size: usize,
    /// NULL: the client's default model.
    pub model: *const c_char,
    /// Either `messages` + `n_messages` ...
    pub messages: *const ylokh_message,
    pub n_messages: usize,
    /// ... or a conversation (copied at start); not both.
    pub conversation: *const ylokh_conversation,
    /// NULL or a JSON array of tool definitions (chat format), sent as `"tools"` before
    /// `params_json` is merged.
    pub tools_json: *const c_char,
    /// NULL or a JSON object of extra body parameters, merged last (its keys win).
    pub params_json: *const c_char,
    pub stream: bool,
    /// true: events through `ylokh_request_next`; the callback members must then all be NULL.
    pub pull: bool,
    /// Passed back to every callback.
    pub user_data: *mut c_void,
    /// As in `ylokh_callbacks`.
    pub on_token: ylokh_text_fn,
    pub on_reasoning: ylokh_text_fn,
    pub on_chunk: ylokh_text_fn,
    /// Each piece of a tool call as it streams in (`name` only on the delta that brings it,
    /// `arguments` only the new fragment). Never a complete call: those go to `on_tool_call`.
    pub on_tool_call_delta: ylokh_tool_call_fn,
    /// Each complete tool call, only when the answer ended well (the status will be YLOKH_OK):
    /// after the last `on_token`, in index order, before `on_done`. A stream that breaks off
    /// hands out none.
    pub on_tool_call: ylokh_tool_call_fn,
    /// Exactly once per started request, after every other callback, whatever happened.
    pub on_done: ylokh_done_fn,
}

/// The `struct_size`s of older headers accepted: the struct ending before each member from
/// `stream` on (members past it count as NULL/false).
const OLDER_SIZES: [usize; 9] = [
    offset_of!(ylokh_chat_request, stream),
    offset_of!(ylokh_chat_request, pull),
    offset_of!(ylokh_chat_request, user_data),
    offset_of!(ylokh_chat_request, on_token),
    offset_of!(ylokh_chat_request, on_reasoning),
    offset_of!(ylokh_chat_request, on_chunk),
    offset_of!(ylokh_chat_request, on_tool_call_delta),
    offset_of!(ylokh_chat_request, on_tool_call),
    offset_of!(ylokh_chat_request, on_done),
];

/// A copy of the caller's struct, the members past its `struct_size` zeroed.
///
/// # Safety
/// `req` is NULL or points to at least `struct_size` readable bytes (the first being a `usize`
/// `struct_size`), as `ylokh_chat_send` documents.
unsafe fn read_request(req: *const ylokh_chat_request) -> Result<ylokh_chat_request, Error> {
    // SAFETY: ylokh_chat_request is repr(C), starts with `struct_size` and is valid all-zero;
    // `req` as our caller promises.
    unsafe { read_versioned(req, "req", "ylokh_chat_request", &OLDER_SIZES) }
}

/// The chat-format input a request asks for.
///
/// # Safety
/// Every pointer in `req` is NULL or valid as `ylokh_chat_send` documents, for the call.
unsafe fn input_from_request(req: &ylokh_chat_request) -> Result<ChatInput, Error> {
    if !req.conversation.is_null() && req.n_messages > 0 {
        return Err(Error::invalid(
            "req has both messages and a conversation: give one of them",
        ));
    }
    // SAFETY: NULL or valid strings, messages and conversation (our caller's promise).
    let (model, messages, tools, params) = unsafe {
        let messages = match req.conversation.as_ref() {
            Some(c) => c.inner.messages().collect(),
            None => messages_from_c(req.messages, req.n_messages)?,
        };
        (
            optional_str(req.model, "req->model")?,
            messages,
            optional_str(req.tools_json, "req->tools_json")?,
            optional_str(req.params_json, "req->params_json")?,
        )
    };
    let tools = tools.map(parse_tools).transpose()?;
    Ok(ChatInput {
        model: model.map(str::to_owned),
        messages,
        tools,
        params: params
            .map(|p| parse_object(p, "req->params_json"))
            .transpose()?,
        stream: req.stream,
    })
}

fn parse_tools(json: &str) -> Result<Value, Error> {
    let tools: Value = serde_json::from_str(json).map_err(|e| {
        Error::invalid(format!(
            "req->tools_json is not valid JSON ({e} at line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !tools.is_array() {
        return Err(Error::invalid(
            "req->tools_json must be a JSON array of tool definitions, e.g. [{\"type\":\"function\",\"function\":{\"name\":...}}]",
        ));
    }
    Ok(tools)
}

fn callbacks(req: &ylokh_chat_request) -> Result<Option<Callbacks>, Error> {
    let callbacks = Callbacks {
        user_data: req.user_data,
        on_token: req.on_token,
        on_reasoning: req.on_reasoning,
        on_chunk: req.on_chunk,
        on_tool_call_delta: req.on_tool_call_delta,
        on_tool_call: req.on_tool_call,
        on_done: req.on_done,
    };
    if !req.pull {
        return Ok(Some(callbacks));
    }
    let any = callbacks.on_token.is_some()
        || callbacks.on_reasoning.is_some()
        || callbacks.on_chunk.is_some()
        || callbacks.on_tool_call_delta.is_some()
        || callbacks.on_tool_call.is_some()
        || callbacks.on_done.is_some();
    if any {
        return Err(Error::invalid(
            "req->pull is true but a callback is set: pull requests hand their events to ylokh_request_next, so leave every callback NULL",
        ));
    }
    Ok(None)
}

/// Starts a chat described by `*req` and writes its handle to `*out`.
///
/// Everything `ylokh_chat_start` promises holds (on_done exactly once, last, on a library
/// thread; the body merge order; retries; cancel). A non-zero return from any callback stops
/// the request with YLOKH_ABORTED. When this returns an error, no callback runs and `*out` is
/// untouched.
#[no_mangle]
pub unsafe extern "C" fn ylokh_chat_send(
    client: *mut ylokh_client,
    req: *const ylokh_chat_request,
    out: *mut *mut ylokh_request,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: every pointer is NULL or valid as documented above (the caller's contract).
        let (client, out, req) = unsafe {
            (
                &required_ref(client, "client")?.inner,
                Out::new(out, "out")?,
                read_request(req)?,
            )
        };
        let callbacks = callbacks(&req)?;
        // SAFETY: as above.
        let input = unsafe { input_from_request(&req)? };
        start_request(client, &input, callbacks, out)
    })
}

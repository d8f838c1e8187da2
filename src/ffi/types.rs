//! The C-visible structs that carry data across the boundary.

use super::callbacks::{ylokh_done_fn, ylokh_text_fn};
use super::status::{to_c, ylokh_status};
use crate::outcome::Outcome;
use std::ffi::{c_char, c_void, CString};

/// One chat message. Both strings are copied by `ylokh_chat_start`.
#[repr(C)]
pub struct ylokh_message {
    /// "system", "user", "assistant", ... (UTF-8, not NULL).
    pub role: *const c_char,
    /// The message text (UTF-8, not NULL).
    pub content: *const c_char,
}

/// How a request ended, as `on_done` (or the pull interface's DONE event) sees it.
/// Borrowed: valid only until `on_done` returns (or the next `ylokh_request_next` / free).
#[repr(C)]
pub struct ylokh_result {
    /// YLOKH_OK when the server finished the answer, else why it did not.
    pub status: ylokh_status,
    /// The HTTP status of the response; 0 when no response arrived.
    pub http_status: u16,
    /// NULL when OK; else what happened and what to do, with the server's own text.
    pub message: *const c_char,
    /// "stop", "length", "tool_calls", ... or NULL when the server did not say.
    pub finish_reason: *const c_char,
    /// Token counts; -1 when the server did not say.
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// (0.2) The assistant message as it arrived, ready for `ylokh_conversation_add_json`:
    /// `{"role":"assistant","content":TEXT or null,"reasoning_content":TEXT (only when there was
    /// some),"tool_calls":[{"id","type":"function","function":{"name","arguments"}}...] (only
    /// when the status is YLOKH_OK and there were calls)}`. Also set on failure (what arrived so
    /// far, never tool calls); NULL only when no response arrived. (0.3) Lossless: also
    /// `"reasoning_details":[...]` when the server sent round-trip reasoning (signed thinking,
    /// redacted thinking, encrypted reasoning, summaries), and each call keeps every other
    /// member the server put on it (e.g. `"extra_content"`); each dialect sends them back.
    /// (0.3) Text past `ylokh_options_set_max_message_bytes` (default 16 MiB) is not kept: the
    /// message then has `"truncated":true` (after `reasoning_content`); so it has when the
    /// `reasoning_details` grow past that size (later fragments are not kept). No tool calls
    /// when the answer was cut by the token limit (finish_reason "length").
    pub message_json: *const c_char,
    /// (0.2) The number of complete tool calls handed out (`on_tool_call` or TOOL_CALL events).
    pub n_tool_calls: u32,
    /// (0.2) Milliseconds from the start of the request until the response headers arrived
    /// (retries included); -1 when none arrived.
    pub ttfb_ms: i64,
    /// (0.2) Milliseconds until the first token (text, reasoning or a tool-call piece) was
    /// delivered; -1 when none was.
    pub ttft_ms: i64,
    /// (0.2) Milliseconds from the start of the request to its end.
    pub duration_ms: i64,
    /// (0.2) Completion tokens per second as the client measured them: the tokens after the
    /// first (the server's completion_tokens when it said, else the text pieces) over the time
    /// from the first token to the end of the generation; -1 when fewer than two arrived.
    pub tokens_per_s: f64,
    /// (0.2) How often the request was sent again (ylokh_options_set_max_retries).
    pub retries: u32,
    /// (0.2) How often a broken stream was resumed (ylokh_options_set_resume).
    pub resumes: u32,
    /// (0.2) The server's own `timings` object as JSON (llama.cpp sends one in the last chunk
    /// of a chat stream, kept as it came, and in `response.completed` of a Responses stream:
    /// prompt_n, prompt_ms, predicted_n, predicted_per_second, ...); NULL when it sent none.
    pub server_timings_json: *const c_char,
    /// (0.3) With a JSON `response_format` (`json_schema` or `json_object`, in the chat
    /// spelling or the dialect's own): 1 when the answer's text parses as one JSON value, 0
    /// when it does not; -1 when no JSON format was asked or the request did not end with
    /// YLOKH_OK.
    pub json_valid: i32,
}

/// (0.2) A tool call, complete (`on_tool_call`, where every member is set) or a piece of one as
/// it streams in (`on_tool_call_delta`). Library-allocated; borrowed until the callback returns.
#[repr(C)]
pub struct ylokh_tool_call {
    /// Position among this answer's tool calls, from 0, in the order the calls first appeared
    /// (whatever index the server sent).
    pub index: u32,
    /// The server's id; when it sent none: "call_<index>". Never NULL.
    pub id: *const c_char,
    /// Never NULL in `on_tool_call`; in a delta: NULL unless this delta brings the name.
    pub name: *const c_char,
    /// `on_tool_call`: the whole JSON text ("{}" when the server sent none or ""); in a delta:
    /// only the new fragment. NUL-terminated; `arguments_len` is authoritative.
    pub arguments: *const c_char,
    pub arguments_len: usize,
    /// `on_tool_call`: whether `arguments` parse as a JSON object; in a delta: false.
    pub arguments_valid: bool,
}

/// (0.1 form: new code sets the same members in `ylokh_chat_request`.) The callbacks of one
/// request, for `ylokh_chat_start`. Every member may be NULL; the struct is copied at start.
/// They run on a library thread, never the one that called `ylokh_chat_start`; the callbacks
/// of one request never overlap. A text callback that returns non-zero stops the request with
/// YLOKH_ABORTED. `user_data` must stay valid until `on_done` returns.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ylokh_callbacks {
    /// Passed back to every callback.
    pub user_data: *mut c_void,
    /// Each non-empty piece of the answer text in order, whatever the dialect (Chat Completions
    /// `choices[0].delta.content`, Responses `response.output_text.delta`, Messages
    /// `text_delta`; not streaming: the whole text once). `text` is UTF-8, NUL-terminated, borrowed until the callback returns; `len` is
    /// authoritative.
    pub on_token: ylokh_text_fn,
    /// Each non-empty piece of reasoning text (Chat Completions `delta.reasoning_content` or
    /// `delta.reasoning`, Responses reasoning deltas, Messages `thinking_delta`).
    pub on_reasoning: ylokh_text_fn,
    /// The raw JSON of every parsed data event (not streaming: of the body).
    pub on_chunk: ylokh_text_fn,
    /// Exactly once per started request, after every other callback, whatever happened.
    pub on_done: ylokh_done_fn,
}

/// A `ylokh_result` with the strings it points to.
pub(crate) struct CResult {
    raw: ylokh_result,
    _message: Option<CString>,
    _finish_reason: Option<CString>,
    _message_json: Option<CString>,
    _server_timings_json: Option<CString>,
}

fn c_text(text: &Option<String>) -> Option<CString> {
    text.as_ref()
        .map(|t| CString::new(t.replace('\0', " ")).expect("NULs were removed"))
}

/// A JSON text as a C string in its own buffer, so a long `message_json` is not copied (JSON
/// text has no raw NUL: its escapes write `\u0000`; any other NUL becomes a space).
fn json_c_text(text: Option<String>) -> Option<CString> {
    text.map(|t| {
        CString::new(t).unwrap_or_else(|e| {
            let mut bytes = e.into_vec();
            bytes
                .iter_mut()
                .filter(|b| **b == 0)
                .for_each(|b| *b = b' ');
            CString::new(bytes).expect("NULs were removed")
        })
    })
}

impl CResult {
    pub(crate) fn new(mut outcome: Outcome) -> Box<CResult> {
        let message = c_text(&outcome.message);
        let finish_reason = c_text(&outcome.finish_reason);
        let message_json = json_c_text(outcome.message_json.take());
        let server_timings_json = c_text(&outcome.timings.server_json);
        let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
        Box::new(CResult {
            raw: ylokh_result {
                status: to_c(outcome.status),
                http_status: outcome.http_status,
                message: ptr(&message),
                finish_reason: ptr(&finish_reason),
                prompt_tokens: outcome.usage.prompt_tokens,
                completion_tokens: outcome.usage.completion_tokens,
                total_tokens: outcome.usage.total_tokens,
                message_json: ptr(&message_json),
                n_tool_calls: outcome.n_tool_calls,
                ttfb_ms: outcome.timings.ttfb_ms,
                ttft_ms: outcome.timings.ttft_ms,
                duration_ms: outcome.timings.duration_ms,
                tokens_per_s: outcome.timings.tokens_per_s,
                retries: outcome.timings.retries,
                resumes: outcome.timings.resumes,
                server_timings_json: ptr(&server_timings_json),
                json_valid: outcome.json_valid.map_or(-1, i32::from),
            },
            _message: message,
            _finish_reason: finish_reason,
            _message_json: message_json,
            _server_timings_json: server_timings_json,
        })
    }

    pub(crate) fn as_ptr(&self) -> *const ylokh_result {
        &self.raw
    }
}

/// An event handed out by `ylokh_request_next`. Its pointers stay valid until the next call on
/// that request or its free.
#[repr(C)]
pub struct ylokh_event {
    /// YLOKH_EVENT_TOKEN, _REASONING, _CHUNK, _TOOL_CALL or _DONE.
    pub kind: u32,
    /// TOKEN, REASONING: the text; CHUNK: the JSON; TOOL_CALL: the complete call as JSON
    /// `{"index":I,"id":ID,"type":"function","function":{"name":N,"arguments":ARGS}}`;
    /// DONE: NULL. NUL-terminated.
    pub text: *const c_char,
    /// The length of `text` in bytes (authoritative).
    pub len: usize,
    /// DONE only, else NULL.
    pub result: *const ylokh_result,
}

/// A token: `text` holds a piece of the answer text (Chat Completions
/// `choices[0].delta.content`, Responses `response.output_text.delta`, Messages `text_delta`).
pub const YLOKH_EVENT_TOKEN: u32 = 1;
/// Reasoning text (Chat Completions `delta.reasoning_content` or `delta.reasoning`, Responses
/// reasoning deltas, Messages `thinking_delta`).
pub const YLOKH_EVENT_REASONING: u32 = 2;
/// The raw JSON of a data event (only with `ylokh_options_set_pull_chunks(opts, true)`).
pub const YLOKH_EVENT_CHUNK: u32 = 3;
/// The end: `result` says how it ended. Handed out again on every later call.
pub const YLOKH_EVENT_DONE: u32 = 4;
/// (0.2) A complete tool call (`text` is its JSON), under the rules of `on_tool_call`: only
/// when the answer ended well, after the last TOKEN, in index order, before DONE.
pub const YLOKH_EVENT_TOOL_CALL: u32 = 5;

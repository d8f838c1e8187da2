//! (0.3) The agent runner: `ylokh_agent_request` + `ylokh_agent_run` run the whole tool loop.

use super::callbacks::{
    ylokh_done_fn, ylokh_text_fn, ylokh_tool_call_fn, CallbackSink, Callbacks, DoneFn,
};
use super::client::ylokh_client;
use super::conversation::ylokh_conversation;
use super::mcp::ylokh_mcp_session;
use super::status::{to_c, ylokh_status, YLOKH_PENDING};
use super::types::{ylokh_result, ylokh_tool_call, CResult};
use super::{
    boundary, optional_str, read_versioned, required_mut, required_ref, set_last_error,
    status_boundary, void_boundary, Out,
};
use crate::agent::{self, AgentEvents, AgentInput, Run, ToolReply};
use crate::conversation::Conversation;
use crate::error::Error;
use crate::options::parse_object;
use crate::outcome::Outcome;
use crate::sink::EventHandler;
use crate::status::Status;
use crate::thread::on_library_thread;
use crate::tool_calls::ToolCall;
use serde_json::Value;
use std::ffi::{c_char, c_int, c_void, CString};
use std::mem::offset_of;
use std::time::Duration;

type ToolFn =
    unsafe extern "C" fn(*mut c_void, *const ylokh_tool_call, *mut ylokh_tool_reply) -> c_int;
type StepFn = unsafe extern "C" fn(*mut c_void, u32, *const ylokh_result) -> c_int;

/// An agent run's tool function (`on_tool`): `call` is borrowed for the call, `reply` valid
/// during it only. Non-zero stops the run with YLOKH_ABORTED.
pub type ylokh_tool_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        call: *const ylokh_tool_call,
        reply: *mut ylokh_tool_reply,
    ) -> c_int,
>;
/// After an agent step (`on_step`): `result` is borrowed for the call. Non-zero stops the run
/// with YLOKH_ABORTED.
pub type ylokh_step_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, step: u32, result: *const ylokh_result) -> c_int,
>;

/// What an agent run does. The caller allocates it, sets `struct_size` to
/// `sizeof(ylokh_agent_request)` and every member it uses (zero the rest, `= {0}`). Read
/// during `ylokh_agent_run` only, except `conversation`, `sessions`' sessions and the callbacks'
/// `user_data`, which must stay valid until `on_done` has returned.
#[repr(C)]
pub struct ylokh_agent_request {
    /// `sizeof(ylokh_agent_request)` as the caller's header has it.
    pub struct_size: usize,
    /// The history to send; the run appends each assistant message with calls and each call's
    /// result to it (not the final answer: append `result->message_json` yourself when you go
    /// on). The caller must not use it until `on_done` has returned. Not NULL.
    pub conversation: *mut ylokh_conversation,
    /// NULL: the client's default model.
    pub model: *const c_char,
    /// NULL or the caller's own tools, a chat-format JSON array; their calls go to `on_tool`.
    pub tools_json: *const c_char,
    /// NULL or a JSON object of extra body parameters for every model turn, merged last.
    pub params_json: *const c_char,
    pub stream: bool,
    /// MCP sessions whose tools are offered too (listed at start unless listed before); their
    /// calls go to the session (see the README for the naming rule when names collide).
    pub sessions: *const *mut ylokh_mcp_session,
    pub n_sessions: usize,
    /// Model turns at most; 0: 10.
    pub max_steps: u32,
    /// The time limit of each MCP tool call; 0: 60000.
    pub tool_timeout_ms: u64,
    /// Passed back to every callback.
    pub user_data: *mut c_void,
    /// Each model turn's streaming events, as in `ylokh_chat_request`; a non-zero return stops
    /// the run with YLOKH_ABORTED.
    pub on_token: ylokh_text_fn,
    pub on_reasoning: ylokh_text_fn,
    pub on_chunk: ylokh_text_fn,
    pub on_tool_call_delta: ylokh_tool_call_fn,
    pub on_tool_call: ylokh_tool_call_fn,
    /// Runs a call of one of the caller's tools, on the run's thread (it may block; it may call
    /// `ylokh_mcp_session_call`), one call at a time, in the model's order. Answer with
    /// `ylokh_tool_reply_set` (no answer: ""). A tool that failed answers with `is_error`
    /// true: the model sees it, the run goes on. A non-zero return stops the run with
    /// YLOKH_ABORTED. NULL: such calls get the error result "there is no tool named …".
    pub on_tool: ylokh_tool_fn,
    /// After each step whose calls were run and appended (`step` from 1; `result` that turn's);
    /// non-zero stops the run with YLOKH_ABORTED.
    pub on_step: ylokh_step_fn,
    /// Exactly once per started run, last, on the run's thread.
    pub on_done: ylokh_done_fn,
    /// (0.3, appended) NULL or a JSON object merged over `params_json` for the FIRST model turn
    /// only, e.g. `{"tool_choice":"required"}` for a model that must be led into its first
    /// call and must be free to answer afterwards.
    pub first_params_json: *const c_char,
    /// (0.3, appended) NULL or what the model's FIRST answer starts with: sent on the first
    /// turn only, after the conversation, as an assistant message the model continues (a
    /// prefill, e.g. `"<tool_call>\n"` for a small model with a Hermes-style template); never
    /// appended to the conversation.
    pub first_prefill: *const c_char,
}

/// Where a tool function writes its answer (valid during `on_tool` only).
pub struct ylokh_tool_reply {
    reply: ToolReply,
}

/// A started agent run.
///
/// Methods: `ylokh_agent_run` (makes it), `ylokh_agent_cancel`, `ylokh_agent_wait`,
/// `ylokh_agent_free`; tool functions answer with `ylokh_tool_reply_set`.
pub struct ylokh_agent {
    run: Run,
}

/// The `struct_size` of an older header accepted: the struct without `on_done`.
const OLDER_SIZES: [usize; 1] = [offset_of!(ylokh_agent_request, on_done)];

/// The caller's side of a run: the C callbacks and the conversation.
struct CAgent {
    sink: CallbackSink,
    conversation: *mut ylokh_conversation,
    user_data: *mut c_void,
    on_tool: Option<ToolFn>,
    on_step: Option<StepFn>,
    on_done: Option<DoneFn>,
}

// SAFETY: the documented contract (ylokh_agent_request) makes the caller promise that
// `user_data`, the callbacks and the conversation may be used from the library's threads until
// on_done returns, and leaves the conversation to the run until then; the run uses this from
// one thread at a time.
unsafe impl Send for CAgent {}

fn aborted(what: &str, rc: c_int) -> Error {
    Error::new(
        Status::Aborted,
        format!("{what} returned {rc}, so the agent run was stopped"),
    )
}

impl AgentEvents for CAgent {
    fn handler(&mut self) -> &mut dyn EventHandler {
        &mut self.sink
    }

    fn tool(&mut self, call: &ToolCall) -> Result<Option<ToolReply>, Error> {
        let Some(on_tool) = self.on_tool else {
            return Ok(None);
        };
        let text = |s: &str| CString::new(s.replace('\0', " ")).expect("NULs were removed");
        let (id, name, arguments) = (text(&call.id), text(&call.name), text(&call.arguments));
        let c = ylokh_tool_call {
            index: call.index,
            id: id.as_ptr(),
            name: name.as_ptr(),
            arguments: arguments.as_ptr(),
            arguments_len: arguments.as_bytes().len(),
            arguments_valid: call.arguments_valid,
        };
        let mut reply = ylokh_tool_reply {
            reply: ToolReply {
                text: String::new(),
                is_error: false,
            },
        };
        // SAFETY: a C callback of the documented signature; the call, its strings and the
        // reply live until it returns; `user_data` is valid until on_done returns.
        let rc = unsafe { on_tool(self.user_data, &c, &mut reply) };
        if rc != 0 {
            return Err(aborted("on_tool", rc));
        }
        Ok(Some(reply.reply))
    }

    fn step(&mut self, step: u32, outcome: &Outcome) -> Result<(), Error> {
        let Some(on_step) = self.on_step else {
            return Ok(());
        };
        let result = CResult::new(outcome.clone());
        // SAFETY: a C callback of the documented signature; the result lives until it returns.
        let rc = unsafe { on_step(self.user_data, step, result.as_ptr()) };
        if rc != 0 {
            return Err(aborted("on_step", rc));
        }
        Ok(())
    }

    fn conversation(&mut self) -> &mut Conversation {
        // SAFETY: not NULL (checked at start), alive and left to the run until on_done returns
        // (the contract); the run uses it from one thread at a time.
        unsafe { &mut (*self.conversation).inner }
    }

    fn done(&mut self, outcome: Outcome) {
        if let Some(on_done) = self.on_done {
            let result = CResult::new(outcome);
            // SAFETY: a C callback of the documented signature; the result lives until it
            // returns.
            unsafe { on_done(self.user_data, result.as_ptr()) };
        }
    }
}

/// # Safety
/// `req` is NULL or points to `struct_size` readable bytes.
unsafe fn read_request(req: *const ylokh_agent_request) -> Result<ylokh_agent_request, Error> {
    // SAFETY: ylokh_agent_request is repr(C), starts with `struct_size` and is valid all-zero;
    // `req` as our caller promises.
    unsafe { read_versioned(req, "req", "ylokh_agent_request", &OLDER_SIZES) }
}

/// Starts an agent run and writes its handle to `*out`. Blocks only to list the sessions' tools
/// that were not listed yet; then the loop runs on a thread of its own: each model turn is a
/// request (retries, timeouts and statuses as for `ylokh_chat_send`), each complete call runs
/// through the session that offers it or `on_tool`, the assistant message and the results are
/// appended to the conversation, until an answer comes without calls (status YLOKH_OK, its
/// `message_json` the answer) or `max_steps` turns were made (YLOKH_INCOMPLETE). `on_done`
/// gets the last turn's result, its token counts summed over the run. A tool that fails (an
/// MCP error, a timeout, a server gone, a changed tool list, `is_error`) is a result the model
/// sees, starting with "Error: ", not a failed run. When this returns an error, no callback
/// runs and `*out` is untouched. From a request's callback: YLOKH_RECURSIVE_CALL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_agent_run(
    client: *mut ylokh_client,
    req: *const ylokh_agent_request,
    out: *mut *mut ylokh_agent,
) -> ylokh_status {
    status_boundary(|| {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::new(Status::RecursiveCall, "ylokh_agent_run lists MCP tools (blocking), so it cannot be called from a request's callback; call it from your own thread"));
        }
        // SAFETY: NULL or valid pointers (the contract).
        let (client, out, req) = unsafe {
            (
                &required_ref(client, "client")?.inner,
                Out::new(out, "out")?,
                read_request(req)?,
            )
        };
        // SAFETY: NULL or a live conversation (the contract); only checked here.
        unsafe { required_mut(req.conversation, "req->conversation")? };
        // SAFETY: NULL or valid strings (the contract).
        let (model, tools, params, first_params, first_prefill) = unsafe {
            (
                optional_str(req.model, "req->model")?,
                optional_str(req.tools_json, "req->tools_json")?,
                optional_str(req.params_json, "req->params_json")?,
                optional_str(req.first_params_json, "req->first_params_json")?,
                optional_str(req.first_prefill, "req->first_prefill")?,
            )
        };
        let tools = match tools {
            None => Vec::new(),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Array(tools)) => tools,
                _ => {
                    return Err(Error::invalid(
                        "req->tools_json must be a JSON array of chat-format tool definitions",
                    ))
                }
            },
        };
        let mut sessions = Vec::with_capacity(req.n_sessions);
        if req.n_sessions > 0 {
            if req.sessions.is_null() {
                return Err(Error::invalid(
                    "req->sessions is NULL but req->n_sessions is not 0",
                ));
            }
            // SAFETY: `n_sessions` pointers (the contract).
            let list = unsafe { std::slice::from_raw_parts(req.sessions, req.n_sessions) };
            for (i, &s) in list.iter().enumerate() {
                // SAFETY: NULL or a live session (the contract).
                let s = unsafe { required_ref(s, &format!("req->sessions[{i}]"))? };
                sessions.push(s.inner.clone());
            }
        }
        let input = AgentInput {
            model: model.map(str::to_owned),
            tools,
            params: params
                .map(|p| parse_object(p, "req->params_json"))
                .transpose()?,
            first_params: first_params
                .map(|p| parse_object(p, "req->first_params_json"))
                .transpose()?,
            first_prefill: first_prefill.map(str::to_owned),
            stream: req.stream,
            max_steps: if req.max_steps == 0 {
                10
            } else {
                req.max_steps
            },
            tool_timeout: Duration::from_millis(if req.tool_timeout_ms == 0 {
                60_000
            } else {
                req.tool_timeout_ms
            }),
        };
        let events = CAgent {
            sink: CallbackSink::new(Callbacks {
                user_data: req.user_data,
                on_token: req.on_token,
                on_reasoning: req.on_reasoning,
                on_chunk: req.on_chunk,
                on_tool_call_delta: req.on_tool_call_delta,
                on_tool_call: req.on_tool_call,
                on_done: None,
            }),
            conversation: req.conversation,
            user_data: req.user_data,
            on_tool: req.on_tool,
            on_step: req.on_step,
            on_done: req.on_done,
        };
        let run = agent::start(client, input, sessions, Box::new(events))?;
        out.write(Box::into_raw(Box::new(ylokh_agent { run })));
        Ok(())
    })
}

/// Answers a tool call: `text` (UTF-8, copied; NULL: "") is what the model is shown;
/// `is_error` true marks a failure (the model sees "Error: " before the text). Only inside
/// `on_tool`, on the reply it was given; a later call replaces the answer.
#[no_mangle]
pub unsafe extern "C" fn ylokh_tool_reply_set(
    reply: *mut ylokh_tool_reply,
    text: *const c_char,
    is_error: bool,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: NULL or the reply `on_tool` was given, during the callback (the contract).
        let (reply, text) = unsafe { (required_mut(reply, "reply")?, optional_str(text, "text")?) };
        reply.reply = ToolReply {
            text: text.unwrap_or("").to_owned(),
            is_error,
        };
        Ok(())
    })
}

/// Asks the run to stop: the model turn or MCP call under way is stopped at once, an `on_tool`
/// already running is let finish; the run ends with YLOKH_CANCELLED (unless it already ended).
/// Any thread, never blocks, idempotent.
#[no_mangle]
pub unsafe extern "C" fn ylokh_agent_cancel(a: *mut ylokh_agent) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: NULL or a live handle (the contract).
        unsafe { required_ref(a, "agent")? }.run.cancel();
        Ok(())
    })
}

/// Waits until the run's `on_done` has returned and gives its final status (its message through
/// `ylokh_last_error`), or YLOKH_PENDING when `timeout_ms` passed first (`UINT64_MAX`: no
/// limit). From a library thread (any callback): YLOKH_RECURSIVE_CALL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_agent_wait(a: *mut ylokh_agent, timeout_ms: u64) -> ylokh_status {
    boundary(
        |e| to_c(e.status),
        || {
            // SAFETY: NULL or a live handle (the contract).
            let a = unsafe { required_ref(a, "agent")? };
            if on_library_thread() {
                return Err(Error::new(Status::RecursiveCall, "ylokh_agent_wait was called from a library thread (inside a callback), where it would wait for itself; call it from your own thread"));
            }
            let limit = (timeout_ms != u64::MAX).then(|| Duration::from_millis(timeout_ms));
            match a.run.wait(limit) {
                None => Ok(YLOKH_PENDING),
                Some((status, message)) => {
                    if let Some(message) = message {
                        set_last_error(&message);
                    }
                    Ok(to_c(status))
                }
            }
        },
    )
}

/// Frees the handle; a run still going is cancelled (its `on_done` still runs, so `user_data`,
/// the conversation and the sessions stay the run's until then). Never blocks; may be called
/// inside `on_done`. NULL does nothing. `ylokh_client_free` cancels running runs and waits
/// for their `on_done`.
#[no_mangle]
pub unsafe extern "C" fn ylokh_agent_free(a: *mut ylokh_agent) {
    void_boundary(|| {
        if !a.is_null() {
            // SAFETY: a handle from ylokh_agent_run, freed once (the contract).
            let a = unsafe { Box::from_raw(a) };
            a.run.cancel();
        }
    })
}

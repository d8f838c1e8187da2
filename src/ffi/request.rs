//! Requests: start, cancel, wait, free, the pull interface, and the blocking convenience.

use super::callbacks::{CallbackSink, Callbacks};
use super::status::{to_c, ylokh_status, YLOKH_OK, YLOKH_PENDING};
use super::types::{
    ylokh_callbacks, ylokh_event, ylokh_message, CResult, YLOKH_EVENT_CHUNK, YLOKH_EVENT_DONE,
    YLOKH_EVENT_REASONING, YLOKH_EVENT_TOKEN, YLOKH_EVENT_TOOL_CALL,
};
use super::{
    boundary, optional_str, required_ref, required_str, set_last_error, status_boundary,
    void_boundary, Out,
};
use crate::error::Error;
use crate::options::parse_object;
use crate::pull::{PullEvent, PullQueue};
use crate::request::{build_body, text_message, ChatInput, RequestState};
use crate::sink::Sink;
use crate::status::Status;
use crate::thread::on_library_thread;
use serde_json::Value;
use std::ffi::c_char;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A started request. Free it with `ylokh_request_free` (which cancels it if it still runs);
/// the handle stays valid after its client is freed.
///
/// Methods: `ylokh_request_next` (pull), `ylokh_request_fd` (your own event loop),
/// `ylokh_request_wait`, `ylokh_request_cancel`, `ylokh_request_free`; made by
/// `ylokh_chat_send` (or the 0.1 form `ylokh_chat_start`).
pub struct ylokh_request {
    state: Arc<RequestState>,
    /// The pull queue, for a request started without callbacks.
    pub(crate) pull: Option<Arc<PullQueue>>,
    /// What the last `ylokh_request_next` handed out, kept alive until the next call.
    pulled: Mutex<Pulled>,
}

#[derive(Default)]
struct Pulled {
    current: Option<PullEvent>,
    done: Option<Box<CResult>>,
}

fn timeout(ms: u64) -> Option<Duration> {
    (ms != u64::MAX).then(|| Duration::from_millis(ms))
}

pub(crate) fn refuse_on_library_thread(what: &str) -> Result<(), Error> {
    if on_library_thread() {
        return Err(Error::new(
            Status::RecursiveCall,
            format!("{what} was called from a library thread (inside a callback), where it would block the request it waits for; call it from your own thread"),
        ));
    }
    Ok(())
}

/// Collects the messages as chat-format JSON, checking every pointer and string.
///
/// # Safety
/// `messages` is NULL or points to `n` messages whose strings are NULL or NUL-terminated, all
/// alive for the call.
pub(crate) unsafe fn messages_from_c(
    messages: *const ylokh_message,
    n: usize,
) -> Result<Vec<Value>, Error> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if messages.is_null() {
        return Err(Error::invalid(format!(
            "messages must not be NULL when n_messages is {n}"
        )));
    }
    (0..n)
        .map(|i| {
            // SAFETY: not NULL and `n` messages long (our caller's promise), so `i < n` is in
            // bounds; the strings are NULL or NUL-terminated and alive for the call.
            unsafe {
                let m = &*messages.add(i);
                Ok(text_message(
                    required_str(m.role, &format!("messages[{i}].role"))?,
                    required_str(m.content, &format!("messages[{i}].content"))?,
                ))
            }
        })
        .collect()
}

/// Checks a 0.1 request's C arguments: what it asks for.
///
/// # Safety
/// Every pointer is NULL or valid as `ylokh_chat_start` documents, for the call.
unsafe fn input_from_c(
    model: *const c_char,
    messages: *const ylokh_message,
    n_messages: usize,
    params_json: *const c_char,
    stream: bool,
) -> Result<ChatInput, Error> {
    // SAFETY: the pointers are NULL or valid strings and messages (our caller's promise).
    let (model, messages, params) = unsafe {
        (
            optional_str(model, "model")?,
            messages_from_c(messages, n_messages)?,
            optional_str(params_json, "params_json")?,
        )
    };
    Ok(ChatInput {
        model: model.map(str::to_owned),
        messages,
        tools: None,
        params: params
            .map(|json| parse_object(json, "params_json"))
            .transpose()?,
        stream,
    })
}

/// Starts a request: builds its body, picks where its events go (the callbacks, or the pull
/// queue when there are none), and writes the handle to `out` once it runs.
pub(crate) fn start_request(
    client: &crate::client::Client,
    input: &ChatInput,
    callbacks: Option<Callbacks>,
    out: Out<'_, *mut ylokh_request>,
) -> Result<(), Error> {
    let (body, stream) = build_body(client.options(), input);
    let (sink, pull) = match callbacks {
        Some(callbacks) => (Sink::Handler(Box::new(CallbackSink::new(callbacks))), None),
        None => {
            let queue = Arc::new(PullQueue::new(client.options().pull_chunks));
            (Sink::Queue(queue.clone()), Some(queue))
        }
    };
    let state = Arc::new(RequestState::new());
    let handle = Box::into_raw(Box::new(ylokh_request {
        state: state.clone(),
        pull,
        pulled: Mutex::default(),
    }));
    client
        .start(body, stream, sink, state, || out.write(handle))
        // SAFETY: the handle was not handed out (the request did not start): ours to free.
        .inspect_err(|_| drop(unsafe { Box::from_raw(handle) }))
}

/// (0.1 form: new code uses `ylokh_chat_request` + `ylokh_chat_send`.) Starts a chat
/// completion and writes its handle to `*out`.
///
/// The body is the client's default params, then `messages`, `model` (NULL: the client's
/// default) and `stream`, then every key of `params_json` (NULL or a JSON object; later keys
/// win: extra body parameters). All strings are copied.
///
/// With `callbacks` (copied), they run on a library thread; `on_done` runs exactly once, last,
/// whatever happens. With `callbacks == NULL`, events wait for `ylokh_request_next`.
/// When this returns an error, no callback runs and `*out` is untouched.
#[no_mangle]
pub unsafe extern "C" fn ylokh_chat_start(
    client: *mut super::client::ylokh_client,
    model: *const c_char,
    messages: *const ylokh_message,
    n_messages: usize,
    params_json: *const c_char,
    stream: bool,
    callbacks: *const ylokh_callbacks,
    out: *mut *mut ylokh_request,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: every pointer is NULL or valid as documented above (the caller's contract).
        let (client, out, callbacks) = unsafe {
            (
                &required_ref(client, "client")?.inner,
                Out::new(out, "out")?,
                callbacks.as_ref(),
            )
        };
        // SAFETY: as above.
        let input = unsafe { input_from_c(model, messages, n_messages, params_json, stream)? };
        start_request(client, &input, callbacks.map(|c| Callbacks::from(*c)), out)
    })
}

/// Asks the request to stop: it ends with YLOKH_CANCELLED (unless it already ended) and its
/// connection is closed, so the server stops generating. Any thread, never blocks, idempotent.
#[no_mangle]
pub unsafe extern "C" fn ylokh_request_cancel(req: *mut ylokh_request) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: NULL or a live request handle (the contract).
        unsafe { required_ref(req, "req")? }.state.cancel();
        Ok(())
    })
}

/// Waits until the request's `on_done` has returned and gives its final status (and its message
/// through `ylokh_last_error`), or YLOKH_PENDING when `timeout_ms` passed first
/// (`UINT64_MAX`: no limit). From a library thread: YLOKH_RECURSIVE_CALL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_request_wait(
    req: *mut ylokh_request,
    timeout_ms: u64,
) -> ylokh_status {
    boundary(
        |e| to_c(e.status),
        || {
            // SAFETY: NULL or a live request handle (the contract).
            let req = unsafe { required_ref(req, "req")? };
            refuse_on_library_thread("ylokh_request_wait")?;
            match req.state.wait(timeout(timeout_ms)) {
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

/// Frees the handle; a request still running is cancelled (its `on_done` still runs, so
/// `user_data` must stay valid until then). Never blocks; may be called inside `on_done`.
/// NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn ylokh_request_free(req: *mut ylokh_request) {
    void_boundary(|| {
        if !req.is_null() {
            // SAFETY: a handle from ylokh_chat_start, freed once (the contract).
            let req = unsafe { Box::from_raw(req) };
            req.state.cancel();
            if let Some(queue) = &req.pull {
                queue.close_fd();
            }
        }
    })
}

/// The pull interface, for a request started with `callbacks == NULL`: writes the next event
/// to `*out` and returns YLOKH_OK, or YLOKH_PENDING when `timeout_ms` passed with none
/// (`UINT64_MAX`: no limit; 0: just look). After DONE, every call gives DONE again. The event's
/// pointers stay valid until the next call on the request or its free. One thread at a time.
/// On a request with callbacks: YLOKH_INVALID_ARGUMENT; waiting from a library thread:
/// YLOKH_RECURSIVE_CALL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_request_next(
    req: *mut ylokh_request,
    timeout_ms: u64,
    out: *mut ylokh_event,
) -> ylokh_status {
    boundary(
        |e| to_c(e.status),
        || {
            // SAFETY: `req` is NULL or a live handle used by one thread at a time, and `out`
            // NULL or writable (the contract).
            let (req, out) = unsafe { (required_ref(req, "req")?, Out::new(out, "out")?) };
            let Some(queue) = req.pull.as_ref() else {
                return Err(Error::invalid(
                    "ylokh_request_next works only on a request started with callbacks == NULL",
                ));
            };
            let mut pulled = req.pulled.lock().unwrap_or_else(|e| e.into_inner());
            if pulled.done.is_none() {
                if timeout_ms > 0 {
                    refuse_on_library_thread("ylokh_request_next")?;
                }
                if let Some(done_with) = pulled.current.take() {
                    queue.recycle(done_with);
                }
                match queue.pop(timeout(timeout_ms)) {
                    None => return Ok(YLOKH_PENDING),
                    Some(PullEvent::Done(outcome)) => pulled.done = Some(CResult::new(*outcome)),
                    Some(event) => pulled.current = Some(event),
                }
            }
            let (kind, text, result): (u32, &[u8], *const _) = match (&pulled.current, &pulled.done)
            {
                (_, Some(done)) => (YLOKH_EVENT_DONE, &[], done.as_ptr()),
                (Some(PullEvent::Token(t)), _) => (YLOKH_EVENT_TOKEN, t, std::ptr::null()),
                (Some(PullEvent::Reasoning(t)), _) => (YLOKH_EVENT_REASONING, t, std::ptr::null()),
                (Some(PullEvent::Chunk(t)), _) => (YLOKH_EVENT_CHUNK, t, std::ptr::null()),
                (Some(PullEvent::ToolCall(t)), _) => (YLOKH_EVENT_TOOL_CALL, t, std::ptr::null()),
                _ => return Err(Error::internal("the pull queue handed out nothing")),
            };
            let text_ptr = if text.is_empty() {
                std::ptr::null()
            } else {
                text.as_ptr().cast()
            };
            out.write(ylokh_event {
                kind,
                text: text_ptr,
                len: text.len().saturating_sub(1),
                result,
            });
            Ok(YLOKH_OK)
        },
    )
}

/// Blocking convenience: runs a non-streamed request (`"stream": false` unless `params_json`
/// says otherwise) and writes the whole answer to `*out_text` (malloc'd, NUL-terminated; free
/// it with `ylokh_string_free`) and its length to `*out_len` (may be NULL). On failure the
/// status is returned and `ylokh_last_error` says why. From a library thread:
/// YLOKH_RECURSIVE_CALL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_chat_complete(
    client: *mut super::client::ylokh_client,
    model: *const c_char,
    messages: *const ylokh_message,
    n_messages: usize,
    params_json: *const c_char,
    out_text: *mut *mut c_char,
    out_len: *mut usize,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: every pointer is NULL or valid as documented above (the caller's contract).
        let (client, out_text, out_len) = unsafe {
            (
                &required_ref(client, "client")?.inner,
                Out::new(out_text, "out_text")?,
                Out::optional(out_len),
            )
        };
        refuse_on_library_thread("ylokh_chat_complete")?;
        // SAFETY: as above.
        let input = unsafe { input_from_c(model, messages, n_messages, params_json, false)? };
        let (body, stream) = build_body(client.options(), &input);
        let queue = Arc::new(PullQueue::new(false));
        let state = Arc::new(RequestState::new());
        client.start(body, stream, Sink::Queue(queue.clone()), state, || {})?;
        let mut text = Vec::new();
        loop {
            match queue.pop(None) {
                Some(PullEvent::Token(t)) => {
                    text.extend_from_slice(&t[..t.len() - 1]);
                    queue.recycle(PullEvent::Token(t));
                }
                Some(PullEvent::Done(outcome)) => {
                    outcome.result()?;
                    break;
                }
                _ => {}
            }
        }
        // SAFETY: malloc with any size is sound; the result is checked for NULL below.
        let copy = unsafe { libc::malloc(text.len() + 1) }.cast::<u8>();
        if copy.is_null() {
            return Err(Error::internal(format!(
                "out of memory for a {}-byte answer",
                text.len()
            )));
        }
        // SAFETY: `copy` is a fresh allocation of len + 1 bytes, which cannot overlap `text`.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), copy, text.len());
            *copy.add(text.len()) = 0;
        }
        out_text.write(copy.cast());
        if let Some(out_len) = out_len {
            out_len.write(text.len());
        }
        Ok(())
    })
}

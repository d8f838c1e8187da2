//! A request's callbacks recorded as text lines, for exact comparisons: the C ABI driven from
//! Rust with `ylokh_chat_send` and every callback of `ylokh_chat_request`.

use super::capi::Client;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use ylokh::ffi::chat_request::{ylokh_chat_request, ylokh_chat_send};
use ylokh::ffi::misc::ylokh_status_str;
use ylokh::ffi::request::{ylokh_request_free, ylokh_request_wait};
use ylokh::ffi::status::*;
use ylokh::ffi::types::{ylokh_message, ylokh_result, ylokh_tool_call};

pub fn text(ptr: *const c_char, len: usize) -> String {
    if ptr.is_null() {
        return "-".into();
    }
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    assert_eq!(unsafe { *ptr.add(len) }, 0, "not NUL-terminated");
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub fn c_str(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return "-".into();
    }
    unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_owned()
}

/// What the callbacks saw, in order.
#[derive(Default)]
pub struct Transcript {
    pub events: Vec<String>,
    pub message_json: Option<String>,
    pub abort_on_call: bool,
    /// prompt, completion, total.
    pub usage: (i64, i64, i64),
    /// The final message (`ylokh_result.message`).
    pub message: String,
    /// The result's timings: ttfb, ttft, duration (ms), tokens/s, retries, resumes, server's.
    pub timings: Timings,
    /// How many events the callbacks have recorded so far: a clone of it lets the test's
    /// thread wait for them while the request runs (see [`await_count`]).
    pub delivered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Transcript {
    fn push(&mut self, line: String) {
        self.events.push(line);
        self.delivered
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }
}

/// Waits until `count` reaches `n`, for up to 60 s (a loaded machine, valgrind): what a test
/// does instead of sleeping a fixed time before it cancels a running request.
pub fn await_count(count: &std::sync::atomic::AtomicUsize, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count.load(std::sync::atomic::Ordering::Acquire) < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {n} events after 60 s",
            count.load(std::sync::atomic::Ordering::Acquire)
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[derive(Debug, Default, Clone)]
pub struct Timings {
    pub ttfb_ms: i64,
    pub ttft_ms: i64,
    pub duration_ms: i64,
    pub tokens_per_s: f64,
    pub retries: u32,
    pub resumes: u32,
    pub server_json: Option<String>,
}

pub unsafe extern "C" fn on_token(u: *mut c_void, t: *const c_char, len: usize) -> c_int {
    let tr = unsafe { &mut *u.cast::<Transcript>() };
    tr.push(format!("token:{}", text(t, len)));
    0
}

pub unsafe extern "C" fn on_reasoning(u: *mut c_void, t: *const c_char, len: usize) -> c_int {
    let tr = unsafe { &mut *u.cast::<Transcript>() };
    tr.push(format!("reasoning:{}", text(t, len)));
    0
}

pub unsafe extern "C" fn on_delta(u: *mut c_void, c: *const ylokh_tool_call) -> c_int {
    let (tr, c) = unsafe { (&mut *u.cast::<Transcript>(), &*c) };
    assert!(!c.arguments_valid, "a delta is never valid");
    tr.push(format!(
        "delta:{}:{}:{}:{}",
        c.index,
        c_str(c.id),
        c_str(c.name),
        text(c.arguments, c.arguments_len)
    ));
    0
}

pub unsafe extern "C" fn on_call(u: *mut c_void, c: *const ylokh_tool_call) -> c_int {
    let (tr, c) = unsafe { (&mut *u.cast::<Transcript>(), &*c) };
    tr.push(format!(
        "call:{}:{}:{}:{}:{}",
        c.index,
        c_str(c.id),
        c_str(c.name),
        text(c.arguments, c.arguments_len),
        c.arguments_valid
    ));
    c_int::from(tr.abort_on_call)
}

pub unsafe extern "C" fn on_done(u: *mut c_void, r: *const ylokh_result) {
    let (tr, r) = unsafe { (&mut *u.cast::<Transcript>(), &*r) };
    tr.push(format!(
        "done:{}:{}:{}",
        c_str(ylokh_status_str(r.status)),
        c_str(r.finish_reason),
        r.n_tool_calls
    ));
    tr.message_json = (!r.message_json.is_null()).then(|| c_str(r.message_json));
    tr.usage = (r.prompt_tokens, r.completion_tokens, r.total_tokens);
    tr.message = c_str(r.message);
    tr.timings = Timings {
        ttfb_ms: r.ttfb_ms,
        ttft_ms: r.ttft_ms,
        duration_ms: r.duration_ms,
        tokens_per_s: r.tokens_per_s,
        retries: r.retries,
        resumes: r.resumes,
        server_json: (!r.server_timings_json.is_null()).then(|| c_str(r.server_timings_json)),
    };
}

pub fn request(stream: bool) -> ylokh_chat_request {
    let mut req: ylokh_chat_request = unsafe { std::mem::zeroed() };
    req.struct_size = std::mem::size_of::<ylokh_chat_request>();
    req.stream = stream;
    req.on_token = Some(on_token);
    req.on_reasoning = Some(on_reasoning);
    req.on_tool_call_delta = Some(on_delta);
    req.on_tool_call = Some(on_call);
    req.on_done = Some(on_done);
    req
}

/// Sends `req` (messages: one user "hi" unless set) to `url` and waits for it.
pub fn send(url: &str, req: ylokh_chat_request, transcript: &mut Transcript) -> u32 {
    send_with(&Client::new(url, None), req, transcript)
}

/// The same on a client of the caller's.
pub fn send_with(client: &Client, mut req: ylokh_chat_request, transcript: &mut Transcript) -> u32 {
    let (role, content) = (CString::new("user").unwrap(), CString::new("hi").unwrap());
    let messages = [ylokh_message {
        role: role.as_ptr(),
        content: content.as_ptr(),
    }];
    if req.conversation.is_null() && req.messages.is_null() {
        req.messages = messages.as_ptr();
        req.n_messages = 1;
    }
    req.user_data = (transcript as *mut Transcript).cast();
    let mut handle = std::ptr::null_mut();
    let s = unsafe { ylokh_chat_send(client.raw(), &req, &mut handle) };
    if s != YLOKH_OK {
        return s;
    }
    let s = unsafe { ylokh_request_wait(handle, u64::MAX) };
    unsafe { ylokh_request_free(handle) };
    s
}

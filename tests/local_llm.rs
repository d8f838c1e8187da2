//! Against a real server: llama.cpp's llama-server with a small real model, set up and started
//! on 127.0.0.1 by `examples/local-llm.sh start` (the first run builds it, about 6 minutes;
//! later runs reuse the cache and take seconds). Driven through the C ABI's own functions.

mod support;

use std::ffi::{c_char, CStr, CString};
use std::io::{Read, Write};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use ylokh::ffi::client::{ylokh_client, ylokh_client_free, ylokh_client_new};
use ylokh::ffi::options::{ylokh_options_free, ylokh_options_new_compatible};
use ylokh::ffi::request::{
    ylokh_chat_start, ylokh_request_cancel, ylokh_request_free, ylokh_request_next,
};
use ylokh::ffi::types::{ylokh_event, ylokh_message, YLOKH_EVENT_DONE, YLOKH_EVENT_TOKEN};
use ylokh::status::*;

/// One test at a time on the server: the cancel test reads the server's slots, which another
/// test's request would keep busy.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The base URL of the local server, started once for this test binary.
fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/local-llm.sh");
        let output = Command::new(script)
            .arg("start")
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "examples/local-llm.sh start failed (its messages are above)"
        );
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    })
}

struct Client(*mut ylokh_client);
unsafe impl Send for Client {}
unsafe impl Sync for Client {}

impl Client {
    fn new() -> Client {
        let url = CString::new(server()).unwrap();
        unsafe {
            let opts = ylokh_options_new_compatible(url.as_ptr());
            assert!(!opts.is_null());
            let mut client = std::ptr::null_mut();
            assert_eq!(ylokh_client_new(opts, &mut client), YLOKH_OK);
            ylokh_options_free(opts);
            Client(client)
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        unsafe { ylokh_client_free(self.0) }
    }
}

#[derive(Debug, Default)]
struct Answer {
    status: u32,
    http_status: u16,
    message: String,
    text: String,
    tokens: usize,
    usage: (i64, i64, i64),
    /// The server's busy slots just before the cancel.
    busy_at_cancel: usize,
}

fn c_text(ptr: *const c_char) -> String {
    if ptr.is_null() {
        String::new()
    } else {
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }
}

const PROMPT: &str = "Say hello in three languages.";

/// Runs one request through the pull interface; cancels it after `cancel_after` tokens.
fn chat(client: &Client, params: &str, stream: bool, cancel_after: Option<usize>) -> Answer {
    let (role, content) = (CString::new("user").unwrap(), CString::new(PROMPT).unwrap());
    let messages = [ylokh_message {
        role: role.as_ptr(),
        content: content.as_ptr(),
    }];
    let params = CString::new(params).unwrap();
    let mut answer = Answer::default();
    unsafe {
        let mut req = std::ptr::null_mut();
        let s = ylokh_chat_start(
            client.0,
            std::ptr::null(),
            messages.as_ptr(),
            1,
            params.as_ptr(),
            stream,
            std::ptr::null(),
            &mut req,
        );
        assert_eq!(s, YLOKH_OK);
        loop {
            let mut event: ylokh_event = std::mem::zeroed();
            assert_eq!(ylokh_request_next(req, u64::MAX, &mut event), YLOKH_OK);
            if event.kind == YLOKH_EVENT_DONE {
                let r = &*event.result;
                answer.status = r.status;
                answer.http_status = r.http_status;
                answer.message = c_text(r.message);
                answer.usage = (r.prompt_tokens, r.completion_tokens, r.total_tokens);
                break;
            }
            if event.kind == YLOKH_EVENT_TOKEN {
                answer.tokens += 1;
                answer.text.push_str(
                    std::str::from_utf8(std::slice::from_raw_parts(
                        event.text.cast::<u8>(),
                        event.len,
                    ))
                    .unwrap(),
                );
                if Some(answer.tokens) == cancel_after {
                    answer.busy_at_cancel = slots_busy();
                    ylokh_request_cancel(req);
                }
            }
        }
        ylokh_request_free(req);
    }
    answer
}

const DETERMINISTIC: &str = r#"{"temperature":0,"seed":1,"max_tokens":48}"#;

#[test]
fn streamed_and_not_streamed_give_identical_text() {
    let _alone = exclusive();
    let client = Client::new();
    let streamed = chat(&client, DETERMINISTIC, true, None);
    let whole = chat(&client, DETERMINISTIC, false, None);
    assert_eq!(
        (streamed.status, whole.status),
        (YLOKH_OK, YLOKH_OK),
        "{streamed:?} {whole:?}"
    );
    assert!(streamed.tokens > 1 && !streamed.text.is_empty());
    assert_eq!(whole.tokens, 1);
    assert_eq!(streamed.text, whole.text);
}

#[test]
fn include_usage_matches_the_non_streamed_usage() {
    let _alone = exclusive();
    let client = Client::new();
    let streamed = chat(
        &client,
        r#"{"temperature":0,"seed":1,"max_tokens":24,"stream_options":{"include_usage":true}}"#,
        true,
        None,
    );
    let whole = chat(
        &client,
        r#"{"temperature":0,"seed":1,"max_tokens":24}"#,
        false,
        None,
    );
    assert_eq!(streamed.status, YLOKH_OK, "{streamed:?}");
    assert!(
        streamed.usage.0 > 0 && streamed.usage.1 > 0,
        "usage arrived: {:?}",
        streamed.usage
    );
    assert_eq!(streamed.usage.0, whole.usage.0, "prompt tokens");
    assert_eq!(streamed.usage.1, whole.usage.1, "completion tokens");
}

#[test]
fn the_servers_own_400_errors_reach_on_done() {
    let _alone = exclusive();
    let client = Client::new();
    let bad = chat(&client, r#"{"max_tokens":-3}"#, true, None);
    assert_eq!(
        (bad.status, bad.http_status),
        (YLOKH_HTTP_STATUS, 400),
        "{bad:?}"
    );
    assert!(bad.message.contains("max_tokens"), "{}", bad.message);
    let no_messages = chat(&client, r#"{"messages":null}"#, true, None);
    assert_eq!(
        (no_messages.status, no_messages.http_status),
        (YLOKH_HTTP_STATUS, 400),
        "{no_messages:?}"
    );
    assert!(
        no_messages.message.contains("messages"),
        "{}",
        no_messages.message
    );
}

/// GET a path of the server's root (not under /v1) with a plain HTTP/1.0 request.
fn get(path: &str) -> String {
    let root = server()
        .trim_end_matches("/v1")
        .trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(root).unwrap();
    write!(socket, "GET {path} HTTP/1.0\r\nHost: {root}\r\n\r\n").unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

fn slots_busy() -> usize {
    let slots: serde_json::Value =
        serde_json::from_str(&get("/slots")).expect("/slots answers JSON");
    slots
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["is_processing"] == true)
        .count()
}

#[test]
fn cancelling_mid_answer_stops_the_servers_generation() {
    let _alone = exclusive();
    let client = Client::new();
    let answer = chat(
        &client,
        r#"{"max_tokens":2000,"temperature":1}"#,
        true,
        Some(5),
    );
    assert_eq!(answer.status, YLOKH_CANCELLED, "{answer:?}");
    assert_eq!(
        answer.busy_at_cancel, 1,
        "the server was generating when the request was cancelled"
    );
    let cancelled = Instant::now();
    while slots_busy() > 0 {
        assert!(
            cancelled.elapsed() < Duration::from_secs(1),
            "the server still generates 1 s after the cancel"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn four_concurrent_streams_from_one_client_complete() {
    let _alone = exclusive();
    let client = Client::new();
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| chat(&client, r#"{"max_tokens":32}"#, true, None)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for answer in &answers {
        assert_eq!(answer.status, YLOKH_OK, "{answer:?}");
        assert!(!answer.text.is_empty());
    }
}

#[test]
fn c_and_cpp_examples_print_an_answer() {
    let _alone = exclusive();
    for (compiler, source, name) in [
        ("gcc", "examples/chat.c", "llm_chat_c"),
        ("g++", "examples/chat.cpp", "llm_chat_cpp"),
    ] {
        let exe = support::tmp_path(name);
        support::compile(compiler, &[source], &exe, &[]);
        let output = Command::new(&exe)
            .arg("Why is the sky blue?")
            .env("YLOKH_BASE_URL", server())
            .env("YLOKH_PARAMS", r#"{"max_tokens":32}"#)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{name}: {stderr}");
        assert!(
            !String::from_utf8_lossy(&output.stdout).trim().is_empty(),
            "{name} printed no answer"
        );
        assert!(stderr.contains("finish_reason:"), "{name}: {stderr}");
    }
}

//! Against a real server: llama.cpp's llama-server with a small real model, set up and started
//! on 127.0.0.1 by `examples/local-llm.sh start` (the first run builds it, about 6 minutes;
//! later runs reuse the cache and take seconds). Driven through the C ABI's own functions.

mod support;

use serde_json::Value;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};
use support::capi::{chat_with, Answer, Client};
use support::local::{http_get, local_llm, ToolServer};
use ylokh::ffi::chat_request::{ylokh_chat_request, ylokh_chat_send};
use ylokh::ffi::client::ylokh_client_new;
use ylokh::ffi::conversation::*;
use ylokh::ffi::misc::ylokh_last_error;
use ylokh::ffi::options::{
    ylokh_options_free, ylokh_options_new_compatible, ylokh_options_set_max_retries,
};
use ylokh::ffi::request::{ylokh_request_free, ylokh_request_wait};
use ylokh::ffi::status::*;
use ylokh::ffi::types::{ylokh_result, ylokh_tool_call};

/// One test at a time on the server: the cancel test reads the server's slots, which another
/// test's request would keep busy.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn server() -> &'static str {
    local_llm()
}

fn client() -> Client {
    Client::new(server(), None)
}

/// One request; cancelled after `cancel_after` tokens, noting the server's busy slots then.
fn chat(client: &Client, params: &str, stream: bool, cancel_after: Option<usize>) -> Answer {
    let mut busy = 0;
    let mut answer = chat_with(client, params, stream, cancel_after, || busy = slots_busy());
    answer.busy_at_cancel = busy;
    answer
}

const DETERMINISTIC: &str = r#"{"temperature":0,"seed":1,"max_tokens":48}"#;

#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn streamed_and_not_streamed_give_identical_text() {
    let _alone = exclusive();
    let client = client();
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
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn include_usage_matches_the_non_streamed_usage() {
    let _alone = exclusive();
    let client = client();
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
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn the_servers_own_400_errors_reach_on_done() {
    let _alone = exclusive();
    let client = client();
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
    http_get(root, path).expect("the local server answers").1
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
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn cancelling_mid_answer_stops_the_servers_generation() {
    let _alone = exclusive();
    cancel_frees_the_slot(&client(), "chat");
}

/// Cancels a long answer after 5 tokens, while the server generates, and checks that the
/// server's slot is free within 10 s (the 2,000-token answer would take minutes).
fn cancel_frees_the_slot(client: &Client, name: &str) {
    let answer = chat(
        client,
        r#"{"max_tokens":2000,"temperature":1,"ignore_eos":true}"#,
        true,
        Some(5),
    );
    assert_eq!(answer.status, YLOKH_CANCELLED, "{name}: {answer:?}");
    assert_eq!(
        answer.busy_at_cancel, 1,
        "{name}: the server was generating when the request was cancelled"
    );
    let cancelled = Instant::now();
    while slots_busy() > 0 {
        assert!(
            cancelled.elapsed() < Duration::from_secs(10),
            "{name}: the server still generates 10 s after the cancel"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn four_concurrent_streams_from_one_client_complete() {
    let _alone = exclusive();
    let client = client();
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
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn c_and_cpp_examples_answer_why_the_sky_is_blue() {
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
            .env("YLOKH_PARAMS", r#"{"max_tokens":64,"temperature":0}"#)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{name}: {stderr}");
        // The packaged model is instruction-tuned: the answer is on topic, not a continuation.
        let answer = String::from_utf8_lossy(&output.stdout).to_lowercase();
        assert!(
            answer.contains("light") || answer.contains("scatter"),
            "{name}: an answer about something else: {answer}"
        );
        assert!(stderr.contains("finish_reason:"), "{name}: {stderr}");
    }
}

const DIALECTS: [(u32, &str); 3] = [
    (ylokh::ffi::options::YLOKH_API_CHAT_COMPLETIONS, "chat"),
    (ylokh::ffi::options::YLOKH_API_RESPONSES, "responses"),
    (ylokh::ffi::options::YLOKH_API_MESSAGES, "messages"),
];

/// The same conversation at temperature 0 through llama.cpp's three endpoints: the same text,
/// and usage in each. (llama.cpp ends a Responses answer cut by max_output_tokens with
/// `response.completed`, not `response.incomplete`, so its finish reason is "stop" where the
/// other two say "length": the server's translation, not ours.)
#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn the_three_dialects_give_the_same_text_and_usage() {
    let _alone = exclusive();
    let mut texts = Vec::new();
    for (api, name) in DIALECTS {
        let client = Client::with_api(server(), api, None);
        let answer = chat(&client, DETERMINISTIC, true, None);
        assert_eq!(answer.status, YLOKH_OK, "{name}: {answer:?}");
        assert!(!answer.text.is_empty(), "{name}");
        let (prompt, completion, total) = answer.usage;
        assert!(completion > 0, "{name}: {:?}", answer.usage);
        // llama.cpp's /v1/messages stream sometimes starts at content_block_start, without
        // the message_start that carries the input tokens (seen with a fully cached prompt):
        // the prompt count is then unknown (-1), never wrong.
        let prompt_known = prompt > 0 && total == prompt + completion;
        assert!(
            prompt_known || (name == "messages" && prompt == -1 && total == -1),
            "{name}: {:?}",
            answer.usage
        );
        texts.push((name, answer.text));
    }
    for (name, text) in &texts[1..] {
        assert_eq!(text, &texts[0].1, "{name} differs from chat");
    }
}

/// Cancelling mid-answer frees the server's slot within 10 s, in every dialect.
#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn cancelling_frees_the_slot_in_every_dialect() {
    let _alone = exclusive();
    for (api, name) in DIALECTS {
        cancel_frees_the_slot(&Client::with_api(server(), api, None), name);
    }
}

// ---------------------------------------------------------------------------------------------
// A real tool loop, against `ToolServer` (tests/support/local.rs says why it exists).

fn opt_str(ptr: *const c_char) -> Option<String> {
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_owned())
}

fn bytes(ptr: *const c_char, len: usize) -> String {
    if ptr.is_null() {
        return String::new();
    }
    let slice = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    String::from_utf8(slice.to_vec()).unwrap()
}

/// A tool call as a callback saw it: index, id, name, arguments, arguments_valid.
#[derive(Debug, Clone)]
struct Call {
    index: u32,
    id: Option<String>,
    name: Option<String>,
    arguments: String,
    valid: bool,
}

impl Call {
    fn of(c: &ylokh_tool_call) -> Call {
        Call {
            index: c.index,
            id: opt_str(c.id),
            name: opt_str(c.name),
            arguments: bytes(c.arguments, c.arguments_len),
            valid: c.arguments_valid,
        }
    }
}

/// What one answer's callbacks saw.
#[derive(Debug, Default)]
struct Step {
    text: String,
    deltas: Vec<Call>,
    calls: Vec<Call>,
    done: bool,
    status: u32,
    http_status: u16,
    message: Option<String>,
    finish_reason: Option<String>,
    message_json: Option<String>,
    n_tool_calls: u32,
    json_valid: i32,
}

unsafe extern "C" fn step_token(u: *mut c_void, t: *const c_char, len: usize) -> c_int {
    let step = unsafe { &mut *u.cast::<Step>() };
    step.text.push_str(&bytes(t, len));
    0
}

unsafe extern "C" fn step_delta(u: *mut c_void, c: *const ylokh_tool_call) -> c_int {
    let (step, c) = unsafe { (&mut *u.cast::<Step>(), &*c) };
    step.deltas.push(Call::of(c));
    0
}

unsafe extern "C" fn step_call(u: *mut c_void, c: *const ylokh_tool_call) -> c_int {
    let (step, c) = unsafe { (&mut *u.cast::<Step>(), &*c) };
    step.calls.push(Call::of(c));
    0
}

unsafe extern "C" fn step_done(u: *mut c_void, r: *const ylokh_result) {
    let (step, r) = unsafe { (&mut *u.cast::<Step>(), &*r) };
    step.done = true;
    step.status = r.status;
    step.http_status = r.http_status;
    step.message = opt_str(r.message);
    step.finish_reason = opt_str(r.finish_reason);
    step.message_json = opt_str(r.message_json);
    step.n_tool_calls = r.n_tool_calls;
    step.json_valid = r.json_valid;
}

/// One streamed answer to `conv` through ylokh_chat_send, the callbacks recording it.
fn send_step(
    client: &Client,
    conv: *const ylokh_conversation,
    tools: &CStr,
    params: &CStr,
) -> Step {
    let mut step = Step::default();
    let mut req: ylokh_chat_request = unsafe { std::mem::zeroed() };
    req.struct_size = std::mem::size_of::<ylokh_chat_request>();
    req.conversation = conv;
    req.tools_json = tools.as_ptr();
    req.params_json = params.as_ptr();
    req.stream = true;
    req.user_data = (&mut step as *mut Step).cast();
    req.on_token = Some(step_token);
    req.on_tool_call_delta = Some(step_delta);
    req.on_tool_call = Some(step_call);
    req.on_done = Some(step_done);
    let mut handle = std::ptr::null_mut();
    let s = unsafe { ylokh_chat_send(client.raw(), &req, &mut handle) };
    assert_eq!(s, YLOKH_OK, "{:?}", opt_str(ylokh_last_error()));
    unsafe {
        ylokh_request_wait(handle, u64::MAX);
        ylokh_request_free(handle);
    }
    assert!(step.done, "on_done ran");
    step
}

fn add(conv: *mut ylokh_conversation, role: &str, content: &str) {
    let (role, content) = (CString::new(role).unwrap(), CString::new(content).unwrap());
    assert_eq!(
        unsafe { ylokh_conversation_add(conv, role.as_ptr(), content.as_ptr()) },
        YLOKH_OK
    );
}

fn conversation_json(conv: *const ylokh_conversation) -> Value {
    serde_json::from_str(&opt_str(unsafe { ylokh_conversation_json(conv) }).unwrap()).unwrap()
}

/// Runs calc on a call's arguments: the result as text, or an error text for the model.
fn run_calc(arguments: &str) -> String {
    let args: Value = serde_json::from_str(arguments).unwrap();
    let (a, b) = (args["a"].as_f64(), args["b"].as_f64());
    match (a, args["op"].as_str(), b) {
        (Some(a), Some("+"), Some(b)) => (a + b).to_string(),
        (Some(a), Some("-"), Some(b)) => (a - b).to_string(),
        (Some(a), Some("*"), Some(b)) => (a * b).to_string(),
        (Some(a), Some("/"), Some(b)) => (a / b).to_string(),
        _ => format!("error: cannot compute {arguments}"),
    }
}

const CALC_TOOL: &str = r#"[{"type":"function","function":{"name":"calc","description":"Calculate a op b","parameters":{"type":"object","properties":{"a":{"type":"number"},"op":{"type":"string","enum":["+","-","*","/"]},"b":{"type":"number"}},"required":["a","op","b"]}}}]"#;
const SYSTEM: &str = "You are a helpful assistant. Use the tools.";
const QUESTION: &str = "What is 17 times 23? Use the calc tool.";

#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn a_real_model_calls_a_tool_and_the_loop_completes() {
    tool_loop(ylokh::ffi::options::YLOKH_API_CHAT_COMPLETIONS);
}

/// The same loop through llama.cpp's /v1/responses and /v1/messages: the same conversation,
/// tools and callbacks; only the option and the dialect's spelling of tool_choice change.
#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn the_tool_loop_works_through_responses_and_messages() {
    tool_loop(ylokh::ffi::options::YLOKH_API_RESPONSES);
    tool_loop(ylokh::ffi::options::YLOKH_API_MESSAGES);
}

/// `tool_choice` as each API spells it (params_json passes it through untranslated).
fn tool_choice(api: u32, choice: &str) -> String {
    if api == ylokh::ffi::options::YLOKH_API_MESSAGES {
        let kind = if choice == "required" { "any" } else { choice };
        format!(r#"{{"type":"{kind}"}}"#)
    } else {
        format!(r#""{choice}""#)
    }
}

fn tool_loop(api: u32) {
    let _alone = exclusive();
    let started = Instant::now();
    let server = ToolServer::start();
    let client = server.client(api);
    let tools = CString::new(CALC_TOOL).unwrap();
    eprintln!(
        "Hermes-template llama-server at {} healthy after {:.1} s (log {})",
        server.url,
        started.elapsed().as_secs_f64(),
        server.log.display()
    );

    // Step 1: the prefill makes the model write a call (see above). 128 tokens: the two calls
    // it writes take 85; with fewer the second call is cut off and the finish is "length".
    let conv = ylokh_conversation_new();
    add(conv, "system", SYSTEM);
    add(conv, "user", QUESTION);
    add(conv, "assistant", "<tool_call>\n");
    let params = CString::new(format!(
        r#"{{"tool_choice":{},"temperature":0,"max_tokens":128}}"#,
        tool_choice(api, "required")
    ))
    .unwrap();
    let t = Instant::now();
    let step1 = send_step(&client, conv, &tools, &params);
    unsafe { ylokh_conversation_free(conv) };
    eprintln!(
        "step 1 in {:.1} s: finish {:?}, calls {:?}, text {:?}",
        t.elapsed().as_secs_f64(),
        step1.finish_reason,
        step1
            .calls
            .iter()
            .map(|c| (c.id.clone().unwrap(), c.arguments.clone()))
            .collect::<Vec<_>>(),
        step1.text
    );
    assert_eq!(
        (step1.status, step1.http_status),
        (YLOKH_OK, 200),
        "{step1:?}; server log {}",
        server.log.display()
    );
    assert_eq!(
        step1.finish_reason.as_deref(),
        Some("tool_calls"),
        "{step1:?}"
    );
    assert!(!step1.calls.is_empty(), "{step1:?}");
    assert_eq!(step1.n_tool_calls as usize, step1.calls.len());
    for (i, call) in step1.calls.iter().enumerate() {
        // What the grammar guarantees (the schema's types and enum); the values are the
        // model's (17, "*", 23 at temperature 0 in every run so far).
        assert_eq!(call.index as usize, i, "{call:?}");
        assert_eq!(call.name.as_deref(), Some("calc"), "{call:?}");
        assert!(call.valid, "{call:?}");
        let args: Value = serde_json::from_str(&call.arguments).unwrap();
        assert!(args["a"].is_number() && args["b"].is_number(), "{call:?}");
        assert!(
            ["+", "-", "*", "/"].contains(&args["op"].as_str().unwrap_or("?")),
            "{call:?}"
        );
        // The deltas: the first brings id and name, the fragments add up to the arguments.
        let deltas: Vec<&Call> = step1
            .deltas
            .iter()
            .filter(|d| d.index == call.index)
            .collect();
        assert!(
            deltas.len() > 1,
            "the arguments streamed in pieces: {deltas:?}"
        );
        assert_eq!(deltas[0].name.as_deref(), Some("calc"));
        assert_eq!(deltas.iter().filter(|d| d.name.is_some()).count(), 1);
        assert!(deltas.iter().all(|d| d.id == call.id && !d.valid));
        let joined: String = deltas.iter().map(|d| d.arguments.as_str()).collect();
        assert_eq!(joined, call.arguments);
    }
    let message: Value = serde_json::from_str(step1.message_json.as_ref().unwrap()).unwrap();
    assert_eq!(message["role"], "assistant");
    let in_message: Vec<(&str, &str, &str)> = message["tool_calls"]
        .as_array()
        .unwrap_or_else(|| panic!("no tool_calls in {message}"))
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["function"]["name"].as_str().unwrap(),
                c["function"]["arguments"].as_str().unwrap(),
            )
        })
        .collect();
    let called: Vec<(&str, &str, &str)> = step1
        .calls
        .iter()
        .map(|c| {
            (
                c.id.as_deref().unwrap(),
                c.name.as_deref().unwrap(),
                c.arguments.as_str(),
            )
        })
        .collect();
    assert_eq!(in_message, called);

    // Step 2 and on: the conversation without the prefill, the answer with its calls, and
    // each call's result; "auto" now, so the model may answer in text (it does).
    let conv = ylokh_conversation_new();
    add(conv, "system", SYSTEM);
    add(conv, "user", QUESTION);
    let params = CString::new(format!(
        r#"{{"tool_choice":{},"temperature":0,"max_tokens":48}}"#,
        tool_choice(api, "auto")
    ))
    .unwrap();
    let mut answer = step1;
    let mut steps = 1;
    let last = loop {
        let message_json = CString::new(answer.message_json.clone().unwrap()).unwrap();
        assert_eq!(
            unsafe { ylokh_conversation_add_json(conv, message_json.as_ptr()) },
            YLOKH_OK
        );
        for call in &answer.calls {
            let (id, result) = (
                CString::new(call.id.clone().unwrap()).unwrap(),
                CString::new(run_calc(&call.arguments)).unwrap(),
            );
            assert_eq!(
                unsafe { ylokh_conversation_add_tool_result(conv, id.as_ptr(), result.as_ptr()) },
                YLOKH_OK
            );
        }
        // llama.cpp's Hermes template does not read tool_call_id (a result with an unknown id
        // gets the same 200 answer), so the server cannot check the ids: check what is sent.
        let sent = conversation_json(conv);
        let sent = sent.as_array().unwrap();
        assert!(
            sent.iter().all(|m| m["content"] != "<tool_call>\n"),
            "no prefill after step 1"
        );
        let results: Vec<&str> = sent[sent.len() - answer.calls.len()..]
            .iter()
            .map(|m| {
                assert_eq!(m["role"], "tool", "{m}");
                m["tool_call_id"].as_str().unwrap()
            })
            .collect();
        let assistant = &sent[sent.len() - answer.calls.len() - 1];
        let call_ids: Vec<&str> = assistant["tool_calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(results, call_ids);
        let ids: Vec<&str> = answer
            .calls
            .iter()
            .map(|c| c.id.as_deref().unwrap())
            .collect();
        assert_eq!(results, ids);

        steps += 1;
        let t = Instant::now();
        answer = send_step(&client, conv, &tools, &params);
        eprintln!(
            "step {steps} in {:.1} s: finish {:?}, calls {:?}, text {:?}",
            t.elapsed().as_secs_f64(),
            answer.finish_reason,
            answer.calls,
            answer.text
        );
        assert_eq!(
            (answer.status, answer.http_status),
            (YLOKH_OK, 200),
            "{answer:?}; server log {}",
            server.log.display()
        );
        if answer.calls.is_empty() {
            break answer;
        }
        assert!(steps < 3, "no final answer within 3 steps");
    };
    unsafe { ylokh_conversation_free(conv) };
    assert!(!last.text.trim().is_empty(), "{last:?}");
    assert_eq!(last.n_tool_calls, 0);
    let message: Value = serde_json::from_str(last.message_json.as_ref().unwrap()).unwrap();
    assert_eq!(message["content"], last.text.as_str());
    assert!(message.get("tool_calls").is_none(), "{message}");
    eprintln!(
        "the loop completed in {steps} steps, {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// Resumable streams against the real server, through a TCP relay that breaks the connection.

/// A TCP relay on 127.0.0.1 between the library and the local server. The first connection's
/// answer is cut after `cut` bytes as they come from the server (headers and chunk framing
/// included): the connection is shut down then or, with `stall`, goes silent until the client
/// closes it. Later connections (the resume) pass through. Its bytes are kept in `first`.
struct Relay {
    url: String,
    first: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

fn relay(cut: Option<usize>, stall: bool) -> Relay {
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let upstream_addr = server()
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let first = Arc::new(Mutex::new(Vec::new()));
    let record = first.clone();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(mut client) = client else { continue };
            let mut upstream = TcpStream::connect(&upstream_addr).unwrap();
            let (record, cut) = (record.clone(), if n == 0 { cut } else { None });
            std::thread::spawn(move || {
                let closed = Arc::new(AtomicBool::new(false));
                let (mut from_client, mut to_upstream) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let client_closed = closed.clone();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_client, &mut to_upstream);
                    client_closed.store(true, Ordering::SeqCst);
                });
                let (mut sent, mut buf) = (0usize, [0u8; 4096]);
                while let Ok(got @ 1..) = upstream.read(&mut buf) {
                    let take = cut.map_or(got, |cut| got.min(cut - sent));
                    if n == 0 {
                        record.lock().unwrap().extend_from_slice(&buf[..take]);
                    }
                    if client.write_all(&buf[..take]).is_err() {
                        break;
                    }
                    sent += take;
                    if Some(sent) == cut {
                        while stall && !closed.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        break;
                    }
                }
                let _ = client.shutdown(Shutdown::Both);
                let _ = upstream.shutdown(Shutdown::Both);
            });
        }
    });
    Relay { url, first }
}

/// A client for `url` with resume on, 2 retries, these read and first-token timeouts (ms).
fn resuming_client(url: &str, read_ms: u64) -> Client {
    use ylokh::ffi::options::{
        ylokh_options_set_first_token_timeout_ms, ylokh_options_set_read_timeout_ms,
        ylokh_options_set_resume,
    };
    let url = CString::new(url).unwrap();
    unsafe {
        let opts = ylokh_options_new_compatible(url.as_ptr());
        assert_eq!(ylokh_options_set_resume(opts, true), YLOKH_OK);
        assert_eq!(ylokh_options_set_max_retries(opts, 2), YLOKH_OK);
        assert_eq!(ylokh_options_set_read_timeout_ms(opts, read_ms), YLOKH_OK);
        assert_eq!(
            ylokh_options_set_first_token_timeout_ms(opts, 120_000),
            YLOKH_OK
        );
        let mut client = std::ptr::null_mut();
        assert_eq!(ylokh_client_new(opts, &mut client), YLOKH_OK);
        ylokh_options_free(opts);
        Client::from_raw(client)
    }
}

/// Text with 2-byte characters that the model repeats at temperature 0.
const ACCENTS: &str = "Repeat after me: café, naïve, déjà vu, Grüße.";

/// One deterministic streamed request for ACCENTS: (status, text, resumes, message).
fn accents(client: &Client) -> (u32, String, u32, String) {
    use support::transcript::{request, send_with, Transcript};
    let (role, content) = (
        CString::new("user").unwrap(),
        CString::new(ACCENTS).unwrap(),
    );
    let messages = [ylokh::ffi::types::ylokh_message {
        role: role.as_ptr(),
        content: content.as_ptr(),
    }];
    let params = CString::new(r#"{"temperature":0,"seed":1,"max_tokens":24}"#).unwrap();
    let mut req = request(true);
    req.messages = messages.as_ptr();
    req.n_messages = 1;
    req.params_json = params.as_ptr();
    let mut tr = Transcript::default();
    let status = send_with(client, req, &mut tr);
    let text = tr
        .events
        .iter()
        .filter_map(|e| e.strip_prefix("token:"))
        .collect();
    let done = tr.events.iter().filter(|e| e.starts_with("done:")).count();
    assert_eq!(done, 1, "on_done once: {:?}", tr.events);
    (status, text, tr.timings.resumes, tr.message)
}

#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn a_stream_broken_by_a_relay_resumes_to_the_text_of_an_unbroken_one() {
    let _alone = exclusive();
    // The unbroken stream, through a relay that keeps its bytes to choose the cuts from.
    let reference = relay(None, false);
    let (status, unbroken, resumes, message) = accents(&resuming_client(&reference.url, 30_000));
    assert_eq!((status, resumes), (YLOKH_OK, 0), "{message}");
    assert!(unbroken.contains('é'), "{unbroken}");
    let raw = reference.first.lock().unwrap().clone();
    let find = |what: &[u8], nth: usize| {
        raw.windows(what.len())
            .enumerate()
            .filter(|(_, w)| *w == what)
            .nth(nth)
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("{:?} in {}", what, String::from_utf8_lossy(&raw)))
    };
    let cuts = [
        ("inside an SSE event", find(b"data: ", 3) + 25, false),
        ("at an event boundary", find(b"\n\n", 4) + 2, false),
        (
            "inside a 2-byte character",
            find("é".as_bytes(), 0) + 1,
            false,
        ),
        ("then a stall", find(b"data: ", 6) + 10, true),
    ];
    for (what, cut, stall) in cuts {
        let broken = relay(Some(cut), stall);
        let started = Instant::now();
        let (status, text, resumes, message) = accents(&resuming_client(&broken.url, 3_000));
        assert_eq!(status, YLOKH_OK, "cut {what} at byte {cut}: {message}");
        assert_eq!(text, unbroken, "cut {what} at byte {cut}");
        assert_eq!(resumes, 1, "cut {what}");
        println!(
            "cut {what} at byte {cut}: resumed, {} ms",
            started.elapsed().as_millis()
        );
    }
}

#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn cancelling_a_resumable_stream_frees_the_slot() {
    let _alone = exclusive();
    // With a conversation id, closing the connection no longer stops the generation: the
    // library's DELETE must. (400 tokens at most: should it fail, the slot is not taken for
    // long.)
    let client = resuming_client(server(), 30_000);
    let answer = chat(
        &client,
        r#"{"max_tokens":400,"temperature":1}"#,
        true,
        Some(5),
    );
    assert_eq!(answer.status, YLOKH_CANCELLED, "{answer:?}");
    assert_eq!(answer.busy_at_cancel, 1, "the server was generating");
    let cancelled = Instant::now();
    while slots_busy() > 0 {
        assert!(
            cancelled.elapsed() < Duration::from_secs(10),
            "the server still generates 10 s after the cancel"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `response_format` `json_schema` against the real server, streamed and not, through the one
/// endpoint llama.cpp honours it on: `/v1/chat/completions` (its `/v1/responses` converts only
/// `input`, `instructions`, `tools`, `max_output_tokens` and `reasoning.effort`, so `text.format`
/// is ignored; its `/v1/messages` passes on only sampling keys, so `output_config` is ignored).
/// The answer is JSON that matches the schema, and `json_valid` says so.
#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn response_format_json_schema_gives_json_that_matches() {
    let _alone = exclusive();
    let client = client();
    let params = CString::new(
        r#"{"temperature":0,"max_tokens":96,"response_format":{"type":"json_schema","json_schema":{"name":"person","strict":true,"schema":{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"],"additionalProperties":false}}}}"#,
    )
    .unwrap();
    for stream in [true, false] {
        let conv = ylokh_conversation_new();
        add(conv, "user", "Invent a person: give a name and an age.");
        let mut step = Step::default();
        let mut req: ylokh_chat_request = unsafe { std::mem::zeroed() };
        req.struct_size = std::mem::size_of::<ylokh_chat_request>();
        req.conversation = conv;
        req.params_json = params.as_ptr();
        req.stream = stream;
        req.user_data = (&mut step as *mut Step).cast();
        req.on_token = Some(step_token);
        req.on_done = Some(step_done);
        let mut handle = std::ptr::null_mut();
        assert_eq!(
            unsafe { ylokh_chat_send(client.raw(), &req, &mut handle) },
            YLOKH_OK
        );
        unsafe {
            ylokh_request_wait(handle, u64::MAX);
            ylokh_request_free(handle);
            ylokh_conversation_free(conv);
        }
        assert_eq!(step.status, YLOKH_OK, "{step:?}");
        let person: Value = serde_json::from_str(&step.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", step.text));
        assert!(
            person["name"].is_string() && person["age"].is_i64(),
            "{person}"
        );
        assert_eq!(person.as_object().unwrap().len(), 2, "{person}");
        assert_eq!(step.json_valid, 1, "stream {stream}");
    }
}

/// The same tool loop from the C++ wrapper (`stream()` with tools over a `ylokh::Conversation`,
/// `add_json(message_json)`; tests/cpp/real_tool_loop.cpp) and the Python package
/// (`Client.stream` with tools, `Conversation.add_result`; tests/python/real_tool_loop.py, from
/// this checkout with this build's library) through /v1/chat/completions, /v1/responses and
/// /v1/messages of the Hermes-template `ToolServer` (step 1 with the prefill and the required
/// tool choice, as in `tool_loop`): the model calls calc, the program runs it on the parsed
/// arguments, sends the assistant message and the results, and the next answer has no calls
/// (`support::local::assert_real_tool_loop` says what is checked). The Node program is run by
/// tests/node.rs.
#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn the_tool_loop_from_cpp_and_python_completes_through_all_three_endpoints() {
    let _alone = exclusive();
    let server = ToolServer::start();
    let root = env!("CARGO_MANIFEST_DIR");
    let exe = support::tmp_path("real_tool_loop_cpp");
    support::compile("g++", &["tests/cpp/real_tool_loop.cpp"], &exe, &[]);
    let library = support::lib_dir().join("libylokh.so");
    for api in ["chat", "responses", "messages"] {
        let started = Instant::now();
        let output = Command::new(&exe).args([server.url.as_str(), api]).output();
        let output = output.expect("could not run the C++ loop");
        support::local::assert_real_tool_loop("C++", api, &output, &server.log);
        eprintln!("C++ over {api}: {:.1} s", started.elapsed().as_secs_f64());
        let started = Instant::now();
        let output = Command::new("python3")
            .arg(format!("{root}/tests/python/real_tool_loop.py"))
            .args([server.url.as_str(), api])
            .env("PYTHONPATH", format!("{root}/examples/python"))
            .env("YLOKH_LIB", &library)
            .output()
            .expect("could not run python3");
        support::local::assert_real_tool_loop("Python", api, &output, &server.log);
        eprintln!(
            "Python over {api}: {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}

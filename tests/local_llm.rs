//! Against a real server: llama.cpp's llama-server with a small real model, set up and started
//! on 127.0.0.1 by `examples/local-llm.sh start` (the first run builds it, about 6 minutes;
//! later runs reuse the cache and take seconds). Driven through the C ABI's own functions.

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::capi::{chat_with, Answer, Client};
use ylokh::ffi::status::*;

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
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn cancelling_mid_answer_stops_the_servers_generation() {
    let _alone = exclusive();
    let client = client();
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

/// Cancelling mid-answer frees the server's slot within a second, in every dialect.
#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3-venv, PyPI): run tests/run.sh"]
fn cancelling_frees_the_slot_in_every_dialect() {
    let _alone = exclusive();
    for (api, name) in DIALECTS {
        let client = Client::with_api(server(), api, None);
        let answer = chat(
            &client,
            r#"{"max_tokens":2000,"temperature":1}"#,
            true,
            Some(5),
        );
        assert_eq!(answer.status, YLOKH_CANCELLED, "{name}: {answer:?}");
        assert_eq!(
            answer.busy_at_cancel, 1,
            "{name}: the server was generating"
        );
        let cancelled = Instant::now();
        while slots_busy() > 0 {
            assert!(
                cancelled.elapsed() < Duration::from_secs(1),
                "{name}: the server still generates 1 s after the cancel"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

//! The Responses and Messages dialects over the wire: recorded streams in the shapes the real
//! services send (and streams captured from llama.cpp's server), written 3 bytes at a time,
//! with the exact callbacks each must give; errors, truncation, auth headers and bodies.

mod support;

use serde_json::{json, Value};
use support::capi::Client;
use support::start_server;
use support::transcript::*;
use ylokh::ffi::options::{YLOKH_API_MESSAGES, YLOKH_API_RESPONSES};

/// Replays tests/fixtures/dialects/NAME through `api`.
fn replay(api: u32, name: &str, stream: bool) -> Transcript {
    let server = start_server();
    let client = Client::with_api(
        &format!("{}/replay3-dialects.{name}/v1", server.url()),
        api,
        None,
    );
    let mut tr = Transcript::default();
    send_with(&client, request(stream), &mut tr);
    tr
}

fn message(tr: &Transcript) -> Value {
    serde_json::from_str(tr.message_json.as_deref().expect("message_json")).unwrap()
}

/// (api, fixture, streamed, the text, the complete calls as `name:arguments`, the done line,
/// usage): what every recorded stream must give.
type Case = (
    u32,
    &'static str,
    bool,
    &'static str,
    &'static [&'static str],
    &'static str,
    (i64, i64, i64),
);

const R: u32 = YLOKH_API_RESPONSES;
const M: u32 = YLOKH_API_MESSAGES;
const CALC: &str = r#"calc:{"a": 17, "op": "*", "b": 23}"#;

const CASES: &[Case] = &[
    (R, "responses-openai-text", true, "Hi there! How can I help?", &[], "done:YLOKH_OK:stop:0", (37, 11, 48)),
    (R, "responses-openai-tools", true, "", &[r#"get_weather:{"city":"Paris"}"#, r#"get_weather:{"city":"Oslo"}"#], "done:YLOKH_OK:tool_calls:2", (291, 46, 337)),
    (R, "responses-openai-reasoning", true, "4", &[], "done:YLOKH_OK:stop:0", (13, 80, 93)),
    (R, "responses-openai-incomplete", true, "Once upon", &[], "done:YLOKH_OK:length:0", (12, 16, 28)),
    (R, "responses-openai-failed", true, "", &[], "done:YLOKH_SERVER_ERROR:-:0", (-1, -1, -1)),
    (R, "responses-openai-error", true, "", &[], "done:YLOKH_SERVER_ERROR:-:0", (-1, -1, -1)),
    (R, "responses-llamacpp-tool", true, "", &[r#"get_weather:{"city":"Paris"}"#], "done:YLOKH_OK:tool_calls:1", (210, 31, 241)),
    (R, "responses-llamacpp-error", true, "", &[], "done:YLOKH_SERVER_ERROR:-:0", (-1, -1, -1)),
    (R, "responses-truncated", true, "Hi there! How can I help?", &[], "done:YLOKH_INCOMPLETE:-:0", (-1, -1, -1)),
    (R, "llamacpp-captured-responses-tools-stream", true, "", &[CALC, "get_time:{\n    }", "get_time:{\n    }"], "done:YLOKH_OK:tool_calls:3", (393, 84, 477)),
    (R, "llamacpp-captured-responses", false, "Welcome to my space, I'm your AI companion! *smiles warmly* Welcome to my home, I'm here to help with the most amazing tasks you", &[], "done:YLOKH_OK:stop:0", (32, 32, 64)),
    (M, "messages-text", true, "Hello! Привет 👋", &[], "done:YLOKH_OK:stop:0", (35, 15, 50)),
    (M, "messages-tools", true, "Checking both cities.", &[r#"get_weather:{"city": "Paris"}"#, r#"get_weather:{"city": "Oslo"}"#], "done:YLOKH_OK:tool_calls:2", (472, 89, 561)),
    (M, "messages-thinking", true, "12,231", &[], "done:YLOKH_OK:length:0", (85, 32, 117)),
    (M, "messages-overloaded", true, "Hel", &[], "done:YLOKH_SERVER_ERROR:-:0", (25, 1, 26)),
    (M, "messages-llamacpp-error", true, "", &[], "done:YLOKH_SERVER_ERROR:-:0", (-1, -1, -1)),
    (M, "messages-truncated", true, "Hello! Привет 👋", &[], "done:YLOKH_INCOMPLETE:stop:0", (35, 15, 50)),
    (M, "llamacpp-captured-messages-stream", true, "Oh, hi! How can I assist you today? Want to chat about a topic related to science? I'm here to help!", &[], "done:YLOKH_OK:stop:0", (32, 28, 60)),
    (M, "llamacpp-captured-messages-tools-stream", true, "", &[CALC, "get_time:{\n    }", "get_time:{\n    }"], "done:YLOKH_OK:tool_calls:3", (393, 84, 477)),
    (M, "llamacpp-captured-messages", false, "How can I assist you?", &[], "done:YLOKH_OK:stop:0", (32, 7, 39)),
    (M, "llamacpp-captured-messages-tools", false, "", &[r#"calc:{"a":17,"op":"*","b":23}"#, "get_time:{}", "get_time:{}"], "done:YLOKH_OK:tool_calls:3", (393, 84, 477)),
];

#[test]
fn every_recorded_stream_gives_its_callbacks() {
    for &(api, name, stream, text, calls, done, usage) in CASES {
        let tr = replay(api, name, stream);
        let got_text: String = tr
            .events
            .iter()
            .filter_map(|e| e.strip_prefix("token:"))
            .collect();
        assert_eq!(got_text, text, "{name}: text");
        let got_calls: Vec<String> = tr
            .events
            .iter()
            .filter_map(|e| e.strip_prefix("call:"))
            .map(|c| {
                let c = c.rsplit_once(':').unwrap().0; // drop ":valid"
                c.splitn(3, ':').nth(2).unwrap().to_string()
            })
            .collect();
        assert_eq!(got_calls, calls, "{name}: calls");
        assert_eq!(tr.events.last().unwrap(), done, "{name}: {:?}", tr.events);
        assert_eq!(tr.usage, usage, "{name}: usage");
        // Calls only after the last token; deltas only while streaming; message_json in the
        // chat format with the calls only when OK.
        let last_token = tr.events.iter().rposition(|e| e.starts_with("token:"));
        let first_call = tr.events.iter().position(|e| e.starts_with("call:"));
        if let (Some(t), Some(c)) = (last_token, first_call) {
            assert!(t < c, "{name}: a call before the last token");
        }
        assert_eq!(
            tr.events.iter().any(|e| e.starts_with("delta:")),
            stream && !calls.is_empty(),
            "{name}: deltas"
        );
        let m = message(&tr);
        assert_eq!(m["role"], "assistant");
        assert_eq!(
            m.get("tool_calls")
                .map_or(0, |c| c.as_array().unwrap().len()),
            if done.starts_with("done:YLOKH_OK") {
                calls.len()
            } else {
                0
            },
            "{name}"
        );
    }
}

#[test]
fn in_stream_errors_carry_the_servers_words() {
    for (api, name, words) in [
        (
            R,
            "responses-openai-failed",
            "The model produced invalid content.",
        ),
        (
            R,
            "responses-openai-error",
            "Rate limit reached for gpt-4.1",
        ),
        (
            R,
            "responses-llamacpp-error",
            "the context size was exceeded",
        ),
        (M, "messages-overloaded", "Overloaded"),
        (
            M,
            "messages-llamacpp-error",
            "the context size was exceeded",
        ),
    ] {
        let tr = replay(api, name, true);
        assert!(tr.message.contains(words), "{name}: {}", tr.message);
    }
    for (api, name, end) in [
        (
            R,
            "responses-truncated",
            "`response.completed` or `response.incomplete`",
        ),
        (M, "messages-truncated", "`message_stop`"),
    ] {
        let tr = replay(api, name, true);
        assert!(tr.message.contains(end), "{name}: {}", tr.message);
    }
}

#[test]
fn reasoning_reaches_on_reasoning_and_message_json() {
    let tr = replay(R, "responses-openai-reasoning", true);
    assert_eq!(
        tr.events[..2],
        ["reasoning:**Adding**", "reasoning: two and two."]
    );
    assert_eq!(message(&tr)["reasoning_content"], "**Adding** two and two.");
    let tr = replay(M, "messages-thinking", true);
    assert_eq!(
        message(&tr),
        json!({"role":"assistant","content":"12,231","reasoning_content":"27 * 453 = 12231",
               "reasoning_details":[{"type":"reasoning.text","text":"27 * 453 = 12231",
                   "format":"anthropic-claude-v1","index":0,
                   "signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}]})
    );
}

#[test]
fn anthropic_http_errors_give_the_message() {
    let server = start_server();
    let client = Client::with_api(&format!("{}/overloaded529/v1", server.url()), M, None);
    let mut tr = Transcript::default();
    send_with(&client, request(true), &mut tr);
    assert_eq!(tr.events.last().unwrap(), "done:YLOKH_HTTP_STATUS:-:0");
    assert!(
        tr.message.contains("529") && tr.message.contains("Overloaded"),
        "{}",
        tr.message
    );
}

#[test]
fn messages_requests_carry_the_key_in_x_api_key_and_a_translated_body() {
    let server = start_server();
    let client = Client::with_api(
        &format!("{}/echomsg/v1", server.url()),
        M,
        Some("sk-ant-test"),
    );
    let mut tr = Transcript::default();
    let mut req = request(false);
    let tools = c"[{\"type\":\"function\",\"function\":{\"name\":\"calc\",\"description\":\"a op b\",\"parameters\":{\"type\":\"object\"}}}]";
    req.tools_json = tools.as_ptr();
    req.params_json = c"{\"temperature\":0}".as_ptr();
    send_with(&client, req, &mut tr);
    assert_eq!(
        tr.events.last().unwrap(),
        "done:YLOKH_OK:stop:0",
        "{}",
        tr.message
    );
    // The server echoes the request; the tokens carry it as sent, while message_json has the
    // key scrubbed like every other text the library produces.
    let dump: String = tr
        .events
        .iter()
        .filter_map(|e| e.strip_prefix("token:"))
        .collect();
    let content = message(&tr)["content"].as_str().unwrap().to_owned();
    assert_eq!(content, dump.replace("sk-ant-test", "[redacted]"));
    let (head, body) = dump.split_once("\n\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.contains("x-api-key: sk-ant-test"), "{head}");
    assert!(head.contains("anthropic-version: 2023-06-01"), "{head}");
    assert!(
        !head.contains("authorization"),
        "no Bearer header for Messages: {head}"
    );
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["max_tokens"], 4096, "required by the API: a default");
    assert_eq!(body["messages"], json!([{"role":"user","content":"hi"}]));
    assert_eq!(
        body["tools"],
        json!([{"name":"calc","description":"a op b","input_schema":{"type":"object"}}])
    );
    assert_eq!(body["temperature"], 0);
    assert_eq!(body["stream"], false);
}

/// examples/chat.c switches with `YLOKH_API` alone; an unknown name is refused with the choices.
#[test]
fn chat_example_switches_dialect_with_ylokh_api() {
    let server = start_server();
    let exe = support::tmp_path("chat_dialects");
    support::compile("gcc", &["examples/chat.c"], &exe, &[]);
    for (api, fixture, text) in [
        (
            "responses",
            "responses-openai-text",
            "Hi there! How can I help?",
        ),
        ("messages", "messages-text", "Hello! Привет 👋"),
    ] {
        let out = std::process::Command::new(&exe)
            .arg("hi")
            .env(
                "YLOKH_BASE_URL",
                format!("{}/replay3-dialects.{fixture}/v1", server.url()),
            )
            .env("YLOKH_API", api)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{api}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), text);
        assert!(stderr.contains("usage: prompt"), "{api}: {stderr}");
    }
    let out = std::process::Command::new(&exe)
        .arg("hi")
        .env("YLOKH_BASE_URL", server.url())
        .env("YLOKH_API", "soap")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chat, responses or messages"));
}

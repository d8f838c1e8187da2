//! Issue 20: a tool loop over reasoning models whose servers want something back on the second
//! turn. Each loopback server plays one provider: its first answer is a stream in the
//! shape the provider documents (Anthropic extended thinking with `signature_delta` and
//! `redacted_thinking`; OpenAI Responses reasoning items with `encrypted_content` and a
//! summary; Gemini's OpenAI-compatible `extra_content.google.thought_signature`; OpenRouter's
//! `reasoning_details` deltas; DeepSeek's `reasoning_content`), and on the second turn it
//! answers 400 with the provider's words when its rule is broken, as the real API does, and a
//! final answer when it is kept. The loop is the README's: `message_json` →
//! `ylokh_conversation_add_json`, each call → `ylokh_conversation_add_tool_result`, send again.
//! The servers are in tests/support/providers.rs (the bindings' tests run their loops against
//! them too).

mod support;

use serde_json::{json, Value};
use std::ffi::CString;
use std::sync::Mutex;
use support::capi::Client;
use support::providers::*;
use support::transcript::*;
use ylokh::ffi::conversation::*;
use ylokh::ffi::options::{YLOKH_API_CHAT_COMPLETIONS, YLOKH_API_MESSAGES, YLOKH_API_RESPONSES};

#[test]
fn anthropic_extended_thinking_goes_back_first_and_unchanged() {
    let t = agent_loop(
        anthropic,
        YLOKH_API_MESSAGES,
        r#"{"reasoning_effort":"low","max_tokens":6000}"#,
        |_| {},
    );
    finished(&t);
    let m = message_of(&t.first);
    assert_eq!(m["reasoning_content"], THOUGHT);
    assert_eq!(m["content"], "Let me check.");
    assert_eq!(
        m["reasoning_details"],
        json!([
        {"type":"reasoning.text","text":THOUGHT,"format":"anthropic-claude-v1","index":0,"signature":SIGNATURE},
        {"type":"reasoning.encrypted","data":REDACTED,"format":"anthropic-claude-v1","index":1}])
    );
    // The first body asked for thinking in the Messages spelling.
    assert_eq!(
        t.bodies[0]["thinking"],
        json!({"type":"enabled","budget_tokens":2048})
    );
    assert!(t.bodies[0].get("reasoning_effort").is_none());
    // The second body: thinking, redacted thinking, text, tool_use; then the result.
    let messages = t.bodies[1]["messages"].as_array().unwrap();
    assert_eq!(
        messages[1],
        json!({"role":"assistant","content":[
        {"type":"thinking","thinking":THOUGHT,"signature":SIGNATURE},
        {"type":"redacted_thinking","data":REDACTED},
        {"type":"text","text":"Let me check."},
        {"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"city":"Paris"}}]})
    );
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    // Without the thinking (what 0.2 kept), the server refuses, as Anthropic does.
    let t = agent_loop(
        anthropic,
        YLOKH_API_MESSAGES,
        r#"{"reasoning_effort":"low","max_tokens":6000}"#,
        as_in_0_2,
    );
    refused(&t, "must start with a thinking block");
    // A changed signature is refused too.
    let t = agent_loop(
        anthropic,
        YLOKH_API_MESSAGES,
        r#"{"reasoning_effort":"low","max_tokens":6000}"#,
        |m| {
            m["reasoning_details"][0]["signature"] = json!("forged");
        },
    );
    refused(&t, "Invalid `signature`");
}

#[test]
fn openai_responses_stateless_reasoning_items_precede_the_call() {
    let t = agent_loop(
        openai_responses,
        YLOKH_API_RESPONSES,
        r#"{"store":false,"reasoning_effort":"medium"}"#,
        |_| {},
    );
    finished(&t);
    assert_eq!(
        t.bodies[0]["include"],
        json!(["reasoning.encrypted_content"])
    );
    assert_eq!(t.bodies[0]["reasoning"], json!({"effort":"medium"}));
    let m = message_of(&t.first);
    assert_eq!(m["reasoning_content"], "**Weather** lookup");
    assert_eq!(
        m["reasoning_details"],
        json!([
        {"type":"reasoning.summary","summary":"**Weather** lookup","id":"rs_A","format":"openai-responses-v1","index":0},
        {"type":"reasoning.encrypted","data":ENCRYPTED,"id":"rs_A","format":"openai-responses-v1","index":1}])
    );
    assert_eq!(
        t.bodies[1]["input"],
        json!([
        {"type":"message","role":"user","content":"Weather in Paris?"},
        {"type":"reasoning","id":"rs_A","summary":[{"type":"summary_text","text":"**Weather** lookup"}],"encrypted_content":ENCRYPTED},
        {"type":"function_call","call_id":"call_P1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
        {"type":"function_call_output","call_id":"call_P1","output":"18°C, sunny"}])
    );
    let t = agent_loop(
        openai_responses,
        YLOKH_API_RESPONSES,
        r#"{"store":false}"#,
        as_in_0_2,
    );
    refused(&t, "without its required 'reasoning' item");
}

#[test]
fn gemini_thought_signature_comes_back_on_its_call() {
    let t = agent_loop(gemini, YLOKH_API_CHAT_COMPLETIONS, "{}", |_| {});
    finished(&t);
    let call = &t.bodies[1]["messages"][1]["tool_calls"][0];
    assert_eq!(
        call,
        &json!({"id":"function-call-1","type":"function",
        "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
        "extra_content":{"google":{"thought_signature":THOUGHT_SIGNATURE}}})
    );
    let t = agent_loop(gemini, YLOKH_API_CHAT_COMPLETIONS, "{}", as_in_0_2);
    refused(&t, "missing a thought_signature");
}

#[test]
fn openrouter_reasoning_details_are_folded_and_sent_back() {
    let t = agent_loop(openrouter, YLOKH_API_CHAT_COMPLETIONS, "{}", |_| {});
    finished(&t);
    let m = &t.bodies[1]["messages"][1];
    assert_eq!(m["reasoning_content"], THOUGHT);
    assert_eq!(m["reasoning_details"][0]["signature"], SIGNATURE);
    let t = agent_loop(openrouter, YLOKH_API_CHAT_COMPLETIONS, "{}", as_in_0_2);
    refused(&t, "Provider returned error");
}

#[test]
fn deepseek_reasoning_content_comes_back() {
    let t = agent_loop(deepseek, YLOKH_API_CHAT_COMPLETIONS, "{}", |_| {});
    finished(&t);
    let t = agent_loop(deepseek, YLOKH_API_CHAT_COMPLETIONS, "{}", |m| {
        m.as_object_mut().unwrap().remove("reasoning_content");
    });
    refused(&t, "Missing `reasoning_content`");
}

#[test]
fn a_conversation_moves_between_providers_without_foreign_entries() {
    // The Anthropic turn's message sent to the Responses API: its anthropic entries are left
    // out (no reasoning item), the rest goes as usual.
    let t = agent_loop(
        anthropic,
        YLOKH_API_MESSAGES,
        r#"{"reasoning_effort":"low","max_tokens":6000}"#,
        |_| {},
    );
    let m = message_of(&t.first);
    let server = provider(openai_responses);
    let client = Client::with_api(&server.url, YLOKH_API_RESPONSES, None);
    let conversation = ylokh_conversation_new();
    let (user, question) = (
        CString::new("user").unwrap(),
        CString::new("Weather in Paris?").unwrap(),
    );
    let m = CString::new(m.to_string()).unwrap();
    let id = CString::new("toolu_01A").unwrap();
    unsafe {
        ylokh_conversation_add(conversation, user.as_ptr(), question.as_ptr());
        ylokh_conversation_add_json(conversation, m.as_ptr());
        ylokh_conversation_add_tool_result(conversation, id.as_ptr(), question.as_ptr());
    }
    let mut req = request(true);
    req.conversation = conversation;
    send_with(&client, req, &mut Transcript::default());
    unsafe { ylokh_conversation_free(conversation) };
    let body = &server.bodies.lock().unwrap()[0];
    let kinds: Vec<&str> = body["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "message",
            "function_call",
            "function_call_output"
        ]
    );
}

/// Every row, streamed and not: a non-streamed answer keeps the same message.
#[test]
fn every_row_completes_in_rust_streamed_or_not() {
    for &(row, answer, api, params) in ROWS {
        let api = match api {
            "chat" => YLOKH_API_CHAT_COMPLETIONS,
            "responses" => YLOKH_API_RESPONSES,
            _ => YLOKH_API_MESSAGES,
        };
        let streamed = agent_loop(answer, api, params, |_| {});
        finished(&streamed);
        let mut whole_params: Value = serde_json::from_str(params).unwrap();
        whole_params["stream"] = json!(false);
        let whole = agent_loop(answer, api, &whole_params.to_string(), |_| {});
        assert_eq!(whole.bodies[0]["stream"], false, "{row}");
        assert_eq!(
            whole.second_status, 0,
            "{row}: {:?} {}",
            whole.second.events, whole.second.message
        );
        assert!(
            whole
                .second
                .events
                .contains(&"token:18°C and sunny.".to_string()),
            "{row}"
        );
        let (mut a, mut b) = (message_of(&streamed.first), message_of(&whole.first));
        // Responses streams its summary as reasoning deltas; whole, the same text.
        for m in [&mut a, &mut b] {
            m.as_object_mut().unwrap().remove("stream");
        }
        assert_eq!(a, b, "{row}: the same message streamed or not");
        let second_body = |t: &Turns| {
            let mut body = t.bodies[1].clone();
            body.as_object_mut().unwrap().remove("stream");
            body.as_object_mut().unwrap().remove("stream_options");
            body
        };
        assert_eq!(
            second_body(&streamed),
            second_body(&whole),
            "{row}: the same second body"
        );
    }
}

/// examples/agent.c, unchanged, completes its loop against every row (its tools are not the
/// servers' `get_weather`: it answers "no tool named get_weather", which the servers accept).
#[test]
fn the_c_agent_example_completes_against_every_row() {
    let exe = support::tmp_path("round_trip_agent");
    support::compile("gcc", &["examples/agent.c"], &exe, &[]);
    for &(row, answer, api, params) in ROWS {
        let server = provider(answer);
        let out = std::process::Command::new(&exe)
            .arg("Weather in Paris?")
            .env("YLOKH_BASE_URL", &server.url)
            .env("YLOKH_API_KEY", "sk-test")
            .env("YLOKH_API", api)
            .env("YLOKH_PARAMS", params)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success()
                && stdout.contains("18°C and sunny.")
                && stdout.contains("--- final answer after 2 steps"),
            "{row}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// ---- Portable options on the wire: JSON answers and dropped keys ----

/// Answers in whichever dialect the body speaks: the text `{"a": 1}` when the user's message
/// says "json", else "not json"; checks that the JSON format arrived in the dialect's spelling.
fn json_server(body: &Value) -> (u16, &'static str, String) {
    let asked_json = body.to_string().contains("json_schema");
    let text = if body.to_string().contains("give json") {
        "{\"a\": 1}"
    } else {
        "not json"
    };
    let bad = |m: &str| (400, JSON, json!({"error":{"message":m}}).to_string());
    if let Some(input) = body.get("input") {
        let _ = input;
        if body.get("response_format").is_some()
            || (asked_json && body["text"]["format"]["type"] != "json_schema")
        {
            return bad("Responses: response_format is not a parameter; use text.format");
        }
        return (
            200,
            EVENTS,
            sse(&[
                (
                    "response.output_text.delta",
                    json!({"type":"response.output_text.delta","delta":text}),
                ),
                (
                    "response.completed",
                    json!({"type":"response.completed","response":{"status":"completed","output":[]}}),
                ),
            ]),
        );
    }
    if body.get("max_tokens").is_some() {
        if body.get("response_format").is_some()
            || (asked_json && body["output_config"]["format"]["type"] != "json_schema")
        {
            return bad("Messages: response_format: Extra inputs are not permitted");
        }
        return (
            200,
            EVENTS,
            sse(&[
                (
                    "content_block_delta",
                    json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":text}}),
                ),
                (
                    "message_delta",
                    json!({"type":"message_delta","delta":{"stop_reason":"end_turn"}}),
                ),
                ("message_stop", json!({"type":"message_stop"})),
            ]),
        );
    }
    chat_answer(body, &[chunk(json!({"content": text}), json!("stop"))])
}

static JSON_VALID: Mutex<Vec<i32>> = Mutex::new(Vec::new());

unsafe extern "C" fn on_done_json(
    u: *mut std::ffi::c_void,
    r: *const ylokh::ffi::types::ylokh_result,
) {
    JSON_VALID.lock().unwrap().push(unsafe { (*r).json_valid });
    unsafe { on_done(u, r) }
}

#[test]
fn json_valid_says_whether_the_answer_parses_in_every_dialect() {
    let format = r#"{"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object","properties":{"a":{"type":"integer"}}}}}}"#;
    for api in [
        YLOKH_API_CHAT_COMPLETIONS,
        YLOKH_API_RESPONSES,
        YLOKH_API_MESSAGES,
    ] {
        let server = provider(json_server);
        let client = Client::with_api(&server.url, api, None);
        let mut got = Vec::new();
        for (question, params) in [
            ("give json", format),
            ("prose", format),
            ("give json", "{}"),
        ] {
            let (role, text) = (
                CString::new("user").unwrap(),
                CString::new(question).unwrap(),
            );
            let messages = [ylokh::ffi::types::ylokh_message {
                role: role.as_ptr(),
                content: text.as_ptr(),
            }];
            let params = CString::new(params).unwrap();
            let mut req = request(true);
            req.messages = messages.as_ptr();
            req.n_messages = 1;
            req.params_json = params.as_ptr();
            req.on_done = Some(on_done_json);
            let mut tr = Transcript::default();
            JSON_VALID.lock().unwrap().clear();
            send_with(&client, req, &mut tr);
            assert!(
                tr.events.last().unwrap().starts_with("done:YLOKH_OK"),
                "{api}: {:?} {}",
                tr.events,
                tr.message
            );
            got.push(JSON_VALID.lock().unwrap()[0]);
        }
        assert_eq!(got, [1, 0, -1], "api {api}");
    }
}

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" fn keep_record(
    _: *mut std::ffi::c_void,
    level: u32,
    text: *const std::ffi::c_char,
    len: usize,
) {
    let text = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) };
    RECORDS
        .lock()
        .unwrap()
        .push(format!("{level}:{}", String::from_utf8_lossy(text)));
}

#[test]
fn untranslatable_keys_are_left_out_with_a_warn_record_naming_them() {
    use ylokh::ffi::log::{ylokh_set_log_callback, YLOKH_LOG_WARN};
    unsafe { ylokh_set_log_callback(YLOKH_LOG_WARN, Some(keep_record), std::ptr::null_mut()) };
    for api in [YLOKH_API_RESPONSES, YLOKH_API_MESSAGES] {
        let server = provider(json_server);
        let client = Client::with_api(&server.url, api, None);
        let params = CString::new(r#"{"logit_bias":{"50256":-100},"temperature":0.3}"#).unwrap();
        let mut req = request(true);
        req.params_json = params.as_ptr();
        let mut tr = Transcript::default();
        send_with(&client, req, &mut tr);
        let body = &server.bodies.lock().unwrap()[0];
        assert!(
            body.get("logit_bias").is_none() && body["temperature"] == 0.3,
            "{body}"
        );
    }
    unsafe { ylokh_set_log_callback(0, None, std::ptr::null_mut()) };
    let records = RECORDS.lock().unwrap();
    let warned: Vec<_> = records
        .iter()
        .filter(|r| r.starts_with("2:") && r.contains("`logit_bias`"))
        .collect();
    assert_eq!(warned.len(), 2, "{records:?}");
    assert!(
        warned[0].contains("Responses") && warned[1].contains("Messages"),
        "{warned:?}"
    );
}

//! Issue 20: a tool loop over reasoning models whose servers want something back on the second
//! turn. Each loopback server below plays one provider: its first answer is a stream in the
//! shape the provider documents (Anthropic extended thinking with `signature_delta` and
//! `redacted_thinking`; OpenAI Responses reasoning items with `encrypted_content` and a
//! summary; Gemini's OpenAI-compatible `extra_content.google.thought_signature`; OpenRouter's
//! `reasoning_details` deltas; DeepSeek's `reasoning_content`), and on the second turn it
//! answers 400 with the provider's words when its rule is broken, as the real API does, and a
//! final answer when it is kept. The loop is the README's: `message_json` →
//! `ylokh_conversation_add_json`, each call → `ylokh_conversation_add_tool_result`, send again.

mod support;

use serde_json::{json, Value};
use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use support::capi::Client;
use support::transcript::*;
use ylokh::ffi::conversation::*;
use ylokh::ffi::options::{YLOKH_API_CHAT_COMPLETIONS, YLOKH_API_MESSAGES, YLOKH_API_RESPONSES};

/// What a provider answers: (HTTP status, content type, body) for a request body.
type Answer = fn(&Value) -> (u16, &'static str, String);

/// A loopback server answering every request with `answer`; keeps every request body.
struct Provider {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

fn provider(answer: Answer) -> Provider {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            let mut reader = BufReader::new(socket.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            let (status, kind, text) = answer(&body);
            kept.lock().unwrap().push(body);
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                text.len()
            );
            let _ = socket.write_all(head.as_bytes());
            let _ = socket.write_all(text.as_bytes());
        }
    });
    Provider { url, bodies }
}

/// Server-sent events from `(event name, data)` pairs (no `event:` line when the name is "").
fn sse(events: &[(&str, Value)]) -> String {
    let mut out = String::new();
    for (name, data) in events {
        if !name.is_empty() {
            out.push_str(&format!("event: {name}\n"));
        }
        out.push_str(&format!("data: {data}\n\n"));
    }
    out
}

/// A chat stream's chunks as one non-streamed completion (the deltas folded by hand, the way
/// the provider would have sent the whole message).
fn chat_whole(chunks: &[Value]) -> String {
    let mut message = json!({"role": "assistant", "content": null});
    let mut finish = Value::Null;
    for c in chunks {
        let choice = &c["choices"][0];
        if !choice["finish_reason"].is_null() {
            finish = choice["finish_reason"].clone();
        }
        for (key, value) in choice["delta"].as_object().unwrap() {
            match key.as_str() {
                "content" | "reasoning" | "reasoning_content" => {
                    if let Some(t) = value.as_str().filter(|t| !t.is_empty()) {
                        let have = message[key].as_str().unwrap_or("").to_owned();
                        message[key] = json!(have + t);
                    }
                }
                "reasoning_details" => {
                    for d in value.as_array().unwrap() {
                        let list = message
                            .as_object_mut()
                            .unwrap()
                            .entry("reasoning_details")
                            .or_insert(json!([]));
                        let list = list.as_array_mut().unwrap();
                        match list.iter_mut().find(|e| e["index"] == d["index"]) {
                            Some(e) => {
                                for (k, v) in d.as_object().unwrap() {
                                    match (e.get(k).and_then(Value::as_str), v.as_str()) {
                                        (Some(a), Some(b)) if k == "text" => {
                                            e[k] = json!(format!("{a}{b}"))
                                        }
                                        (None, _) => e[k] = v.clone(),
                                        _ => {}
                                    }
                                }
                            }
                            None => list.push(d.clone()),
                        }
                    }
                }
                "tool_calls" => {
                    for t in value.as_array().unwrap() {
                        let list = message
                            .as_object_mut()
                            .unwrap()
                            .entry("tool_calls")
                            .or_insert(json!([]));
                        let list = list.as_array_mut().unwrap();
                        match list.iter_mut().find(|e| e["index"] == t["index"]) {
                            Some(e) => {
                                let more = t["function"]["arguments"].as_str().unwrap_or("");
                                let have =
                                    e["function"]["arguments"].as_str().unwrap_or("").to_owned();
                                e["function"]["arguments"] = json!(have + more);
                            }
                            None => list.push(t.clone()),
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for call in message["tool_calls"].as_array_mut().into_iter().flatten() {
        call.as_object_mut().unwrap().remove("index");
    }
    json!({"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":message,"finish_reason":finish}]}).to_string()
}

/// A chat answer: streamed, or whole when the body says `"stream": false`.
fn chat_answer(body: &Value, chunks: &[Value]) -> (u16, &'static str, String) {
    if body["stream"] == false {
        return (200, JSON, chat_whole(chunks));
    }
    (200, EVENTS, chat_sse(chunks))
}

fn chat_sse(chunks: &[Value]) -> String {
    let mut out = sse(&chunks.iter().map(|c| ("", c.clone())).collect::<Vec<_>>());
    out.push_str("data: [DONE]\n\n");
    out
}

const EVENTS: &str = "text/event-stream";
const JSON: &str = "application/json";

const TOOLS: &str = r#"[{"type":"function","function":{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]"#;

/// The last assistant message of a chat-format body.
fn is_first_turn(messages: &Value) -> bool {
    !messages
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["role"] == "assistant" || m["type"] == "function_call_output")
}

// ---- Anthropic Messages with extended thinking ----

const THOUGHT: &str = "The user wants Paris weather.\nI'll call \"get_weather\" 🌦.";
const SIGNATURE: &str = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/=";
const REDACTED: &str = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP";

fn anthropic(body: &Value) -> (u16, &'static str, String) {
    let messages = &body["messages"];
    let thinking = body["thinking"]["type"] == "enabled";
    // Like the real API, keys it does not know are refused.
    const KNOWN: &[&str] = &[
        "model",
        "messages",
        "system",
        "max_tokens",
        "stream",
        "tools",
        "tool_choice",
        "thinking",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "metadata",
        "output_config",
    ];
    if let Some(key) = body
        .as_object()
        .unwrap()
        .keys()
        .find(|k| !KNOWN.contains(&k.as_str()))
    {
        return (400, JSON, json!({"type":"error","error":{"type":"invalid_request_error","message":format!("{key}: Extra inputs are not permitted")}}).to_string());
    }
    let whole = body["stream"] == false;
    if is_first_turn(messages) && whole {
        let mut content = vec![
            json!({"type":"thinking","thinking":THOUGHT,"signature":SIGNATURE}),
            json!({"type":"redacted_thinking","data":REDACTED}),
            json!({"type":"text","text":"Let me check."}),
            json!({"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"city":"Paris"}}),
        ];
        if !thinking {
            content.drain(..2);
        }
        return (200, JSON, json!({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":content,"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":50,"output_tokens":90}}).to_string());
    }
    if is_first_turn(messages) {
        let mut events = vec![
            (
                "message_start",
                json!({"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":50,"output_tokens":1}}}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":&THOUGHT[..20]}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":&THOUGHT[20..]}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":SIGNATURE}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":REDACTED}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":1}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"Let me check."}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":2}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{}}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":3}),
            ),
            (
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":90}}),
            ),
            ("message_stop", json!({"type":"message_stop"})),
        ];
        if !thinking {
            events.drain(1..8); // no thinking blocks without thinking
        }
        return (200, EVENTS, sse(&events));
    }
    // The rule with thinking on: the last assistant turn starts with its thinking block(s),
    // unchanged (https://docs.claude.com/en/docs/build-with-claude/extended-thinking).
    let assistant = messages
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "assistant")
        .unwrap();
    let content = &assistant["content"];
    let error = |message: &str| {
        (
            400,
            JSON,
            json!({"type":"error","error":{"type":"invalid_request_error","message":message}})
                .to_string(),
        )
    };
    let results = &messages.as_array().unwrap().last().unwrap()["content"];
    let used = content
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use");
    if results[0]["type"] != "tool_result"
        || used.map(|b| &b["id"]) != Some(&results[0]["tool_use_id"])
    {
        return error("messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.");
    }
    if thinking {
        if content[0]["type"] != "thinking" {
            return error("messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`.");
        }
        if content[0]["signature"] != SIGNATURE || content[0]["thinking"] != THOUGHT {
            return error("messages.1.content.0: Invalid `signature` in `thinking` block");
        }
        if content[1] != json!({"type":"redacted_thinking","data":REDACTED}) {
            return error("messages.1.content.1: Invalid `data` in `redacted_thinking` block");
        }
    }
    if whole {
        return (200, JSON, json!({"id":"msg_02","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"18°C and sunny."}],"stop_reason":"end_turn","usage":{"input_tokens":80,"output_tokens":8}}).to_string());
    }
    (
        200,
        EVENTS,
        sse(&[
            (
                "message_start",
                json!({"type":"message_start","message":{"id":"msg_02","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":80,"output_tokens":1}}}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"18°C and sunny."}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            (
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":8}}),
            ),
            ("message_stop", json!({"type":"message_stop"})),
        ]),
    )
}

// ---- OpenAI Responses, stateless (store:false + encrypted reasoning) ----

const ENCRYPTED: &str = "gAAAAABo_encrypted_reasoning_blob==";

fn openai_responses(body: &Value) -> (u16, &'static str, String) {
    let input = &body["input"];
    const KNOWN: &[&str] = &[
        "model",
        "input",
        "instructions",
        "stream",
        "tools",
        "tool_choice",
        "store",
        "include",
        "reasoning",
        "text",
        "max_output_tokens",
        "temperature",
        "top_p",
        "parallel_tool_calls",
        "safety_identifier",
        "metadata",
        "background",
    ];
    if let Some(key) = body
        .as_object()
        .unwrap()
        .keys()
        .find(|k| !KNOWN.contains(&k.as_str()))
    {
        return (400, JSON, json!({"error":{"message":format!("Unknown parameter: '{key}'."),"type":"invalid_request_error","param":key,"code":"unknown_parameter"}}).to_string());
    }
    let whole = body["stream"] == false;
    let asked = body["include"]
        .as_array()
        .is_some_and(|i| i.contains(&json!("reasoning.encrypted_content")));
    if is_first_turn(input) {
        let mut reasoning = json!({"id":"rs_A","type":"reasoning","summary":[{"type":"summary_text","text":"**Weather** lookup"}]});
        if asked {
            reasoning["encrypted_content"] = json!(ENCRYPTED);
        }
        let call = json!({"id":"fc_1","type":"function_call","status":"completed","arguments":"{\"city\":\"Paris\"}","call_id":"call_P1","name":"get_weather"});
        if whole {
            return (200, JSON, json!({"id":"resp_1","object":"response","status":"completed","output":[reasoning, call],"usage":{"input_tokens":40,"output_tokens":30,"total_tokens":70}}).to_string());
        }
        return (
            200,
            EVENTS,
            sse(&[
                (
                    "response.created",
                    json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[]}}),
                ),
                (
                    "response.output_item.added",
                    json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"rs_A","type":"reasoning","summary":[]}}),
                ),
                (
                    "response.reasoning_summary_text.delta",
                    json!({"type":"response.reasoning_summary_text.delta","sequence_number":2,"item_id":"rs_A","output_index":0,"summary_index":0,"delta":"**Weather** lookup"}),
                ),
                (
                    "response.output_item.done",
                    json!({"type":"response.output_item.done","sequence_number":3,"output_index":0,"item":reasoning}),
                ),
                (
                    "response.output_item.added",
                    json!({"type":"response.output_item.added","sequence_number":4,"output_index":1,"item":{"id":"fc_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_P1","name":"get_weather"}}),
                ),
                (
                    "response.function_call_arguments.delta",
                    json!({"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"delta":"{\"city\":\"Paris\"}"}),
                ),
                (
                    "response.function_call_arguments.done",
                    json!({"type":"response.function_call_arguments.done","sequence_number":6,"item_id":"fc_1","output_index":1,"arguments":"{\"city\":\"Paris\"}"}),
                ),
                (
                    "response.output_item.done",
                    json!({"type":"response.output_item.done","sequence_number":7,"output_index":1,"item":call}),
                ),
                (
                    "response.completed",
                    json!({"type":"response.completed","sequence_number":8,"response":{"id":"resp_1","object":"response","status":"completed","output":[reasoning, call],"usage":{"input_tokens":40,"output_tokens":30,"total_tokens":70}}}),
                ),
            ]),
        );
    }
    // Stateless: nothing is stored, so the call needs its reasoning item (id and encrypted
    // content as given) right before it.
    let error = |message: String| {
        (400, JSON, json!({"error":{"message":message,"type":"invalid_request_error","param":"input","code":null}}).to_string())
    };
    let items = input.as_array().unwrap();
    let Some(at) = items
        .iter()
        .position(|i| i["type"] == "function_call" && i["call_id"] == "call_P1")
    else {
        return error("No tool call found for function call output with call_id call_P1.".into());
    };
    if body["store"] == false {
        let before = at.checked_sub(1).map(|i| &items[i]);
        let ok = before.is_some_and(|r| r["type"] == "reasoning" && r["id"] == "rs_A");
        if !ok {
            return error("Item 'fc_1' of type 'function_call' was provided without its required 'reasoning' item: 'rs_A'.".into());
        }
        if before.unwrap()["encrypted_content"] != ENCRYPTED {
            return error("The encrypted content for item rs_A could not be verified.".into());
        }
    }
    if whole {
        return (200, JSON, json!({"id":"resp_2","object":"response","status":"completed","output":[{"type":"message","id":"msg_2","role":"assistant","content":[{"type":"output_text","text":"18°C and sunny.","annotations":[]}]}],"usage":{"input_tokens":60,"output_tokens":8,"total_tokens":68}}).to_string());
    }
    (
        200,
        EVENTS,
        sse(&[
            (
                "response.created",
                json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_2","status":"in_progress","output":[]}}),
            ),
            (
                "response.output_text.delta",
                json!({"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_2","output_index":0,"content_index":0,"delta":"18°C and sunny."}),
            ),
            (
                "response.completed",
                json!({"type":"response.completed","sequence_number":2,"response":{"id":"resp_2","status":"completed","output":[],"usage":{"input_tokens":60,"output_tokens":8,"total_tokens":68}}}),
            ),
        ]),
    )
}

// ---- Gemini 3 through its OpenAI-compatible endpoint ----

const THOUGHT_SIGNATURE: &str = "CiQB0e2Kb7Xh+thought/signature==";

fn chunk(delta: Value, finish: Value) -> Value {
    json!({"choices":[{"delta":delta,"finish_reason":finish,"index":0}],"created":1,"id":"x","model":"m","object":"chat.completion.chunk"})
}

fn final_chat_answer(body: &Value) -> (u16, &'static str, String) {
    chat_answer(
        body,
        &[
            chunk(
                json!({"role":"assistant","content":"18°C and sunny."}),
                Value::Null,
            ),
            chunk(json!({}), json!("stop")),
        ],
    )
}

fn gemini(body: &Value) -> (u16, &'static str, String) {
    let messages = &body["messages"];
    if is_first_turn(messages) {
        // https://ai.google.dev/gemini-api/docs/thought-signatures (OpenAI compatibility)
        return chat_answer(
            body,
            &[chunk(
                json!({"role":"assistant","tool_calls":[{"extra_content":{"google":{"thought_signature":THOUGHT_SIGNATURE}},"function":{"arguments":"{\"city\":\"Paris\"}","name":"get_weather"},"id":"function-call-1","type":"function","index":0}]}),
                json!("tool_calls"),
            )],
        );
    }
    let assistant = messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap();
    if assistant["tool_calls"][0]["extra_content"]["google"]["thought_signature"]
        != THOUGHT_SIGNATURE
    {
        return (400, JSON, json!([{"error":{"code":400,"message":"Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:get_weather` , position 2.","status":"INVALID_ARGUMENT"}}]).to_string());
    }
    final_chat_answer(body)
}

// ---- OpenRouter: reasoning_details deltas (an Anthropic model behind a chat gateway) ----

fn openrouter(body: &Value) -> (u16, &'static str, String) {
    let messages = &body["messages"];
    let detail = |d: Value| {
        chunk(
            json!({"role":"assistant","content":"","reasoning":d["text"].as_str().unwrap_or(""),"reasoning_details":[d]}),
            Value::Null,
        )
    };
    if is_first_turn(messages) {
        return chat_answer(
            body,
            &[
                detail(
                    json!({"type":"reasoning.text","text":&THOUGHT[..20],"format":"anthropic-claude-v1","index":0}),
                ),
                detail(
                    json!({"type":"reasoning.text","text":&THOUGHT[20..],"format":"anthropic-claude-v1","index":0}),
                ),
                detail(
                    json!({"type":"reasoning.text","signature":SIGNATURE,"format":"anthropic-claude-v1","index":0}),
                ),
                detail(
                    json!({"type":"reasoning.encrypted","data":REDACTED,"format":"anthropic-claude-v1","index":1}),
                ),
                chunk(
                    json!({"content":"Let me check.","reasoning_details":[]}),
                    Value::Null,
                ),
                chunk(
                    json!({"tool_calls":[{"index":0,"id":"toolu_01A","type":"function","function":{"name":"get_weather","arguments":""}}]}),
                    Value::Null,
                ),
                chunk(
                    json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Paris\"}"}}]}),
                    Value::Null,
                ),
                chunk(json!({}), json!("tool_calls")),
            ],
        );
    }
    let assistant = messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap();
    let want = json!([
        {"type":"reasoning.text","text":THOUGHT,"format":"anthropic-claude-v1","index":0,"signature":SIGNATURE},
        {"type":"reasoning.encrypted","data":REDACTED,"format":"anthropic-claude-v1","index":1}]);
    if assistant["reasoning_details"] != want {
        return (400, JSON, json!({"error":{"message":"Provider returned error","code":400,"metadata":{"raw":"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`.\"}}","provider_name":"Anthropic"}}}).to_string());
    }
    final_chat_answer(body)
}

// ---- Plain OpenAI chat tool call ----

fn openai_chat(body: &Value) -> (u16, &'static str, String) {
    let messages = &body["messages"];
    if is_first_turn(messages) {
        return chat_answer(
            body,
            &[
                chunk(
                    json!({"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]}),
                    Value::Null,
                ),
                chunk(
                    json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Paris\"}"}}]}),
                    Value::Null,
                ),
                chunk(json!({}), json!("tool_calls")),
            ],
        );
    }
    let list = messages.as_array().unwrap();
    let at = list.iter().position(|m| m["role"] == "assistant").unwrap();
    if list.get(at + 1).map(|m| &m["tool_call_id"]) != Some(&json!("call_abc")) {
        return (400, JSON, json!({"error":{"message":"An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_abc","type":"invalid_request_error","param":"messages.[2].role","code":null}}).to_string());
    }
    final_chat_answer(body)
}

// ---- DeepSeek thinking mode: reasoning_content must come back ----

fn deepseek(body: &Value) -> (u16, &'static str, String) {
    let messages = &body["messages"];
    if is_first_turn(messages) {
        return chat_answer(
            body,
            &[
                chunk(
                    json!({"role":"assistant","content":null,"reasoning_content":"Need the weather."}),
                    Value::Null,
                ),
                chunk(
                    json!({"tool_calls":[{"index":0,"id":"call_00","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}),
                    Value::Null,
                ),
                chunk(json!({}), json!("tool_calls")),
            ],
        );
    }
    let assistant = messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap();
    if assistant["reasoning_content"] != "Need the weather." {
        return (400, JSON, json!({"error":{"message":"Missing `reasoning_content` field in the assistant message at message index 1.","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}).to_string());
    }
    final_chat_answer(body)
}

// ---- The loop ----

struct Turns {
    first: Transcript,
    second: Transcript,
    second_status: u32,
    bodies: Vec<Value>,
}

/// The README's agent loop: ask, keep `message_json` (after `tamper`, which plays an older
/// library that dropped things), answer each call, ask again.
fn agent_loop(answer: Answer, api: u32, params: &str, tamper: impl Fn(&mut Value)) -> Turns {
    let server = provider(answer);
    let client = Client::with_api(&server.url, api, Some("sk-test"));
    let tools = CString::new(TOOLS).unwrap();
    let params = CString::new(params).unwrap();
    let conversation = ylokh_conversation_new();
    let (user, question) = (
        CString::new("user").unwrap(),
        CString::new("Weather in Paris?").unwrap(),
    );
    unsafe { ylokh_conversation_add(conversation, user.as_ptr(), question.as_ptr()) };
    let send = |tr: &mut Transcript| {
        let mut req = request(true);
        req.conversation = conversation;
        req.tools_json = tools.as_ptr();
        req.params_json = params.as_ptr();
        send_with(&client, req, tr)
    };
    let mut first = Transcript::default();
    assert_eq!(send(&mut first), 0);
    assert!(
        first
            .events
            .last()
            .unwrap()
            .starts_with("done:YLOKH_OK:tool_calls:1"),
        "{:?}",
        first.events
    );
    let mut message: Value = serde_json::from_str(first.message_json.as_deref().unwrap()).unwrap();
    tamper(&mut message);
    let message = CString::new(message.to_string()).unwrap();
    assert_eq!(
        unsafe { ylokh_conversation_add_json(conversation, message.as_ptr()) },
        0
    );
    for call in first.events.iter().filter_map(|e| e.strip_prefix("call:")) {
        let id = CString::new(call.split(':').nth(1).unwrap()).unwrap();
        let result = CString::new("18°C, sunny").unwrap();
        assert_eq!(
            unsafe {
                ylokh_conversation_add_tool_result(conversation, id.as_ptr(), result.as_ptr())
            },
            0
        );
    }
    let mut second = Transcript::default();
    send(&mut second);
    let second_status = if second.events.last().unwrap().starts_with("done:YLOKH_OK") {
        0
    } else {
        1
    };
    unsafe { ylokh_conversation_free(conversation) };
    let bodies = server.bodies.lock().unwrap().clone();
    Turns {
        first,
        second,
        second_status,
        bodies,
    }
}

fn message_of(t: &Transcript) -> Value {
    serde_json::from_str(t.message_json.as_deref().unwrap()).unwrap()
}

fn finished(t: &Turns) {
    assert_eq!(
        t.second_status, 0,
        "{:?} {}",
        t.second.events, t.second.message
    );
    assert!(
        t.second
            .events
            .contains(&"token:18°C and sunny.".to_string()),
        "{:?}",
        t.second.events
    );
}

/// A 0.2 `message_json` (only role, content, reasoning_content and the calls' id/type/function).
fn as_in_0_2(message: &mut Value) {
    let m = message.as_object_mut().unwrap();
    m.remove("reasoning_details");
    for call in m
        .get_mut("tool_calls")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        call.as_object_mut()
            .unwrap()
            .retain(|k, _| matches!(k.as_str(), "id" | "type" | "function"));
    }
}

fn refused(t: &Turns, words: &str) {
    assert_eq!(t.second_status, 1, "{:?}", t.second.events);
    assert!(
        t.second
            .events
            .last()
            .unwrap()
            .starts_with("done:YLOKH_HTTP_STATUS"),
        "{:?}",
        t.second.events
    );
    assert!(t.second.message.contains(words), "{}", t.second.message);
}

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

/// The rows of issue 20's table: (provider, YLOKH_API for examples/agent.c, params).
const ROWS: &[(&str, Answer, &str, &str)] = &[
    ("plain OpenAI chat tool call", openai_chat, "chat", "{}"),
    ("DeepSeek reasoning_content", deepseek, "chat", "{}"),
    (
        "Anthropic Messages, no thinking",
        anthropic,
        "messages",
        "{}",
    ),
    (
        "Anthropic extended thinking",
        anthropic,
        "messages",
        r#"{"reasoning_effort":"low","max_tokens":6000}"#,
    ),
    ("Gemini thought_signature", gemini, "chat", "{}"),
    (
        "OpenAI Responses stateless",
        openai_responses,
        "responses",
        r#"{"store":false}"#,
    ),
    ("OpenRouter reasoning_details", openrouter, "chat", "{}"),
];

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

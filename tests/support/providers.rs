//! Loopback servers that play the hosted APIs of issue 20's table, each on its second turn
//! answering 400 with the provider's words when its rule is broken, as the real API does (see
//! tests/round_trip.rs); `ROWS` lists them, and `agent_loop` is the README's tool loop over the
//! C API against one of them. Shared by tests/round_trip.rs and the bindings' tests
//! (tests/cpp_api.rs, tests/python.rs, tests/node.rs), whose loops must leave the same second
//! request.

use super::capi::Client;
use super::transcript::*;
use serde_json::{json, Value};
use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use ylokh::ffi::conversation::*;

/// What a provider answers: (HTTP status, content type, body) for a request body.
pub type Answer = fn(&Value) -> (u16, &'static str, String);

/// A loopback server answering every request with `answer`; keeps every request body.
pub struct Provider {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<Value>>>,
}

pub fn provider(answer: Answer) -> Provider {
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
pub fn sse(events: &[(&str, Value)]) -> String {
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
pub fn chat_whole(chunks: &[Value]) -> String {
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
pub fn chat_answer(body: &Value, chunks: &[Value]) -> (u16, &'static str, String) {
    if body["stream"] == false {
        return (200, JSON, chat_whole(chunks));
    }
    (200, EVENTS, chat_sse(chunks))
}

pub fn chat_sse(chunks: &[Value]) -> String {
    let mut out = sse(&chunks.iter().map(|c| ("", c.clone())).collect::<Vec<_>>());
    out.push_str("data: [DONE]\n\n");
    out
}

pub const EVENTS: &str = "text/event-stream";
pub const JSON: &str = "application/json";

pub const TOOLS: &str = r#"[{"type":"function","function":{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]"#;

/// The last assistant message of a chat-format body.
pub fn is_first_turn(messages: &Value) -> bool {
    !messages
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["role"] == "assistant" || m["type"] == "function_call_output")
}

// ---- Anthropic Messages with extended thinking ----

pub const THOUGHT: &str = "The user wants Paris weather.\nI'll call \"get_weather\" 🌦.";
pub const SIGNATURE: &str = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/=";
pub const REDACTED: &str = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP";

pub fn anthropic(body: &Value) -> (u16, &'static str, String) {
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

pub const ENCRYPTED: &str = "gAAAAABo_encrypted_reasoning_blob==";

pub fn openai_responses(body: &Value) -> (u16, &'static str, String) {
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

pub const THOUGHT_SIGNATURE: &str = "CiQB0e2Kb7Xh+thought/signature==";

pub fn chunk(delta: Value, finish: Value) -> Value {
    json!({"choices":[{"delta":delta,"finish_reason":finish,"index":0}],"created":1,"id":"x","model":"m","object":"chat.completion.chunk"})
}

pub fn final_chat_answer(body: &Value) -> (u16, &'static str, String) {
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

pub fn gemini(body: &Value) -> (u16, &'static str, String) {
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

pub fn openrouter(body: &Value) -> (u16, &'static str, String) {
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

pub fn openai_chat(body: &Value) -> (u16, &'static str, String) {
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

pub fn deepseek(body: &Value) -> (u16, &'static str, String) {
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

pub struct Turns {
    pub first: Transcript,
    pub second: Transcript,
    pub second_status: u32,
    pub bodies: Vec<Value>,
}

/// The README's agent loop: ask, keep `message_json` (after `tamper`, which plays an older
/// library that dropped things), answer each call, ask again.
pub fn agent_loop(answer: Answer, api: u32, params: &str, tamper: impl Fn(&mut Value)) -> Turns {
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

pub fn message_of(t: &Transcript) -> Value {
    serde_json::from_str(t.message_json.as_deref().unwrap()).unwrap()
}

pub fn finished(t: &Turns) {
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
pub fn as_in_0_2(message: &mut Value) {
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

pub fn refused(t: &Turns, words: &str) {
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

/// The rows of issue 20's table: (provider, YLOKH_API for examples/agent.c, params).
pub const ROWS: &[(&str, Answer, &str, &str)] = &[
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

/// A second request's body without what a binding may spell differently from the C loop
/// (`stream`, `stream_options`, `model`).
fn comparable(body: &Value) -> Value {
    let mut body = body.clone();
    for key in ["stream", "stream_options", "model"] {
        body.as_object_mut().unwrap().remove(key);
    }
    body
}

/// Runs a binding's tool loop against every row: `run(base_url, api, params)` starts the
/// program (it asks "Weather in Paris?", answers get_weather with "18°C, sunny", loops until an
/// answer without calls, prints it, exits non-zero on any error). Each row must end with the
/// final answer after exactly two requests, and the second request must be the one the C API's
/// loop (`agent_loop`) sends, which the server accepted: the reasoning went back unchanged.
pub fn every_row_completes(binding: &str, run: impl Fn(&str, &str, &str) -> std::process::Output) {
    let mut failed = Vec::new();
    for &(row, answer, api, params) in ROWS {
        let code = match api {
            "chat" => ylokh::ffi::options::YLOKH_API_CHAT_COMPLETIONS,
            "responses" => ylokh::ffi::options::YLOKH_API_RESPONSES,
            _ => ylokh::ffi::options::YLOKH_API_MESSAGES,
        };
        let want = agent_loop(answer, code, params, |_| {});
        assert_eq!(want.second_status, 0, "{row}: the C API's own loop");
        let server = provider(answer);
        let out = run(&server.url, api, params);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let bodies = server.bodies.lock().unwrap();
        if !(out.status.success() && stdout.contains("18°C and sunny.")) {
            failed.push(format!(
                "{row}: the loop did not finish:\n{stdout}\n{stderr}"
            ));
        } else if bodies.len() != 2 {
            failed.push(format!("{row}: {} requests, not 2", bodies.len()));
        } else if comparable(&bodies[1]) != comparable(&want.bodies[1]) {
            failed.push(format!(
                "{row}: the second request differs from the C loop's:\n{}\n{}",
                bodies[1], want.bodies[1]
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{binding}: {} of {} rows failed:\n{}",
        failed.len(),
        ROWS.len(),
        failed.join("\n")
    );
}

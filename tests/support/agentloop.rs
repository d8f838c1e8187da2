//! The `agentloop` scenario: one recorded two-step tool exchange (the model says "Let me compute
//! that." and calls `calc` with 17 * 23; given the result it answers "The answer: 17 times 23
//! is RESULT.") served in whichever wire dialect the request's path names — Chat Completions
//! (`/chat/completions`), OpenAI Responses (`/responses`) or Anthropic Messages
//! (`/messages`) — streamed or whole as the body's `"stream"` says.
//!
//! Each request is checked the way the real API checks it, with the API's own 400 (its error
//! shape, a message in its words) when a rule is broken, so a binding that sends the history
//! untranslated, drops the call from the assistant turn or sends the result under the wrong id
//! never reaches the final answer:
//! - Chat: the `calc` tool in the chat form; a `tool` message answers a call of the assistant
//!   message before it (by `tool_call_id`), and every call of that message is answered.
//! - Responses: no `messages` key; input items only of the documented kinds (a `role:"tool"`
//!   message is refused as OpenAI refuses it); tools in the flat form (`name` at the top); each
//!   `function_call_output` answers an earlier `function_call` with the same `call_id`.
//! - Messages: `max_tokens` present; roles only `user` and `assistant` (system at the top);
//!   tools with `name` and `input_schema`; no empty text block; a `tool_result` only in the
//!   user message right after the assistant message with its `tool_use`, results first in
//!   that message, and every `tool_use` answered there.

use super::{chunk, end, head, whole, Request, Sock};
use serde_json::{json, Value};

const CALL_ARGUMENTS: &str = r#"{"a": 17, "op": "*", "b": 23}"#;
const FIRST_TEXT: &str = "Let me compute that.";

#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    Chat,
    Responses,
    Messages,
}

/// What the model says: text, and the call (its id) when it makes one.
struct Answer {
    text: String,
    call: Option<&'static str>,
}

pub(super) async fn respond(s: &mut Sock, req: &Request) -> std::io::Result<bool> {
    let dialect = if req.path.ends_with("/responses") {
        Dialect::Responses
    } else if req.path.ends_with("/messages") {
        Dialect::Messages
    } else {
        Dialect::Chat
    };
    let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let checked = match dialect {
        Dialect::Chat => chat(&body),
        Dialect::Responses => responses(&body),
        Dialect::Messages => messages(&body),
    };
    match checked {
        Err(why) => {
            let error = match dialect {
                Dialect::Messages => json!({"type": "error",
                    "error": {"type": "invalid_request_error", "message": why}}),
                _ => json!({"error": {"message": why, "type": "invalid_request_error",
                    "param": null, "code": null}}),
            };
            let text = error.to_string();
            whole(
                s,
                "400 Bad Request",
                "application/json",
                "",
                text.as_bytes(),
            )
            .await?;
        }
        Ok(answer) if body["stream"] == true => {
            head(s, "200 OK", "text/event-stream", "").await?;
            for event in events(dialect, &answer) {
                chunk(s, event.as_bytes()).await?;
            }
            end(s).await?;
        }
        Ok(answer) => {
            let text = whole_body(dialect, &answer).to_string();
            whole(s, "200 OK", "application/json", "", text.as_bytes()).await?;
        }
    }
    Ok(true)
}

/// The answer to a history whose tool result (if any) is `result`.
fn answer(result: Option<String>, call_id: &'static str) -> Answer {
    match result {
        None => Answer {
            text: FIRST_TEXT.into(),
            call: Some(call_id),
        },
        Some(result) => Answer {
            text: format!("The answer: 17 times 23 is {result}."),
            call: None,
        },
    }
}

fn chat(body: &Value) -> Result<Answer, String> {
    let has_calc = body["tools"].as_array().is_some_and(|tools| {
        tools
            .iter()
            .any(|t| t["type"] == "function" && t["function"]["name"] == "calc")
    });
    if !has_calc {
        return Err("no function tool named calc in 'tools'".into());
    }
    let messages = body["messages"]
        .as_array()
        .ok_or("'messages' is required")?;
    let mut result = None;
    for (i, m) in messages.iter().enumerate() {
        match m["role"].as_str() {
            Some("system" | "developer" | "user") => {}
            Some("assistant") => {
                let calls = m["tool_calls"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                for call in calls {
                    let id = call["id"].as_str().unwrap_or("");
                    let answered = messages[i + 1..]
                        .iter()
                        .take_while(|n| n["role"] == "tool")
                        .any(|n| n["tool_call_id"] == id);
                    if !answered || !call["function"]["arguments"].is_string() {
                        return Err(format!("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {id}"));
                    }
                }
            }
            Some("tool") => {
                let id = &m["tool_call_id"];
                let preceding = messages[..i].iter().rev().find(|n| n["role"] != "tool");
                let called = preceding.is_some_and(|n| {
                    n["role"] == "assistant"
                        && n["tool_calls"]
                            .as_array()
                            .is_some_and(|c| c.iter().any(|c| &c["id"] == id))
                });
                if !called {
                    return Err(format!("messages.[{i}]: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'"));
                }
                result = Some(text_of(&m["content"]));
            }
            other => return Err(format!("messages.[{i}].role: invalid value {other:?}")),
        }
    }
    Ok(answer(result, "call_calc_1"))
}

fn responses(body: &Value) -> Result<Answer, String> {
    if body.get("messages").is_some() {
        return Err("Unknown parameter: 'messages'.".into());
    }
    let tools = body["tools"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for (i, tool) in tools.iter().enumerate() {
        if tool["type"] == "function" && !tool["name"].is_string() {
            return Err(format!("Missing required parameter: 'tools[{i}].name'."));
        }
    }
    if !tools.iter().any(|t| t["name"] == "calc") {
        return Err("no function tool named calc in 'tools'".into());
    }
    let input = match &body["input"] {
        Value::Array(items) => items.as_slice(),
        Value::String(_) => &[],
        _ => return Err("Missing required parameter: 'input'.".into()),
    };
    let mut calls = Vec::new();
    let mut result = None;
    for (i, item) in input.iter().enumerate() {
        match item["type"].as_str().or(item["role"].as_str().map(|_| "message")) {
            Some("message") => match item["role"].as_str() {
                Some("user" | "assistant" | "system" | "developer") => {}
                other => return Err(format!("Invalid value: '{}'. Supported values are: 'assistant', 'system', 'developer', and 'user'.", other.unwrap_or("null"))),
            },
            Some("function_call") => {
                if !(item["call_id"].is_string()
                    && item["name"].is_string()
                    && item["arguments"].is_string())
                {
                    return Err(format!("Missing required parameter: 'input[{i}].call_id', 'name' or 'arguments'."));
                }
                calls.push(item["call_id"].clone());
            }
            Some("function_call_output") => {
                if !calls.contains(&item["call_id"]) {
                    return Err(format!(
                        "No tool call found for function call output with call_id {}.",
                        item["call_id"]
                    ));
                }
                result = Some(text_of(&item["output"]));
            }
            Some("reasoning" | "item_reference") => {}
            other => {
                return Err(format!(
                    "Invalid value: '{}' for 'input[{i}].type'.",
                    other.unwrap_or("null")
                ))
            }
        }
    }
    Ok(answer(result, "call_calc_1"))
}

fn messages(body: &Value) -> Result<Answer, String> {
    if !body["max_tokens"].is_u64() {
        return Err("max_tokens: Field required".into());
    }
    let tools = body["tools"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for (i, tool) in tools.iter().enumerate() {
        if !(tool["name"].is_string() && tool["input_schema"].is_object()) {
            return Err(format!("tools.{i}.custom.input_schema: Field required"));
        }
    }
    if !tools.iter().any(|t| t["name"] == "calc") {
        return Err("no tool named calc in 'tools'".into());
    }
    let messages = body["messages"]
        .as_array()
        .ok_or("messages: Field required")?;
    let blocks = |m: &Value| -> Vec<Value> {
        match &m["content"] {
            Value::Array(blocks) => blocks.clone(),
            Value::String(text) => vec![json!({"type": "text", "text": text})],
            _ => Vec::new(),
        }
    };
    let mut result = None;
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("null");
        if role != "user" && role != "assistant" {
            return Err(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
        let content = blocks(m);
        if content.is_empty() && !(role == "user" && m["content"].is_string()) {
            return Err(format!(
                "messages.{i}: all messages must have non-empty content"
            ));
        }
        for (j, block) in content.iter().enumerate() {
            if block["type"] == "text" && block["text"].as_str().is_none_or(str::is_empty) {
                return Err(format!(
                    "messages.{i}.content.{j}: text content blocks must be non-empty"
                ));
            }
            if block["type"] == "tool_use" && !block["input"].is_object() {
                return Err(format!(
                    "messages.{i}.content.{j}.tool_use.input: Input should be a valid dictionary"
                ));
            }
        }
        let uses: Vec<&Value> = content
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| &b["id"])
            .collect();
        if role == "assistant" && !uses.is_empty() {
            let next = messages.get(i + 1).map(blocks).unwrap_or_default();
            let answered = |id: &&Value| {
                next.iter()
                    .any(|b| b["type"] == "tool_result" && &&b["tool_use_id"] == id)
            };
            if let Some(id) = uses.iter().find(|id| !answered(id)) {
                return Err(format!("messages.{}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i + 1, id.as_str().unwrap_or("?")));
            }
        }
        let results: Vec<usize> = content
            .iter()
            .enumerate()
            .filter(|(_, b)| b["type"] == "tool_result")
            .map(|(j, _)| j)
            .collect();
        if results.is_empty() {
            continue;
        }
        if role != "user" || results.iter().enumerate().any(|(k, &j)| k != j) {
            return Err(format!(
                "messages.{i}: tool_result blocks must be at the start of a user message's content"
            ));
        }
        let previous = if i > 0 {
            blocks(&messages[i - 1])
        } else {
            Vec::new()
        };
        for &j in &results {
            let id = &content[j]["tool_use_id"];
            if !previous
                .iter()
                .any(|b| b["type"] == "tool_use" && &b["id"] == id)
            {
                return Err(format!("messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", id.as_str().unwrap_or("?")));
            }
            result = Some(text_of(&content[j]["content"]));
        }
    }
    Ok(answer(result, "toolu_calc_1"))
}

/// A string, or the text of an array of text parts/blocks.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

fn arguments_object() -> Value {
    serde_json::from_str(CALL_ARGUMENTS).unwrap()
}

/// The answer as the dialect streams it, one SSE event per string.
fn events(dialect: Dialect, answer: &Answer) -> Vec<String> {
    let (half1, half2) = CALL_ARGUMENTS.split_at(10);
    let (text1, text2) = answer.text.split_at(answer.text.len() / 2);
    let data = |v: Value| format!("data: {v}\n\n");
    let named = |kind: &str, v: Value| format!("event: {kind}\ndata: {v}\n\n");
    match dialect {
        Dialect::Chat => {
            let delta = |d: Value| {
                data(
                    json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": d, "finish_reason": null}]}),
                )
            };
            let mut out = vec![
                delta(json!({"role": "assistant", "content": text1})),
                delta(json!({"content": text2})),
            ];
            if let Some(id) = answer.call {
                out.push(delta(json!({"tool_calls": [{"index": 0, "id": id, "type": "function", "function": {"name": "calc", "arguments": ""}}]})));
                for half in [half1, half2] {
                    out.push(delta(
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": half}}]}),
                    ));
                }
            }
            let reason = if answer.call.is_some() {
                "tool_calls"
            } else {
                "stop"
            };
            out.push(data(json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})));
            out.push("data: [DONE]\n\n".into());
            out
        }
        Dialect::Responses => {
            let mut seq = 0;
            let mut ev = |kind: &str, mut v: Value| {
                v["type"] = json!(kind);
                v["sequence_number"] = json!(seq);
                seq += 1;
                named(kind, v)
            };
            let response = |status: &str, output: Value| json!({"id": "resp_loop", "object": "response", "status": status, "output": output});
            let message = json!({"id": "msg_loop", "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": answer.text, "annotations": []}]});
            let mut out = vec![
                ev(
                    "response.created",
                    json!({"response": response("in_progress", json!([]))}),
                ),
                ev(
                    "response.output_item.added",
                    json!({"output_index": 0, "item": {"id": "msg_loop", "type": "message", "role": "assistant", "status": "in_progress", "content": []}}),
                ),
                ev(
                    "response.output_text.delta",
                    json!({"item_id": "msg_loop", "output_index": 0, "content_index": 0, "delta": text1}),
                ),
                ev(
                    "response.output_text.delta",
                    json!({"item_id": "msg_loop", "output_index": 0, "content_index": 0, "delta": text2}),
                ),
                ev(
                    "response.output_item.done",
                    json!({"output_index": 0, "item": message}),
                ),
            ];
            let mut output = vec![message.clone()];
            if let Some(id) = answer.call {
                let item = |status: &str, arguments: &str| json!({"id": "fc_calc_1", "type": "function_call", "status": status, "call_id": id, "name": "calc", "arguments": arguments});
                out.push(ev(
                    "response.output_item.added",
                    json!({"output_index": 1, "item": item("in_progress", "")}),
                ));
                for half in [half1, half2] {
                    out.push(ev(
                        "response.function_call_arguments.delta",
                        json!({"item_id": "fc_calc_1", "output_index": 1, "delta": half}),
                    ));
                }
                out.push(ev(
                    "response.function_call_arguments.done",
                    json!({"item_id": "fc_calc_1", "output_index": 1, "arguments": CALL_ARGUMENTS}),
                ));
                out.push(ev(
                    "response.output_item.done",
                    json!({"output_index": 1, "item": item("completed", CALL_ARGUMENTS)}),
                ));
                output.push(item("completed", CALL_ARGUMENTS));
            }
            let mut done = response("completed", Value::Array(output));
            done["usage"] = json!({"input_tokens": 40, "output_tokens": 12, "total_tokens": 52});
            out.push(ev("response.completed", json!({"response": done})));
            out
        }
        Dialect::Messages => {
            let ev = |kind: &str, mut v: Value| {
                v["type"] = json!(kind);
                named(kind, v)
            };
            let mut out = vec![
                ev(
                    "message_start",
                    json!({"message": {"id": "msg_loop", "type": "message", "role": "assistant", "content": [], "model": "recorded", "stop_reason": null, "usage": {"input_tokens": 40, "output_tokens": 1}}}),
                ),
                ev(
                    "content_block_start",
                    json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"index": 0, "delta": {"type": "text_delta", "text": text1}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"index": 0, "delta": {"type": "text_delta", "text": text2}}),
                ),
                ev("content_block_stop", json!({"index": 0})),
            ];
            if let Some(id) = answer.call {
                out.push(ev("content_block_start", json!({"index": 1, "content_block": {"type": "tool_use", "id": id, "name": "calc", "input": {}}})));
                for half in [half1, half2] {
                    out.push(ev("content_block_delta", json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": half}})));
                }
                out.push(ev("content_block_stop", json!({"index": 1})));
            }
            let reason = if answer.call.is_some() {
                "tool_use"
            } else {
                "end_turn"
            };
            out.push(ev("message_delta", json!({"delta": {"stop_reason": reason, "stop_sequence": null}, "usage": {"output_tokens": 12}})));
            out.push(ev("message_stop", json!({})));
            out
        }
    }
}

/// The answer as the dialect gives it whole (`"stream": false`).
fn whole_body(dialect: Dialect, answer: &Answer) -> Value {
    match dialect {
        Dialect::Chat => {
            let mut message = json!({"role": "assistant", "content": answer.text});
            if let Some(id) = answer.call {
                message["tool_calls"] = json!([{"id": id, "type": "function",
                    "function": {"name": "calc", "arguments": CALL_ARGUMENTS}}]);
            }
            let reason = if answer.call.is_some() {
                "tool_calls"
            } else {
                "stop"
            };
            json!({"object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": reason}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}})
        }
        Dialect::Responses => {
            let mut output = vec![
                json!({"id": "msg_loop", "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": answer.text, "annotations": []}]}),
            ];
            if let Some(id) = answer.call {
                output.push(
                    json!({"id": "fc_calc_1", "type": "function_call", "status": "completed",
                    "call_id": id, "name": "calc", "arguments": CALL_ARGUMENTS}),
                );
            }
            json!({"id": "resp_loop", "object": "response", "status": "completed", "output": output,
                "usage": {"input_tokens": 40, "output_tokens": 12, "total_tokens": 52}})
        }
        Dialect::Messages => {
            let mut content = vec![json!({"type": "text", "text": answer.text})];
            if let Some(id) = answer.call {
                content.push(
                    json!({"type": "tool_use", "id": id, "name": "calc", "input": arguments_object()}),
                );
            }
            let reason = if answer.call.is_some() {
                "tool_use"
            } else {
                "end_turn"
            };
            json!({"id": "msg_loop", "type": "message", "role": "assistant", "model": "recorded",
                "content": content, "stop_reason": reason, "stop_sequence": null,
                "usage": {"input_tokens": 40, "output_tokens": 12}})
        }
    }
}

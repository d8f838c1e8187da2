//! The OpenAI Responses API's request body, from the caller's chat format: system messages →
//! `instructions`; user and other messages → `{"type":"message","role","content"}` input items
//! (text stays a string; content parts become `input_text` / `input_image`); assistant text →
//! an assistant message item with string content, after the turn's `openai-responses-v1`
//! `reasoning_details` as `reasoning` items (`round_trip.rs`); assistant tool calls →
//! `function_call` items; tool results → `function_call_output` items; tools → the flat
//! `{"type":"function","name","description","parameters","strict"}` form (`strict` false unless
//! the chat tool said otherwise); `max_tokens` / `max_completion_tokens` → `max_output_tokens`.
//! The events are mapped in `responses.rs`.

use super::{
    call_arguments, common_keys, content_text, function_fields, generation_options, image_url,
    join_system, limit_given, map_function_tools, map_token_limit, round_trip, Api, BodyInput,
};
use serde_json::{json, Map, Value};
use std::borrow::Cow;

pub(super) fn build_body(input: &BodyInput<'_>) -> Map<String, Value> {
    let mut body = input.defaults.clone();
    let mut system = Vec::new();
    let mut items = Vec::with_capacity(input.messages.len());
    for message in input.messages {
        translate_message(message, &mut system, &mut items);
    }
    if let Some(instructions) = join_system(system) {
        body.insert("instructions".into(), Value::String(instructions));
    }
    body.insert("input".into(), Value::Array(items));
    common_keys(&mut body, input, input.tools.map(translate_tools));
    let limit_given = limit_given(&body);
    map_token_limit(
        &mut body,
        input,
        &["max_output_tokens", "max_completion_tokens", "max_tokens"],
        "max_output_tokens",
        None,
    );
    generation_options::translate(Api::Responses, &mut body, limit_given);
    body
}

fn translate_message<'m>(
    message: &'m Value,
    system: &mut Vec<Cow<'m, str>>,
    items: &mut Vec<Value>,
) {
    let Some(role) = message.get("role").and_then(Value::as_str) else {
        items.push(message.clone()); // not a chat message: the server decides
        return;
    };
    let content = message.get("content");
    match role {
        "system" => system.extend(content_text(content)),
        "tool" => items.push(json!({
            "type": "function_call_output",
            "call_id": message.get("tool_call_id").cloned().unwrap_or(Value::Null),
            "output": match content {
                Some(Value::Array(parts)) => Value::Array(parts.iter().map(input_part).collect()),
                _ => Value::String(content_text(content).unwrap_or_default().into_owned()),
            },
        })),
        "assistant" => {
            // Its reasoning first, as the API gave it out (stateless loops need it back).
            items.extend(round_trip::reasoning_items(message));
            if let Some(text) = content_text(content).filter(|t| !t.is_empty()) {
                items.push(json!({"type": "message", "role": "assistant", "content": text}));
            }
            let calls = message.get("tool_calls").and_then(Value::as_array);
            for call in calls.into_iter().flatten() {
                let function = call.get("function");
                items.push(json!({
                    "type": "function_call",
                    "call_id": call.get("id").cloned().unwrap_or(Value::Null),
                    "name": function.and_then(|f| f.get("name")).cloned().unwrap_or(Value::Null),
                    "arguments": call_arguments(function),
                }));
            }
        }
        _ => {
            let content = match content {
                Some(Value::Array(parts)) => Value::Array(parts.iter().map(input_part).collect()),
                Some(other) => other.clone(),
                None => Value::String(String::new()),
            };
            items.push(json!({"type": "message", "role": role, "content": content}));
        }
    }
}

/// A chat content part as a Responses input part: `text` → `input_text`, `image_url` →
/// `input_image` (detail kept, else `"auto"`); anything else as given.
fn input_part(part: &Value) -> Value {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => json!({
            "type": "input_text",
            "text": part.get("text").cloned().unwrap_or_default(),
        }),
        Some("image_url") => match image_url(part) {
            Some((url, detail)) => json!({
                "type": "input_image",
                "image_url": url,
                "detail": detail.cloned().unwrap_or_else(|| Value::from("auto")),
            }),
            None => part.clone(),
        },
        _ => part.clone(),
    }
}

/// Chat tools (`{"type":"function","function":{...}}`) → the flat Responses form; other
/// entries as given.
fn translate_tools(tools: &Value) -> Value {
    map_function_tools(tools, |function| {
        let mut flat = Map::new();
        flat.insert("type".into(), Value::from("function"));
        flat.extend(function_fields(function, "parameters"));
        let strict = function.get("strict").cloned();
        flat.insert("strict".into(), strict.unwrap_or(Value::Bool(false)));
        flat
    })
}

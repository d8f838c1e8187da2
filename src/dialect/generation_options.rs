//! Portable generation options (README.md, "Generation options in one spelling"): the well-known Chat
//! Completions keys of the merged params, written in the target dialect's own spelling. A key
//! already in the dialect's spelling wins over a translated one; a chat key the dialect cannot
//! express is left out with a WARN log record that names it.
//!
//! Runs on the merged body (defaults, then `params_json`), after the token limit is mapped.

use super::Api;
use crate::log::{log, WARN};
use serde_json::{json, Map, Value};

/// Chat keys that neither the Responses nor the Messages API can express.
const CHAT_ONLY: [&str; 5] = [
    "seed",
    "n",
    "logit_bias",
    "frequency_penalty",
    "presence_penalty",
];

/// The thinking budget (`budget_tokens`) the Messages API gets per `reasoning_effort` level.
pub(crate) const THINKING_BUDGETS: [(&str, u64); 4] = [
    ("minimal", 1024),
    ("low", 2048),
    ("medium", 8192),
    ("high", 16384),
];

/// The Messages API's smallest thinking budget.
const MIN_THINKING_BUDGET: u64 = 1024;

/// Room for the answer itself when `reasoning_effort` raises a `max_tokens` the caller did
/// not set.
const ANSWER_ROOM: u64 = 4096;

/// Translates `body`'s chat keys for `api` and returns the keys left out (each also logged).
/// `limit_given`: the caller set a token limit (Messages: else `max_tokens` may grow to hold
/// the thinking budget).
pub(super) fn translate(
    api: Api,
    body: &mut Map<String, Value>,
    limit_given: bool,
) -> Vec<&'static str> {
    let mut dropped = Vec::new();
    match api {
        Api::ChatCompletions => return dropped,
        Api::Responses => responses(body, &mut dropped),
        Api::Messages => messages(body, limit_given, &mut dropped),
    }
    for &key in &CHAT_ONLY {
        if body.remove(key).is_some() {
            dropped.push(key);
        }
    }
    for key in &dropped {
        log!(
            WARN,
            "params key `{key}` has no equivalent in the {} API: left out of the request",
            match api {
                Api::Responses => "Responses",
                _ => "Messages",
            }
        );
    }
    dropped
}

/// Whether a request body asks for a JSON answer: `response_format` (chat), `text.format`
/// (Responses) or `output_config.format` (Messages) of type `json_schema` or `json_object`.
/// Bodies that do not mention `"json_` at all are not parsed.
pub(crate) fn asks_json(body: &[u8]) -> bool {
    if memchr::memmem::find(body, b"\"json_").is_none() {
        return false;
    }
    let Ok(body) = serde_json::from_slice::<Map<String, Value>>(body) else {
        return false;
    };
    let kind = |format: Option<&Value>| {
        matches!(
            format.and_then(|f| f.get("type")).and_then(Value::as_str),
            Some("json_schema" | "json_object")
        )
    };
    kind(body.get("response_format"))
        || kind(body.get("text").and_then(|t| t.get("format")))
        || kind(body.get("output_config").and_then(|c| c.get("format")))
}

/// Whether `text` is one JSON value (whitespace around it allowed).
pub(crate) fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// `key`'s value taken out of `body`, when `native` (the dialect's own spelling, a path of
/// object members) is not set; when it is, the chat key is just removed (the native one wins).
fn take_unless(body: &mut Map<String, Value>, key: &str, native: &[&str]) -> Option<Value> {
    let value = body.remove(key)?;
    let mut at = Some(&*body);
    let mut found = None;
    for name in native {
        found = at.and_then(|m| m.get(*name));
        at = found.and_then(Value::as_object);
    }
    match found {
        Some(v) if !v.is_null() => None,
        _ => Some(value),
    }
}

/// The object member `name` of `body` (made an object when absent or not one).
fn object<'b>(body: &'b mut Map<String, Value>, name: &str) -> &'b mut Map<String, Value> {
    let slot = body.entry(name).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut().expect("made an object above")
}

/// The function name of a chat `{"type":"function","function":{"name":N}}` tool choice.
fn chosen_function(choice: &Value) -> Option<&Value> {
    choice.get("function")?.get("name")
}

fn responses(body: &mut Map<String, Value>, dropped: &mut Vec<&'static str>) {
    if body.remove("stop").is_some() {
        dropped.push("stop");
    }
    if let Some(choice) = body.get_mut("tool_choice") {
        if let Some(name) = chosen_function(choice).cloned() {
            *choice = json!({"type": "function", "name": name});
        }
    }
    if let Some(format) = take_unless(body, "response_format", &["text", "format"]) {
        match format.get("type").and_then(Value::as_str) {
            Some("json_schema") => {
                let mut flat = Map::new();
                flat.insert("type".into(), Value::from("json_schema"));
                if let Some(Value::Object(schema)) = format.get("json_schema") {
                    for key in ["name", "schema", "strict", "description"] {
                        if let Some(v) = schema.get(key) {
                            flat.insert(key.into(), v.clone());
                        }
                    }
                }
                object(body, "text").insert("format".into(), Value::Object(flat));
            }
            Some(kind @ ("json_object" | "text")) => {
                object(body, "text").insert("format".into(), json!({ "type": kind }));
            }
            _ => dropped.push("response_format"),
        }
    }
    if let Some(effort) = take_unless(body, "reasoning_effort", &["reasoning", "effort"]) {
        object(body, "reasoning").insert("effort".into(), effort);
    }
    if let Some(user) = take_unless(body, "user", &["safety_identifier"]) {
        body.insert("safety_identifier".into(), user);
    }
    // A stateless loop keeps its reasoning only when the server hands it out encrypted.
    if body.get("store") == Some(&Value::Bool(false)) {
        const ENCRYPTED: &str = "reasoning.encrypted_content";
        let include = body.entry("include").or_insert_with(|| json!([]));
        if let Some(include) = include.as_array_mut() {
            if !include.iter().any(|v| v == ENCRYPTED) {
                include.push(Value::from(ENCRYPTED));
            }
        }
    }
}

fn messages(body: &mut Map<String, Value>, limit_given: bool, dropped: &mut Vec<&'static str>) {
    if let Some(stop) = take_unless(body, "stop", &["stop_sequences"]) {
        match stop {
            Value::String(_) => {
                body.insert("stop_sequences".into(), Value::Array(vec![stop]));
            }
            Value::Array(_) => {
                body.insert("stop_sequences".into(), stop);
            }
            _ => {}
        }
    }
    if let Some(choice) = body.get_mut("tool_choice") {
        let translated = match &*choice {
            Value::String(word) => match word.as_str() {
                "auto" => Some(json!({"type": "auto"})),
                "none" => Some(json!({"type": "none"})),
                "required" => Some(json!({"type": "any"})),
                _ => None,
            },
            other => chosen_function(other).map(|name| json!({"type": "tool", "name": name})),
        };
        if let Some(translated) = translated {
            *choice = translated;
        }
    }
    if let Some(parallel) = body.remove("parallel_tool_calls") {
        if parallel == Value::Bool(false) {
            let choice = object(body, "tool_choice");
            if !choice.contains_key("type") {
                choice.insert("type".into(), Value::from("auto"));
            }
            if choice.get("type") != Some(&Value::from("none")) {
                choice
                    .entry("disable_parallel_tool_use")
                    .or_insert(Value::Bool(true));
            }
        }
    }
    if let Some(format) = take_unless(body, "response_format", &["output_config", "format"]) {
        match format.get("type").and_then(Value::as_str) {
            Some("json_schema") => {
                let schema = format
                    .get("json_schema")
                    .and_then(|s| s.get("schema"))
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"}));
                object(body, "output_config").insert(
                    "format".into(),
                    json!({"type": "json_schema", "schema": schema}),
                );
            }
            Some("text") => {} // the API's default
            _ => dropped.push("response_format"),
        }
    }
    if let Some(effort) = take_unless(body, "reasoning_effort", &["thinking"]) {
        let budget = effort
            .as_str()
            .and_then(|level| THINKING_BUDGETS.iter().find(|(l, _)| *l == level));
        match budget {
            Some(&(_, budget)) => thinking(body, budget, limit_given, dropped),
            None if effort == "none" => {}
            None => dropped.push("reasoning_effort"),
        }
    }
    if let Some(user) = take_unless(body, "user", &["metadata", "user_id"]) {
        object(body, "metadata").insert("user_id".into(), user);
    }
}

/// `thinking` with `budget` below `max_tokens`: a `max_tokens` the caller did not set grows to
/// `budget` + 4096; one the caller set caps the budget at `max_tokens` − 1 (left out with a
/// WARN when that is below the API's minimum of 1024).
fn thinking(
    body: &mut Map<String, Value>,
    budget: u64,
    limit_given: bool,
    dropped: &mut Vec<&'static str>,
) {
    let limit = body.get("max_tokens").and_then(Value::as_u64).unwrap_or(0);
    let budget = if limit_given {
        budget.min(limit.saturating_sub(1))
    } else {
        if limit <= budget {
            body.insert("max_tokens".into(), Value::from(budget + ANSWER_ROOM));
        }
        budget
    };
    if budget < MIN_THINKING_BUDGET {
        dropped.push("reasoning_effort");
        return;
    }
    body.insert(
        "thinking".into(),
        json!({"type": "enabled", "budget_tokens": budget}),
    );
}

#[cfg(test)]
mod tests;

//! The Anthropic Messages API (`POST {base}/messages`).
//!
//! Body: system (and developer) messages → the top-level `system` string (several joined with
//! a blank line); user text stays a string, content parts become `text` / `image` blocks
//! (`data:` URLs → a base64 source, other URLs → a url source); assistant text and tool calls
//! → `text` and `tool_use` blocks (`input`: the parsed arguments object); tool results →
//! `tool_result` blocks in a user message (consecutive results share one message); an
//! assistant turn starts with its `anthropic-claude-v1` `reasoning_details` as `thinking` /
//! `redacted_thinking` blocks (`round_trip.rs`); tools →
//! `{"name","description","input_schema"}`; `max_tokens` (or `max_completion_tokens`) from the
//! params, else 4096.
//!
//! Events: `message_start` → usage (prompt = `input_tokens` + `cache_read_input_tokens` +
//! `cache_creation_input_tokens`); `content_block_start` of a `tool_use` block → the call's id
//! and name (its empty `input` is not arguments); `content_block_delta`: `text_delta` → token,
//! `thinking_delta` → reasoning, `input_json_delta` → arguments; `thinking` blocks (text and
//! `signature_delta`) and `redacted_thinking` blocks → `reasoning_details` entries, numbered
//! in the order the blocks started; `message_delta` → finish
//! reason and usage (the last `output_tokens`); `message_stop` → terminal; `ping` → ignored;
//! `error` → server error.

use super::{
    call_arguments, common_keys, content_text, error_message, function_fields, generation_options,
    image_url, join_system, limit_given, map_function_tools, map_token_limit, round_trip, usage,
    Api, BodyInput, Event, MESSAGES_DEFAULT_MAX_TOKENS,
};
use crate::chunk::Usage;
use crate::tool_calls::Fragment;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::ops::ControlFlow;

pub(super) fn build_body(input: &BodyInput<'_>) -> Map<String, Value> {
    let mut body = input.defaults.clone();
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::with_capacity(input.messages.len());
    // Whether the last message written is a user message made of tool results.
    let mut open_results = false;
    for message in input.messages {
        let Some(role) = message.get("role").and_then(Value::as_str) else {
            messages.push(message.clone()); // not a chat message: the server decides
            open_results = false;
            continue;
        };
        let content = message.get("content");
        match role {
            "system" | "developer" => system.extend(content_text(content)),
            "tool" => {
                let block = json!({
                    "type": "tool_result",
                    "tool_use_id": message.get("tool_call_id").cloned().unwrap_or(Value::Null),
                    "content": match content {
                        Some(Value::Array(parts)) => Value::Array(parts.iter().map(block).collect()),
                        _ => Value::String(content_text(content).unwrap_or_default().into_owned()),
                    },
                });
                let last = messages.last_mut().filter(|_| open_results);
                match last.and_then(|m| m.get_mut("content")?.as_array_mut()) {
                    Some(blocks) => blocks.push(block),
                    None => messages.push(json!({"role": "user", "content": [block]})),
                }
                open_results = true;
                continue;
            }
            "assistant" => {
                if let Some(message) = assistant(message) {
                    messages.push(message);
                }
            }
            _ => {
                let content = match content {
                    Some(Value::Array(parts)) => Value::Array(parts.iter().map(block).collect()),
                    Some(other) => other.clone(),
                    None => Value::String(String::new()),
                };
                messages.push(json!({"role": role, "content": content}));
            }
        }
        open_results = false;
    }
    if let Some(system) = join_system(system) {
        body.insert("system".into(), Value::String(system));
    }
    body.insert("messages".into(), Value::Array(messages));
    common_keys(&mut body, input, input.tools.map(translate_tools));
    let limit_given = limit_given(&body);
    map_token_limit(
        &mut body,
        input,
        &["max_tokens", "max_completion_tokens"],
        "max_tokens",
        Some(Value::from(MESSAGES_DEFAULT_MAX_TOKENS)),
    );
    generation_options::translate(Api::Messages, &mut body, limit_given);
    body
}

/// An assistant message: its thinking blocks (from `reasoning_details`, exactly as they came),
/// text and tool calls as blocks (plain string content when there are only text); `None` when
/// it says nothing (the API refuses empty content).
fn assistant(message: &Value) -> Option<Value> {
    let text = content_text(message.get("content")).filter(|t| !t.is_empty());
    let calls = message.get("tool_calls").and_then(Value::as_array);
    let calls = calls.map(Vec::as_slice).unwrap_or_default();
    let thinking = round_trip::thinking_blocks(message);
    if calls.is_empty() && thinking.is_empty() {
        return Some(json!({"role": "assistant", "content": text?}));
    }
    let mut blocks = thinking;
    blocks.reserve(calls.len() + 1);
    if let Some(text) = text {
        blocks.push(json!({"type": "text", "text": text}));
    }
    for call in calls {
        let function = call.get("function");
        let input = match serde_json::from_str::<Value>(&call_arguments(function)) {
            Ok(object @ Value::Object(_)) => object,
            _ => json!({}), // the API takes only an object
        };
        blocks.push(json!({
            "type": "tool_use",
            "id": call.get("id").cloned().unwrap_or(Value::Null),
            "name": function.and_then(|f| f.get("name")).cloned().unwrap_or(Value::Null),
            "input": input,
        }));
    }
    Some(json!({"role": "assistant", "content": blocks}))
}

/// A chat content part as a Messages block: `text` as is, `image_url` → an `image` block;
/// anything else as given.
fn block(part: &Value) -> Value {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => json!({
            "type": "text",
            "text": part.get("text").cloned().unwrap_or_default(),
        }),
        Some("image_url") => match image_url(part) {
            Some((url, _)) => json!({"type": "image", "source": image_source(url)}),
            None => part.clone(),
        },
        _ => part.clone(),
    }
}

/// `data:MEDIA;base64,DATA` → a base64 source; any other URL → a url source.
fn image_source(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((meta, data)) = rest.split_once(',') {
            if let Some(media_type) = meta.strip_suffix(";base64") {
                return json!({"type": "base64", "media_type": media_type, "data": data});
            }
        }
    }
    json!({"type": "url", "url": url})
}

/// Chat tools → `{"name","description","input_schema"}`; other entries as given.
fn translate_tools(tools: &Value) -> Value {
    map_function_tools(tools, |function| function_fields(function, "input_schema"))
}

/// A `tool_use` block seen in the stream.
#[derive(Debug)]
struct ToolBlock {
    index: u64,
    /// An `input_json_delta` brought arguments text.
    input_seen: bool,
    /// A non-empty `input` object given in `content_block_start` (used at the block's stop
    /// when no delta came).
    start_input: Option<String>,
}

/// The Messages stream mapper (see the module notes).
#[derive(Debug)]
pub(crate) struct MessagesStream {
    usage: Usage,
    tools: Vec<ToolBlock>,
    /// Thinking and redacted-thinking blocks: (content block index, `reasoning_details`
    /// index), the latter counted from 0 in the order the blocks started.
    thinking: Vec<(u64, u64)>,
}

impl Default for MessagesStream {
    fn default() -> Self {
        MessagesStream {
            usage: usage(-1, -1, None),
            tools: Vec::new(),
            thinking: Vec::new(),
        }
    }
}

impl MessagesStream {
    /// The `reasoning_details` index of a thinking block (numbered when first seen).
    fn detail_index(&mut self, block: Option<u64>) -> u64 {
        let block = block.unwrap_or(u64::MAX);
        match self.thinking.iter().find(|(b, _)| *b == block) {
            Some(&(_, detail)) => detail,
            None => {
                let detail = self.thinking.len() as u64;
                self.thinking.push((block, detail));
                detail
            }
        }
    }

    /// Reads a `usage` object: the prompt count when it gives any input count that adds up
    /// to more than 0 (`message_delta` may repeat them as 0), the completion count when it
    /// gives `output_tokens`.
    fn read_usage(&mut self, counts: Option<&Value>) -> bool {
        let Some(counts @ Value::Object(_)) = counts else {
            return false;
        };
        let inputs = [
            "input_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ]
        .map(|name| counts.get(name).and_then(crate::chunk::token_count));
        let prompt: i64 = inputs.iter().flatten().sum();
        if inputs.iter().any(Option::is_some) && (prompt > 0 || self.usage.prompt_tokens < 0) {
            self.usage.prompt_tokens = prompt;
        }
        if let Some(output) = counts
            .get("output_tokens")
            .and_then(crate::chunk::token_count)
        {
            self.usage.completion_tokens = output;
        }
        self.usage = usage(self.usage.prompt_tokens, self.usage.completion_tokens, None);
        true
    }

    pub(super) fn on_event<B>(
        &mut self,
        kind: &str,
        event: &Value,
        emit: &mut impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let index = event.get("index").and_then(Value::as_u64);
        match kind {
            "message_start" => {
                let counts = event.get("message").and_then(|m| m.get("usage"));
                if self.read_usage(counts) {
                    emit(Event::Usage(self.usage))
                } else {
                    emit(Event::Ignored)
                }
            }
            "content_block_start" => {
                let block = event.get("content_block").unwrap_or(&Value::Null);
                match str_field(block, "type") {
                    Some("text") => text_event(str_field(block, "text"), Event::Token, emit),
                    Some("thinking") => {
                        let detail = self.detail_index(index);
                        emit(Event::ReasoningDetail(thinking_detail(block, detail)))?;
                        text_event(str_field(block, "thinking"), Event::Reasoning, emit)
                    }
                    Some("redacted_thinking") => {
                        let detail = self.detail_index(index);
                        emit(Event::ReasoningDetail(redacted_detail(block, detail)))
                    }
                    Some("tool_use") => {
                        let index = index.unwrap_or(self.tools.len() as u64);
                        let start_input = match block.get("input") {
                            Some(Value::Object(input)) if !input.is_empty() => {
                                Some(Value::Object(input.clone()).to_string())
                            }
                            _ => None,
                        };
                        self.tools.push(ToolBlock {
                            index,
                            input_seen: false,
                            start_input,
                        });
                        emit(Event::ToolFragment(Fragment {
                            index: Some(index),
                            id: str_field(block, "id"),
                            name: str_field(block, "name"),
                            arguments: None,
                        }))
                    }
                    _ => emit(Event::Ignored),
                }
            }
            "content_block_delta" => {
                let delta = event.get("delta").unwrap_or(&Value::Null);
                match str_field(delta, "type") {
                    Some("text_delta") => text_event(str_field(delta, "text"), Event::Token, emit),
                    Some("thinking_delta") => match str_field(delta, "thinking") {
                        Some(text) if !text.is_empty() => {
                            let detail = self.detail_index(index);
                            emit(Event::ReasoningDetail(json!({
                                "type": "reasoning.text", "text": text, "index": detail,
                            })))?;
                            emit(Event::Reasoning(text))
                        }
                        _ => emit(Event::Ignored),
                    },
                    Some("signature_delta") => match str_field(delta, "signature") {
                        Some(signature) if !signature.is_empty() => {
                            let detail = self.detail_index(index);
                            emit(Event::ReasoningDetail(json!({
                                "type": "reasoning.text", "signature": signature,
                                "index": detail,
                            })))
                        }
                        _ => emit(Event::Ignored),
                    },
                    Some("input_json_delta") => match str_field(delta, "partial_json") {
                        Some(json) if !json.is_empty() => {
                            let index = index.unwrap_or(0);
                            if let Some(tool) = self.tools.iter_mut().find(|t| t.index == index) {
                                tool.input_seen = true;
                            }
                            emit(Event::ToolFragment(Fragment {
                                index: Some(index),
                                arguments: Some(Cow::Borrowed(json)),
                                ..Fragment::default()
                            }))
                        }
                        _ => emit(Event::Ignored),
                    },
                    _ => emit(Event::Ignored), // citations_delta, ...
                }
            }
            "content_block_stop" => {
                let tool = self
                    .tools
                    .iter_mut()
                    .find(|t| Some(t.index) == index && !t.input_seen);
                match tool.and_then(|t| {
                    t.input_seen = true;
                    t.start_input.take().map(|input| (t.index, input))
                }) {
                    Some((index, input)) => emit(Event::ToolFragment(Fragment {
                        index: Some(index),
                        arguments: Some(Cow::Owned(input)),
                        ..Fragment::default()
                    })),
                    None => emit(Event::Ignored),
                }
            }
            "message_delta" => {
                let mut reported = false;
                if let Some(reason) = event.get("delta").and_then(|d| str_field(d, "stop_reason")) {
                    reported = true;
                    emit(Event::FinishReason(finish_reason(reason)))?;
                }
                if self.read_usage(event.get("usage")) {
                    reported = true;
                    emit(Event::Usage(self.usage))?;
                }
                if reported {
                    ControlFlow::Continue(())
                } else {
                    emit(Event::Ignored)
                }
            }
            "message_stop" => emit(Event::Terminal),
            "error" => emit(Event::ServerError(
                error_message(event).unwrap_or_else(|| event.to_string()),
            )),
            _ => match event.get("error") {
                Some(error) if error.is_object() || error.is_string() => emit(Event::ServerError(
                    error_message(event).unwrap_or_else(|| error.to_string()),
                )),
                _ => emit(Event::Ignored), // ping and event types added later
            },
        }
    }

    /// A whole message object: its content blocks in order, the finish reason, usage and
    /// `Terminal`; an error object: `ServerError`.
    pub(super) fn on_whole<B>(
        &mut self,
        message: &Value,
        emit: &mut impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        if str_field(message, "type") == Some("error")
            || message.get("error").is_some_and(|e| !e.is_null())
        {
            return emit(Event::ServerError(
                error_message(message).unwrap_or_else(|| message.to_string()),
            ));
        }
        let blocks = message.get("content").and_then(Value::as_array);
        for (index, block) in blocks.into_iter().flatten().enumerate() {
            match str_field(block, "type") {
                Some("text") => {
                    if let Some(text) = str_field(block, "text").filter(|t| !t.is_empty()) {
                        emit(Event::Token(text))?;
                    }
                }
                Some("thinking") => {
                    let detail = self.detail_index(Some(index as u64));
                    emit(Event::ReasoningDetail(thinking_detail(block, detail)))?;
                    if let Some(text) = str_field(block, "thinking").filter(|t| !t.is_empty()) {
                        emit(Event::Reasoning(text))?;
                    }
                }
                Some("redacted_thinking") => {
                    let detail = self.detail_index(Some(index as u64));
                    emit(Event::ReasoningDetail(redacted_detail(block, detail)))?;
                }
                Some("tool_use") => {
                    let arguments = match block.get("input") {
                        Some(Value::String(text)) => Cow::Borrowed(text.as_str()),
                        Some(input) => Cow::Owned(input.to_string()),
                        None => Cow::Borrowed("{}"),
                    };
                    emit(Event::ToolFragment(Fragment {
                        index: Some(index as u64),
                        id: str_field(block, "id"),
                        name: str_field(block, "name"),
                        arguments: Some(arguments),
                    }))?;
                }
                _ => {}
            }
        }
        if let Some(reason) = str_field(message, "stop_reason") {
            emit(Event::FinishReason(finish_reason(reason)))?;
        }
        if self.read_usage(message.get("usage")) {
            emit(Event::Usage(self.usage))?;
        }
        emit(Event::Terminal)
    }
}

/// The Anthropic format's name in `reasoning_details`.
pub(super) const FORMAT: &str = "anthropic-claude-v1";

/// A `thinking` block (as it starts, or whole) as a `reasoning.text` entry: its text and
/// (when not empty) its signature.
fn thinking_detail(block: &Value, detail: u64) -> Value {
    let mut entry = json!({
        "type": "reasoning.text",
        "text": str_field(block, "thinking").unwrap_or(""),
    });
    if let Some(signature) = str_field(block, "signature").filter(|s| !s.is_empty()) {
        entry["signature"] = Value::from(signature);
    }
    entry["format"] = Value::from(FORMAT);
    entry["index"] = Value::from(detail);
    entry
}

/// A `redacted_thinking` block as a `reasoning.encrypted` entry (its `data`).
fn redacted_detail(block: &Value, detail: u64) -> Value {
    json!({
        "type": "reasoning.encrypted",
        "data": str_field(block, "data").unwrap_or(""),
        "format": FORMAT,
        "index": detail,
    })
}

/// `stop_reason` in the chat vocabulary: `end_turn` / `stop_sequence` → `"stop"`,
/// `max_tokens` / `model_context_window_exceeded` → `"length"`, `tool_use` → `"tool_calls"`;
/// others (`pause_turn`, `refusal`, ...) as the server says.
fn finish_reason(stop_reason: &str) -> &str {
    match stop_reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        other => other,
    }
}

/// `Token` / `Reasoning` for non-empty text, else `Ignored`.
fn text_event<'v, B>(
    text: Option<&'v str>,
    make: fn(&'v str) -> Event<'v>,
    emit: &mut impl FnMut(Event<'_>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    match text {
        Some(text) if !text.is_empty() => emit(make(text)),
        _ => emit(Event::Ignored),
    }
}

fn str_field<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

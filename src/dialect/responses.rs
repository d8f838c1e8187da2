//! The OpenAI Responses API (`POST {base}/responses`).
//!
//! Body: system messages → `instructions` (several joined with a blank line); user and other
//! messages → `{"type":"message","role","content"}` input items (text stays a string; content
//! parts become `input_text` / `input_image`); assistant text → an assistant message item
//! with string content (the form OpenAI documents for input and llama.cpp accepts); assistant
//! tool calls → `function_call` items; tool results → `function_call_output` items; tools →
//! the flat `{"type":"function","name","description","parameters","strict"}` form, with
//! `strict` false unless the chat tool said otherwise (Responses makes an omitted `strict`
//! strict, Chat Completions does not); `max_tokens` / `max_completion_tokens` →
//! `max_output_tokens`.
//!
//! Events: `response.output_text.delta` → token; `response.reasoning_text.delta` and
//! `response.reasoning_summary_text.delta` → reasoning; `function_call` output items and
//! `response.function_call_arguments.delta` → tool fragments; `response.completed` /
//! `response.incomplete` → finish reason, usage, terminal; a finished `reasoning` item
//! (`response.output_item.done`, or in a whole response) → `reasoning_details` entries (its
//! summary parts and `encrypted_content`, with its `id`); `response.failed`, `error` events
//! and `{"error":{...}}` documents (llama.cpp's in-stream error) → server error.
//!
//! Which call an arguments delta belongs to: its `item_id` (OpenAI and llama.cpp send it; the
//! item's `id` in `response.output_item.added`), else its `output_index` (llama.cpp sends
//! none). Calls are numbered in order of appearance and that number is the fragment's
//! `index`. When a call's arguments never came as deltas, the full text of
//! `response.function_call_arguments.done` or `response.output_item.done` is used once (the
//! `arguments` of `response.output_item.added` never are: deltas follow it).

use super::{error_message, usage, Event};
use crate::tool_calls::Fragment;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::ops::ControlFlow;

/// A function call seen in the stream.
#[derive(Debug)]
struct Call {
    item_id: Option<String>,
    output_index: Option<u64>,
    /// Arguments text has been passed on for this call (deltas or a whole text).
    arguments_seen: bool,
}

/// The Responses stream mapper (see the module notes).
#[derive(Debug, Default)]
pub(crate) struct ResponsesStream {
    calls: Vec<Call>,
    /// The response's id (from its `response.created` or any event's `response`), and the last
    /// `sequence_number` seen: where a background response's stream resumes.
    response_id: Option<String>,
    sequence: Option<u64>,
    /// llama.cpp's `timings` object (beside `response` in `response.completed`), as JSON.
    timings: Option<String>,
    /// `reasoning_details` entries given so far (the next one's `index`).
    details: u64,
}

impl ResponsesStream {
    /// The server's `timings` object, once it came (taken once).
    pub(crate) fn take_timings(&mut self) -> Option<String> {
        self.timings.take()
    }

    /// The response id and the last sequence number seen, as far as they came.
    pub(crate) fn resume_point(&self) -> (Option<&str>, Option<u64>) {
        (self.response_id.as_deref(), self.sequence)
    }

    /// The call an event is about, by item id, else output index; started when unknown.
    fn call(&mut self, item_id: Option<&str>, output_index: Option<u64>) -> usize {
        let found = match item_id {
            Some(id) => self
                .calls
                .iter()
                .position(|c| c.item_id.as_deref() == Some(id)),
            None => None,
        }
        .or_else(|| {
            let index = output_index?;
            self.calls.iter().position(|c| {
                c.output_index == Some(index) && (item_id.is_none() || c.item_id.is_none())
            })
        });
        let position = found.unwrap_or_else(|| {
            self.calls.push(Call {
                item_id: None,
                output_index: None,
                arguments_seen: false,
            });
            self.calls.len() - 1
        });
        let call = &mut self.calls[position];
        if call.item_id.is_none() {
            call.item_id = item_id.map(str::to_owned);
        }
        if call.output_index.is_none() {
            call.output_index = output_index;
        }
        position
    }

    /// A `function_call` item (from `output_item.added` / `.done`, or a whole response).
    /// `whole`: the item is finished (`.done`, a whole response), so its `arguments` are the
    /// whole text, used when no delta brought any; an added item's arguments are not used
    /// (deltas follow).
    fn function_item<B>(
        &mut self,
        item: &Value,
        output_index: Option<u64>,
        whole: bool,
        emit: &mut impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let position = self.call(str_field(item, "id"), output_index);
        let call = &mut self.calls[position];
        let arguments = str_field(item, "arguments").filter(|a| whole && !a.is_empty());
        let arguments = match arguments {
            Some(text) if !call.arguments_seen => {
                call.arguments_seen = true;
                Some(Cow::Borrowed(text))
            }
            _ => None,
        };
        emit(Event::ToolFragment(Fragment {
            index: Some(position as u64),
            id: str_field(item, "call_id"),
            name: str_field(item, "name"),
            arguments,
        }))
    }

    /// A finished `reasoning` item as `reasoning_details` entries: one `reasoning.summary`
    /// per summary part, then its `encrypted_content` as `reasoning.encrypted`, each with the
    /// item's `id`. Items with neither (llama.cpp's) give none. `Continue(true)`: some were
    /// given.
    fn reasoning_item<B>(
        &mut self,
        item: &Value,
        emit: &mut impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B, bool> {
        let id = item.get("id").filter(|id| id.is_string());
        let mut entries = Vec::new();
        let summaries = item.get("summary").and_then(Value::as_array);
        for part in summaries.into_iter().flatten() {
            if let Some(text) = str_field(part, "text") {
                entries.push(("reasoning.summary", "summary", text));
            }
        }
        if let Some(data) = str_field(item, "encrypted_content").filter(|d| !d.is_empty()) {
            entries.push(("reasoning.encrypted", "data", data));
        }
        let given = !entries.is_empty();
        for (kind, key, text) in entries {
            let mut entry = json!({"type": kind});
            entry[key] = Value::from(text);
            if let Some(id) = id {
                entry["id"] = id.clone();
            }
            entry["format"] = Value::from(FORMAT);
            entry["index"] = Value::from(self.details);
            self.details += 1;
            match emit(Event::ReasoningDetail(entry)) {
                ControlFlow::Continue(()) => {}
                ControlFlow::Break(b) => return ControlFlow::Break(b),
            }
        }
        ControlFlow::Continue(given)
    }

    pub(super) fn on_event<B>(
        &mut self,
        kind: &str,
        event: &Value,
        emit: &mut impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let output_index = event.get("output_index").and_then(Value::as_u64);
        if let Some(n) = event.get("sequence_number").and_then(Value::as_u64) {
            self.sequence = Some(n);
        }
        if let Some(timings) = event.get("timings").filter(|t| t.is_object()) {
            self.timings = Some(timings.to_string());
        }
        if self.response_id.is_none() {
            if let Some(id) = event.get("response").and_then(|r| str_field(r, "id")) {
                self.response_id = Some(id.to_owned());
            }
        }
        match kind {
            "response.output_text.delta" => match str_field(event, "delta") {
                Some(text) if !text.is_empty() => emit(Event::Token(text)),
                _ => emit(Event::Ignored),
            },
            "response.reasoning_text.delta" | "response.reasoning_summary_text.delta" => {
                match str_field(event, "delta") {
                    Some(text) if !text.is_empty() => emit(Event::Reasoning(text)),
                    _ => emit(Event::Ignored),
                }
            }
            "response.output_item.added" | "response.output_item.done" => match event.get("item") {
                Some(item) if str_field(item, "type") == Some("function_call") => {
                    let whole = kind == "response.output_item.done";
                    self.function_item(item, output_index, whole, emit)
                }
                Some(item)
                    if kind == "response.output_item.done"
                        && str_field(item, "type") == Some("reasoning") =>
                {
                    match self.reasoning_item(item, emit)? {
                        true => ControlFlow::Continue(()),
                        false => emit(Event::Ignored),
                    }
                }
                _ => emit(Event::Ignored),
            },
            "response.function_call_arguments.delta" => {
                let position = self.call(str_field(event, "item_id"), output_index);
                match str_field(event, "delta") {
                    Some(delta) if !delta.is_empty() => {
                        self.calls[position].arguments_seen = true;
                        emit(Event::ToolFragment(Fragment {
                            index: Some(position as u64),
                            arguments: Some(Cow::Borrowed(delta)),
                            ..Fragment::default()
                        }))
                    }
                    _ => emit(Event::Ignored),
                }
            }
            "response.function_call_arguments.done" => {
                let position = self.call(str_field(event, "item_id"), output_index);
                let call = &mut self.calls[position];
                match str_field(event, "arguments") {
                    Some(text) if !text.is_empty() && !call.arguments_seen => {
                        call.arguments_seen = true;
                        emit(Event::ToolFragment(Fragment {
                            index: Some(position as u64),
                            name: str_field(event, "name"),
                            arguments: Some(Cow::Borrowed(text)),
                            ..Fragment::default()
                        }))
                    }
                    _ => emit(Event::Ignored),
                }
            }
            "response.completed" | "response.incomplete" => {
                let response = event.get("response").unwrap_or(&Value::Null);
                self.finish(response, kind == "response.incomplete", emit)?;
                emit(Event::Terminal)
            }
            "response.failed" => {
                let response = event.get("response").unwrap_or(&Value::Null);
                emit(Event::ServerError(failure_message(response)))
            }
            "error" => emit(Event::ServerError(
                error_message(event).unwrap_or_else(|| event.to_string()),
            )),
            _ => match event.get("error") {
                Some(error) if error.is_object() || error.is_string() => emit(Event::ServerError(
                    error_message(event).unwrap_or_else(|| error.to_string()),
                )),
                _ => emit(Event::Ignored),
            },
        }
    }

    /// The finish reason and usage of a finished response object.
    fn finish<B>(
        &mut self,
        response: &Value,
        incomplete: bool,
        emit: &mut impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let reason = if incomplete {
            match response
                .get("incomplete_details")
                .and_then(|d| str_field(d, "reason"))
            {
                None | Some("max_output_tokens") => "length",
                Some(other) => other,
            }
        } else {
            let has_calls = !self.calls.is_empty()
                || response
                    .get("output")
                    .and_then(Value::as_array)
                    .is_some_and(|items| {
                        items
                            .iter()
                            .any(|i| str_field(i, "type") == Some("function_call"))
                    });
            if has_calls {
                "tool_calls"
            } else {
                "stop"
            }
        };
        emit(Event::FinishReason(reason))?;
        match response.get("usage") {
            Some(counts @ Value::Object(_)) => {
                let count = |name| counts.get(name).and_then(crate::chunk::token_count);
                emit(Event::Usage(usage(
                    count("input_tokens").unwrap_or(-1),
                    count("output_tokens").unwrap_or(-1),
                    count("total_tokens"),
                )))
            }
            _ => ControlFlow::Continue(()),
        }
    }

    /// A whole response object: its `output` items in order, then the finish reason, usage
    /// and `Terminal`; an error object or a failed response: `ServerError`.
    pub(super) fn on_whole<B>(
        &mut self,
        response: &Value,
        emit: &mut impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let status = str_field(response, "status");
        if status == Some("failed")
            || response.get("error").is_some_and(|e| !e.is_null())
                && response.get("output").is_none()
        {
            return emit(Event::ServerError(failure_message(response)));
        }
        let items = response.get("output").and_then(Value::as_array);
        for (index, item) in items.into_iter().flatten().enumerate() {
            match str_field(item, "type") {
                Some("message") => {
                    let parts = item.get("content").and_then(Value::as_array);
                    for part in parts.into_iter().flatten() {
                        if str_field(part, "type") == Some("output_text") {
                            if let Some(text) = str_field(part, "text").filter(|t| !t.is_empty()) {
                                emit(Event::Token(text))?;
                            }
                        }
                    }
                }
                Some("reasoning") => {
                    self.reasoning_item(item, emit)?;
                    let texts = |key| {
                        item.get(key)
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(|part| str_field(part, "text"))
                            .filter(|t| !t.is_empty())
                    };
                    // The reasoning itself when the server gives it (llama.cpp), else OpenAI's
                    // summary.
                    if texts("content").next().is_some() {
                        for text in texts("content") {
                            emit(Event::Reasoning(text))?;
                        }
                    } else {
                        for text in texts("summary") {
                            emit(Event::Reasoning(text))?;
                        }
                    }
                }
                Some("function_call") => {
                    self.function_item(item, Some(index as u64), true, emit)?;
                }
                _ => {}
            }
        }
        self.finish(response, status == Some("incomplete"), emit)?;
        emit(Event::Terminal)
    }
}

/// The message of a failed response (`response.error.message`), or a generic one.
fn failure_message(response: &Value) -> String {
    error_message(response).unwrap_or_else(|| {
        "the server reported that the response failed (status \"failed\") without a message"
            .to_owned()
    })
}

/// The OpenAI Responses format's name in `reasoning_details`.
pub(super) const FORMAT: &str = "openai-responses-v1";

/// A string field of an object.
fn str_field<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

//! Server dialects (README.md, "Dialects: Chat Completions, Responses, Messages"): what
//! differs between Chat Completions, the OpenAI Responses API and the Anthropic Messages API,
//! behind one small enum-dispatched seam.
//!
//! The caller's side never changes: messages in the chat format (a conversation's array, or
//! `{"role","content"}` objects), `tools_json` in the chat format, `params_json` merged last.
//! Per dialect this module gives:
//! - the request path ([`Api::path`]);
//! - the request body ([`Api::build_body`]): the caller's chat-format messages and tools
//!   translated, then `params_json` merged last;
//! - the auth headers ([`Api::auth_headers`]);
//! - a per-request [`StreamState`] that turns each SSE event (and a whole non-streamed
//!   response) into the same small [`Event`]s, whatever the dialect. Chat Completions is not
//!   mapped here: the existing engine (`chunk`, `request`) keeps that hot path.
//!
//! Pure Rust on `serde_json`: no I/O, no statuses. What the events mean for the request
//! (token counts, statuses, `message_json`) stays with the engine.

mod chat;
mod generation_options;
mod messages;
mod progress;
mod responses;
mod responses_body;
mod round_trip;
mod shared_body;

use crate::chunk::Usage;
use crate::tool_calls::Fragment;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::ops::ControlFlow;

use shared_body::{common_keys, function_fields, map_function_tools};

pub(crate) use generation_options::{asks_json, is_json};
pub(crate) use messages::MessagesStream;
pub(crate) use responses::ResponsesStream;

/// Which wire API the server speaks (its C numbers, `YLOKH_API_*`, are in `ffi::options`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Api {
    /// `POST {base}/chat/completions` (the default).
    #[default]
    ChatCompletions,
    /// `POST {base}/responses` (OpenAI Responses API).
    Responses,
    /// `POST {base}/messages` (Anthropic Messages API).
    Messages,
}

/// The Anthropic API version sent when the caller did not set `anthropic-version` itself.
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `max_tokens` for the Messages API when neither the default params nor `params_json` give
/// one (the API requires it).
pub(crate) const MESSAGES_DEFAULT_MAX_TOKENS: u64 = 4096;

/// What goes into a request body, in the caller's (chat) format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyInput<'a> {
    /// The client's default params (the body starts from them).
    pub defaults: &'a Map<String, Value>,
    /// Chat-format messages (e.g. a conversation's array).
    pub messages: &'a [Value],
    /// The model, already resolved (the request's, else the client's default); `None`: no
    /// `model` key.
    pub model: Option<&'a str>,
    pub stream: bool,
    /// `tools_json` parsed: a chat-format array of tool definitions.
    pub tools: Option<&'a Value>,
    /// `params_json` parsed; merged last, so its keys win.
    pub params: Option<&'a Map<String, Value>>,
    /// Chat only: add `"stream_options":{"include_usage":true}` to a streaming request when
    /// neither the defaults nor `params_json` set `stream_options` (the engine passes false for
    /// the Ylokh preset and after `ylokh_options_set_stream_usage(opts, false)`).
    pub stream_usage: bool,
}

impl Api {
    /// The path under the base URL, without a leading slash.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Api::ChatCompletions => "chat/completions",
            Api::Responses => "responses",
            Api::Messages => "messages",
        }
    }

    /// The request body as a JSON object: the defaults, then the translated messages, model,
    /// stream flag and tools, then `params_json` (its keys win), then the dialect's fix-ups
    /// (chat: `stream_options`; Responses: `max_output_tokens`; Messages: `max_tokens`).
    pub(crate) fn build_body(self, input: &BodyInput<'_>) -> Map<String, Value> {
        match self {
            Api::ChatCompletions => chat::build_body(input),
            Api::Responses => responses_body::build_body(input),
            Api::Messages => messages::build_body(input),
        }
    }

    /// [`build_body`](Self::build_body) serialized, and whether the body asks for a stream
    /// (`"stream": true` after the merge, so `params_json` can turn it off).
    pub(crate) fn body_bytes(self, input: &BodyInput<'_>) -> (Vec<u8>, bool) {
        let body = self.build_body(input);
        let stream = body.get("stream") == Some(&Value::Bool(true));
        (
            serde_json::to_vec(&body).expect("a JSON map always serializes"),
            stream,
        )
    }

    /// The headers that carry the API key (names in lower case), plus Anthropic's version
    /// header. Chat and Responses: `authorization: Bearer KEY`. Messages: `x-api-key: KEY`,
    /// and `anthropic-version: 2023-06-01` unless `caller_set_anthropic_version` (the caller's
    /// own headers hold one) — sent even without a key, since the API requires it.
    pub(crate) fn auth_headers(
        self,
        api_key: Option<&str>,
        caller_set_anthropic_version: bool,
    ) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(2);
        match self {
            Api::ChatCompletions | Api::Responses => {
                if let Some(key) = api_key {
                    headers.push(("authorization", format!("Bearer {key}")));
                }
            }
            Api::Messages => {
                if let Some(key) = api_key {
                    headers.push(("x-api-key", key.to_owned()));
                }
                if !caller_set_anthropic_version {
                    headers.push(("anthropic-version", ANTHROPIC_VERSION.to_owned()));
                }
            }
        }
        headers
    }

    /// A fresh per-request (per attempt) event mapper; `None` for Chat Completions, which the
    /// existing engine reads itself.
    pub(crate) fn stream_state(self) -> Option<StreamState> {
        match self {
            Api::ChatCompletions => None,
            Api::Responses => Some(StreamState::Responses(ResponsesStream::default())),
            Api::Messages => Some(StreamState::Messages(MessagesStream::default())),
        }
    }
}

/// What one server event (or a whole response) meant, in the caller's terms. Text borrows from
/// the parsed event and lives until the callback returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event<'a> {
    /// Answer text (`on_token`); never empty.
    Token(&'a str),
    /// Reasoning text (`on_reasoning`); never empty.
    Reasoning(&'a str),
    /// A tool-call fragment, for [`ToolCallAssembler::apply_fragment_with`]
    /// (`crate::tool_calls`). `index` is always set (the dialect's number for the call), `id`
    /// and `name` come on a call's first fragment, `arguments` is new arguments text.
    ToolFragment(Fragment<'a>),
    /// A `reasoning_details` fragment (`crate::reasoning_details`): what the server needs back
    /// of its reasoning (a Messages thinking block's text and signature, a redacted block's
    /// data, a Responses reasoning item's summary and encrypted content), with its `index`.
    ReasoningDetail(Value),
    /// The finish reason in the chat vocabulary (`"stop"`, `"length"`, `"tool_calls"`, or the
    /// server's own word); a later one replaces an earlier one.
    FinishReason(&'a str),
    /// Token counts so far (-1: unknown); a later one replaces an earlier one.
    Usage(Usage),
    /// The server reported an error (`YLOKH_SERVER_ERROR` with this message); the request
    /// ends here.
    ServerError(String),
    /// The dialect's clean end (Responses: `response.completed` / `response.incomplete`;
    /// Messages: `message_stop`; a whole response: after its other events). Without it, a
    /// stream that ends is `YLOKH_INCOMPLETE`.
    Terminal,
    /// Nothing for the caller (pings, lifecycle events, unknown event types, `[DONE]`).
    Ignored,
    /// Nothing for the caller, but the answer moved: a running step's progress event (see
    /// `progress.rs`); it resets the read timeout. Reported instead of `Ignored`.
    Progress,
}

impl PartialEq for Fragment<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
            && self.id == other.id
            && self.name == other.name
            && self.arguments == other.arguments
    }
}

/// Maps one dialect's server events to [`Event`]s; one per request attempt (it remembers the
/// tool calls, the usage so far and whether the terminal event came).
#[derive(Debug)]
pub(crate) enum StreamState {
    Responses(ResponsesStream),
    Messages(MessagesStream),
}

impl StreamState {
    /// One SSE event: `event_type` is the `event:` field (empty when there was none), `data`
    /// its data (one JSON document). Every event reports at least one [`Event`] (`Ignored`
    /// when it means nothing to the caller). Stops at the first `Break` from `emit` and
    /// returns it. Data that is not JSON is an error (nothing is reported); `data: [DONE]` is
    /// `Ignored`.
    pub(crate) fn on_event<B>(
        &mut self,
        event_type: &[u8],
        data: &[u8],
        mut emit: impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>, serde_json::Error> {
        if is_done_marker(data) {
            return Ok(emit(Event::Ignored));
        }
        let value: Value = serde_json::from_slice(data)?;
        let event_type = std::str::from_utf8(event_type).unwrap_or("");
        // The data's `type` names the event (both APIs repeat it there), except that an
        // `event: error` is an error whatever its data says (llama.cpp's Messages error data
        // is `{"code","message","type":"server_error"}`).
        let kind = match value.get("type") {
            _ if event_type == "error" => "error",
            Some(Value::String(kind)) => kind.as_str(),
            _ => event_type,
        };
        let moves = match self {
            StreamState::Responses(_) => progress::responses_moves(kind, &value),
            StreamState::Messages(_) => progress::messages_moves(kind, &value),
        };
        let mut emit = |event: Event<'_>| match event {
            Event::Ignored if moves => emit(Event::Progress),
            event => emit(event),
        };
        Ok(match self {
            StreamState::Responses(state) => state.on_event(kind, &value, &mut emit),
            StreamState::Messages(state) => state.on_event(kind, &value, &mut emit),
        })
    }

    /// A whole (non-streamed) response body: the same events a stream would have given, in
    /// order, ending with `Terminal` (or `ServerError` for an error object or a failed
    /// response).
    pub(crate) fn on_whole<B>(
        &mut self,
        body: &[u8],
        mut emit: impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>, serde_json::Error> {
        let value: Value = serde_json::from_slice(body)?;
        Ok(match self {
            StreamState::Responses(state) => state.on_whole(&value, &mut emit),
            StreamState::Messages(state) => state.on_whole(&value, &mut emit),
        })
    }

    /// Responses: the response id and the last sequence number seen (where a background
    /// response's stream resumes); `None` for the other dialects.
    pub(crate) fn resume_point(&self) -> Option<(Option<&str>, Option<u64>)> {
        match self {
            StreamState::Responses(state) => Some(state.resume_point()),
            StreamState::Messages(_) => None,
        }
    }

    /// The server's own `timings` object, once one came (llama.cpp's Responses stream), as
    /// JSON; taken once.
    pub(crate) fn take_timings(&mut self) -> Option<String> {
        match self {
            StreamState::Responses(state) => state.take_timings(),
            StreamState::Messages(_) => None,
        }
    }

    /// The event that ends a stream of this dialect well, for messages.
    pub(crate) fn end_event(&self) -> &'static str {
        match self {
            StreamState::Responses(_) => "`response.completed` or `response.incomplete`",
            StreamState::Messages(_) => "`message_stop`",
        }
    }
}

/// The message of an error document in any dialect: Anthropic's
/// `{"type":"error","error":{"type","message"}}`, OpenAI's `{"error":{"message"}}`, `error` as a
/// string, or a top-level `message`. (An HTTP error body is read by `chunk::error_body_text`.)
fn error_message(value: &Value) -> Option<String> {
    match value.get("error") {
        Some(Value::Object(error)) => {
            if let Some(Value::String(message)) = error.get("message") {
                return Some(message.clone());
            }
            if let Some(Value::String(kind)) = error.get("type") {
                return Some(kind.clone());
            }
            return Some(Value::Object(error.clone()).to_string());
        }
        Some(Value::String(message)) => return Some(message.clone()),
        _ => {}
    }
    match value.get("message") {
        Some(Value::String(message)) => Some(message.clone()),
        _ => None,
    }
}

/// Whether an event's data is `[DONE]` (some proxies end every stream with it).
fn is_done_marker(data: &[u8]) -> bool {
    data.trim_ascii() == b"[DONE]"
}

/// The text of chat `content`: a string as is; an array's text parts (`text`, `input_text`,
/// `output_text`) joined; anything else: none.
fn content_text(content: Option<&Value>) -> Option<Cow<'_, str>> {
    match content? {
        Value::String(text) => Some(Cow::Borrowed(text)),
        Value::Array(parts) => {
            let mut texts =
                parts
                    .iter()
                    .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                        Some("text" | "input_text" | "output_text") | None => {
                            part.get("text").and_then(Value::as_str)
                        }
                        Some(_) => None,
                    });
            let first = texts.next()?;
            match texts.next() {
                None => Some(Cow::Borrowed(first)),
                Some(second) => {
                    let mut joined = String::from(first);
                    joined.push_str(second);
                    texts.for_each(|t| joined.push_str(t));
                    Some(Cow::Owned(joined))
                }
            }
        }
        _ => None,
    }
}

/// The URL and detail of a chat `image_url` part (`{"image_url":{"url","detail"?}}`, or the
/// `image_url` given as a plain string).
fn image_url(part: &Value) -> Option<(&str, Option<&Value>)> {
    match part.get("image_url")? {
        Value::String(url) => Some((url, None)),
        Value::Object(image) => Some((image.get("url")?.as_str()?, image.get("detail"))),
        _ => None,
    }
}

/// A chat tool call's arguments as text (`"{}"` when absent; an object is written out).
fn call_arguments(function: Option<&Value>) -> String {
    match function.and_then(|f| f.get("arguments")) {
        Some(Value::String(arguments)) => arguments.clone(),
        None | Some(Value::Null) => "{}".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// Picks the token limit through the layers: `params_json` first, then the defaults; in each
/// layer the first of `names` that is set (not null). Every name is then removed from `body`
/// and the limit (or `fallback`) is written under `target`.
fn map_token_limit(
    body: &mut Map<String, Value>,
    input: &BodyInput<'_>,
    names: &[&str],
    target: &str,
    fallback: Option<Value>,
) {
    let layers = [input.params, Some(input.defaults)];
    let found = layers.iter().flatten().find_map(|layer| {
        names
            .iter()
            .find_map(|name| layer.get(*name).filter(|v| !v.is_null()).cloned())
    });
    for name in names {
        body.remove(*name);
    }
    if let Some(limit) = found.or(fallback) {
        body.insert(target.to_owned(), limit);
    }
}

/// Whether the merged body sets a token limit (any spelling, not null).
fn limit_given(body: &Map<String, Value>) -> bool {
    ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .any(|name| body.get(*name).is_some_and(|v| !v.is_null()))
}

/// Joins system texts with a blank line.
fn join_system(parts: Vec<Cow<'_, str>>) -> Option<String> {
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("\n\n"))
}

/// A usage with the total filled in when both counts are known and the server gave none.
fn usage(prompt: i64, completion: i64, total: Option<i64>) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total.unwrap_or(if prompt >= 0 && completion >= 0 {
            prompt + completion
        } else {
            -1
        }),
    }
}

#[cfg(test)]
mod tests;

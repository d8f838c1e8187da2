//! Tool calls: folding the streamed `choices[0].delta.tool_calls[]` fragments (and the legacy
//! `delta.function_call`) into complete calls, and reading the whole calls of a non-streamed
//! `choices[0].message`.
//!
//! The folding rules (README.md, "Tools and agents", and ylokh.h on `ylokh_event`):
//! - `id` and `function.name` are set once, by the first fragment that carries them (a repeated
//!   id or name is never appended); `function.arguments` fragments are concatenated in order.
//!   `type` is not kept: every call is a `"function"` call. An empty `id` or `name` counts as
//!   absent (some servers send `"id":""` on every later fragment).
//! - Which call a fragment belongs to: its `index` when present; else, when it carries an `id`,
//!   the call with that `id` (a new call when the id was not seen before); else the call the
//!   previous fragment went to (a new call when there is none). A fragment whose `index` is
//!   already taken by a call with a *different* server id starts a new call (or goes to the
//!   call that already has that id), and later fragments with that `index` go there too.
//!   Indexes may start anywhere and skip: calls are numbered by first appearance, from 0.
//! - Anything malformed (a fragment that is not an object, a field of the wrong type) is
//!   skipped and counted ([`ToolCallAssembler::anomalies`]); nothing panics. A fragment left
//!   with no id, name or arguments is ignored (it starts no call).
//!
//! A call's `id` is the server's, or `call_<index>` until (unless) the server sends one.
//! `arguments` that are an object or array instead of a string (seen in non-streamed answers
//! of some servers) are taken as their JSON text.

use crate::chunk::push_json_str;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::ControlFlow;

/// One complete tool call, for `on_tool_call`, the pull `TOOL_CALL` event and `message_json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ToolCall {
    /// Position among the answer's calls, from 0, in order of first appearance.
    pub index: u32,
    /// The server's id, or `call_<index>` when it sent none.
    pub id: String,
    /// The function's name; `""` when the server never sent one.
    pub name: String,
    /// The whole arguments text as it arrived; `"{}"` when the server sent none, `""` or only
    /// whitespace.
    pub arguments: String,
    /// Whether `arguments` parses as a JSON object.
    pub arguments_valid: bool,
    /// Every other member the server put on the call beside `index`, `id`, `type` and
    /// `function`, as it came (e.g. Gemini's `extra_content`); kept for `message_json`.
    pub extra: Map<String, Value>,
}

/// What one fragment added to a call, for `on_tool_call_delta` (borrowed; copy what you keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ToolCallDelta<'a> {
    /// The call's position (as in [`ToolCall::index`]).
    pub index: u32,
    /// The call's id so far (the server's, or `call_<index>`).
    pub id: &'a str,
    /// `Some` only on the delta that gave the call its name (normally its first delta).
    pub name: Option<&'a str>,
    /// The new arguments fragment (may be empty when the delta only names the call).
    pub arguments: &'a str,
}

/// An owned [`ToolCallDelta`] (what [`ToolCallAssembler::apply`] returns).
/// A call being assembled.
#[derive(Debug)]
struct Partial {
    /// The server's id, or `call_<position>` while `id_from_server` is false.
    id: String,
    id_from_server: bool,
    name: Option<String>,
    arguments: String,
    /// The call's other members (see [`ToolCall::extra`]), each set by the first fragment
    /// that carries it.
    extra: Map<String, Value>,
}

/// One fragment, already picked apart: what the dialect translators (Responses, Messages)
/// feed with [`ToolCallAssembler::apply_fragment_with`]. Empty `id` and `name` count as absent.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fragment<'v> {
    /// The server's number for the call (chat `index`, Responses `output_index`, Messages
    /// content block `index`).
    pub index: Option<u64>,
    pub id: Option<&'v str>,
    pub name: Option<&'v str>,
    /// New arguments text.
    pub arguments: Option<Cow<'v, str>>,
}

/// Folds the tool-call fragments of one answer into complete calls. One per request attempt.
#[derive(Debug, Default)]
pub(crate) struct ToolCallAssembler {
    calls: Vec<Partial>,
    /// The server's `index` → position in `calls` (a map: finding a call costs the same
    /// whatever the number of calls).
    by_index: HashMap<u64, usize>,
    /// The server's ids → position in `calls`.
    by_id: HashMap<String, usize>,
    /// Where the previous fragment went.
    last: Option<usize>,
    anomalies: u32,
    /// The most calls, and the most bytes of ids, names and arguments together; `None`: no caps.
    caps: Option<(u32, usize)>,
    /// The bytes of ids, names and arguments kept.
    bytes: usize,
    /// Which cap the answer went over; nothing is folded after it.
    over: Option<Over>,
}

/// A cap an answer's tool calls went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    /// More calls than the cap (given).
    Calls(u32),
    /// More bytes of ids, names and arguments than the cap (given).
    Bytes(usize),
}

impl ToolCallAssembler {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// An assembler that starts at most `max_calls` calls and keeps at most `max_bytes` bytes
    /// of their ids, names and arguments; past either it folds nothing more and
    /// [`over`](Self::over) says which.
    pub(crate) fn with_caps(max_calls: u32, max_bytes: usize) -> Self {
        ToolCallAssembler {
            caps: Some((max_calls, max_bytes)),
            ..Self::default()
        }
    }

    /// The cap the fragments went over, if any.
    pub(crate) fn over(&self) -> Option<Over> {
        self.over
    }

    /// [`Over::Calls`] when `n` calls (of a whole answer) are more than the cap.
    pub(crate) fn too_many(&self, n: usize) -> Option<Over> {
        match self.caps {
            Some((max_calls, _)) if n > max_calls as usize => Some(Over::Calls(max_calls)),
            _ => None,
        }
    }

    /// Whether no fragment has started a call yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Folds `delta.tool_calls` (an array of fragments; a single fragment object and `null`
    /// are accepted too) and calls `on_delta` for each fragment that named a call or brought
    /// arguments text. Stops at the first `Break` and returns it (the remaining fragments of
    /// this array are not folded).
    pub(crate) fn apply_with<B>(
        &mut self,
        fragments: &Value,
        mut on_delta: impl FnMut(ToolCallDelta<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        match fragments {
            Value::Array(items) => {
                for item in items {
                    self.fragment(item, &mut on_delta)?;
                }
                ControlFlow::Continue(())
            }
            Value::Object(_) => self.fragment(fragments, &mut on_delta),
            Value::Null => ControlFlow::Continue(()),
            _ => {
                self.anomalies += 1;
                ControlFlow::Continue(())
            }
        }
    }

    /// Folds one fragment the caller has already picked apart, under the same rules.
    pub(crate) fn apply_fragment_with<B>(
        &mut self,
        fragment: Fragment<'_>,
        on_delta: impl FnMut(ToolCallDelta<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        self.apply_fragment_extra(fragment, None, on_delta)
    }

    /// [`apply_fragment_with`](Self::apply_fragment_with), plus the members of the
    /// fragment's object that are not `index`/`id`/`type`/`function` (kept on the call).
    fn apply_fragment_extra<B>(
        &mut self,
        mut fragment: Fragment<'_>,
        object: Option<&Map<String, Value>>,
        mut on_delta: impl FnMut(ToolCallDelta<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        fragment.id = fragment.id.filter(|s| !s.is_empty());
        fragment.name = fragment.name.filter(|s| !s.is_empty());
        let mut extra = object
            .into_iter()
            .flatten()
            .filter(|(key, _)| !matches!(key.as_str(), "index" | "id" | "type" | "function"))
            .peekable();
        if fragment.id.is_none()
            && fragment.name.is_none()
            && fragment.arguments.is_none()
            && extra.peek().is_none()
        {
            // Nothing to fold (e.g. `{"index":0,"type":"function"}`): no call is started
            // for it, and it does not change which call is the most recent.
            return ControlFlow::Continue(());
        }
        if self.over.is_some() {
            return ControlFlow::Continue(());
        }
        let position = match self.caps {
            Some((max_calls, max_bytes)) => {
                // The other members count too (as their JSON text): they go back in
                // message_json.
                let size = [fragment.id, fragment.name, fragment.arguments.as_deref()]
                    .iter()
                    .map(|t| t.map_or(0, str::len))
                    .sum::<usize>()
                    + extra
                        .clone()
                        .map(|(key, value)| key.len() + value.to_string().len())
                        .sum::<usize>();
                if self.bytes + size > max_bytes {
                    self.over = Some(Over::Bytes(max_bytes));
                    return ControlFlow::Continue(());
                }
                self.bytes += size;
                let position = self.route(&fragment);
                if self.calls.len() > max_calls as usize {
                    self.over = Some(Over::Calls(max_calls));
                    return ControlFlow::Continue(());
                }
                position
            }
            None => self.route(&fragment),
        };
        let kept = &mut self.calls[position].extra;
        for (key, value) in extra {
            if !kept.contains_key(key) {
                kept.insert(key.clone(), value.clone());
            }
        }
        self.absorb(position, fragment, &mut on_delta)
    }

    /// Folds a legacy `delta.function_call` (`{"name"?, "arguments"?}`): one call with no
    /// index and no id, so it becomes call 0 (`call_0`) and later fragments append to it.
    pub(crate) fn apply_function_call_with<B>(
        &mut self,
        function_call: &Value,
        mut on_delta: impl FnMut(ToolCallDelta<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        match function_call {
            Value::Object(function) => {
                let mut fragment = Fragment::default();
                self.read_function(function, &mut fragment);
                self.apply_fragment_with(fragment, &mut on_delta)
            }
            Value::Null => ControlFlow::Continue(()),
            _ => {
                self.anomalies += 1;
                ControlFlow::Continue(())
            }
        }
    }

    /// The complete calls, in position order.
    pub(crate) fn finish(self) -> Vec<ToolCall> {
        self.calls
            .into_iter()
            .enumerate()
            .map(|(position, call)| complete(position, call))
            .collect()
    }

    fn fragment<B>(
        &mut self,
        item: &Value,
        on_delta: &mut impl FnMut(ToolCallDelta<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let Some(object) = item.as_object() else {
            self.anomalies += 1;
            return ControlFlow::Continue(());
        };
        let fragment = self.read(object);
        self.apply_fragment_extra(fragment, Some(object), on_delta)
    }

    /// The fields of a fragment object; wrong types are counted and treated as absent.
    fn read<'v>(&mut self, object: &'v Map<String, Value>) -> Fragment<'v> {
        let mut fragment = Fragment {
            index: match object.get("index") {
                None | Some(Value::Null) => None,
                Some(v) => {
                    let index = v.as_u64();
                    self.anomalies += u32::from(index.is_none());
                    index
                }
            },
            id: self.text(object.get("id")),
            ..Fragment::default()
        };
        match object.get("function") {
            None | Some(Value::Null) => {}
            Some(Value::Object(function)) => self.read_function(function, &mut fragment),
            Some(_) => self.anomalies += 1,
        }
        fragment
    }

    fn read_function<'v>(&mut self, function: &'v Map<String, Value>, out: &mut Fragment<'v>) {
        out.name = self.text(function.get("name"));
        out.arguments = match function.get("arguments") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
            Some(v @ (Value::Object(_) | Value::Array(_))) => Some(Cow::Owned(v.to_string())),
            Some(_) => {
                self.anomalies += 1;
                None
            }
        };
    }

    /// A non-empty string field; `""`, null and absent are `None`, other types are counted.
    fn text<'v>(&mut self, value: Option<&'v Value>) -> Option<&'v str> {
        match value {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            None | Some(Value::Null) | Some(Value::String(_)) => None,
            Some(_) => {
                self.anomalies += 1;
                None
            }
        }
    }

    fn by_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    fn new_call(&mut self) -> usize {
        let position = self.calls.len();
        self.calls.push(Partial {
            id: format!("call_{position}"),
            id_from_server: false,
            name: None,
            arguments: String::new(),
            extra: Map::new(),
        });
        position
    }

    /// Which call the fragment belongs to (starting one when needed).
    fn route(&mut self, fragment: &Fragment<'_>) -> usize {
        match (fragment.index, fragment.id) {
            (Some(index), id) => match self.by_index.get(&index).copied() {
                Some(position) => {
                    let call = &self.calls[position];
                    match id {
                        Some(id) if call.id_from_server && call.id != id => {
                            let position = self.by_id(id).unwrap_or_else(|| self.new_call());
                            self.by_index.insert(index, position);
                            position
                        }
                        _ => position,
                    }
                }
                None => {
                    let position = self.new_call();
                    self.by_index.insert(index, position);
                    position
                }
            },
            (None, Some(id)) => self.by_id(id).unwrap_or_else(|| self.new_call()),
            (None, None) => match self.last {
                Some(position) => position,
                None => self.new_call(),
            },
        }
    }

    fn absorb<B>(
        &mut self,
        position: usize,
        fragment: Fragment<'_>,
        on_delta: &mut impl FnMut(ToolCallDelta<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        self.last = Some(position);
        let call = &mut self.calls[position];
        if let Some(id) = fragment.id {
            if !call.id_from_server {
                id.clone_into(&mut call.id);
                call.id_from_server = true;
                // The first call with an id keeps it (as a search in order would find).
                self.by_id.entry(id.to_owned()).or_insert(position);
            }
        }
        let mut named = false;
        if call.name.is_none() {
            if let Some(name) = fragment.name {
                call.name = Some(name.to_owned());
                named = true;
            }
        }
        let arguments = fragment.arguments.as_deref().unwrap_or("");
        call.arguments.push_str(arguments);
        if !named && arguments.is_empty() {
            return ControlFlow::Continue(());
        }
        on_delta(ToolCallDelta {
            index: position as u32,
            id: &call.id,
            name: if named { call.name.as_deref() } else { None },
            arguments,
        })
    }
}

fn complete(position: usize, call: Partial) -> ToolCall {
    let mut arguments = call.arguments;
    if arguments.trim().is_empty() {
        arguments = "{}".to_owned();
    }
    ToolCall {
        index: position as u32,
        id: call.id,
        name: call.name.unwrap_or_default(),
        arguments_valid: is_json_object(&arguments),
        arguments,
        extra: call.extra,
    }
}

/// Whether `text` is one JSON object (with nothing after it but whitespace).
pub(crate) fn is_json_object(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// [`from_message`] given the message's `tool_calls` and `function_call` values (absent:
/// `None`). A single call object not wrapped in an array is taken as one call.
pub(crate) fn from_message_parts(
    tool_calls: Option<&Value>,
    function_call: Option<&Value>,
) -> Vec<ToolCall> {
    let mut assembler = ToolCallAssembler::new();
    let mut never = |_: ToolCallDelta<'_>| ControlFlow::<()>::Continue(());
    let entries = match tool_calls {
        Some(Value::Array(entries)) => &entries[..],
        Some(entry @ Value::Object(_)) => std::slice::from_ref(entry),
        _ => &[],
    };
    for entry in entries {
        let Some(object) = entry.as_object() else {
            continue;
        };
        let fragment = assembler.read(object);
        let position = assembler.new_call();
        let kept = &mut assembler.calls[position].extra;
        for (key, value) in object {
            if !matches!(key.as_str(), "index" | "id" | "type" | "function") {
                kept.insert(key.clone(), value.clone());
            }
        }
        let _ = assembler.absorb(position, fragment, &mut never);
    }
    if assembler.is_empty() {
        if let Some(function_call) = function_call {
            let _ = assembler.apply_function_call_with(function_call, never);
        }
    }
    assembler.finish()
}

impl ToolCall {
    /// The pull `TOOL_CALL` event's text:
    /// `{"index":I,"id":ID,"type":"function","function":{"name":N,"arguments":ARGS}}`.
    pub(crate) fn to_event_json(&self) -> String {
        let mut out = String::with_capacity(64 + self.arguments.len());
        out.push_str("{\"index\":");
        out.push_str(&self.index.to_string());
        out.push_str(",\"id\":");
        self.push_tail(&mut out);
        out
    }

    /// Appends [`to_message_json`](Self::to_message_json)'s text to `out`.
    /// The call's other members (e.g. Gemini's `extra_content`) follow `function`.
    pub(crate) fn write_message_json(&self, out: &mut String) {
        out.push_str("{\"id\":");
        self.push_tail(out);
        if !self.extra.is_empty() {
            out.pop(); // the call's closing brace
            for (key, value) in &self.extra {
                out.push(',');
                push_json_str(out, key);
                out.push(':');
                out.push_str(&value.to_string());
            }
            out.push('}');
        }
    }

    fn push_tail(&self, out: &mut String) {
        push_json_str(out, &self.id);
        out.push_str(",\"type\":\"function\",\"function\":{\"name\":");
        push_json_str(out, &self.name);
        out.push_str(",\"arguments\":");
        push_json_str(out, &self.arguments);
        out.push_str("}}");
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct DeltaEvent {
        pub index: u32,
        pub id: String,
        pub name: Option<String>,
        pub arguments: String,
    }

    impl From<ToolCallDelta<'_>> for DeltaEvent {
        fn from(d: ToolCallDelta<'_>) -> Self {
            DeltaEvent {
                index: d.index,
                id: d.id.to_owned(),
                name: d.name.map(str::to_owned),
                arguments: d.arguments.to_owned(),
            }
        }
    }

    /// The calls of a non-streamed `choices[0].message`: each entry of `message.tool_calls` is a
    /// whole call (its `index`, if any, is not used for grouping); when there are none, the legacy
    /// `message.function_call` is call 0.
    pub(crate) fn from_message(message: &Value) -> Vec<ToolCall> {
        from_message_parts(message.get("tool_calls"), message.get("function_call"))
    }

    impl ToolCallAssembler {
        /// The number of calls started so far.
        pub(crate) fn len(&self) -> usize {
            self.calls.len()
        }

        /// How many malformed fragments or fields were skipped.
        pub(crate) fn anomalies(&self) -> u32 {
            self.anomalies
        }

        /// [`apply_with`](Self::apply_with), collecting the deltas.
        pub(crate) fn apply(&mut self, fragments: &Value) -> Vec<DeltaEvent> {
            let mut out = Vec::new();
            let _ = self.apply_with(fragments, |d| {
                out.push(DeltaEvent::from(d));
                ControlFlow::<()>::Continue(())
            });
            out
        }

        /// Folds `delta.tool_calls` given as JSON text (e.g. a `RawValue` borrowed from the
        /// chunk). Text that is not JSON is an error and folds nothing.
        pub(crate) fn apply_json_with<B>(
            &mut self,
            fragments_json: &str,
            on_delta: impl FnMut(ToolCallDelta<'_>) -> ControlFlow<B>,
        ) -> Result<ControlFlow<B>, serde_json::Error> {
            let fragments: Value = serde_json::from_str(fragments_json)?;
            Ok(self.apply_with(&fragments, on_delta))
        }

        /// [`apply_function_call_with`](Self::apply_function_call_with), collecting the deltas.
        pub(crate) fn apply_function_call(&mut self, function_call: &Value) -> Vec<DeltaEvent> {
            let mut out = Vec::new();
            let _ = self.apply_function_call_with(function_call, |d| {
                out.push(DeltaEvent::from(d));
                ControlFlow::<()>::Continue(())
            });
            out
        }
    }

    impl ToolCall {
        /// The message form `{"id":ID,"type":"function","function":{"name":N,"arguments":ARGS}}`
        /// (an element of an assistant message's `tool_calls`).
        pub(crate) fn to_message_json(&self) -> String {
            let mut out = String::with_capacity(64 + self.arguments.len());
            self.write_message_json(&mut out);
            out
        }
    }

    fn call(index: u32, id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            index,
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
            arguments_valid: is_json_object(arguments),
            extra: Map::new(),
        }
    }

    fn delta(index: u32, id: &str, name: Option<&str>, arguments: &str) -> DeltaEvent {
        DeltaEvent {
            index,
            id: id.into(),
            name: name.map(Into::into),
            arguments: arguments.into(),
        }
    }

    /// Feeds each element (one chunk's `delta.tool_calls`) and returns every delta and the calls.
    fn run(chunks: &[Value]) -> (Vec<DeltaEvent>, Vec<ToolCall>) {
        let mut a = ToolCallAssembler::new();
        let mut deltas = Vec::new();
        for chunk in chunks {
            deltas.extend(a.apply(chunk));
        }
        (deltas, a.finish())
    }

    #[test]
    fn other_members_of_a_call_are_kept_as_they_came() {
        // Gemini (OpenAI compatibility): the thought signature beside id/type/function.
        let mut a = ToolCallAssembler::new();
        a.apply(&json!([{"index": 0, "id": "c1", "type": "function",
                          "function": {"name": "f", "arguments": "{"},
                          "extra_content": {"google": {"thought_signature": "SIG"}}}]));
        // A later fragment's repeat does not replace it; a new member is added; a fragment
        // with only a member still goes to its call.
        a.apply(&json!([{"index": 0, "function": {"arguments": "}"},
                          "extra_content": {"google": {"thought_signature": "other"}}}]));
        a.apply(&json!([{"index": 0, "vendor": 1}]));
        let calls = a.finish();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].arguments, "{}");
        assert_eq!(
            Value::Object(calls[0].extra.clone()),
            json!({"extra_content": {"google": {"thought_signature": "SIG"}}, "vendor": 1})
        );
        let message: Value = serde_json::from_str(&calls[0].to_message_json()).unwrap();
        assert_eq!(
            message["extra_content"]["google"]["thought_signature"],
            "SIG"
        );
        // The pull event's form stays as it was.
        assert!(!calls[0].to_event_json().contains("extra_content"));
        // With caps (as every client request has them), the same; and the members count
        // against the bytes cap.
        let mut a = ToolCallAssembler::with_caps(10, 1 << 20);
        a.apply(&json!([{"index": 0, "id": "c1", "type": "function",
                          "function": {"name": "f", "arguments": "{}"},
                          "extra_content": {"google": {"thought_signature": "SIG"}}}]));
        assert_eq!(
            Value::Object(a.finish()[0].extra.clone()),
            json!({"extra_content": {"google": {"thought_signature": "SIG"}}})
        );
        let mut a = ToolCallAssembler::with_caps(10, 20);
        a.apply(&json!([{"index": 0, "id": "c1", "extra_content": "0123456789abcdef"}]));
        assert_eq!(a.over(), Some(Over::Bytes(20)));
        // Not streamed: each whole call keeps its members.
        let calls = from_message(&json!({"tool_calls": [{"id": "c2", "type": "function",
            "function": {"name": "g", "arguments": "{}"}, "extra_content": {"k": [1]}}]}));
        assert_eq!(
            Value::Object(calls[0].extra.clone()),
            json!({"extra_content": {"k": [1]}})
        );
    }

    #[test]
    fn openai_shape() {
        // Header with id/type/name and "arguments":"", then argument fragments (the chunks
        // with finish_reason "tool_calls" and the choices:[] usage chunk carry no fragments).
        let (deltas, calls) = run(&[
            json!([{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]),
            json!([{"index":0,"function":{"arguments":"{\""}}]),
            json!([{"index":0,"function":{"arguments":"city\":\"Par"}}]),
            json!([{"index":0,"function":{"arguments":"is\"}"}}]),
        ]);
        assert_eq!(
            deltas,
            vec![
                delta(0, "call_abc", Some("get_weather"), ""),
                delta(0, "call_abc", None, "{\""),
                delta(0, "call_abc", None, "city\":\"Par"),
                delta(0, "call_abc", None, "is\"}"),
            ]
        );
        assert_eq!(
            calls,
            vec![call(0, "call_abc", "get_weather", r#"{"city":"Paris"}"#)]
        );
        assert!(calls[0].arguments_valid);
    }

    #[test]
    fn parallel_calls_interleaved_by_index() {
        let (deltas, calls) = run(&[
            json!([{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":""}},
                   {"index":1,"id":"b","type":"function","function":{"name":"g","arguments":"{\"y\""}}]),
            json!([{"index":1,"function":{"arguments":":2}"}}]),
            json!([{"index":0,"function":{"arguments":"{\"x\":1}"}}]),
        ]);
        assert_eq!(
            calls,
            vec![
                call(0, "a", "f", r#"{"x":1}"#),
                call(1, "b", "g", r#"{"y":2}"#)
            ]
        );
        assert_eq!(deltas.len(), 4);
        assert_eq!(deltas[1], delta(1, "b", Some("g"), "{\"y\""));
        assert_eq!(deltas[2], delta(1, "b", None, ":2}"));
    }

    #[test]
    fn no_index_id_on_first_fragment_only() {
        let (deltas, calls) = run(&[
            json!([{"id":"g1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]),
            json!([{"function":{"arguments":":1}"}}]),
            json!([{"id":"g2","type":"function","function":{"name":"g"}}]),
            json!([{"function":{"arguments":"{}"}}]),
        ]);
        assert_eq!(
            calls,
            vec![call(0, "g1", "f", r#"{"a":1}"#), call(1, "g2", "g", "{}")]
        );
        assert_eq!(deltas[2], delta(1, "g2", Some("g"), ""));
    }

    #[test]
    fn no_index_id_on_every_fragment_interleaved() {
        let (_, calls) = run(&[
            json!([{"id":"g1","function":{"name":"f","arguments":"{\"a\""}},
                   {"id":"g2","function":{"name":"g","arguments":"{\"b\""}}]),
            json!([{"id":"g1","function":{"arguments":":1}"}}]),
            json!([{"id":"g2","function":{"name":"g","arguments":":2}"}}]),
        ]);
        assert_eq!(
            calls,
            vec![
                call(0, "g1", "f", r#"{"a":1}"#),
                call(1, "g2", "g", r#"{"b":2}"#)
            ]
        );
    }

    #[test]
    fn no_index_no_id_at_all_is_one_call_then_synthetic_id() {
        let (deltas, calls) = run(&[
            json!([{"function":{"name":"f","arguments":"{\"a\""}}]),
            json!([{"function":{"arguments":":1}"}}]),
        ]);
        assert_eq!(calls, vec![call(0, "call_0", "f", r#"{"a":1}"#)]);
        assert_eq!(deltas[0].id, "call_0");
    }

    #[test]
    fn indexes_starting_at_one_or_skipping() {
        let (deltas, calls) = run(&[
            json!([{"index":1,"id":"x","function":{"name":"f","arguments":"{}"}}]),
            json!([{"index":5,"id":"y","function":{"name":"g","arguments":"{"}}]),
            json!([{"index":5,"function":{"arguments":"}"}}]),
            json!([{"index":3,"function":{"name":"h"}}]),
        ]);
        assert_eq!(
            calls,
            vec![
                call(0, "x", "f", "{}"),
                call(1, "y", "g", "{}"),
                call(2, "call_2", "h", "{}")
            ]
        );
        assert_eq!(
            deltas.iter().map(|d| d.index).collect::<Vec<_>>(),
            [0, 1, 1, 2]
        );
    }

    #[test]
    fn repeated_id_and_name_are_set_once_never_appended() {
        let (deltas, calls) = run(&[
            json!([{"index":0,"id":"c1","type":"function","function":{"name":"search","arguments":"{\"q\":"}}]),
            json!([{"index":0,"id":"c1","type":"function","function":{"name":"search","arguments":"\"x\"}"}}]),
            json!([{"index":0,"id":"","type":"function","function":{"name":"","arguments":""}}]),
        ]);
        assert_eq!(calls, vec![call(0, "c1", "search", r#"{"q":"x"}"#)]);
        assert_eq!(
            deltas,
            vec![
                delta(0, "c1", Some("search"), "{\"q\":"),
                delta(0, "c1", None, "\"x\"}")
            ]
        );
    }

    #[test]
    fn whole_call_in_one_fragment() {
        let (deltas, calls) = run(&[json!([
            {"index":0,"id":"w","type":"function","function":{"name":"f","arguments":"{\"k\":[1,2]}"}}
        ])]);
        assert_eq!(calls, vec![call(0, "w", "f", r#"{"k":[1,2]}"#)]);
        assert_eq!(deltas, vec![delta(0, "w", Some("f"), r#"{"k":[1,2]}"#)]);
    }

    #[test]
    fn index_reused_with_a_new_id_starts_a_new_call() {
        let (_, calls) = run(&[
            json!([{"index":0,"id":"a","function":{"name":"f","arguments":"{\"n\":1}"}}]),
            json!([{"index":0,"id":"b","function":{"name":"g","arguments":"{\"n\":"}}]),
            json!([{"index":0,"function":{"arguments":"2}"}}]),
            // Back to the first id: goes to the first call, not a third.
            json!([{"index":0,"id":"a","function":{"arguments":""}}]),
        ]);
        assert_eq!(
            calls,
            vec![
                call(0, "a", "f", r#"{"n":1}"#),
                call(1, "b", "g", r#"{"n":2}"#)
            ]
        );
    }

    #[test]
    fn id_arriving_after_a_synthetic_one_is_kept_not_a_new_call() {
        let (deltas, calls) = run(&[
            json!([{"index":0,"function":{"name":"f","arguments":"{"}}]),
            json!([{"index":0,"id":"late","function":{"arguments":"}"}}]),
        ]);
        assert_eq!(calls, vec![call(0, "late", "f", "{}")]);
        assert_eq!(deltas[0].id, "call_0");
        assert_eq!(deltas[1].id, "late");
    }

    #[test]
    fn no_arguments_is_an_empty_object() {
        let (_, calls) = run(&[
            json!([{"index":0,"id":"a","function":{"name":"now"}}]),
            json!([{"index":1,"id":"b","function":{"name":"now","arguments":""}}]),
            json!([{"index":2,"id":"c","function":{"name":"now","arguments":" \n"}}]),
        ]);
        for c in &calls {
            assert_eq!(c.arguments, "{}");
            assert!(c.arguments_valid);
        }
        assert_eq!(calls.len(), 3);
    }

    #[test]
    fn invalid_or_truncated_arguments_are_flagged() {
        let (_, calls) = run(&[
            json!([{"index":0,"id":"a","function":{"name":"f","arguments":"{\"x\":"}}]),
            json!([{"index":1,"id":"b","function":{"name":"f","arguments":"[1,2]"}}]),
            json!([{"index":2,"id":"c","function":{"name":"f","arguments":"{} {}"}}]),
            json!([{"index":3,"id":"d","function":{"name":"f","arguments":" {\"ok\":true} "}}]),
        ]);
        assert_eq!(
            calls.iter().map(|c| c.arguments_valid).collect::<Vec<_>>(),
            [false, false, false, true]
        );
        assert_eq!(calls[0].arguments, "{\"x\":");
    }

    #[test]
    fn garbage_is_skipped_and_counted() {
        let mut a = ToolCallAssembler::new();
        let deltas = a.apply(&json!([
            1, "x", null, [],
            {"index":"0","id":7,"function":{"name":3,"arguments":5}},
            {"index":-1,"function":"nope"},
            {"index":0.5,"id":"ok","function":{"name":"f","arguments":"{}"}}
        ]));
        a.apply(&json!("not an array"));
        a.apply(&Value::Null);
        a.apply(&json!({"index":0,"function":{"arguments":"{}"}}));
        assert!(a.anomalies() >= 10, "{}", a.anomalies());
        assert_eq!(deltas, vec![delta(0, "ok", Some("f"), "{}")]);
        // Fragments with nothing usable left start no call.
        assert_eq!(
            a.finish(),
            vec![call(0, "ok", "f", "{}"), call(1, "call_1", "", "{}")]
        );
    }

    #[test]
    fn break_stops_folding() {
        let mut a = ToolCallAssembler::new();
        let r = a.apply_with(
            &json!([{"index":0,"function":{"name":"f","arguments":"{"}},{"index":1,"function":{"name":"g"}}]),
            |_| ControlFlow::Break(7),
        );
        assert_eq!(r, ControlFlow::Break(7));
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn arguments_as_an_object_are_taken_as_json_text() {
        let (_, calls) = run(&[json!([{"index":0,"function":{"name":"f","arguments":{"a":1}}}])]);
        assert_eq!(calls[0].arguments, r#"{"a":1}"#);
        assert!(calls[0].arguments_valid);
    }

    #[test]
    fn legacy_function_call_streamed() {
        let mut a = ToolCallAssembler::new();
        let mut deltas = a.apply_function_call(&json!({"name":"f","arguments":""}));
        deltas.extend(a.apply_function_call(&json!({"arguments":"{\"a\":"})));
        deltas.extend(a.apply_function_call(&json!({"arguments":"1}"})));
        assert_eq!(deltas[0], delta(0, "call_0", Some("f"), ""));
        assert_eq!(deltas.len(), 3);
        assert_eq!(a.finish(), vec![call(0, "call_0", "f", r#"{"a":1}"#)]);
    }

    #[test]
    fn non_streamed_message_tool_calls() {
        let message = json!({
            "role":"assistant","content":null,
            "tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},
                {"id":"call_2","type":"function","function":{"name":"g","arguments":""}},
                {"type":"function","function":{"name":"h","arguments":"{oops"}},
                {"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}
            ]
        });
        assert_eq!(
            from_message(&message),
            vec![
                call(0, "call_1", "f", r#"{"a":1}"#),
                call(1, "call_2", "g", "{}"),
                call(2, "call_2", "h", "{oops"),
                call(3, "call_1", "f", "{}"),
            ]
        );
        assert!(!from_message(&message)[2].arguments_valid);
        assert!(from_message(&json!({"role":"assistant","content":"hi"})).is_empty());
        assert!(from_message(&json!({"tool_calls":null})).is_empty());
        assert!(from_message(&json!({"tool_calls":[]})).is_empty());
    }

    #[test]
    fn non_streamed_legacy_function_call() {
        let calls = from_message(&json!({
            "role":"assistant","content":null,
            "function_call":{"name":"f","arguments":"{\"a\":1}"}
        }));
        assert_eq!(calls, vec![call(0, "call_0", "f", r#"{"a":1}"#)]);
    }

    #[test]
    fn json_forms() {
        let c = call(2, "id\"1", "na\\me", "{\"a\":\"\u{1F600}\\n\"}");
        let event: Value = serde_json::from_str(&c.to_event_json()).unwrap();
        assert_eq!(
            event,
            json!({"index":2,"id":"id\"1","type":"function",
                   "function":{"name":"na\\me","arguments":"{\"a\":\"\u{1F600}\\n\"}"}})
        );
        assert!(c
            .to_event_json()
            .starts_with(r#"{"index":2,"id":"id\"1","type":"function","#));
        let message: Value = serde_json::from_str(&c.to_message_json()).unwrap();
        assert_eq!(
            message,
            json!({"id":"id\"1","type":"function",
                   "function":{"name":"na\\me","arguments":"{\"a\":\"\u{1F600}\\n\"}"}})
        );
        assert!(c.to_message_json().starts_with(r#"{"id":"#));
    }

    /// What the request engine will do: for each chunk, fold `choices[0].delta.tool_calls`
    /// (or the legacy `delta.function_call`); chunks without them change nothing.
    fn feed_chunks(chunks: &[&str]) -> (Vec<DeltaEvent>, Vec<ToolCall>) {
        let mut a = ToolCallAssembler::new();
        let mut deltas = Vec::new();
        for chunk in chunks {
            let doc: Value = serde_json::from_str(chunk).unwrap();
            let delta = &doc["choices"][0]["delta"];
            if let Some(fragments) = delta.get("tool_calls") {
                deltas.extend(a.apply(fragments));
            }
            if let Some(function_call) = delta.get("function_call") {
                deltas.extend(a.apply_function_call(function_call));
            }
        }
        (deltas, a.finish())
    }

    #[test]
    fn whole_openai_stream() {
        let (deltas, calls) = feed_chunks(&[
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_DdmO","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"lo"}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"cation\":\"Paris, France\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"#,
        ]);
        assert_eq!(deltas.len(), 3);
        assert_eq!(
            calls,
            vec![call(
                0,
                "call_DdmO",
                "get_weather",
                r#"{"location":"Paris, France"}"#
            )]
        );
    }

    #[test]
    fn call_and_finish_reason_in_one_chunk_no_index_gateway() {
        let (_, calls) = feed_chunks(&[
            r#"{"choices":[{"delta":{"role":"assistant","tool_calls":[{"id":"a1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}},{"id":"a2","type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
        ]);
        assert_eq!(
            calls,
            vec![call(0, "a1", "f", r#"{"x":1}"#), call(1, "a2", "g", "{}")]
        );
    }

    #[test]
    fn legacy_function_call_stream() {
        let (_, calls) = feed_chunks(&[
            r#"{"choices":[{"delta":{"role":"assistant","content":null,"function_call":{"name":"f","arguments":""}}}]}"#,
            r#"{"choices":[{"delta":{"function_call":{"arguments":"{\"a\":"}}}]}"#,
            r#"{"choices":[{"delta":{"function_call":{"arguments":"true}"}}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"function_call"}]}"#,
        ]);
        assert_eq!(calls, vec![call(0, "call_0", "f", r#"{"a":true}"#)]);
    }

    #[test]
    fn raw_json_entry_point() {
        let mut a = ToolCallAssembler::new();
        let mut seen = Vec::new();
        let r = a.apply_json_with(
            r#"[{"index":0,"id":"r","function":{"name":"f","arguments":"{}"}}]"#,
            |d| {
                seen.push(DeltaEvent::from(d));
                ControlFlow::<()>::Continue(())
            },
        );
        assert_eq!(r.unwrap(), ControlFlow::Continue(()));
        assert!(a
            .apply_json_with("[{", |_| ControlFlow::<()>::Continue(()))
            .is_err());
        assert_eq!(seen, vec![delta(0, "r", Some("f"), "{}")]);
        assert_eq!(a.finish(), vec![call(0, "r", "f", "{}")]);
    }

    #[test]
    fn typed_fragments_as_the_dialect_translators_will_feed_them() {
        // Messages API: content block 0 is text, 1 and 3 are tool_use blocks; the translator
        // passes the block index, the id and name from content_block_start (not its empty
        // `input`), then each input_json_delta's partial_json.
        let mut a = ToolCallAssembler::new();
        let mut deltas = Vec::new();
        let mut feed = |a: &mut ToolCallAssembler, f: Fragment<'_>| {
            let _ = a.apply_fragment_with(f, |d| {
                deltas.push(DeltaEvent::from(d));
                ControlFlow::<()>::Continue(())
            });
        };
        let start = |index, id, name| Fragment {
            index: Some(index),
            id: Some(id),
            name: Some(name),
            arguments: None,
        };
        let args = |index, text: &'static str| Fragment {
            index: Some(index),
            arguments: Some(Cow::Borrowed(text)),
            ..Fragment::default()
        };
        feed(&mut a, start(1, "toolu_01", "get_weather"));
        feed(&mut a, args(1, ""));
        feed(&mut a, args(1, "{\"city\": "));
        feed(&mut a, args(1, "\"Oslo\"}"));
        feed(&mut a, start(3, "toolu_02", "get_time"));
        feed(&mut a, Fragment::default()); // nothing: ignored
        assert_eq!(
            a.finish(),
            vec![
                call(0, "toolu_01", "get_weather", r#"{"city": "Oslo"}"#),
                call(1, "toolu_02", "get_time", "{}"),
            ]
        );
        assert_eq!(
            deltas,
            vec![
                delta(0, "toolu_01", Some("get_weather"), ""),
                delta(0, "toolu_01", None, "{\"city\": "),
                delta(0, "toolu_01", None, "\"Oslo\"}"),
                delta(1, "toolu_02", Some("get_time"), ""),
            ]
        );
    }

    #[test]
    fn message_parts_accept_a_bare_object() {
        let one = json!({"id":"x","type":"function","function":{"name":"f","arguments":"{}"}});
        assert_eq!(
            from_message_parts(Some(&one), None),
            vec![call(0, "x", "f", "{}")]
        );
        assert!(from_message_parts(None, None).is_empty());
        assert!(from_message_parts(Some(&json!("junk")), Some(&json!(5))).is_empty());
    }

    /// A call's fragments, given how its arguments text is cut.
    #[derive(Debug, Clone)]
    struct Spec {
        id: String,
        name: String,
        arguments: String,
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            "[a-z]{1,8}",
            prop::collection::vec(("[a-z]{1,5}", any::<i32>(), "\\PC{0,6}"), 0..4),
        )
            .prop_map(|(name, fields)| {
                let object: Map<String, Value> = fields
                    .into_iter()
                    .map(|(k, n, s)| (k, json!([n, s])))
                    .collect();
                Spec {
                    id: String::new(),
                    name,
                    arguments: Value::Object(object).to_string(),
                }
            })
    }

    /// Cuts `s` at the given fractions (rounded to char boundaries).
    fn cut(s: &str, cuts: &[f64]) -> Vec<String> {
        let mut at: Vec<usize> = cuts
            .iter()
            .map(|f| {
                let mut i = (f * s.len() as f64) as usize;
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                i
            })
            .collect();
        at.push(0);
        at.push(s.len());
        at.sort_unstable();
        at.dedup();
        at.windows(2).map(|w| s[w[0]..w[1]].to_owned()).collect()
    }

    #[derive(Debug, Clone, Copy)]
    enum Mode {
        /// OpenAI: index on every fragment, id/name on the first, server indexes skipping.
        Index,
        /// No index, id on every fragment.
        IdEveryFragment,
        /// No index, id on the first fragment only: only works when calls do not interleave.
        IdFirstOnly,
    }

    proptest! {
        #[test]
        fn any_regrouping_gives_the_same_calls(
            specs in prop::collection::vec(spec(), 1..4),
            cuts in prop::collection::vec(prop::collection::vec(0.0f64..1.0, 0..6), 4),
            order in prop::collection::vec(0usize..4, 0..40),
            groups in prop::collection::vec(1usize..4, 40),
            base in 0u64..3,
            mode in prop_oneof![Just(Mode::Index), Just(Mode::IdEveryFragment), Just(Mode::IdFirstOnly)],
        ) {
            let specs: Vec<Spec> = specs
                .into_iter()
                .enumerate()
                .map(|(i, s)| Spec { id: format!("srv{i}"), ..s })
                .collect();
            // Every call's fragments: a header, then the pieces of its arguments.
            let mut queues: Vec<std::collections::VecDeque<Value>> = specs
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let server_index = base + 2 * i as u64;
                    let mut q = std::collections::VecDeque::new();
                    for (k, piece) in cut(&s.arguments, &cuts[i]).into_iter().enumerate() {
                        let mut f = json!({"function":{"arguments":piece}});
                        if k == 0 {
                            f["id"] = json!(s.id);
                            f["type"] = json!("function");
                            f["function"]["name"] = json!(s.name);
                        }
                        match mode {
                            Mode::Index => f["index"] = json!(server_index),
                            Mode::IdEveryFragment => f["id"] = json!(s.id),
                            Mode::IdFirstOnly => {}
                        }
                        q.push_back(f);
                    }
                    q
                })
                .collect();
            // Interleave (calls must first appear in order for positions to match specs).
            let mut sequence = Vec::new();
            let mut started = 1;
            if !matches!(mode, Mode::IdFirstOnly) {
                for &pick in &order {
                    let i = pick % started.min(specs.len());
                    if let Some(f) = queues[i].pop_front() {
                        sequence.push(f);
                        if i + 1 == started && started < specs.len() {
                            started += 1;
                        }
                    }
                }
            }
            for q in &mut queues {
                sequence.extend(q.drain(..));
            }
            // Group into chunks of varying size.
            let mut chunks = Vec::new();
            let mut rest = &sequence[..];
            let mut g = groups.iter().cycle();
            while !rest.is_empty() {
                let n = (*g.next().unwrap()).min(rest.len());
                chunks.push(Value::Array(rest[..n].to_vec()));
                rest = &rest[n..];
            }
            let (deltas, calls) = run(&chunks);
            let expected: Vec<ToolCall> = specs
                .iter()
                .enumerate()
                .map(|(i, s)| call(i as u32, &s.id, &s.name, &s.arguments))
                .collect();
            prop_assert_eq!(&calls, &expected);
            for c in &calls {
                prop_assert!(c.arguments_valid);
                let text: String = deltas
                    .iter()
                    .filter(|d| d.index == c.index)
                    .map(|d| d.arguments.as_str())
                    .collect();
                prop_assert_eq!(&text, &c.arguments);
                let named: Vec<_> = deltas
                    .iter()
                    .filter(|d| d.index == c.index && d.name.is_some())
                    .collect();
                prop_assert_eq!(named.len(), 1);
            }
        }
    }

    #[test]
    fn caps_on_the_number_and_size_of_calls_stop_the_folding() {
        let call = |i: u64| json!([{"index": i, "id": format!("id_{i}"), "function": {"name": "f", "arguments": "{}"}}]);
        let mut a = ToolCallAssembler::with_caps(3, 1 << 20);
        for i in 0..3 {
            a.apply(&call(i));
        }
        assert_eq!((a.len(), a.over()), (3, None));
        a.apply(&call(3));
        assert_eq!(a.over(), Some(Over::Calls(3)));
        assert!(a.apply(&call(4)).is_empty(), "nothing is folded past a cap");
        assert_eq!(a.too_many(3), None);
        assert_eq!(a.too_many(4), Some(Over::Calls(3)));

        let mut a = ToolCallAssembler::with_caps(10, 20);
        assert_eq!(a.apply(&call(0)).len(), 1); // id_0 + f + {} = 7 bytes
        a.apply(&json!([{"index": 0, "function": {"arguments": "0123456789abcd"}}]));
        assert_eq!(a.over(), Some(Over::Bytes(20)));
        assert_eq!(ToolCallAssembler::new().too_many(usize::MAX), None);
    }

    #[test]
    fn finding_a_call_does_not_scan_the_calls() {
        // 100,000 calls, each fragment routed by index and then by id: with a search over
        // the calls this was quadratic (4.5 s of CPU in 0.2); with maps it is linear. The
        // routes must stay right.
        let n = 100_000u64;
        let mut a = ToolCallAssembler::new();
        for i in 0..n {
            a.apply(&json!([{"index": i, "id": format!("id_{i}"), "function": {"name": "f", "arguments": "{"}}]));
        }
        for i in (0..n).rev() {
            a.apply(&json!([{"id": format!("id_{i}"), "function": {"arguments": "}"}}]));
        }
        let calls = a.finish();
        assert_eq!(calls.len(), n as usize);
        assert!(calls
            .iter()
            .all(|c| c.arguments == "{}" && c.arguments_valid));
        assert_eq!(calls[77_777].id, "id_77777");
    }
}

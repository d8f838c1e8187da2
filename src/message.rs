//! The assistant message as it arrived (`ylokh_result.message_json`), ready to go back into a
//! conversation:
//! `{"role":"assistant","content":TEXT or null,"reasoning_content":TEXT,"tool_calls":[...]}`,
//! keys in that order; `reasoning_content` only when there was reasoning text, `tool_calls`
//! only when complete calls are given (never on failure: the caller passes `None`).
//!
//! Text is appended per token with a plain `String` push (amortised growth, no other work);
//! the JSON is written once, at the end.

use crate::reasoning_details::ReasoningDetails;
use crate::tool_calls::ToolCall;
use serde_json::Value;

/// Collects an answer's text and reasoning text.
#[derive(Debug, Default, Clone)]
pub(crate) struct MessageBuilder {
    content: String,
    reasoning: String,
    /// Round-trip reasoning (`reasoning_details`), when the server sent any.
    details: ReasoningDetails,
}

impl MessageBuilder {
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends answer text (one token's `content`).
    #[inline]
    pub(crate) fn push_content(&mut self, text: &str) {
        self.content.push_str(text);
    }

    /// Appends reasoning text (one token's `reasoning_content` / `reasoning`).
    #[inline]
    pub(crate) fn push_reasoning(&mut self, text: &str) {
        self.reasoning.push_str(text);
    }

    /// Folds `reasoning_details` fragments (a chat delta's array, or one fragment a dialect
    /// mapper made); see `reasoning_details`.
    pub(crate) fn push_details(&mut self, fragments: &Value) {
        self.details.fold(fragments);
    }

    /// The answer text so far.
    pub(crate) fn text(&self) -> &str {
        &self.content
    }

    #[cfg(test)]
    pub(crate) fn content(&self) -> &str {
        &self.content
    }

    #[cfg(test)]
    pub(crate) fn reasoning(&self) -> &str {
        &self.reasoning
    }

    #[cfg(test)]
    /// Forgets the text (e.g. before a retry), keeping the buffers' capacity.
    pub(crate) fn clear(&mut self) {
        self.content.clear();
        self.reasoning.clear();
    }

    /// The message's JSON text. `calls`: the complete calls when the answer ended well
    /// (`tool_calls` is written only when there is at least one); `None` otherwise.
    /// `content` is `null` when no (non-empty) text arrived.
    pub(crate) fn to_json(&self, calls: Option<&[ToolCall]>) -> String {
        let calls = calls.unwrap_or_default();
        let mut out = String::with_capacity(
            64 + self.content.len()
                + self.reasoning.len()
                + calls
                    .iter()
                    .map(|c| 64 + c.id.len() + c.name.len() + c.arguments.len())
                    .sum::<usize>(),
        );
        out.push_str("{\"role\":\"assistant\",\"content\":");
        if self.content.is_empty() {
            out.push_str("null");
        } else {
            push_json_str(&mut out, &self.content);
        }
        if !self.reasoning.is_empty() {
            out.push_str(",\"reasoning_content\":");
            push_json_str(&mut out, &self.reasoning);
        }
        if !self.details.is_empty() {
            out.reserve(self.details.approximate_len());
            out.push_str(",\"reasoning_details\":");
            self.details.write_json(&mut out);
        }
        if !calls.is_empty() {
            out.push_str(",\"tool_calls\":[");
            for (i, call) in calls.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                call.write_message_json(&mut out);
            }
            out.push(']');
        }
        out.push('}');
        out
    }
}

/// Appends `s` as a JSON string literal (serde_json's escaping).
fn push_json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    const NASTY: &[&str] = &[
        "plain",
        "quote \" and backslash \\ and slash /",
        "controls \u{0}\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}",
        "emoji 😀👩‍👩‍👧 and astral 𝄞",
        "RTL: שלום עולם، مرحبا بالعالم \u{200f}\u{202e}mixed\u{202c}",
        "line sep \u{2028} para sep \u{2029}",
        "</script><!-- -->",
    ];

    #[test]
    fn text_only() {
        let mut m = MessageBuilder::new();
        for token in ["Hel", "lo", ", world"] {
            m.push_content(token);
        }
        assert_eq!(
            m.to_json(None),
            r#"{"role":"assistant","content":"Hello, world"}"#
        );
        assert_eq!(
            m.to_json(Some(&[])),
            r#"{"role":"assistant","content":"Hello, world"}"#
        );
    }

    #[test]
    fn nothing_arrived_gives_null_content() {
        let mut m = MessageBuilder::new();
        assert_eq!(m.to_json(None), r#"{"role":"assistant","content":null}"#);
        m.push_content("");
        m.push_reasoning("");
        assert_eq!(m.to_json(None), r#"{"role":"assistant","content":null}"#);
    }

    #[test]
    fn reasoning_then_content_in_key_order() {
        let mut m = MessageBuilder::new();
        m.push_reasoning("think");
        m.push_reasoning("ing");
        m.push_content("answer");
        assert_eq!(
            m.to_json(None),
            r#"{"role":"assistant","content":"answer","reasoning_content":"thinking"}"#
        );
        let mut m = MessageBuilder::new();
        m.push_reasoning("only thoughts");
        assert_eq!(
            m.to_json(None),
            r#"{"role":"assistant","content":null,"reasoning_content":"only thoughts"}"#
        );
    }

    #[test]
    fn tool_calls_only_when_given() {
        let calls = [
            ToolCall {
                index: 0,
                id: "call_a".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
                arguments_valid: true,
                extra: Default::default(),
            },
            ToolCall {
                index: 1,
                id: "call_1".into(),
                name: "now".into(),
                arguments: "{}".into(),
                arguments_valid: true,
                extra: Default::default(),
            },
        ];
        let m = MessageBuilder::new();
        let text = m.to_json(Some(&calls));
        assert_eq!(
            text,
            concat!(
                r#"{"role":"assistant","content":null,"tool_calls":["#,
                r#"{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},"#,
                r#"{"id":"call_1","type":"function","function":{"name":"now","arguments":"{}"}}]}"#
            )
        );
        assert_eq!(
            parsed(&text)["tool_calls"][0]["function"]["arguments"],
            json!(r#"{"city":"Paris"}"#)
        );
        // On failure the caller passes None: what arrived, never tool_calls.
        assert!(!m.to_json(None).contains("tool_calls"));
    }

    #[test]
    fn reasoning_details_and_call_extras_are_kept() {
        let mut m = MessageBuilder::new();
        m.push_reasoning("plan");
        m.push_details(&json!([{"type":"reasoning.text","text":"pl","format":"anthropic-claude-v1","index":0}]));
        m.push_details(&json!({"type":"reasoning.text","text":"an","signature":"S","index":0}));
        let mut extra = serde_json::Map::new();
        extra.insert(
            "extra_content".into(),
            json!({"google": {"thought_signature": "TS=="}}),
        );
        let calls = [ToolCall {
            index: 0,
            id: "c1".into(),
            name: "f".into(),
            arguments: "{}".into(),
            arguments_valid: true,
            extra,
        }];
        assert_eq!(
            m.to_json(Some(&calls)),
            concat!(
                r#"{"role":"assistant","content":null,"reasoning_content":"plan","#,
                r#""reasoning_details":[{"type":"reasoning.text","text":"plan","format":"anthropic-claude-v1","index":0,"signature":"S"}],"#,
                r#""tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"},"extra_content":{"google":{"thought_signature":"TS=="}}}]}"#
            )
        );
        // On failure: the details stay (what arrived), the calls do not.
        assert!(m.to_json(None).contains("reasoning_details"));
    }

    #[test]
    fn any_text_is_escaped_to_valid_json() {
        for &text in NASTY {
            let mut m = MessageBuilder::new();
            // Token by token, cut inside multi-byte sequences' neighbourhood.
            for (i, c) in text.char_indices() {
                m.push_content(&text[i..i + c.len_utf8()]);
            }
            m.push_reasoning(text);
            let calls = [ToolCall {
                index: 0,
                id: text.into(),
                name: text.into(),
                arguments: text.into(),
                arguments_valid: false,
                extra: Default::default(),
            }];
            let json = m.to_json(Some(&calls));
            let v = parsed(&json);
            assert_eq!(
                v,
                json!({
                    "role": "assistant",
                    "content": text,
                    "reasoning_content": text,
                    "tool_calls": [{"id": text, "type": "function",
                                    "function": {"name": text, "arguments": text}}],
                }),
                "{json}"
            );
            assert!(
                !json.bytes().any(|b| b < 0x20),
                "raw control bytes in {json:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_tokens_round_trip(
            tokens in proptest::collection::vec(proptest::prelude::any::<String>(), 0..8),
            thoughts in proptest::collection::vec(proptest::prelude::any::<String>(), 0..4),
        ) {
            let mut m = MessageBuilder::new();
            for t in &tokens {
                m.push_content(t);
            }
            for t in &thoughts {
                m.push_reasoning(t);
            }
            let (content, reasoning) = (tokens.concat(), thoughts.concat());
            let mut expected = json!({"role":"assistant","content":null});
            if !content.is_empty() {
                expected["content"] = json!(content);
            }
            if !reasoning.is_empty() {
                expected["reasoning_content"] = json!(reasoning);
            }
            proptest::prop_assert_eq!(parsed(&m.to_json(None)), expected);
        }
    }

    #[test]
    fn clear_keeps_capacity() {
        let mut m = MessageBuilder::new();
        m.push_content(&"x".repeat(1000));
        m.push_reasoning("r");
        let capacity = m.content.capacity();
        m.clear();
        assert_eq!(m.content(), "");
        assert_eq!(m.reasoning(), "");
        assert_eq!(m.content.capacity(), capacity);
        assert_eq!(m.to_json(None), r#"{"role":"assistant","content":null}"#);
    }
}

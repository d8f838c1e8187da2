//! The assistant message as it arrived (`ylokh_result.message_json`), ready to go back into a
//! conversation:
//! `{"role":"assistant","content":TEXT or null,"reasoning_content":TEXT,"tool_calls":[...]}`,
//! keys in that order; `reasoning_content` only when there was reasoning text, `tool_calls`
//! only when complete calls are given (never on failure: the caller passes `None`).
//!
//! Text is appended per token with a plain `String` push (amortised growth, no other work);
//! the JSON is written once, at the end, escaping the text where it lies (one buffer, not
//! two). What is kept is capped (`max_message_bytes`): text past the cap is not kept, and the
//! message then says `"truncated":true` (after `reasoning_content`).

use crate::chunk::push_json_str;
use crate::reasoning_details::ReasoningDetails;
use crate::tool_calls::ToolCall;
use serde_json::Value;

/// Collects an answer's text and reasoning text.
#[derive(Debug, Default, Clone)]
pub(crate) struct MessageBuilder {
    content: String,
    reasoning: String,
    /// The most bytes of text and reasoning kept, together.
    cap: usize,
    /// Text arrived that the cap left out.
    truncated: bool,
    /// Round-trip reasoning (`reasoning_details`), when the server sent any.
    details: ReasoningDetails,
}

impl MessageBuilder {
    /// Keeps at most `cap` bytes of text and reasoning text, together.
    pub(crate) fn with_cap(cap: usize) -> Self {
        MessageBuilder {
            cap,
            ..Self::default()
        }
    }

    /// Appends answer text (one token's `content`).
    #[inline]
    pub(crate) fn push_content(&mut self, text: &str) {
        let room = self.room();
        if text.len() <= room {
            self.content.push_str(text);
        } else {
            self.content.push_str(cut(text, room));
            self.truncated = true;
        }
    }

    /// Appends reasoning text (one token's `reasoning_content` / `reasoning`).
    #[inline]
    pub(crate) fn push_reasoning(&mut self, text: &str) {
        let room = self.room();
        if text.len() <= room {
            self.reasoning.push_str(text);
        } else {
            self.reasoning.push_str(cut(text, room));
            self.truncated = true;
        }
    }

    /// How many more bytes the cap keeps.
    #[inline]
    fn room(&self) -> usize {
        self.cap
            .saturating_sub(self.content.len() + self.reasoning.len())
    }

    /// Folds `reasoning_details` fragments (a chat delta's array, or one fragment a dialect
    /// mapper made); see `reasoning_details`.
    /// Round-trip data is kept whole or not at all: once the details reach the cap, later
    /// fragments are left out and the message says `"truncated":true`.
    pub(crate) fn push_details(&mut self, fragments: &Value) {
        if self.details.approximate_len() >= self.cap {
            self.truncated = true;
            return;
        }
        self.details.fold(fragments);
    }

    /// The answer text so far.
    pub(crate) fn text(&self) -> &str {
        &self.content
    }

    /// The message's JSON text. `calls`: the complete calls when the answer ended well
    /// (`tool_calls` is written only when there is at least one); `None` otherwise.
    /// `content` is `null` when no (non-empty) text arrived. The text is escaped in its own
    /// buffer, which becomes the message's: a long answer is held once.
    pub(crate) fn into_json(self, calls: Option<&[ToolCall]>) -> String {
        let calls = calls.unwrap_or_default();
        // What follows the content, with a byte to spare for the C string's NUL.
        let more = 64
            + self.reasoning.len()
            + calls
                .iter()
                .map(|c| 64 + c.id.len() + c.name.len() + c.arguments.len())
                .sum::<usize>();
        const HEAD: &str = "{\"role\":\"assistant\",\"content\":";
        let mut out = if self.content.is_empty() {
            let mut out = String::with_capacity(HEAD.len() + 4 + more);
            out.push_str(HEAD);
            out.push_str("null");
            out
        } else {
            json_in_place(self.content, HEAD, more)
        };
        if !self.reasoning.is_empty() {
            out.push_str(",\"reasoning_content\":");
            push_json_str(&mut out, &self.reasoning);
        }
        if self.truncated {
            out.push_str(",\"truncated\":true");
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

/// The longest start of `text` that fits in `room` bytes and ends on a character boundary.
#[cold]
fn cut(text: &str, room: usize) -> &str {
    let mut end = room.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `head`, then `text` as a JSON string literal, written in `text`'s own buffer (escaped from
/// its end backwards, so no byte is overwritten before it is read), with room for `more`
/// bytes after it. The escapes are serde_json's. Both passes go eight bytes at a time and
/// look at single bytes only in words that hold one to escape.
fn json_in_place(text: String, head: &str, more: usize) -> String {
    let n = text.len();
    let extra = escape_extra(text.as_bytes());
    let start = head.len() + 1;
    let total = start + n + extra + 1;
    let mut bytes = text.into_bytes();
    bytes.reserve_exact(total + more - n);
    bytes.resize(total, 0);
    // Each byte `i` goes to `start + i + (the extra bytes of the escapes before it)`: after
    // where it is, so copying from the end backwards reads every byte before it is written.
    let (mut end, mut to) = (n, total - 1);
    loop {
        let special = last_to_escape(&bytes[..end]);
        let run = special.map_or(0, |at| at + 1);
        to -= end - run;
        bytes.copy_within(run..end, to);
        let Some(at) = special else { break };
        let (sequence, len) = escape(bytes[at]).expect("a byte to escape");
        to -= len;
        bytes[to..to + len].copy_from_slice(&sequence[..len]);
        end = at;
    }
    debug_assert_eq!(to, start);
    bytes[..head.len()].copy_from_slice(head.as_bytes());
    bytes[head.len()] = b'"';
    bytes[total - 1] = b'"';
    String::from_utf8(bytes).expect("escaping ASCII bytes keeps UTF-8 valid")
}

/// How many bytes escaping `text` adds.
fn escape_extra(text: &[u8]) -> usize {
    let mut words = text.chunks_exact(8);
    let mut extra = 0;
    for word in &mut words {
        if holds_one_to_escape(word) {
            extra += word.iter().map(|&b| escape_len(b)).sum::<usize>();
        }
    }
    extra
        + words
            .remainder()
            .iter()
            .map(|&b| escape_len(b))
            .sum::<usize>()
}

/// The last byte of `text` that must be escaped.
fn last_to_escape(text: &[u8]) -> Option<usize> {
    let mut end = text.len();
    while end >= 8 && !holds_one_to_escape(&text[end - 8..end]) {
        end -= 8;
    }
    text[..end].iter().rposition(|&b| escape_len(b) > 0)
}

/// Whether one of these eight bytes must be escaped (a control byte, `"` or `\`).
#[inline]
fn holds_one_to_escape(word: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
    // A byte below n sets its high bit here (exact as a whole, for n <= 0x80).
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    (below(w, 0x20) | below(quote, 1) | below(backslash, 1)) != 0
}

/// The bytes escaping `b` adds (0: written as it is).
#[inline]
fn escape_len(b: u8) -> usize {
    match b {
        b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
        0..=0x1f => 5,
        _ => 0,
    }
}

/// How a JSON string writes byte `b` when it must be escaped (serde_json's choices): the
/// sequence and its length.
fn escape(b: u8) -> Option<([u8; 6], usize)> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = |c: u8| Some(([b'\\', c, 0, 0, 0, 0], 2));
    match b {
        b'"' => short(b'"'),
        b'\\' => short(b'\\'),
        b'\n' => short(b'n'),
        b'\r' => short(b'r'),
        b'\t' => short(b't'),
        0x08 => short(b'b'),
        0x0c => short(b'f'),
        0..=0x1f => Some((
            [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ],
            6,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    impl MessageBuilder {
        pub(crate) fn new() -> Self {
            Self::with_cap(usize::MAX)
        }

        pub(crate) fn content(&self) -> &str {
            &self.content
        }

        pub(crate) fn reasoning(&self) -> &str {
            &self.reasoning
        }

        /// Forgets the text (e.g. before a retry), keeping the buffers' capacity.
        pub(crate) fn clear(&mut self) {
            self.content.clear();
            self.reasoning.clear();
        }

        /// [`into_json`](Self::into_json) of a copy.
        pub(crate) fn to_json(&self, calls: Option<&[ToolCall]>) -> String {
            self.clone().into_json(calls)
        }
    }

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

    #[test]
    fn the_cap_keeps_whole_characters_up_to_it_and_marks_the_message_as_cut() {
        let mut m = MessageBuilder::with_cap(10);
        m.push_reasoning("think"); // 5
        m.push_content("ab"); // 7
        m.push_content("cé😀d"); // c (8), é (10); 😀 would pass the cap
        m.push_content("more");
        assert_eq!((m.content(), m.reasoning()), ("abcé", "think"));
        assert_eq!(
            m.to_json(None),
            r#"{"role":"assistant","content":"abcé","reasoning_content":"think","truncated":true}"#
        );
        let mut exact = MessageBuilder::with_cap(4);
        exact.push_content("four");
        assert!(!exact.to_json(None).contains("truncated"));
        let mut none = MessageBuilder::with_cap(0);
        none.push_content("x");
        none.push_reasoning("y");
        assert_eq!(
            none.to_json(None),
            r#"{"role":"assistant","content":null,"truncated":true}"#
        );
    }

    #[test]
    fn the_word_test_finds_every_byte_to_escape_wherever_it_lies() {
        for b in 0..=255u8 {
            assert_eq!(
                escape_len(b),
                escape(b).map_or(0, |(_, len)| len - 1),
                "byte {b:#x}"
            );
            for background in [b'a', 0x7f, 0x80, 0xff, 0x21, 0x5d, 0x1f] {
                for at in 0..8 {
                    let mut word = [background; 8];
                    word[at] = b;
                    let expected = word.iter().any(|&b| escape_len(b) > 0);
                    assert_eq!(holds_one_to_escape(&word), expected, "{word:?}");
                    let mut text = vec![b'x'; 19];
                    text[3 + at] = b;
                    assert_eq!(
                        last_to_escape(&text),
                        (escape_len(b) > 0).then_some(3 + at),
                        "{text:?}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn escaping_in_place_writes_what_serde_json_writes(text in ".*", controls in proptest::collection::vec(0u8..0x20, 0..4)) {
            let mut text = text;
            for c in controls {
                text.push(char::from(c));
                text.push('"');
            }
            let mut m = MessageBuilder::new();
            m.push_content(&text);
            let json = m.into_json(None);
            let expected = format!(
                "{{\"role\":\"assistant\",\"content\":{}}}",
                serde_json::to_string(&text).unwrap()
            );
            let expected = if text.is_empty() { r#"{"role":"assistant","content":null}"#.to_owned() } else { expected };
            proptest::prop_assert_eq!(json, expected);
        }
    }
}

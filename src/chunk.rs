//! What one JSON document from the server means to us: a streamed chunk
//! (`chat.completion.chunk`), a whole completion (`chat.completion`), or an error body.
//!
//! Only the fields we use are read; everything else is skipped by the parser without being
//! built. Strings are borrowed from the input unless they contain escapes, and `choices` keeps
//! only its first element, so a chunk with plain text allocates nothing.

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Token counts; -1 where the server did not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            prompt_tokens: -1,
            completion_tokens: -1,
            total_tokens: -1,
        }
    }
}

/// The parts of one chunk or completion that the library acts on.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed<'a> {
    /// `choices[0].delta.content` (or `message.content`); `None` for null or absent.
    pub content: Option<Cow<'a, str>>,
    /// `reasoning_content`, or else `reasoning`.
    pub reasoning: Option<Cow<'a, str>>,
    pub finish_reason: Option<Cow<'a, str>>,
    pub usage: Option<Usage>,
    /// The server's message when the document is `{"error": …}`.
    pub error: Option<String>,
    /// Whether `choices` held at least one element.
    pub has_choice: bool,
}

/// Parses one streamed chunk (`choices[0].delta`) or one whole completion (`choices[0].message`).
///
/// The hand-written scanner (`chunk_scan`) reads the usual chunk; anything else goes to
/// serde, which also words every error. Escaped text found by the scanner is decoded into
/// `scratch`, which the caller keeps from chunk to chunk.
pub fn parse<'a>(json: &'a [u8], scratch: &'a mut String) -> Result<Parsed<'a>, serde_json::Error> {
    match crate::chunk_scan::parse(json, scratch) {
        Some(parsed) => Ok(parsed),
        None => parse_with_serde(json),
    }
}

/// The reference parser: serde, for every document.
pub fn parse_with_serde(json: &[u8]) -> Result<Parsed<'_>, serde_json::Error> {
    let doc: Doc<'_> = serde_json::from_slice(json)?;
    let mut parsed = Parsed {
        usage: doc.usage.map(UsageDe::into_usage),
        error: doc.error.map(error_text),
        ..Parsed::default()
    };
    if let Some(choice) = doc.choices.and_then(|c| c.0) {
        parsed.has_choice = true;
        parsed.finish_reason = choice.finish_reason.map(|s| s.0);
        if let Some(delta) = choice.delta.or(choice.message) {
            parsed.content = delta.content.map(|s| s.0);
            parsed.reasoning = delta.reasoning_content.or(delta.reasoning).map(|s| s.0);
        }
    }
    Ok(parsed)
}

/// Panics if the fast path's answer for `json` differs from serde's (fuzzing and tests).
#[doc(hidden)]
pub fn check_fast_path(json: &[u8]) {
    let mut scratch = String::new();
    if let Some(fast) = crate::chunk_scan::parse(json, &mut scratch) {
        match parse_with_serde(json) {
            Ok(slow) => assert_eq!(fast, slow, "fast path and serde differ on {json:?}"),
            Err(e) => panic!("fast path accepted what serde rejects ({e}): {json:?}"),
        }
    }
}

/// Whether the hand-written scanner reads `json` by itself (tests of the fast path).
#[doc(hidden)]
pub fn takes_fast_path(json: &[u8]) -> bool {
    crate::chunk_scan::parse(json, &mut String::new()).is_some()
}

/// The server's own words from an error response body: `error.message` (llama.cpp, OpenAI,
/// vLLM), `error` as a string, `message` or `detail` at the top; else the body's first 512
/// bytes as text.
pub fn error_body_text(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorDoc<'a> {
        #[serde(borrow, default)]
        error: Option<&'a RawValue>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        detail: Option<serde_json::Value>,
    }
    if let Ok(doc) = serde_json::from_slice::<ErrorDoc<'_>>(body) {
        if let Some(error) = doc.error {
            return error_text(error);
        }
        if let Some(message) = doc.message {
            return message;
        }
        if let Some(detail) = doc.detail {
            return match detail {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
        }
    }
    crate::error::snippet(body, 512)
}

/// Text of an `"error"` value: its `message` when it is an object that has one, the string
/// when it is a string, else the JSON itself.
fn error_text(raw: &RawValue) -> String {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorValue {
        Text(String),
        Object { message: String },
    }
    match serde_json::from_str::<ErrorValue>(raw.get()) {
        Ok(ErrorValue::Text(text)) | Ok(ErrorValue::Object { message: text }) => text,
        Err(_) => crate::error::snippet(raw.get().as_bytes(), 512),
    }
}

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(borrow, default)]
    choices: Option<FirstChoice<'a>>,
    #[serde(default)]
    usage: Option<UsageDe>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    message: Option<Delta<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Text<'a>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Text<'a>>,
    #[serde(borrow, default)]
    reasoning: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct UsageDe {
    #[serde(default)]
    prompt_tokens: Option<i64>,
    #[serde(default)]
    completion_tokens: Option<i64>,
    #[serde(default)]
    total_tokens: Option<i64>,
}

impl UsageDe {
    fn into_usage(self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens.unwrap_or(-1),
            completion_tokens: self.completion_tokens.unwrap_or(-1),
            total_tokens: self.total_tokens.unwrap_or(-1),
        }
    }
}

/// A JSON string, borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// `choices`, keeping only the first element and skipping the rest unbuilt.
struct FirstChoice<'a>(Option<Choice<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstChoice<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FirstChoice<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of choices")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<Choice<'a>>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstChoice(first))
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde's answer, after checking that the fast path agrees whenever it answers.
    fn checked(json: &[u8]) -> Result<Parsed<'_>, serde_json::Error> {
        check_fast_path(json);
        parse_with_serde(json)
    }

    use takes_fast_path as fast;

    #[test]
    fn usual_chunks_take_the_fast_path_and_escapes_do_not_allocate_each_time() {
        for json in [
            &br#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":" the"},"logprobs":null,"finish_reason":null}]}"#[..],
            br#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}],"usage":null}"#,
            br#"{"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"created":1,"id":"x","model":"g","timings":{"prompt_n":5,"predicted_ms":1.5e2}}"#,
            br#" {"choices":[{"delta":{"content":"a\n\"b\"\u00e9\ud83d\ude00"},"logprobs":{"content":[{"token":"a","logprob":-0.25,"bytes":[97]}]}}]} "#,
            br#"{"choices":[{"message":{"content":"whole"},"finish_reason":"length"}]}"#,
            br#"{"choices":[]}"#,
        ] {
            assert!(fast(json), "{}", String::from_utf8_lossy(json));
            check_fast_path(json);
        }
        let mut scratch = String::new();
        let json = br#"{"choices":[{"delta":{"content":"line\n"}}]}"#;
        assert_eq!(
            parse(json, &mut scratch).unwrap().content.as_deref(),
            Some("line\n")
        );
        let capacity = scratch.capacity();
        for _ in 0..100 {
            assert_eq!(
                parse(json, &mut scratch).unwrap().content.as_deref(),
                Some("line\n")
            );
        }
        assert_eq!(scratch.capacity(), capacity, "the scratch buffer is reused");
    }

    #[test]
    fn unusual_documents_go_to_serde() {
        for json in [
            &br#"{"choices":[{"delta":{"content":"a"},"delta":{}}]}"#[..], // duplicate field
            br#"{"choices":[{"delta":{"cont\u0065nt":"a"}}]}"#,            // escaped key
            br#"{"error":{"message":"x"}}"#,
            br#"{"choices":[],"usage":{"total_tokens":1}}"#,
            br#"{"choices":[{"delta":{"content":5}}]}"#,
            br#"{"choices":[null]}"#,
            br#"{"choices":[{"delta":{"content":"\ud800"}}]}"#, // lone surrogate
            br#"{"choices":[]} x"#,
            br#"{"a":01}"#,
            br#"[1]"#,
        ] {
            assert!(!fast(json), "{}", String::from_utf8_lossy(json));
            check_fast_path(json);
        }
    }

    #[test]
    fn delta_content_finish_reason_and_borrowing() {
        let json = br#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null},{"delta":{"content":"ignored"}}]}"#;
        let p = checked(json).unwrap();
        assert!(matches!(p.content, Some(Cow::Borrowed("Hi"))));
        assert!(p.finish_reason.is_none() && p.usage.is_none() && p.error.is_none());
        let p = checked(br#"{"choices":[{"delta":{"content":"a\nb\u00e9"}}]}"#).unwrap();
        assert_eq!(p.content.as_deref(), Some("a\nbé"));
    }

    #[test]
    fn null_content_and_empty_choices_are_not_errors() {
        let p = checked(br#"{"choices":[{"delta":{"role":"assistant","content":null}}]}"#).unwrap();
        assert!(p.content.is_none() && p.has_choice);
        let p = checked(
            br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
        )
        .unwrap();
        assert!(!p.has_choice);
        assert_eq!(
            p.usage,
            Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 4,
                total_tokens: 7
            })
        );
        assert!(checked(br#"{"choices":null,"usage":null}"#)
            .unwrap()
            .usage
            .is_none());
    }

    #[test]
    fn reasoning_content_or_reasoning() {
        let p = checked(br#"{"choices":[{"delta":{"reasoning_content":"think"}}]}"#).unwrap();
        assert_eq!(p.reasoning.as_deref(), Some("think"));
        let p = checked(br#"{"choices":[{"delta":{"reasoning":"hmm"}}]}"#).unwrap();
        assert_eq!(p.reasoning.as_deref(), Some("hmm"));
    }

    #[test]
    fn whole_completion_uses_message() {
        let body = include_bytes!("../tests/fixtures/llama-nonstream.json");
        let p = checked(body).unwrap();
        assert!(p
            .content
            .unwrap()
            .starts_with("Say hello in three languages."));
        assert_eq!(p.finish_reason.as_deref(), Some("length"));
        assert_eq!(
            p.usage,
            Some(Usage {
                prompt_tokens: 29,
                completion_tokens: 48,
                total_tokens: 77
            })
        );
    }

    #[test]
    fn error_objects_in_a_document() {
        assert_eq!(
            checked(br#"{"error":{"message":"boom","code":500}}"#)
                .unwrap()
                .error
                .as_deref(),
            Some("boom")
        );
        assert_eq!(
            checked(br#"{"error":"plain"}"#).unwrap().error.as_deref(),
            Some("plain")
        );
        assert_eq!(
            checked(br#"{"error":{"code":1}}"#)
                .unwrap()
                .error
                .as_deref(),
            Some(r#"{"code":1}"#)
        );
        assert!(checked(br#"{"error":null,"choices":[]}"#)
            .unwrap()
            .error
            .is_none());
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(checked(b"{not json").is_err());
        assert!(checked(br#"{"choices":[{"delta":{"content":5}}]}"#).is_err());
    }

    #[test]
    fn error_bodies_give_the_servers_words() {
        let badjson = include_bytes!("../tests/fixtures/llama-badjson.json");
        assert!(
            error_body_text(badjson).starts_with("[json.exception.parse_error.101] parse error")
        );
        let nomessages = include_bytes!("../tests/fixtures/llama-nomessages.json");
        assert_eq!(error_body_text(nomessages), "'messages' is required");
        assert_eq!(error_body_text(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(
            error_body_text(b"<html>\n<h1>502 Bad Gateway</h1></html>"),
            "<html> <h1>502 Bad Gateway</h1></html>"
        );
        assert_eq!(error_body_text(&[b'x'; 600]).len(), 512 + '…'.len_utf8());
    }
}

//! The reference parser (serde) for every document, and the text of error bodies.

use super::count::usage_of;
use super::parsed::Parsed;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The reference parser: serde, for every document.
pub fn parse_with_serde(json: &[u8]) -> Result<Parsed<'_>, serde_json::Error> {
    let doc: Doc<'_> = serde_json::from_slice(json)?;
    let mut parsed = Parsed {
        usage: doc.usage.as_ref().and_then(usage_of),
        error: doc.error.map(error_text),
        timings: doc.timings.map(RawValue::get),
        ..Parsed::default()
    };
    if let Some(choice) = doc.choices.and_then(|c| c.0) {
        parsed.has_choice = true;
        parsed.finish_reason = choice.finish_reason.map(|s| s.0);
        if let Some(delta) = choice.delta.or(choice.message) {
            parsed.content = delta.content.map(|s| s.0);
            parsed.reasoning = delta.reasoning_content.or(delta.reasoning).map(|s| s.0);
            parsed.tool_calls = delta.tool_calls.map(RawValue::get);
            parsed.function_call = delta.function_call.map(RawValue::get);
            parsed.reasoning_details = delta
                .reasoning_details
                .map(RawValue::get)
                .filter(|raw| !is_empty_array(raw));
        }
    }
    Ok(parsed)
}

/// Whether raw JSON is `[]` (an empty `reasoning_details` says nothing).
fn is_empty_array(raw: &str) -> bool {
    raw.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .is_some_and(|inside| inside.trim_matches([' ', '\t', '\n', '\r']).is_empty())
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
    /// Read leniently (`count.rs`): odd usage never fails the document.
    #[serde(default)]
    usage: Option<serde_json::Value>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timings: Option<&'a RawValue>,
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
    #[serde(borrow, default)]
    tool_calls: Option<&'a RawValue>,
    #[serde(borrow, default)]
    function_call: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_details: Option<&'a RawValue>,
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

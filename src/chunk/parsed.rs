//! What a chunk or completion says, once parsed (by either parser).

use std::borrow::Cow;

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
    /// The raw JSON of `delta.tool_calls` (or `message.tool_calls`), when not null.
    pub tool_calls: Option<&'a str>,
    /// The raw JSON of the legacy `delta.function_call` (or `message.function_call`).
    pub function_call: Option<&'a str>,
    /// The raw JSON of `delta.reasoning_details` (or `message.reasoning_details`), when not
    /// null.
    pub reasoning_details: Option<&'a str>,
    /// The raw JSON of a top-level `timings` object (llama.cpp's last chunk), when not null.
    pub timings: Option<&'a str>,
}

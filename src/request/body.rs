//! The request body: what the caller asks (the chat format), as the wire dialect wants it.

use crate::dialect::{Api, BodyInput};
use crate::options::Options;
use serde_json::{Map, Value};

/// What a caller asks for, in the chat format, before it becomes a body.
#[derive(Debug, Default)]
pub struct ChatInput {
    /// `None`: the client's default model (and none: no `"model"` key).
    pub model: Option<String>,
    /// Chat-format message objects.
    pub messages: Vec<Value>,
    /// A JSON array of tool definitions (chat format), sent as `"tools"`.
    pub tools: Option<Value>,
    /// Merged last: its keys win.
    pub params: Option<Map<String, Value>>,
    pub stream: bool,
}

/// A `{"role","content"}` message.
pub fn text_message(role: &str, content: &str) -> Value {
    let mut m = Map::with_capacity(2);
    m.insert("role".into(), Value::from(role));
    m.insert("content".into(), Value::from(content));
    Value::Object(m)
}

/// The JSON body: the client's default params, then `messages`, `model`, `stream`, `tools`, then
/// every key of `params` (later wins, as extra body parameters do). Returns the body and whether
/// the answer will be a stream (the body's final `stream` value).
pub fn build_body(options: &Options, input: &ChatInput) -> (Vec<u8>, bool) {
    // A resumable Responses stream runs in OpenAI's background mode (`params_json` may still
    // say otherwise).
    let background;
    let defaults = if options.resume && input.stream && options.api == Api::Responses {
        let mut defaults = options.default_params.clone();
        defaults.insert("background".into(), Value::Bool(true));
        background = defaults;
        &background
    } else {
        &options.default_params
    };
    options.api.body_bytes(&BodyInput {
        defaults,
        messages: &input.messages,
        model: input.model.as_deref().or(options.default_model.as_deref()),
        stream: input.stream,
        tools: input.tools.as_ref(),
        params: input.params.as_ref(),
        stream_usage: options.stream_usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_merges_defaults_then_the_request_then_params() {
        let options = Options::ylokh();
        let params =
            crate::options::parse_object(r#"{"temperature":0,"stream":false,"max_tokens":5}"#, "p")
                .unwrap();
        let input = ChatInput {
            messages: vec![text_message("user", "hi")],
            params: Some(params),
            stream: true,
            ..ChatInput::default()
        };
        let (body, stream) = build_body(&options, &input);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["model"], "gpt-3.5-turbo");
        assert_eq!(body["temperature"], 0);
        assert_eq!(body["top_p"], 1);
        assert_eq!(body["max_tokens"], 5);
        assert_eq!(body["messages"][0]["content"], "hi");
        assert!(
            !stream,
            "params_json's stream wins, and decides how the answer is read"
        );
        let compatible = Options::compatible("http://h/v1").unwrap();
        let (body, stream) = build_body(
            &compatible,
            &ChatInput {
                stream: true,
                ..ChatInput::default()
            },
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"messages":[],"stream":true,"stream_options":{"include_usage":true}}"#,
            "the compatible preset asks for usage in streams"
        );
        assert!(stream);
        let (ylokh, _) = build_body(
            &options,
            &ChatInput {
                stream: true,
                ..ChatInput::default()
            },
        );
        let ylokh: Value = serde_json::from_slice(&ylokh).unwrap();
        assert!(
            ylokh.get("stream_options").is_none(),
            "the Ylokh preset's body is unchanged"
        );
    }

    #[test]
    fn tools_go_in_before_params_which_win() {
        let options = Options::compatible("http://h/v1").unwrap();
        let input = ChatInput {
            messages: vec![text_message("user", "hi")],
            tools: Some(serde_json::json!([{"type":"function","function":{"name":"f"}}])),
            params: Some(
                crate::options::parse_object(r#"{"tool_choice":"required"}"#, "p").unwrap(),
            ),
            stream: true,
            ..ChatInput::default()
        };
        let (body, _) = build_body(&options, &input);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["tools"][0]["function"]["name"], "f");
        assert_eq!(body["tool_choice"], "required");
        let params = crate::options::parse_object(r#"{"tools":[]}"#, "p").unwrap();
        let (body, _) = build_body(
            &options,
            &ChatInput {
                params: Some(params),
                ..input
            },
        );
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["tools"], serde_json::json!([]), "params_json wins");
    }
}

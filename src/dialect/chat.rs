//! Chat Completions: the body is the caller's format already. Only the order of the merge and
//! `stream_options` are decided here; the stream itself is read by the existing engine.

use super::{common_keys, BodyInput};
use serde_json::{json, Map, Value};

/// Defaults, `messages`, `model`, `stream`, `tools`, then `params_json`; then, for a streaming
/// request with `stream_usage`, `"stream_options":{"include_usage":true}` unless the defaults
/// or `params_json` set `stream_options`.
pub(super) fn build_body(input: &BodyInput<'_>) -> Map<String, Value> {
    let mut body = input.defaults.clone();
    body.insert("messages".into(), Value::Array(input.messages.to_vec()));
    common_keys(&mut body, input, input.tools.cloned());
    let streaming = body.get("stream") == Some(&Value::Bool(true));
    if input.stream_usage && streaming && !body.contains_key("stream_options") {
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    body
}

//! Which events of a dialect's stream show the answer moving without handing out text: what
//! resets the read timeout besides text, reasoning and tool-call pieces (issue 19). Pings,
//! keep-alives, lifecycle events of the whole response and empty deltas do not.
//!
//! - Responses: an event about one output item (it carries `output_index`): an item added or
//!   done, a content part added or done, a hosted tool's status (`response.web_search_call.
//!   searching`, `response.file_search_call.in_progress`, `response.code_interpreter_call.
//!   interpreting`, `response.image_generation_call.partial_image`, …), a `.done` text; a
//!   `….delta` event only when its `delta` is not empty.
//! - Messages: `content_block_start`, `content_block_stop`, and a `content_block_delta` whose
//!   `delta` carries something besides its `type` (text, thinking, a signature, JSON input,
//!   a citation); `ping` never.

use serde_json::Value;

/// Whether the Responses event `kind` (its data `event`) shows the answer moving.
pub(crate) fn responses_moves(kind: &str, event: &Value) -> bool {
    if event.get("output_index").is_none() {
        return false;
    }
    !kind.ends_with(".delta") || !is_empty(event.get("delta"))
}

/// Whether the Messages event `kind` (its data `event`) shows the answer moving.
pub(crate) fn messages_moves(kind: &str, event: &Value) -> bool {
    match kind {
        "content_block_start" | "content_block_stop" => true,
        "content_block_delta" => match event.get("delta") {
            Some(Value::Object(delta)) => delta
                .iter()
                .any(|(name, value)| name != "type" && !is_empty(Some(value))),
            _ => false,
        },
        _ => false,
    }
}

/// Absent, null, `""`, `{}` or `[]`.
fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn responses_item_events_move_and_lifecycle_pings_and_empty_deltas_do_not() {
        let moves = |kind: &str, event: Value| responses_moves(kind, &event);
        assert!(moves(
            "response.web_search_call.searching",
            json!({"output_index": 1, "item_id": "ws_1"})
        ));
        assert!(moves(
            "response.output_item.added",
            json!({"output_index": 0, "item": {}})
        ));
        assert!(moves(
            "response.code_interpreter_call_code.delta",
            json!({"output_index": 0, "delta": "print(1)"})
        ));
        assert!(!moves(
            "response.output_text.delta",
            json!({"output_index": 0, "delta": ""})
        ));
        assert!(!moves(
            "response.in_progress",
            json!({"response": {"id": "r"}})
        ));
        assert!(!moves("keepalive", json!({"type": "keepalive"})));
    }

    #[test]
    fn messages_blocks_and_non_empty_deltas_move_and_pings_do_not() {
        let moves = |kind: &str, event: Value| messages_moves(kind, &event);
        assert!(moves(
            "content_block_start",
            json!({"index": 0, "content_block": {"type": "server_tool_use"}})
        ));
        assert!(moves("content_block_stop", json!({"index": 0})));
        assert!(moves(
            "content_block_delta",
            json!({"delta": {"type": "signature_delta", "signature": "EqQ"}})
        ));
        assert!(!moves(
            "content_block_delta",
            json!({"delta": {"type": "text_delta", "text": ""}})
        ));
        assert!(!moves(
            "content_block_delta",
            json!({"delta": {"type": "input_json_delta", "partial_json": ""}})
        ));
        assert!(!moves("ping", json!({"type": "ping"})));
        assert!(!moves("message_delta", json!({"delta": {}})));
    }
}

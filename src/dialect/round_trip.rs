//! An assistant message's `reasoning_details` written back in a dialect's own form (README.md, "Reasoning
//! models: the same loop"): the Messages API's `thinking` / `redacted_thinking` blocks
//! from `anthropic-claude-v1` entries, the Responses API's `reasoning` input items from
//! `openai-responses-v1` entries. Entries of any other format are left out, so a conversation
//! can move between servers; the strings go back exactly as they came.

use super::{messages, responses};
use serde_json::{json, Map, Value};

/// The message's `reasoning_details` entries of `format`, in array order.
fn entries<'m>(
    message: &'m Value,
    format: &'m str,
) -> impl Iterator<Item = &'m Map<String, Value>> {
    let details = message.get("reasoning_details").and_then(Value::as_array);
    details
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(move |entry| entry.get("format").and_then(Value::as_str) == Some(format))
}

/// A string member, as given (null or absent: `""`).
fn member(entry: &Map<String, Value>, key: &str) -> Value {
    match entry.get(key) {
        Some(text @ Value::String(_)) => text.clone(),
        _ => Value::from(""),
    }
}

/// Messages: `reasoning.text` → `{"type":"thinking","thinking","signature"}`,
/// `reasoning.encrypted` → `{"type":"redacted_thinking","data"}`; other types are left out.
pub(super) fn thinking_blocks(message: &Value) -> Vec<Value> {
    entries(message, messages::FORMAT)
        .filter_map(|entry| match entry.get("type").and_then(Value::as_str)? {
            "reasoning.text" => Some(json!({
                "type": "thinking",
                "thinking": member(entry, "text"),
                "signature": member(entry, "signature"),
            })),
            "reasoning.encrypted" => Some(json!({
                "type": "redacted_thinking",
                "data": member(entry, "data"),
            })),
            _ => None,
        })
        .collect()
}

/// Responses: consecutive entries with the same `id` make one
/// `{"type":"reasoning","id","summary":[{"type":"summary_text","text"}...],
/// "encrypted_content"?}` item (`encrypted_content` from a `reasoning.encrypted` entry's
/// `data`). Entries without an `id` are left out: the API takes no reasoning item without one.
pub(super) fn reasoning_items(message: &Value) -> Vec<Value> {
    let mut items: Vec<Value> = Vec::new();
    for entry in entries(message, responses::FORMAT) {
        let Some(id) = entry.get("id").and_then(Value::as_str) else {
            continue;
        };
        let same = items.last().is_some_and(|item| item["id"] == id);
        if !same {
            items.push(json!({"type": "reasoning", "id": id, "summary": []}));
        }
        let item = items.last_mut().expect("pushed above");
        match entry.get("type").and_then(Value::as_str) {
            Some("reasoning.summary") => {
                let part = json!({"type": "summary_text", "text": member(entry, "summary")});
                if let Some(summary) = item["summary"].as_array_mut() {
                    summary.push(part);
                }
            }
            Some("reasoning.encrypted") => item["encrypted_content"] = member(entry, "data"),
            _ => {}
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Value {
        json!({"role": "assistant", "content": null, "reasoning_details": [
            {"type": "reasoning.text", "text": "Let me think \u{1F914}\n\"quoted\"", "signature": "Eq+/=",
             "format": "anthropic-claude-v1", "index": 0},
            {"type": "reasoning.encrypted", "data": "RED==", "format": "anthropic-claude-v1", "index": 1},
            {"type": "reasoning.summary", "summary": "**Plan**", "id": "rs_1",
             "format": "openai-responses-v1", "index": 2},
            {"type": "reasoning.summary", "summary": "step 2", "id": "rs_1",
             "format": "openai-responses-v1", "index": 3},
            {"type": "reasoning.encrypted", "data": "gAAA", "id": "rs_1",
             "format": "openai-responses-v1", "index": 4},
            {"type": "reasoning.encrypted", "data": "x", "format": "openai-responses-v1", "index": 5},
            {"type": "reasoning.encrypted", "data": "ENC", "id": "rs_2",
             "format": "openai-responses-v1", "index": 6},
            {"type": "reasoning.text", "text": "other", "format": "google-gemini-v1", "index": 7},
            "junk",
        ]})
    }

    #[test]
    fn anthropic_entries_become_blocks_exactly() {
        assert_eq!(
            thinking_blocks(&message()),
            [
                json!({"type": "thinking", "thinking": "Let me think \u{1F914}\n\"quoted\"",
                       "signature": "Eq+/="}),
                json!({"type": "redacted_thinking", "data": "RED=="}),
            ]
        );
    }

    #[test]
    fn responses_entries_become_items_grouped_by_id() {
        assert_eq!(
            reasoning_items(&message()),
            [
                json!({"type": "reasoning", "id": "rs_1", "summary": [
                    {"type": "summary_text", "text": "**Plan**"},
                    {"type": "summary_text", "text": "step 2"}],
                    "encrypted_content": "gAAA"}),
                json!({"type": "reasoning", "id": "rs_2", "summary": [],
                       "encrypted_content": "ENC"}),
            ]
        );
    }

    #[test]
    fn no_details_give_nothing() {
        let plain = json!({"role": "assistant", "content": "hi"});
        assert!(thinking_blocks(&plain).is_empty() && reasoning_items(&plain).is_empty());
    }
}

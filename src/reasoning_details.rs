//! The round-trip reasoning of one answer, in the chat-format extension that gateways use
//! (OpenRouter's `reasoning_details`): entries of type `reasoning.text` (`text`, `signature`),
//! `reasoning.encrypted` (`data`) and `reasoning.summary` (`summary`), each with `format` and
//! `index`, and `id` where the server gave one (README.md, "Reasoning models: the same loop").
//!
//! Every source is fed the same way, as fragments in that shape: a chat stream's
//! `delta.reasoning_details` as it came, and what the dialect mappers make of Messages thinking
//! blocks and Responses reasoning items. Fragments are folded per `index`: the `text`,
//! `summary` and `data` strings are concatenated, every other member is set by the first
//! fragment that carries it (null and `""` count as not carried). Entries keep the order in
//! which their first fragment came.
//!
//! Rare by nature (only reasoning models with round-trip data send any), so a plain `Vec` of
//! JSON objects; nothing here runs for a plain text stream.

use serde_json::{Map, Value};

/// The members that arrive in pieces and are concatenated.
const CONCATENATED: [&str; 3] = ["text", "summary", "data"];

/// The entries so far.
#[derive(Debug, Default, Clone)]
pub(crate) struct ReasoningDetails {
    entries: Vec<Map<String, Value>>,
}

impl ReasoningDetails {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Folds `reasoning_details` as a chat server sends it: an array of fragments (a single
    /// fragment object is taken too; anything else, and fragments that are not objects, are
    /// skipped).
    pub(crate) fn fold(&mut self, fragments: &Value) {
        match fragments {
            Value::Array(items) => items.iter().for_each(|item| self.fold_one(item)),
            Value::Object(_) => self.fold_one(fragments),
            _ => {}
        }
    }

    /// Folds one fragment object (see the module notes). A fragment without an `index` is
    /// an entry of its own.
    pub(crate) fn fold_one(&mut self, fragment: &Value) {
        let Value::Object(fragment) = fragment else {
            return;
        };
        let index = fragment.get("index").filter(|i| !i.is_null());
        let entry = index.and_then(|index| {
            self.entries
                .iter()
                .position(|e| e.get("index") == Some(index))
        });
        let Some(position) = entry else {
            self.entries.push(fragment.clone());
            return;
        };
        let entry = &mut self.entries[position];
        for (key, value) in fragment {
            match (entry.get_mut(key.as_str()), value) {
                (Some(Value::String(have)), Value::String(more))
                    if CONCATENATED.contains(&key.as_str()) =>
                {
                    have.push_str(more)
                }
                // Absent, null or an empty placeholder (`"signature":""` before the real one).
                (None, _) | (Some(Value::Null), _) => {
                    entry.insert(key.clone(), value.clone());
                }
                (Some(have @ Value::String(_)), Value::String(_)) if have == "" => {
                    *have = value.clone();
                }
                _ => {}
            }
        }
    }

    /// The bytes the entries take (for caps and capacity estimates).
    pub(crate) fn approximate_len(&self) -> usize {
        self.entries
            .iter()
            .flat_map(|e| e.values())
            .map(|v| v.as_str().map_or(16, str::len) + 16)
            .sum()
    }

    /// Appends the array `[{...},...]` to `out`.
    pub(crate) fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(entry).expect("a JSON map always serializes"));
        }
        out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn written(d: &ReasoningDetails) -> Value {
        let mut out = String::new();
        d.write_json(&mut out);
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn fragments_fold_per_index_in_first_seen_order() {
        let mut d = ReasoningDetails::default();
        d.fold(&json!([{"type":"reasoning.text","text":"Let me ","format":"anthropic-claude-v1","index":0}]));
        d.fold(&json!([{"type":"reasoning.text","text":"think.","index":0}]));
        d.fold(&json!([{"type":"reasoning.encrypted","data":"AAA","format":"anthropic-claude-v1","index":1}]));
        d.fold(&json!([{"type":"reasoning.text","signature":"sig==","index":0}]));
        d.fold(&json!([{"type":"reasoning.encrypted","data":"BBB","index":1}]));
        assert_eq!(
            written(&d),
            json!([
                {"type":"reasoning.text","text":"Let me think.","format":"anthropic-claude-v1","index":0,"signature":"sig=="},
                {"type":"reasoning.encrypted","data":"AAABBB","format":"anthropic-claude-v1","index":1},
            ])
        );
        // Key order as it came (the first fragment's, then new members).
        let mut out = String::new();
        d.write_json(&mut out);
        assert!(out.starts_with(r#"[{"type":"reasoning.text","text":"Let me think.","format""#));
    }

    #[test]
    fn other_members_are_set_once_and_junk_is_skipped() {
        let mut d = ReasoningDetails::default();
        d.fold(&json!({"type":"reasoning.summary","summary":"a","id":null,"index":2}));
        d.fold(&json!([{"summary":"b","id":"rs_1","index":2}, 5, "x", null]));
        d.fold(&json!([{"summary":"c","id":"rs_2","format":"openai-responses-v1","index":2}]));
        d.fold(&json!("not fragments"));
        d.fold(&json!([{"type":"reasoning.text","text":"no index"}]));
        d.fold(&json!([{"type":"reasoning.text","text":"no index either"}]));
        assert_eq!(
            written(&d),
            json!([
                {"type":"reasoning.summary","summary":"abc","id":"rs_1","index":2,"format":"openai-responses-v1"},
                {"type":"reasoning.text","text":"no index"},
                {"type":"reasoning.text","text":"no index either"},
            ])
        );
        assert!(!d.is_empty() && d.approximate_len() > 0);
        assert!(ReasoningDetails::default().is_empty());
    }
}

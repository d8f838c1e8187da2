//! Token counts as servers send them: `12`, and also `12.0` or `"12"` (seen from gateways and
//! proxies). Odd usage must never cost the caller the answer: what reads as a whole,
//! non-negative count is kept, the rest is unknown (-1) and logged at DEBUG.

use super::parsed::Usage;
use crate::log::{log, DEBUG};
use serde_json::Value;

/// A count from a JSON value, if it reads as one.
pub fn token_count(value: &Value) -> Option<i64> {
    let count = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(whole)),
        Value::String(s) => from_text(s),
        _ => None,
    };
    if count.is_none() {
        log!(DEBUG, "a token count that is not one was left out: {value}");
    }
    count.filter(|n| *n >= 0)
}

/// A whole number that fits, from a float (`12.0`).
fn whole(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && (0.0..9.0e18).contains(&f)).then_some(f as i64)
}

fn from_text(s: &str) -> Option<i64> {
    let s = s.trim();
    s.parse::<i64>()
        .ok()
        .or_else(|| s.parse::<f64>().ok().and_then(whole))
}

/// The usage object of a chat chunk or completion; `None` (and a DEBUG record) when it is not
/// an object.
pub(crate) fn usage_of(value: &Value) -> Option<Usage> {
    let Value::Object(counts) = value else {
        log!(DEBUG, "a usage that is not an object was left out: {value}");
        return None;
    };
    let count = |name| counts.get(name).and_then(token_count).unwrap_or(-1);
    Some(Usage {
        prompt_tokens: count("prompt_tokens"),
        completion_tokens: count("completion_tokens"),
        total_tokens: count("total_tokens"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_read_from_numbers_floats_and_strings_and_junk_is_unknown() {
        for (value, count) in [
            (json!(12), Some(12)),
            (json!(12.0), Some(12)),
            (json!("12"), Some(12)),
            (json!(" 7 "), Some(7)),
            (json!("12.0"), Some(12)),
            (json!(12.5), None),
            (json!(-3), None),
            (json!("many"), None),
            (json!(null), None),
            (json!(true), None),
            (json!({"a": 1}), None),
            (json!([1]), None),
            (json!(1e300), None),
        ] {
            assert_eq!(token_count(&value), count, "{value}");
        }
    }

    #[test]
    fn usage_keeps_what_reads_and_a_usage_that_is_not_an_object_is_none() {
        let usage = usage_of(
            &json!({"prompt_tokens": 12.0, "completion_tokens": "3", "total_tokens": [15]}),
        );
        assert_eq!(
            usage,
            Some(Usage {
                prompt_tokens: 12,
                completion_tokens: 3,
                total_tokens: -1
            })
        );
        assert_eq!(usage_of(&json!("junk")), None);
    }
}

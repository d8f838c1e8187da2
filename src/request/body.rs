//! The request body: the client's default params, the messages, the model, `stream`, and the
//! caller's params.

use crate::options::Options;
use serde_json::{Map, Value};

/// The JSON body: the client's default params, then `messages`, `model`, `stream`, then every
/// key of `params` (later wins, like the seed's `**kwargs`). Returns the body and whether the
/// answer will be a stream (the body's final `stream` value).
pub fn build_body(
    options: &Options,
    model: Option<&str>,
    messages: &[(&str, &str)],
    params: Option<Map<String, Value>>,
    stream: bool,
) -> (Vec<u8>, bool) {
    let mut body = options.default_params.clone();
    let messages = messages
        .iter()
        .map(|(role, content)| {
            let mut m = Map::with_capacity(2);
            m.insert("role".into(), Value::from(*role));
            m.insert("content".into(), Value::from(*content));
            Value::Object(m)
        })
        .collect();
    body.insert("messages".into(), Value::Array(messages));
    if let Some(model) = model.or(options.default_model.as_deref()) {
        body.insert("model".into(), Value::from(model));
    }
    body.insert("stream".into(), Value::Bool(stream));
    body.extend(params.unwrap_or_default());
    let stream = body.get("stream") == Some(&Value::Bool(true));
    (
        serde_json::to_vec(&body).expect("a JSON map always serializes"),
        stream,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_merges_like_the_seeds_kwargs() {
        let options = Options::ylokh();
        let params =
            crate::options::parse_object(r#"{"temperature":0,"stream":false,"max_tokens":5}"#, "p")
                .unwrap();
        let (body, stream) = build_body(&options, None, &[("user", "hi")], Some(params), true);
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
        let (body, stream) = build_body(&compatible, None, &[], None, true);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"messages":[],"stream":true}"#
        );
        assert!(stream);
    }
}

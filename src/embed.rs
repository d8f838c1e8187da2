//! Embeddings: `POST {base}/embeddings` in OpenAI's shape (what llama.cpp, vLLM, Ollama's `/v1`
//! and LiteLLM serve), through the same send path as chat (retries, proxies, TLS, timeouts,
//! logging, the key), run on the caller's thread.
//!
//! The body asks for `"encoding_format":"base64"` (little-endian f32, about a third of the
//! bytes of decimal text and no float parsing) unless the caller's params say otherwise; a
//! server that ignores it and sends arrays of numbers is read as well. The answer is checked:
//! one vector per input, all of one length, every value finite.

use crate::client::Client;
use crate::error::{snippet, Error};
use crate::log::{log, INFO};
use crate::request::{post_whole, Target};
use crate::status::Status;
use base64::Engine;
use serde_json::{Map, Value};
use std::time::Instant;

/// The vectors of one call, in input order, row after row.
#[derive(Debug, PartialEq)]
pub struct Embeddings {
    pub count: usize,
    pub dimensions: usize,
    pub data: Vec<f32>,
    /// -1 when the server did not say.
    pub prompt_tokens: i64,
    pub model: Option<String>,
    pub http_status: u16,
}

/// The JSON body: `model` (or the client's default; none: no key), `input`,
/// `encoding_format: "base64"`, then every key of `params` (later wins).
pub fn body(
    default_model: Option<&str>,
    model: Option<&str>,
    inputs: &[&str],
    params: Option<&Map<String, Value>>,
) -> Vec<u8> {
    let mut body = Map::new();
    if let Some(model) = model.or(default_model) {
        body.insert("model".into(), Value::from(model));
    }
    body.insert(
        "input".into(),
        Value::Array(inputs.iter().map(|&s| Value::from(s)).collect()),
    );
    body.insert("encoding_format".into(), Value::from("base64"));
    for (key, value) in params.into_iter().flatten() {
        body.insert(key.clone(), value.clone());
    }
    serde_json::to_vec(&Value::Object(body)).expect("a JSON value always serializes")
}

/// Reads the server's answer for `n_inputs` inputs.
pub fn parse(body: &[u8], n_inputs: usize, http_status: u16) -> Result<Embeddings, Error> {
    let bad = |what: String| {
        let mut e = Error::protocol(format!(
            "the embeddings response {what}: {}",
            snippet(body, 200)
        ));
        e.http_status = http_status;
        e
    };
    let document: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("is not JSON ({e})")))?;
    let Some(items) = document.get("data").and_then(Value::as_array) else {
        return Err(bad("has no \"data\" array".into()));
    };
    if items.len() != n_inputs {
        return Err(bad(format!(
            "has {} vectors for {n_inputs} inputs",
            items.len()
        )));
    }
    let mut rows: Vec<Option<Vec<f32>>> = vec![None; n_inputs];
    for (position, item) in items.iter().enumerate() {
        let index = match item.get("index") {
            None => position,
            Some(v) => v
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .filter(|&i| i < n_inputs)
                .ok_or_else(|| {
                    bad(format!(
                        "has data[{position}].index {v}, not one of 0..{n_inputs}"
                    ))
                })?,
        };
        let vector = vector(item.get("embedding"))
            .map_err(|what| bad(format!("has data[{position}].embedding {what}")))?;
        if let Some(i) = vector.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!(
                "has a non-finite value ({}) at data[{position}].embedding[{i}]",
                vector[i]
            )));
        }
        if rows[index].replace(vector).is_some() {
            return Err(bad(format!("has index {index} twice")));
        }
    }
    let rows: Vec<Vec<f32>> = rows
        .into_iter()
        .map(|r| r.expect("n_inputs distinct indexes"))
        .collect();
    let dimensions = rows.first().map_or(0, Vec::len);
    if let Some(i) = rows.iter().position(|r| r.len() != dimensions) {
        return Err(bad(format!(
            "has vectors of unequal length: {} values for input 0, {} for input {i}",
            dimensions,
            rows[i].len()
        )));
    }
    if dimensions == 0 && n_inputs > 0 {
        return Err(bad("has empty vectors".into()));
    }
    let prompt_tokens = document
        .pointer("/usage/prompt_tokens")
        .and_then(Value::as_i64)
        .unwrap_or(-1);
    Ok(Embeddings {
        count: n_inputs,
        dimensions,
        data: rows.concat(),
        prompt_tokens,
        model: document
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned),
        http_status,
    })
}

/// One vector: an array of numbers, or base64 of little-endian f32s.
fn vector(value: Option<&Value>) -> Result<Vec<f32>, String> {
    match value {
        Some(Value::Array(numbers)) => numbers
            .iter()
            .enumerate()
            .map(|(i, n)| match n.as_f64() {
                Some(x) => Ok(x as f32),
                None => Err(format!("[{i}] = {n}, not a number")),
            })
            .collect(),
        Some(Value::String(text)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| format!("is not valid base64 ({e})"))?;
            if bytes.len() % 4 != 0 {
                return Err(format!(
                    "is {} bytes of base64, not a whole number of 4-byte floats",
                    bytes.len()
                ));
            }
            Ok(bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        }
        Some(other) => Err(format!("is {other}, neither an array nor base64")),
        None => Err("is missing".into()),
    }
}

/// The client's target, pointed at `{base}/embeddings`.
fn embeddings_target(target: &Target) -> Target {
    let mut endpoint = target.options.base_url.clone();
    let path = format!("{}/embeddings", endpoint.path().trim_end_matches('/'));
    endpoint.set_path(&path);
    target.with_endpoint(endpoint)
}

/// Sends one embeddings request with the client's settings and reads its answer, blocking the
/// calling thread (which must not be a library thread: the caller checks).
pub fn embed(
    client: &Client,
    model: Option<&str>,
    inputs: &[&str],
    params: Option<&Map<String, Value>>,
) -> Result<Embeddings, Error> {
    if inputs.is_empty() {
        return Err(Error::invalid(
            "there are no inputs to embed (n_inputs is 0)",
        ));
    }
    let target = embeddings_target(client.target());
    let body = body(
        target.options.default_model.as_deref(),
        model,
        inputs,
        params,
    );
    let started = Instant::now();
    let work = async {
        let (status, answer) = post_whole(&target, body).await?;
        parse(&answer, inputs.len(), status)
    };
    let result = client.block_on(async {
        match target.options.timeout {
            None => work.await,
            Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
                Err(Error::new(
                    Status::Timeout,
                    format!(
                        "the embeddings request did not finish within its {} ms time limit; raise it with ylokh_options_set_timeout_ms (0: no limit)",
                        limit.as_millis()
                    ),
                ))
            }),
        }
    })?;
    match &result {
        Ok(e) => log!(
            INFO,
            "embeddings done: {} vectors of {} dimensions after {} ms",
            e.count,
            e.dimensions,
            started.elapsed().as_millis()
        ),
        Err(e) => log!(
            INFO,
            "embeddings failed after {} ms: {}",
            started.elapsed().as_millis(),
            e.message
        ),
    }
    result.map_err(|mut e| {
        e.message = target.scrub(e.message);
        e
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(values: &[f32]) -> String {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn the_body_asks_for_base64_unless_the_params_say_otherwise() {
        let plain = body(Some("default"), None, &["a", "b"], None);
        assert_eq!(
            String::from_utf8(plain).unwrap(),
            r#"{"model":"default","input":["a","b"],"encoding_format":"base64"}"#
        );
        let params: Map<String, Value> =
            serde_json::from_str(r#"{"encoding_format":"float","dimensions":8}"#).unwrap();
        let floats = body(Some("default"), Some("m"), &["a"], Some(&params));
        assert_eq!(
            String::from_utf8(floats).unwrap(),
            r#"{"model":"m","input":["a"],"encoding_format":"float","dimensions":8}"#
        );
    }

    #[test]
    fn floats_and_base64_read_alike_in_index_order() {
        let floats = br#"{"object":"list","model":"m","usage":{"prompt_tokens":5,"total_tokens":5},
            "data":[{"object":"embedding","index":1,"embedding":[0.5,-1,2]},
                    {"object":"embedding","index":0,"embedding":[1,2,3.25]}]}"#;
        let e = parse(floats, 2, 200).unwrap();
        assert_eq!(e.data, vec![1.0, 2.0, 3.25, 0.5, -1.0, 2.0]);
        assert_eq!((e.count, e.dimensions, e.prompt_tokens), (2, 3, 5));
        assert_eq!(e.model.as_deref(), Some("m"));
        let base64 = format!(
            r#"{{"data":[{{"index":0,"embedding":"{}"}},{{"index":1,"embedding":"{}"}}]}}"#,
            b64(&[1.0, 2.0, 3.25]),
            b64(&[0.5, -1.0, 2.0])
        );
        let e2 = parse(base64.as_bytes(), 2, 200).unwrap();
        assert_eq!(e2.data, e.data);
        assert_eq!((e2.prompt_tokens, e2.model), (-1, None));
    }

    #[test]
    fn bad_shapes_are_protocol_errors_that_say_what_was_wrong() {
        let cases: &[(&str, usize, &str)] = &[
            (
                r#"{"data":[{"embedding":[1,2]}]}"#,
                2,
                "1 vectors for 2 inputs",
            ),
            (
                r#"{"data":[{"embedding":[1,2]},{"embedding":[1]}]}"#,
                2,
                "unequal length",
            ),
            (r#"{"data":[{"embedding":[1,"x"]}]}"#, 1, "not a number"),
            (r#"{"data":[{"embedding":[1,1e39]}]}"#, 1, "non-finite"),
            (r#"{"data":[{"embedding":"AAA"}]}"#, 1, "base64"),
            (
                r#"{"data":[{"embedding":"AAAAAAA="}]}"#,
                1,
                "whole number of 4-byte floats",
            ),
            (
                r#"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]}"#,
                2,
                "twice",
            ),
            (r#"{"data":[{"index":5,"embedding":[1]}]}"#, 1, "index 5"),
            (r#"{"data":[{"embedding":[]}]}"#, 1, "empty vectors"),
            (r#"{"object":"list"}"#, 1, "no \"data\" array"),
            ("not json", 1, "not JSON"),
        ];
        for (body, n, expected) in cases {
            let e = parse(body.as_bytes(), *n, 200).unwrap_err();
            assert_eq!(e.status, Status::Protocol, "{body}");
            assert!(e.message.contains(expected), "{body}: {}", e.message);
        }
        let nan = format!(
            r#"{{"data":[{{"embedding":"{}"}}]}}"#,
            b64(&[1.0, f32::NAN])
        );
        let e = parse(nan.as_bytes(), 1, 200).unwrap_err();
        assert!(
            e.message.contains("non-finite value (NaN)"),
            "{}",
            e.message
        );
    }
}

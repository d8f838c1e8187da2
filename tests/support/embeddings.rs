//! The loopback server's `/emb-KIND/v1/embeddings`: OpenAI's embeddings shape as llama.cpp and
//! vLLM serve it, and the ways servers answer wrong.
//!
//! Input i's vector is 4 values: its length in bytes, its first byte, 0.5, and -1.25 × i, so a
//! test can tell vectors and their order apart.
//! - `emb`: honours `encoding_format` (base64 when asked, else floats), data in input order.
//! - `emb-float`: ignores `encoding_format`, always floats, data in reverse order with indexes.
//! - `emb-b64only`: refuses anything but base64 with a 400 (a documented refusal).
//! - `emb-count`, `emb-unequal`, `emb-nan`: one vector short, the last one value short, a NaN.
//! - `emb-ctx`: llama.cpp's 400 for an input over the context (any input over 64 bytes).
//! - `emb-500`: llama.cpp's 500 for an input larger than its batch.
//! - `emb-auth`: a 401 unless the key `sk-emb-secret` comes as `Authorization: Bearer`; the key it
//!   got is quoted back in the error text (as some servers do), for the scrubbing.

use super::{whole, Request, Sock};
use base64::Engine;
use serde_json::{json, Value};

fn vector(i: usize, input: &str) -> Vec<f32> {
    vec![
        input.len() as f32,
        input.bytes().next().unwrap_or(0) as f32,
        0.5,
        0.0 - 1.25 * i as f32, // +0 for the first (not -0)
    ]
}

fn encoded(values: &[f32], base64: bool) -> Value {
    if base64 {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Value::from(base64::engine::general_purpose::STANDARD.encode(bytes))
    } else {
        json!(values)
    }
}

pub(super) async fn respond(s: &mut Sock, scenario: &str, req: &Request) -> std::io::Result<bool> {
    let json = "application/json";
    let error = |code: u16, message: &str, kind: &str| {
        json!({"error": {"code": code, "message": message, "type": kind}}).to_string()
    };
    if !req.path.ends_with("/embeddings") || req.method != "POST" {
        let body = error(404, "File Not Found", "not_found_error");
        whole(s, "404 Not Found", json, "", body.as_bytes()).await?;
        return Ok(true);
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    let asks_base64 = body["encoding_format"] == "base64";
    let kind = scenario.strip_prefix("emb").unwrap_or("");
    if kind == "-b64only" && !asks_base64 {
        let e = error(
            400,
            "encoding_format must be \"base64\"",
            "invalid_request_error",
        );
        whole(s, "400 Bad Request", json, "", e.as_bytes()).await?;
        return Ok(true);
    }
    if kind == "-auth" {
        let key = req
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.as_str());
        if key != Some("Bearer sk-emb-secret") {
            // Quotes the key it got, as some servers do: the client must scrub it.
            let got = key.unwrap_or("none").trim_start_matches("Bearer ");
            let e = error(
                401,
                &format!("Incorrect API key provided: {got}"),
                "invalid_request_error",
            );
            whole(s, "401 Unauthorized", json, "", e.as_bytes()).await?;
            return Ok(true);
        }
    }
    if kind == "-ctx" {
        if let Some(long) = inputs.iter().find(|i| i.len() > 64) {
            let e = json!({"error": {"code": 400,
                "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error", "n_prompt_tokens": long.len(), "n_ctx": 64}});
            whole(s, "400 Bad Request", json, "", e.to_string().as_bytes()).await?;
            return Ok(true);
        }
    }
    if kind == "-500" {
        let e = error(
            500,
            "input is too large to process. increase the physical batch size",
            "server_error",
        );
        whole(s, "500 Internal Server Error", json, "", e.as_bytes()).await?;
        return Ok(true);
    }
    let base64 = asks_base64 && kind != "-float";
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let mut v = vector(i, input);
            if kind == "-unequal" && i + 1 == inputs.len() {
                v.pop();
            }
            if kind == "-nan" && i == 0 {
                v[2] = f32::NAN;
            }
            json!({"object": "embedding", "index": i, "embedding": encoded(&v, base64)})
        })
        .collect();
    if kind == "-float" {
        data.reverse();
    }
    if kind == "-count" {
        data.pop();
    }
    let tokens: usize = inputs.iter().map(|i| i.split_whitespace().count()).sum();
    let answer = json!({"object": "list", "model": body["model"].as_str().unwrap_or("loopback-embed"),
        "data": data, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}});
    whole(s, "200 OK", json, "", answer.to_string().as_bytes()).await?;
    Ok(true)
}

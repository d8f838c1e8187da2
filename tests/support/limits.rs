//! The scenarios of `tests/limits.rs`: what one answer may cost (issue 19).
//!
//! - `longanswer-MIB`: MIB MiB of answer text (default 1024) in 64 KiB tokens, as fast as the
//!   client reads, then a clean end.
//! - `pings-chat`, `pings-responses`, `pings-messages`: a first token, then for 2 s only what
//!   does not move the answer (SSE comments, empty deltas, the dialect's pings and lifecycle
//!   events) every 50 ms, then a last token and a clean end.
//! - `hosted-responses`: a first token, then a hosted tool's status events every 100 ms for
//!   1.5 s (the answer moving without text), then a clean end.
//! - `lengthcut`: a whole tool call and one cut inside its arguments, then `finish_reason:
//!   "length"`.
//! - `oddusage-float`, `oddusage-string`, `oddusage-junk`: an answer whose usage numbers come as
//!   `12.0`, as `"12"`, or as things that are not counts.
//! - `manycalls-N`: N tool calls of one fragment each, then `finish_reason: "tool_calls"`.

use super::{chunk, chunk_event, end, head, Sock, DONE, FINISH};
use std::time::Duration;

pub(super) async fn respond(s: &mut Sock, scenario: &str) -> std::io::Result<bool> {
    let (base, arg) = scenario.split_once('-').unwrap_or((scenario, ""));
    head(s, "200 OK", "text/event-stream", "").await?;
    match (base, arg) {
        ("longanswer", mib) => {
            let mib: usize = mib.parse().unwrap_or(1024);
            let event = chunk_event(&"x".repeat(64 * 1024));
            for _ in 0..mib * 16 {
                chunk(s, event.as_bytes()).await?;
            }
            chunk(s, FINISH.as_bytes()).await?;
            chunk(s, DONE.as_bytes()).await?;
        }
        ("pings", dialect) => {
            let (first, idle, last): (Vec<String>, &[&str], Vec<String>) = match dialect {
                "responses" => (
                    vec![
                        responses("response.created", r#""response":{"id":"resp_1","status":"in_progress"}"#),
                        responses("response.output_item.added", r#""output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}"#),
                        responses("response.output_text.delta", r#""output_index":0,"item_id":"msg_1","content_index":0,"delta":"first""#),
                    ],
                    &[
                        ": ping\n\n",
                        "event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\"}}\n\n",
                        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"item_id\":\"msg_1\",\"content_index\":0,\"delta\":\"\"}\n\n",
                        "event: keepalive\ndata: {\"type\":\"keepalive\"}\n\n",
                    ],
                    vec![
                        responses("response.output_text.delta", r#""output_index":0,"item_id":"msg_1","content_index":0,"delta":" last""#),
                        responses("response.completed", r#""response":{"id":"resp_1","status":"completed","output":[],"usage":{"input_tokens":3,"output_tokens":2,"total_tokens":5}}"#),
                    ],
                ),
                "messages" => (
                    vec![
                        messages("message_start", r#""message":{"id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":3,"output_tokens":1}}"#),
                        messages("content_block_start", r#""index":0,"content_block":{"type":"text","text":""}"#),
                        messages("content_block_delta", r#""index":0,"delta":{"type":"text_delta","text":"first"}"#),
                    ],
                    &[
                        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
                        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\"}}\n\n",
                        ": keep-alive\n\n",
                    ],
                    vec![
                        messages("content_block_delta", r#""index":0,"delta":{"type":"text_delta","text":" last"}"#),
                        messages("content_block_stop", r#""index":0"#),
                        messages("message_delta", r#""delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}"#),
                        messages("message_stop", ""),
                    ],
                ),
                _ => (
                    vec![chunk_event("first")],
                    &[
                        ": ping\n\n",
                        "data: {\"choices\":[{\"index\":0,\"delta\":{}}]}\n\n",
                        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"}}]}\n\n",
                        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]}}]}\n\n",
                    ],
                    vec![chunk_event(" last"), FINISH.into(), DONE.into()],
                ),
            };
            for event in &first {
                chunk(s, event.as_bytes()).await?;
            }
            for i in 0..40 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                chunk(s, idle[i % idle.len()].as_bytes()).await?;
            }
            for event in &last {
                chunk(s, event.as_bytes()).await?;
            }
        }
        ("hosted", _) => {
            chunk(
                s,
                responses(
                    "response.output_text.delta",
                    r#""output_index":0,"item_id":"msg_1","content_index":0,"delta":"Searching.""#,
                )
                .as_bytes(),
            )
            .await?;
            let steps = ["in_progress", "searching", "searching", "searching"];
            for i in 0..15 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let kind = format!("response.web_search_call.{}", steps[i % steps.len()]);
                let event = responses(&kind, r#""output_index":1,"item_id":"ws_1""#);
                chunk(s, event.as_bytes()).await?;
            }
            chunk(
                s,
                responses(
                    "response.output_text.delta",
                    r#""output_index":2,"item_id":"msg_2","content_index":0,"delta":" Found.""#,
                )
                .as_bytes(),
            )
            .await?;
            chunk(s, responses("response.completed", r#""response":{"id":"resp_1","status":"completed","output":[],"usage":{"input_tokens":3,"output_tokens":2,"total_tokens":5}}"#).as_bytes()).await?;
        }
        ("lengthcut", _) => {
            for data in [
                r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"whole","arguments":"{\"a\":1}"}}]}}]}"#,
                r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"cut","arguments":""}}]}}]}"#,
                r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"a\":"}}]}}]}"#,
                r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#,
            ] {
                chunk(s, format!("data: {data}\n\n").as_bytes()).await?;
            }
            chunk(s, DONE.as_bytes()).await?;
        }
        ("oddusage", how) => {
            let usage = match how {
                "float" => r#"{"prompt_tokens":12.0,"completion_tokens":3.0,"total_tokens":15.0}"#,
                "string" => r#"{"prompt_tokens":"12","completion_tokens":"3","total_tokens":"15"}"#,
                _ => {
                    r#"{"prompt_tokens":12,"completion_tokens":"many","total_tokens":-1.5,"extra":{"a":1}}"#
                }
            };
            chunk(s, chunk_event("Hello").as_bytes()).await?;
            let last = format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}],\"usage\":{usage}}}\n\n");
            chunk(s, last.as_bytes()).await?;
            chunk(s, DONE.as_bytes()).await?;
        }
        ("manycalls", n) => {
            let n: usize = n.parse().unwrap_or(10);
            let mut batch = String::new();
            for i in 0..n {
                batch.push_str(&format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"tool_calls\":[{{\"index\":{i},\"id\":\"call_{i}\",\"type\":\"function\",\"function\":{{\"name\":\"f\",\"arguments\":\"{{}}\"}}}}]}}}}]}}\n\n"));
                if i % 100 == 99 {
                    chunk(s, batch.as_bytes()).await?;
                    batch.clear();
                }
            }
            batch.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n");
            batch.push_str(DONE);
            chunk(s, batch.as_bytes()).await?;
        }
        _ => {
            chunk(
                s,
                b"data: {\"error\":{\"message\":\"no such limits scenario\"}}\n\n",
            )
            .await?
        }
    }
    end(s).await?;
    Ok(true)
}

/// A Responses event: `MEMBERS` go after its `type`.
fn responses(kind: &str, members: &str) -> String {
    let comma = if members.is_empty() { "" } else { "," };
    format!("event: {kind}\ndata: {{\"type\":\"{kind}\"{comma}{members}}}\n\n")
}

/// A Messages event (the same shape).
fn messages(kind: &str, members: &str) -> String {
    responses(kind, members)
}

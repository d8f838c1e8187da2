//! What one answer may cost (issue 19): memory bounded by the message cap whatever the answer's
//! length, a read timeout that counts the answer moving and not pings, tool calls cut by the
//! token limit never handed out, odd usage numbers never failing an answer, and a cap on the
//! number of tool calls. The server scenarios are in `tests/support/limits.rs`.

mod support;

use serde_json::Value;
use std::ffi::CString;
use support::capi::Client;
use support::transcript::*;
use support::{compile, start_server, tmp_path};
use ylokh::ffi::client::ylokh_client_new;
use ylokh::ffi::options::*;
use ylokh::ffi::status::*;

/// A client for `url` speaking `api`, no retries, after `set` saw its options.
fn client(url: &str, api: u32, set: impl FnOnce(*mut ylokh_options)) -> Client {
    let url = CString::new(url).unwrap();
    unsafe {
        let opts = ylokh_options_new_compatible(url.as_ptr());
        assert_eq!(ylokh_options_set_max_retries(opts, 0), YLOKH_OK);
        assert_eq!(ylokh_options_set_api(opts, api), YLOKH_OK);
        set(opts);
        let mut client = std::ptr::null_mut();
        assert_eq!(ylokh_client_new(opts, &mut client), YLOKH_OK);
        ylokh_options_free(opts);
        Client::from_raw(client)
    }
}

fn run(client: &Client) -> Transcript {
    let mut tr = Transcript::default();
    send_with(client, request(true), &mut tr);
    tr
}

fn message(tr: &Transcript) -> Value {
    serde_json::from_str(tr.message_json.as_deref().expect("message_json")).unwrap()
}

/// 1 GiB of answer text in 64 KiB tokens, through callbacks and through the pull queue, in a
/// C program of its own: every byte is delivered, `message_json` keeps the default cap's
/// 16 MiB and says it was cut, and the peak resident memory stays within a bound derived from
/// the cap (0.2 kept the whole answer, about three times over: 3.15 GB).
#[test]
fn a_one_gib_answer_costs_memory_bounded_by_the_message_cap() {
    const CAP: u64 = 16 << 20;
    let server = start_server();
    let exe = tmp_path("long_answer");
    compile("gcc", &["tests/c/long_answer.c"], &exe, &[]);
    for mode in ["callbacks", "pull"] {
        let url = format!("{}/longanswer-1024/v1", server.url());
        let output = std::process::Command::new(&exe)
            .args([url.as_str(), mode])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        eprintln!(
            "{mode}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let field = |name: &str| -> u64 {
            stdout
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} in {stdout}"))
                .parse()
                .unwrap()
        };
        assert!(output.status.success(), "{mode}: the request failed");
        assert_eq!(field("bytes"), 1 << 30, "{mode}: every byte delivered");
        assert_eq!(
            field("truncated"),
            1,
            "{mode}: message_json says it was cut"
        );
        assert!(
            (CAP..CAP + 256).contains(&field("json_len")),
            "{mode}: message_json holds the cap's worth: {}",
            field("json_len")
        );
        // The kept text once, the finished message_json once more at most, and 32 MiB for
        // everything else (buffers, the pull queue's 4 MiB, the runtime).
        let grown = (field("peak_kib") - field("rss_before_kib")) * 1024;
        assert!(
            grown < 2 * CAP + (32 << 20),
            "{mode}: peak memory grew by {} MiB",
            grown >> 20
        );
    }
}

/// After the first token, the read timeout is reset only by what moves the answer: a server
/// that sends pings, comments and empty events (every 50 ms for 2 s, in each dialect's own
/// shapes) times out at 300 ms. 0.2 waited for the pings to stop.
#[test]
fn pings_after_the_first_token_do_not_hold_off_the_read_timeout_in_any_dialect() {
    let server = start_server();
    for (dialect, api) in [
        ("chat", YLOKH_API_CHAT_COMPLETIONS),
        ("responses", YLOKH_API_RESPONSES),
        ("messages", YLOKH_API_MESSAGES),
    ] {
        let url = format!("{}/pings-{dialect}/v1", server.url());
        let tr = run(&client(&url, api, |o| unsafe {
            assert_eq!(ylokh_options_set_read_timeout_ms(o, 300), YLOKH_OK);
        }));
        assert_eq!(tr.events.first().map(String::as_str), Some("token:first"));
        assert!(
            tr.events.last().unwrap().starts_with("done:YLOKH_TIMEOUT"),
            "{dialect}: {:?}",
            tr.events
        );
        assert!(
            tr.message.contains("(read timeout") && tr.message.contains("300 ms"),
            "{dialect}: {}",
            tr.message
        );
        assert!(!tr.events.iter().any(|e| e == "token: last"), "{dialect}");
    }
}

/// A Responses hosted tool's status events move the answer: 1.5 s of them, 100 ms apart,
/// keep a 400 ms read timeout from firing.
#[test]
fn a_hosted_tools_status_events_reset_the_read_timeout() {
    let server = start_server();
    let url = format!("{}/hosted-responses/v1", server.url());
    let tr = run(&client(&url, YLOKH_API_RESPONSES, |o| unsafe {
        assert_eq!(ylokh_options_set_read_timeout_ms(o, 400), YLOKH_OK);
    }));
    assert_eq!(
        tr.events,
        ["token:Searching.", "token: Found.", "done:YLOKH_OK:stop:0"],
        "{}",
        tr.message
    );
}

/// A tool call cut by the token limit never reaches `on_tool_call` nor `message_json`; nor do
/// the other calls of that answer (the model did not finish its turn). The deltas still came.
#[test]
fn tool_calls_of_an_answer_cut_by_the_token_limit_are_not_handed_out() {
    let server = start_server();
    let url = format!("{}/lengthcut/v1", server.url());
    let tr = run(&client(&url, YLOKH_API_CHAT_COMPLETIONS, |_| ()));
    assert!(
        tr.events.iter().any(|e| e == "delta:1:call_b:-:{\"a\":"),
        "{:?}",
        tr.events
    );
    assert!(
        !tr.events.iter().any(|e| e.starts_with("call:")),
        "{:?}",
        tr.events
    );
    assert_eq!(tr.events.last().unwrap(), "done:YLOKH_OK:length:0");
    let message = message(&tr);
    assert!(message.get("tool_calls").is_none(), "{message}");
}

/// Usage numbers sent as `12.0` or `"12"` are read; junk is unknown (-1); the answer is never
/// failed for them.
#[test]
fn odd_usage_numbers_never_fail_the_answer() {
    let server = start_server();
    for (how, usage) in [
        ("float", (12, 3, 15)),
        ("string", (12, 3, 15)),
        ("junk", (12, -1, -1)),
    ] {
        let url = format!("{}/oddusage-{how}/v1", server.url());
        let tr = run(&client(&url, YLOKH_API_CHAT_COMPLETIONS, |_| ()));
        assert_eq!(
            tr.events,
            ["token:Hello", "done:YLOKH_OK:stop:0"],
            "{how}: {}",
            tr.message
        );
        assert_eq!(tr.usage, usage, "{how}");
    }
}

/// The number of tool calls in one answer is capped (default 1024): one more ends the request
/// with YLOKH_PROTOCOL, a message naming the cap, and no call handed out; at the cap all come.
#[test]
fn the_number_of_tool_calls_in_an_answer_is_capped() {
    let server = start_server();
    let url = format!("{}/manycalls-1025/v1", server.url());
    let tr = run(&client(&url, YLOKH_API_CHAT_COMPLETIONS, |_| ()));
    assert_eq!(tr.events.last().unwrap(), "done:YLOKH_PROTOCOL:-:0");
    assert!(!tr.events.iter().any(|e| e.starts_with("call:")));
    assert!(
        tr.message.contains("more than 1024 tool calls")
            && tr.message.contains("ylokh_options_set_max_tool_calls"),
        "{}",
        tr.message
    );
    let url = format!("{}/manycalls-1024/v1", server.url());
    let tr = run(&client(&url, YLOKH_API_CHAT_COMPLETIONS, |_| ()));
    assert_eq!(tr.events.last().unwrap(), "done:YLOKH_OK:tool_calls:1024");
    assert_eq!(message(&tr)["tool_calls"].as_array().unwrap().len(), 1024);
}

/// The caps are settable: `max_tool_calls` 3 refuses a fourth call; `max_message_bytes` 1000
/// keeps the first 1000 bytes of a long answer and marks the message as cut, and 0 keeps no
/// text; invalid values are refused.
#[test]
fn the_caps_are_settable() {
    let server = start_server();
    let url = format!("{}/manycalls-4/v1", server.url());
    let tr = run(&client(&url, YLOKH_API_CHAT_COMPLETIONS, |o| unsafe {
        assert_eq!(ylokh_options_set_max_tool_calls(o, 3), YLOKH_OK);
        assert_eq!(
            ylokh_options_set_max_tool_calls(o, 0),
            YLOKH_INVALID_ARGUMENT
        );
    }));
    assert!(
        tr.message.contains("more than 3 tool calls"),
        "{}",
        tr.message
    );
    for (cap, content) in [(1000, Value::from("x".repeat(1000))), (0, Value::Null)] {
        let url = format!("{}/longanswer-1/v1", server.url());
        let tr = run(&client(&url, YLOKH_API_CHAT_COMPLETIONS, |o| unsafe {
            assert_eq!(ylokh_options_set_max_message_bytes(o, cap), YLOKH_OK);
        }));
        assert_eq!(tr.events.last().unwrap(), "done:YLOKH_OK:stop:0");
        assert_eq!(tr.events.len(), 17, "16 tokens of 64 KiB, all delivered");
        let message = message(&tr);
        assert_eq!(message["content"], content);
        assert_eq!(message["truncated"], Value::Bool(true));
    }
}

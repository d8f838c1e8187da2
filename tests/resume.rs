//! Timings in the result, the first-token timeout, and resumed streams, through the C ABI over
//! the loopback server.

mod support;

use std::ffi::CString;
use support::capi::Client;
use support::start_server;
use support::transcript::*;
use ylokh::ffi::client::ylokh_client_new;
use ylokh::ffi::options::*;
use ylokh::ffi::status::*;

/// A client for `url` with the settings `set` gives (after no retries).
fn client(url: &str, set: impl FnOnce(*mut ylokh_options)) -> Client {
    let url = CString::new(url).unwrap();
    unsafe {
        let opts = ylokh_options_new_compatible(url.as_ptr());
        assert!(!opts.is_null());
        assert_eq!(ylokh_options_set_max_retries(opts, 0), YLOKH_OK);
        set(opts);
        let mut client = std::ptr::null_mut();
        assert_eq!(ylokh_client_new(opts, &mut client), YLOKH_OK);
        ylokh_options_free(opts);
        Client::from_raw(client)
    }
}

fn tokens(tr: &Transcript) -> String {
    tr.events
        .iter()
        .filter_map(|e| e.strip_prefix("token:"))
        .collect()
}

#[test]
fn the_result_has_the_timings_and_the_servers_own() {
    let server = start_server();
    let mut tr = Transcript::default();
    let url = format!("{}/stream/v1", server.url());
    assert_eq!(send(&url, request(true), &mut tr), YLOKH_OK);
    assert_eq!(tokens(&tr), support::expected_text());
    let t = &tr.timings;
    assert!(t.ttfb_ms >= 0 && t.ttft_ms >= t.ttfb_ms, "{t:?}");
    assert!(t.duration_ms >= t.ttft_ms, "{t:?}");
    assert!(t.tokens_per_s > 0.0, "{t:?}");
    assert_eq!((t.retries, t.resumes), (0, 0));
    let server_timings: serde_json::Value =
        serde_json::from_str(t.server_json.as_deref().expect("llama.cpp's timings")).unwrap();
    assert_eq!(server_timings["predicted_n"], 48);
    assert_eq!(server_timings["prompt_n"], 29);

    // No timings from the server, no token: -1 where unknown; a retry is counted.
    let mut tr = Transcript::default();
    let c = client(&format!("{}/429once/v1", server.url()), |o| unsafe {
        assert_eq!(ylokh_options_set_max_retries(o, 1), YLOKH_OK);
    });
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_OK);
    assert_eq!(tr.timings.retries, 1);
    assert!(tr.timings.server_json.is_none());
    assert_eq!(tr.timings.tokens_per_s, -1.0, "one token: no rate");
    let mut tr = Transcript::default();
    let s = send(
        &format!("{}/nosuch/v1", server.url()),
        request(true),
        &mut tr,
    );
    assert_eq!(s, YLOKH_HTTP_STATUS);
    assert_eq!(tr.timings.ttft_ms, -1);
    assert!(tr.timings.duration_ms >= 0);
}

/// A client with these read and first-token timeouts (ms).
fn timeouts(url: &str, read: u64, first: u64) -> Client {
    client(url, |o| unsafe {
        assert_eq!(ylokh_options_set_read_timeout_ms(o, read), YLOKH_OK);
        assert_eq!(ylokh_options_set_first_token_timeout_ms(o, first), YLOKH_OK);
    })
}

#[test]
fn a_stalled_prefill_hits_the_first_token_timeout_and_a_stalled_generation_the_read_timeout() {
    let server = start_server();
    let url = |scenario: &str| format!("{}/{scenario}/v1", server.url());

    // Headers and a ping, then nothing before the first token.
    let mut tr = Transcript::default();
    let c = timeouts(&url("stallfirst"), 10_000, 300);
    let started = std::time::Instant::now();
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_TIMEOUT);
    assert!(started.elapsed().as_millis() < 5_000);
    assert!(tr.message.contains("first-token timeout"), "{}", tr.message);
    assert!(tr.message.contains("300 ms"), "{}", tr.message);
    assert!(tr
        .message
        .contains("ylokh_options_set_first_token_timeout_ms"));

    // One token, then nothing: the read timeout, not the (long) first-token one.
    let mut tr = Transcript::default();
    let c = timeouts(&url("stall"), 300, 10_000);
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_TIMEOUT);
    assert_eq!(tokens(&tr), "first");
    assert!(tr.message.contains("(read timeout)"), "{}", tr.message);
    assert!(tr.message.contains("300 ms"), "{}", tr.message);

    // A prefill longer than the read timeout is fine while the first-token timeout allows it.
    let mut tr = Transcript::default();
    let c = timeouts(&url("slowprefill"), 300, 10_000);
    assert_eq!(
        send_with(&c, request(true), &mut tr),
        YLOKH_OK,
        "{}",
        tr.message
    );
    assert_eq!(tokens(&tr), "slow prefill done");
    assert!(tr.timings.ttft_ms >= 700, "{:?}", tr.timings);
    // ... and without it, the same silence is the read timeout's.
    let mut tr = Transcript::default();
    let c = timeouts(&url("slowprefill"), 300, 0);
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_TIMEOUT);
    assert!(tr.message.contains("(read timeout)"), "{}", tr.message);

    // Waiting for the headers counts as waiting for the first token too.
    let mut tr = Transcript::default();
    let c = timeouts(&url("silent"), 0, 300);
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_TIMEOUT);
    assert!(tr.message.contains("first-token timeout"), "{}", tr.message);
}

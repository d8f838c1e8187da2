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
fn llama_cpps_responses_stream_brings_its_timings_too() {
    let server = start_server();
    let c = client(
        &format!(
            "{}/replay3-dialects.llamacpp-captured-responses-stream/v1",
            server.url()
        ),
        |o| unsafe {
            assert_eq!(ylokh_options_set_api(o, YLOKH_API_RESPONSES), YLOKH_OK);
        },
    );
    let mut tr = Transcript::default();
    assert_eq!(
        send_with(&c, request(true), &mut tr),
        YLOKH_OK,
        "{}",
        tr.message
    );
    let timings: serde_json::Value =
        serde_json::from_str(tr.timings.server_json.as_deref().expect("timings")).unwrap();
    assert_eq!(timings["predicted_n"], 32);
    assert!(tr.timings.tokens_per_s > 0.0 && tr.timings.ttft_ms >= 0);
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

/// A client with resume on, `retries` retries and a read timeout (ms, 0: none).
fn resuming(url: &str, retries: u32, read_ms: u64) -> Client {
    client(url, |o| unsafe {
        assert_eq!(ylokh_options_set_resume(o, true), YLOKH_OK);
        assert_eq!(ylokh_options_set_max_retries(o, retries), YLOKH_OK);
        assert_eq!(ylokh_options_set_read_timeout_ms(o, read_ms), YLOKH_OK);
    })
}

/// The conversation id of the first POST in the server's log.
fn conversation(server: &support::Server) -> String {
    let log = server.stream_log();
    log[0].strip_prefix("POST ").unwrap().to_string()
}

#[test]
fn a_stream_cut_anywhere_is_resumed_without_a_token_lost_or_repeated() {
    let body = support::resume_body();
    let text = String::from_utf8(body.clone()).unwrap();
    let first_event = text.find("\n\n").unwrap() + 2;
    let emoji = text.find('😀').unwrap();
    let finish = text.find("\"finish_reason\":\"stop\"").unwrap();
    let cuts = [
        ("the first byte", 1),
        ("inside the first event", 20),
        ("an event boundary", first_event),
        ("inside a 4-byte character", emoji + 2),
        ("inside a 3-byte character", text.find('日').unwrap() + 1),
        ("inside the finish chunk", finish + 5),
        ("inside [DONE]", body.len() - 4),
    ];
    // The same request unbroken: the reference.
    let server = start_server();
    let mut whole = Transcript::default();
    let c = resuming(&format!("{}/resume/v1", server.url()), 2, 5_000);
    assert_eq!(send_with(&c, request(true), &mut whole), YLOKH_OK);
    assert_eq!(tokens(&whole), support::resume_text());
    assert_eq!(whole.timings.resumes, 0);
    assert!(conversation(&server).starts_with("ylokh-"));
    for (what, cut) in cuts {
        let server = start_server();
        let mut tr = Transcript::default();
        let c = resuming(&format!("{}/resume-{cut}/v1", server.url()), 2, 5_000);
        let s = send_with(&c, request(true), &mut tr);
        assert_eq!(s, YLOKH_OK, "cut {what} ({cut}): {}", tr.message);
        assert_eq!(tr.events, whole.events, "cut {what} ({cut})");
        assert_eq!(tr.timings.resumes, 1, "cut {what}");
        assert_eq!(tr.timings.retries, 0);
        assert!(tr.timings.server_json.is_some(), "cut {what}");
        let id = conversation(&server);
        assert_eq!(
            server.stream_log(),
            [format!("POST {id}"), format!("GET {id} {cut}")],
            "cut {what}"
        );
        println!(
            "cut {what} at byte {cut}: {} ms (unbroken: {} ms)",
            tr.timings.duration_ms, whole.timings.duration_ms
        );
    }
}

#[test]
fn a_stalled_stream_is_resumed_after_the_read_timeout() {
    let server = start_server();
    let mut tr = Transcript::default();
    let c = resuming(&format!("{}/resumestall-700/v1", server.url()), 2, 1_500);
    assert_eq!(
        send_with(&c, request(true), &mut tr),
        YLOKH_OK,
        "{}",
        tr.message
    );
    assert_eq!(tokens(&tr), support::resume_text());
    assert_eq!(tr.timings.resumes, 1);
    let id = conversation(&server);
    assert_eq!(server.stream_log()[1], format!("GET {id} 700"));
}

#[test]
fn a_server_without_resume_ends_the_request_incomplete_saying_so() {
    let server = start_server();
    let mut tr = Transcript::default();
    let c = resuming(&format!("{}/noresume-700/v1", server.url()), 1, 5_000);
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_INCOMPLETE);
    assert!(tr.message.contains("resume was tried"), "{}", tr.message);
    assert!(tr.message.contains("404"), "{}", tr.message);
    assert!(tr.message.contains("File Not Found"), "{}", tr.message);
    assert!(tr.message.contains("/stream"), "{}", tr.message);
    assert_eq!(tr.timings.resumes, 0);
    let id = conversation(&server);
    assert_eq!(
        server.stream_log(),
        [
            format!("POST {id}"),
            format!("GET {id} 700"),
            format!("DELETE {id}")
        ]
    );

    // The server lost the bytes from that offset: 400, not retried.
    let mut tr = Transcript::default();
    let c = resuming(&format!("{}/lostresume-700/v1", server.url()), 2, 5_000);
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_INCOMPLETE);
    assert!(
        tr.message.contains("resume was tried: HTTP 400"),
        "{}",
        tr.message
    );
    assert!(tr.message.contains("Stream offset lost"), "{}", tr.message);

    // Resume on, but the server is not there: a connect error, and no DELETE to nowhere.
    let mut tr = Transcript::default();
    let c = resuming("http://127.0.0.1:9/v1", 0, 5_000);
    let started = std::time::Instant::now();
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_CONNECT);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));

    // No retry budget: not even tried, and the message says so.
    let mut tr = Transcript::default();
    let c = resuming(&format!("{}/resume-700/v1", server.url()), 0, 5_000);
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_INCOMPLETE);
    assert!(
        tr.message.contains("resume was tried: not attempted"),
        "{}",
        tr.message
    );

    // Resume off (the default): no conversation id, no GET, today's YLOKH_INCOMPLETE.
    let server = start_server();
    let mut tr = Transcript::default();
    let c = client(&format!("{}/resume-700/v1", server.url()), |_| {});
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_INCOMPLETE);
    assert!(!tr.message.contains("resume"), "{}", tr.message);
    assert_eq!(server.stream_log(), ["POST -"]);
}

#[test]
fn cancel_stops_a_resumable_generation_on_the_server() {
    use ylokh::ffi::chat_request::ylokh_chat_send;
    use ylokh::ffi::request::{ylokh_request_cancel, ylokh_request_free, ylokh_request_wait};
    let server = start_server();
    let c = resuming(&format!("{}/resumestall-700/v1", server.url()), 2, 0);
    let mut tr = Box::<Transcript>::default();
    let (role, content) = (CString::new("user").unwrap(), CString::new("hi").unwrap());
    let messages = [ylokh::ffi::types::ylokh_message {
        role: role.as_ptr(),
        content: content.as_ptr(),
    }];
    let mut req = request(true);
    req.messages = messages.as_ptr();
    req.n_messages = 1;
    req.user_data = (&mut *tr as *mut Transcript).cast();
    let mut handle = std::ptr::null_mut();
    let delivered = tr.delivered.clone();
    assert_eq!(
        unsafe { ylokh_chat_send(c.raw(), &req, &mut handle) },
        YLOKH_OK
    );
    // The first tokens (the server then stalls for 30 s).
    support::transcript::await_count(&delivered, 1);
    unsafe { ylokh_request_cancel(handle) };
    assert_eq!(
        unsafe { ylokh_request_wait(handle, 10_000) },
        YLOKH_CANCELLED
    );
    unsafe { ylokh_request_free(handle) };
    assert!(tr
        .events
        .last()
        .unwrap()
        .starts_with("done:YLOKH_CANCELLED"));
    assert!(tokens(&tr).starts_with(" wörld0"));
    // The DELETE was taken before on_done (so before the wait returned).
    let id = conversation(&server);
    assert_eq!(
        server.stream_log(),
        [format!("POST {id}"), format!("DELETE {id}")]
    );
}

/// A Responses client with resume on (2 retries) and a read timeout.
fn background_client(url: &str, read_ms: u64) -> Client {
    client(url, |o| unsafe {
        assert_eq!(ylokh_options_set_resume(o, true), YLOKH_OK);
        assert_eq!(ylokh_options_set_max_retries(o, 2), YLOKH_OK);
        assert_eq!(ylokh_options_set_read_timeout_ms(o, read_ms), YLOKH_OK);
        assert_eq!(ylokh_options_set_api(o, YLOKH_API_RESPONSES), YLOKH_OK);
    })
}

#[test]
fn a_background_response_is_resumed_after_its_last_sequence_number() {
    let events = support::background_events();
    let all = events.concat();
    // Where each event starts, and a cut inside the 4-byte character of event 3 ("😀").
    let start = |n: usize| events[..n].iter().map(String::len).sum::<usize>();
    let emoji = all.find('😀').unwrap();
    let server = start_server();
    let mut whole = Transcript::default();
    let c = background_client(&format!("{}/bgresume/v1", server.url()), 5_000);
    assert_eq!(
        send_with(&c, request(true), &mut whole),
        YLOKH_OK,
        "{}",
        whole.message
    );
    assert_eq!(tokens(&whole), support::background_text());
    assert_eq!(server.stream_log(), ["POST background=true"]);
    for (what, cut, after, stall) in [
        ("inside an event", start(5) + 30, 4, false),
        ("at an event boundary", start(7), 6, false),
        ("inside a 4-byte character", emoji + 1, 2, false),
        ("inside the last event", start(31) + 40, 30, false),
        ("then a stall", start(12) + 3, 11, true),
    ] {
        let server = start_server();
        let mut tr = Transcript::default();
        let kind = if stall { "bgstall" } else { "bgresume" };
        // The read timeout matters only where the server goes silent; elsewhere a long one, so
        // a loaded machine's pause is not taken for a stall (and resumed once more).
        let read_ms = if stall { 1_500 } else { 5_000 };
        let c = background_client(&format!("{}/{kind}-{cut}/v1", server.url()), read_ms);
        let s = send_with(&c, request(true), &mut tr);
        assert_eq!(s, YLOKH_OK, "cut {what} ({cut}): {}", tr.message);
        assert_eq!(tr.events, whole.events, "cut {what} ({cut})");
        assert_eq!(tr.timings.resumes, 1);
        assert_eq!(
            server.stream_log(),
            [
                "POST background=true".to_string(),
                format!("GET /{kind}-{cut}/v1/responses/resp_bg1 after {after}")
            ],
            "cut {what}"
        );
    }
    // A break before the response's id arrived cannot be resumed, and says so.
    let server = start_server();
    let mut tr = Transcript::default();
    let c = background_client(&format!("{}/bgresume-10/v1", server.url()), 5_000);
    assert_eq!(send_with(&c, request(true), &mut tr), YLOKH_INCOMPLETE);
    assert!(
        tr.message
            .contains("resume was tried: no response id arrived"),
        "{}",
        tr.message
    );
}

#[test]
fn cancel_stops_a_background_response() {
    use ylokh::ffi::chat_request::ylokh_chat_send;
    use ylokh::ffi::request::{ylokh_request_cancel, ylokh_request_free, ylokh_request_wait};
    let server = start_server();
    let events = support::background_events();
    let cut = events[..8].iter().map(String::len).sum::<usize>();
    let c = background_client(&format!("{}/bgstall-{cut}/v1", server.url()), 0);
    let mut tr = Box::<Transcript>::default();
    let (role, content) = (CString::new("user").unwrap(), CString::new("hi").unwrap());
    let messages = [ylokh::ffi::types::ylokh_message {
        role: role.as_ptr(),
        content: content.as_ptr(),
    }];
    let mut req = request(true);
    req.messages = messages.as_ptr();
    req.n_messages = 1;
    req.user_data = (&mut *tr as *mut Transcript).cast();
    let mut handle = std::ptr::null_mut();
    let delivered = tr.delivered.clone();
    assert_eq!(
        unsafe { ylokh_chat_send(c.raw(), &req, &mut handle) },
        YLOKH_OK
    );
    // The seven callbacks before the cut (the server then stalls for 30 s); on_done is the eighth.
    support::transcript::await_count(&delivered, 7);
    unsafe { ylokh_request_cancel(handle) };
    assert_eq!(
        unsafe { ylokh_request_wait(handle, 10_000) },
        YLOKH_CANCELLED
    );
    unsafe { ylokh_request_free(handle) };
    assert_eq!(tr.events.len(), 8, "{:?}", tr.events);
    assert_eq!(
        server.stream_log(),
        [
            "POST background=true".to_string(),
            format!("CANCEL /bgstall-{cut}/v1/responses/resp_bg1/cancel")
        ]
    );
}

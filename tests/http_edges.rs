//! HTTP edges against hostile loopback servers and careless callers: an oversized response
//! head is a protocol failure, framing headers are refused, an HTTP error has its time to first
//! byte, a stalled partial head says what the read timeout saw, and a client used in a fork()ed
//! child fails at once.

#[path = "support/edge.rs"]
mod edge;
mod support;

use edge::{chat_answer, respond, run, Origin, Setup};
use std::ffi::CString;
use std::io::Write;
use std::time::Duration;
use ylokh::ffi::status::*;

#[test]
fn an_oversized_response_head_is_a_protocol_failure_and_is_not_retried() {
    let many_headers: String = (0..10_000)
        .map(|i| format!("X-Filler-{i}: {i}\r\n"))
        .collect();
    let long_line = format!("X-Long: {}\r\n", "a".repeat(1 << 20));
    for (what, extra) in [
        ("10,000 headers", many_headers),
        ("a 1 MiB header line", long_line),
    ] {
        let server = Origin::start("127.0.0.1", move |_, stream| {
            respond(stream, "200 OK", &extra, &chat_answer("never read"))
        });
        let outcome = run(&Setup {
            base_url: format!("{}/v1", server.url()),
            max_retries: 2,
            ..Setup::default()
        });
        assert_eq!(outcome.status, YLOKH_PROTOCOL, "{what}: {outcome:?}");
        assert!(
            outcome.message.contains("head"),
            "{what}: {}",
            outcome.message
        );
        // Two requests: the pull one and ylokh_chat_complete's, neither retried.
        assert_eq!(
            server.seen().len(),
            2,
            "{what}: a protocol failure is not retried"
        );
    }
}

#[test]
fn framing_headers_are_refused_with_a_message_that_names_them() {
    use ylokh::ffi::options::*;
    let names = [
        "Content-Length",
        "Transfer-Encoding",
        "Host",
        "Connection",
        "Keep-Alive",
        "Upgrade",
        "TE",
        "Trailer",
        "Proxy-Connection",
        "Expect",
    ];
    unsafe {
        let opts = ylokh_options_new_compatible(c"http://127.0.0.1:9/v1".as_ptr());
        for name in names {
            let c_name = CString::new(name).unwrap();
            assert_eq!(
                ylokh_options_set_header(opts, c_name.as_ptr(), c"5".as_ptr()),
                YLOKH_INVALID_ARGUMENT,
                "{name} was accepted"
            );
            let error = std::ffi::CStr::from_ptr(ylokh::ffi::misc::ylokh_last_error())
                .to_string_lossy()
                .to_ascii_lowercase();
            assert!(
                error.contains(&name.to_ascii_lowercase()),
                "{name}: {error}"
            );
            assert_eq!(
                ylokh_options_set_secret_header(opts, c_name.as_ptr(), c"5".as_ptr()),
                YLOKH_INVALID_ARGUMENT,
                "{name} was accepted as a secret header"
            );
        }
        // Ordinary headers are still fine.
        assert_eq!(
            ylokh_options_set_header(opts, c"X-Trace".as_ptr(), c"1".as_ptr()),
            YLOKH_OK
        );
        ylokh_options_free(opts);
    }
}

#[test]
fn an_http_error_has_its_time_to_first_byte() {
    let server = Origin::start("127.0.0.1", |_, stream| {
        std::thread::sleep(Duration::from_millis(50));
        respond(
            stream,
            "500 Internal Server Error",
            "",
            br#"{"error":"boom"}"#,
        )
    });
    let outcome = run(&Setup {
        base_url: format!("{}/v1", server.url()),
        ..Setup::default()
    });
    assert_eq!(outcome.status, YLOKH_HTTP_STATUS, "{outcome:?}");
    assert!(
        outcome.ttfb_ms >= 50,
        "ttfb_ms {} on an HTTP error",
        outcome.ttfb_ms
    );
}

#[test]
fn a_partial_head_that_stalls_is_not_reported_as_nothing_sent() {
    let server = Origin::start("127.0.0.1", |_, stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n");
        let _ = stream.flush();
        std::thread::sleep(Duration::from_secs(3));
    });
    let outcome = run(&Setup {
        base_url: format!("{}/v1", server.url()),
        read_timeout_ms: 300,
        ..Setup::default()
    });
    assert_eq!(outcome.status, YLOKH_TIMEOUT, "{outcome:?}");
    assert!(
        outcome.message.contains("read timeout"),
        "{}",
        outcome.message
    );
    assert!(
        !outcome.message.contains("sent nothing"),
        "{}",
        outcome.message
    );
    assert!(
        outcome.message.contains("response head"),
        "{}",
        outcome.message
    );
}

#[test]
fn a_client_used_in_a_forked_child_fails_at_once_and_says_to_make_a_new_one() {
    let server = Origin::start("127.0.0.1", |_, stream| {
        respond(stream, "200 OK", "", &chat_answer("parent"))
    });
    let exe = support::tmp_path("fork_test");
    support::compile("gcc", &["tests/c/fork.c"], &exe, &[]);
    let output = std::process::Command::new(&exe)
        .arg(format!("{}/v1", server.url()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the fork test failed: {stdout}");
    assert!(stdout.contains("fork: ok"), "{stdout}");
}

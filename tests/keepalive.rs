//! Kept-alive connections that the server ends on its own (an idle timer, as uvicorn's 5 s one):
//! a request whose reused connection dies before the answer is sent again at once on a new
//! connection, at no cost to the caller: no failure, no retry used, no backoff (issue 16).
//!
//! The loopback server's `closeafter` and `resetafter` scenarios answer each request completely
//! with keep-alive, then close or reset the connection a few ms later; the client reuses it at
//! once, so the race the issue describes happens on nearly every connection. The server counts
//! the reused connections it killed with a request waiting on them, so these tests fail when the
//! resend is missing (each such request would fail: max_retries is 0).

mod support;

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::capi::{chat_with, Client};
use support::{start_server, Server};
use ylokh::ffi::log::{ylokh_set_log_callback, YLOKH_LOG_DEBUG};
use ylokh::ffi::status::*;

/// DEBUG records that announce a resend on a new connection, from every test in this process.
static RESENDS_LOGGED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_resends(_: *mut c_void, _: u32, message: *const c_char, len: usize) {
    let text = std::slice::from_raw_parts(message.cast::<u8>(), len);
    if String::from_utf8_lossy(text).contains("resending at once on a new connection") {
        RESENDS_LOGGED.fetch_add(1, Ordering::SeqCst);
    }
}

fn count_logged_resends() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| unsafe {
        let status =
            ylokh_set_log_callback(YLOKH_LOG_DEBUG, Some(count_resends), std::ptr::null_mut());
        assert_eq!(status, YLOKH_OK);
    });
}

/// `threads` threads each send `per_thread` streamed requests back to back, all on one client
/// with max_retries 0, to `scenario`; every one must succeed, and the server must have killed
/// some reused connections under them.
fn every_request_succeeds(scenario: &str, threads: usize, per_thread: usize) {
    count_logged_resends();
    let server: Server = start_server();
    let client = Client::new(&format!("{}/{scenario}/v1", server.url()), None);
    let started = Instant::now();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    (0..per_thread)
                        .map(|_| chat_with(&client, "{}", true, None, || {}))
                        .filter(|a| a.status != YLOKH_OK || a.text != "alive")
                        .map(|a| format!("{} {}: {}", a.status, a.http_status, a.message))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed();
    let requests = threads * per_thread;
    let killed = server.killed_with_request();
    println!(
        "{scenario}: {requests} requests ({threads} threads) in {} ms; {} connections, {} requests \
         seen, {killed} reused connections killed under a request; {} failures",
        elapsed.as_millis(),
        server.connections(),
        server.hits(scenario),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failed, first: {}",
        failures.len(),
        failures[0]
    );
    assert!(
        killed > 0,
        "the server killed no reused connection with a request on it: the test proved nothing"
    );
    assert_eq!(
        server.hits(scenario) as usize,
        requests,
        "the server answered each request once (a killed one is never read)"
    );
    assert!(
        RESENDS_LOGGED.load(Ordering::SeqCst) > 0,
        "no DEBUG record announced a resend"
    );
    assert!(
        elapsed < Duration::from_secs(60),
        "no backoff may be spent: {elapsed:?}"
    );
}

#[test]
fn connections_closed_after_each_answer_cost_200_sequential_requests_nothing() {
    every_request_succeeds("closeafter", 1, 200);
}

#[test]
fn connections_reset_after_each_answer_cost_200_sequential_requests_nothing() {
    every_request_succeeds("resetafter", 1, 200);
}

#[test]
fn connections_closed_after_each_answer_cost_8_concurrent_streams_nothing() {
    every_request_succeeds("closeafter-concurrent", 8, 25);
}

#[test]
fn connections_reset_after_each_answer_cost_8_concurrent_streams_nothing() {
    every_request_succeeds("resetafter-concurrent", 8, 25);
}

/// A server that resets every connection before answering gets the configured retries and no
/// more: the resend is only for reused connections, and a fresh connection's failure takes the
/// ordinary path (max_retries 2: 3 attempts, with backoff; max_retries 0: one attempt).
#[test]
fn a_server_that_resets_every_connection_still_fails_after_the_normal_retries() {
    let server = start_server();
    let client = Client::with_retries(&format!("{}/resetalways-2/v1", server.url()), 2);
    let answer = chat_with(&client, "{}", true, None, || {});
    assert_eq!(answer.status, YLOKH_CONNECT, "{answer:?}");
    assert_eq!(server.hits("resetalways-2"), 3, "{answer:?}");

    let client = Client::new(&format!("{}/resetalways-0/v1", server.url()), None);
    let answer = chat_with(&client, "{}", true, None, || {});
    assert_eq!(answer.status, YLOKH_CONNECT, "{answer:?}");
    assert_eq!(server.hits("resetalways-0"), 1, "{answer:?}");
}

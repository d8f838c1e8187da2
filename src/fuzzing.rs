//! The check the fuzz target (`tests/fuzz/`) and its regression test run on one input: the
//! decoder and the per-event JSON handling on arbitrary bytes, split into arbitrary reads. It
//! panics (which the fuzzer reports) when a property breaks.

use crate::sse::Decoder;

/// Decodes `input` (after its first two bytes, which choose the read sizes and the cap) in
/// reads, and checks: the events equal those of one whole read, the decoder never holds more
/// than its cap, and parsing each event's JSON never panics.
pub fn check(input: &[u8]) {
    let (seed, cap, stream) = match input {
        [seed, cap, rest @ ..] => (*seed as usize, 64 + (*cap as usize) * 16, rest),
        _ => return,
    };
    let whole = decode(stream, cap, &mut |_| usize::MAX);
    let mut state = seed.max(1);
    let split = decode(stream, cap, &mut |_| {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345) % 65_536;
        1 + state % 17
    });
    assert_eq!(
        whole, split,
        "the events depend on how the bytes were split"
    );
}

type Events = (Vec<Vec<u8>>, bool);

fn decode(stream: &[u8], cap: usize, next_size: &mut dyn FnMut(usize) -> usize) -> Events {
    let mut decoder = Decoder::new(cap);
    let mut scratch = crate::chunk::Scratch::default();
    let mut events = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let n = next_size(rest.len()).min(rest.len());
        let mut input = &rest[..n];
        rest = &rest[n..];
        loop {
            match decoder.next_event(&mut input) {
                Ok(Some(event)) => {
                    // The JSON layer sees every event as the request engine would, with one stream's
                    // parser state from event to event.
                    crate::chunk::check_fast_path_in_stream(event.data, &mut scratch);
                    let _ = crate::chunk::error_body_text(event.data);
                    events.push([event.event_type, b"\0", event.data, b"\0", event.id].concat());
                }
                Ok(None) => break,
                Err(_) => return (events, true),
            }
            assert!(
                decoder.buffered_bytes() <= cap,
                "the decoder holds more than its cap"
            );
        }
    }
    (events, false)
}

/// The check the `response` fuzz target (`tests/fuzz/src/response.rs`) runs on one input: a
/// loopback server answers one request with `input` as the whole raw response (status line,
/// head, framing, body; the request streams when the input mentions `event-stream`). The
/// response head and the chunked framing are hyper's to parse; what is checked is what the
/// caller gets: the request ends, within its deadline, with a status that is not INTERNAL, a
/// message when it failed, and no secret in it.
pub fn check_response(input: &[u8]) {
    use crate::client::Client;
    use crate::pull::{PullEvent, PullQueue};
    use crate::request::RequestState;
    use crate::sink::Sink;
    use crate::status::Status;
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex, OnceLock};

    const KEY: &str = "sk-fuzz-key-3f9a";
    static ANSWER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    static CLIENT: OnceLock<Client> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}/v1", listener.local_addr().expect("its address"));
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                // Reads the request's head and body (Content-Length), then answers and closes.
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let answer = ANSWER.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let _ = stream.write_all(&answer);
            }
        });
        let mut options = crate::options::Options::compatible(&url).expect("the URL");
        options.set_api_key(Some(KEY)).expect("the key");
        options.read_timeout = Some(std::time::Duration::from_millis(300));
        options.timeout = Some(std::time::Duration::from_secs(3));
        options.max_retries = 0;
        Client::new(&options).expect("a client")
    });
    *ANSWER.lock().unwrap_or_else(|e| e.into_inner()) = input.to_vec();
    let stream = input
        .windows(12)
        .any(|w| w.eq_ignore_ascii_case(b"event-stream"));
    let body = format!(r#"{{"messages":[{{"role":"user","content":"hi"}}],"stream":{stream}}}"#);
    let queue = Arc::new(PullQueue::new(false));
    let started = client.start(
        body.into_bytes(),
        stream,
        Sink::Queue(queue.clone()),
        Arc::new(RequestState::new()),
        || {},
    );
    started.expect("the request starts");
    let outcome = loop {
        match queue.pop(Some(std::time::Duration::from_secs(10))) {
            Some(PullEvent::Done(outcome)) => break outcome,
            Some(_) => {}
            None => panic!("the request did not end within 10 s (its deadline is 3 s)"),
        }
    };
    assert_ne!(outcome.status, Status::Internal, "{:?}", outcome.message);
    if outcome.status != Status::Ok {
        let message = outcome.message.as_deref().unwrap_or("");
        assert!(!message.is_empty(), "a failure without a message");
        assert!(!message.contains(KEY), "the key in the message: {message}");
    }
}

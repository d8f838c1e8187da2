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
    let mut events = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let n = next_size(rest.len()).min(rest.len());
        let mut input = &rest[..n];
        rest = &rest[n..];
        loop {
            match decoder.next_event(&mut input) {
                Ok(Some(event)) => {
                    // The JSON layer sees every event, as the request engine would.
                    crate::chunk::check_fast_path(event.data);
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

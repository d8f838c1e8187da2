//! Properties of the SSE decoder over arbitrary input: it never panics, never holds more than
//! `max_event_bytes` of one event, and gives the same events however the bytes are split.

use proptest::prelude::*;
use ylokh::sse::Decoder;

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Events(Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>),
    TooLarge(Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>),
}

/// Feeds `reads` in order, checking the memory bound after every call.
fn decode(reads: &[&[u8]], cap: usize) -> Outcome {
    let mut decoder = Decoder::new(cap);
    let mut events = Vec::new();
    for read in reads {
        let mut input = *read;
        loop {
            match decoder.next_event(&mut input) {
                Ok(Some(e)) => events.push((e.event_type.to_vec(), e.data.to_vec(), e.id.to_vec())),
                Ok(None) => break,
                Err(_) => return Outcome::TooLarge(events),
            }
            assert!(
                decoder.buffered_bytes() <= cap,
                "buffered {} > cap {cap}",
                decoder.buffered_bytes()
            );
        }
        assert!(
            decoder.buffered_bytes() <= cap,
            "buffered {} > cap {cap}",
            decoder.buffered_bytes()
        );
    }
    Outcome::Events(events)
}

/// Bytes that look like an event stream often enough to reach every branch.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"event: x".to_vec()),
        Just(b"event: a-long-event-type-name-that-eats-the-cap".to_vec()),
        Just(b"id: 1".to_vec()),
        Just(b"id: a-long-last-event-id-that-persists-across-events".to_vec()),
        Just(b"retry: 5".to_vec()),
        Just(b": c".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just("π👋".as_bytes().to_vec()),
        Just(b"[DONE]".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..24),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn split_at(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut parts = Vec::new();
    let mut start = 0;
    for cut in cuts {
        parts.push(bytes[start..cut].to_vec());
        start = cut;
    }
    parts.push(bytes[start..].to_vec());
    parts
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_split_gives_the_same_events_and_never_panics(
        bytes in stream(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        cap in 64usize..512,
    ) {
        let whole = decode(&[&bytes], cap);
        let parts = split_at(&bytes, &cuts);
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(decode(&refs, cap), whole);
    }

    #[test]
    fn arbitrary_bytes_one_at_a_time_never_panic_or_overgrow(bytes in proptest::collection::vec(any::<u8>(), 0..2048), cap in 64usize..256) {
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(decode(&singles, cap), decode(&[&bytes], cap));
    }
}

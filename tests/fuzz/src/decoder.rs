//! AFL++ target: the SSE decoder and the per-event JSON handling (see ylokh::fuzzing::check).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        ylokh::fuzzing::check(data);
    });
}

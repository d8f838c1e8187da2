//! AFL++ target: a whole raw HTTP response (head, chunked or other framing, body) for one
//! request (see ylokh::fuzzing::check_response).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        ylokh::fuzzing::check_response(data);
    });
}

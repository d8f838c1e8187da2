//! Incremental Server-Sent Events decoder, by the WHATWG "event stream" rules.
//!
//! Bytes go in as they arrive from the socket, in reads of any size; events come out one at a
//! time through [`Decoder::next_event`], so the caller can `await` between two events (the pull
//! queue's backpressure needs that). The decoder never allocates once its buffers have grown to
//! the size of the largest event, and never holds more than `max_event_bytes` of one event.
//!
//! Rules covered: LF, CR and CRLF line ends (a CR and its LF may arrive in different reads);
//! `field:value` with one optional space after the colon; a line without a colon is a field with
//! an empty value; several `data` lines joined with `\n`; comments (`:` lines); `event`, `id`
//! (ignored when it contains NUL) and `retry` (digits only) fields; one leading UTF-8 BOM; an
//! event whose data buffer is empty is not dispatched; an unfinished event at the end of the
//! stream is discarded. Text stays bytes: UTF-8 is validated by the JSON parser, once an event is
//! whole, so a multibyte character split across reads is never a problem.

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched event. Borrows the decoder until the next call.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Event<'a> {
    /// The `event` field, empty for the default type ("message").
    pub event_type: &'a [u8],
    /// The data lines joined with `\n`.
    pub data: &'a [u8],
    /// The last event ID seen so far (it persists across events, as the spec says).
    pub id: &'a [u8],
}

/// The stream broke the size cap: one event (or one line) grew over `limit` bytes.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct TooLarge {
    pub limit: usize,
}

pub struct Decoder {
    /// A line that has begun but not ended yet (carried across reads).
    line: Vec<u8>,
    /// The data buffer of the event being built (each data line plus `\n`).
    data: Vec<u8>,
    event_type: Vec<u8>,
    last_id: Vec<u8>,
    retry_ms: Option<u64>,
    max_event_bytes: usize,
    /// The previous read ended with CR: an LF at the start of the next one belongs to it.
    skip_lf: bool,
    /// How many bytes of a leading BOM have matched so far; `None` once the start is past.
    bom_matched: Option<usize>,
    /// The last call dispatched an event: clear its buffers on the next call.
    dispatched: bool,
}

enum Step {
    NeedMore,
    Dispatch,
    Continue,
}

impl Decoder {
    pub fn new(max_event_bytes: usize) -> Self {
        Decoder {
            line: Vec::new(),
            data: Vec::new(),
            event_type: Vec::new(),
            last_id: Vec::new(),
            retry_ms: None,
            max_event_bytes,
            skip_lf: false,
            bom_matched: Some(0),
            dispatched: false,
        }
    }

    /// The reconnection time the server asked for with a `retry` field, if any.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Bytes held for an event that has not ended: what the end of the stream would discard.
    pub fn pending_bytes(&self) -> usize {
        if self.dispatched {
            self.line.len()
        } else {
            self.line.len() + self.data.len()
        }
    }

    /// Bytes the decoder holds: the current line, the event being built, its type and the last
    /// event ID. Never more than `max_event_bytes`.
    pub fn buffered_bytes(&self) -> usize {
        self.line.len() + self.data.len() + self.event_type.len() + self.last_id.len()
    }

    /// Consumes bytes from the front of `input` until an event is complete and returns it, or
    /// consumes all of `input` and returns `None` (feed the next read then). Call again with
    /// the rest of the same input until it returns `None`.
    pub fn next_event<'a, 'i: 'a>(
        &'a mut self,
        input: &mut &'i [u8],
    ) -> Result<Option<Event<'a>>, TooLarge> {
        if self.dispatched {
            self.dispatched = false;
            self.data.clear();
            self.event_type.clear();
        }
        if let Some(data) = self.whole_data_event(input) {
            return Ok(Some(Event {
                event_type: b"",
                data,
                id: &self.last_id,
            }));
        }
        loop {
            match self.step(input)? {
                Step::NeedMore => return Ok(None),
                Step::Continue => {}
                Step::Dispatch => break,
            }
        }
        self.dispatched = true;
        let data = self.data.strip_suffix(b"\n").unwrap_or(&self.data);
        Ok(Some(Event {
            event_type: &self.event_type,
            data,
            id: &self.last_id,
        }))
    }

    /// The zero-copy path for the usual event: when nothing is buffered and the input starts
    /// with one whole `data:` line and a blank line (LF endings), the data is handed out
    /// straight from the input. Where that does not hold, the general path below runs; both
    /// give the same events (the split-at-every-position tests check it) and the same cap.
    fn whole_data_event<'i>(&self, input: &mut &'i [u8]) -> Option<&'i [u8]> {
        if self.bom_matched.is_some()
            || self.skip_lf
            || !self.line.is_empty()
            || !self.data.is_empty()
            || !self.event_type.is_empty()
        {
            return None;
        }
        let rest = input.strip_prefix(b"data:")?;
        let end = memchr::memchr2(b'\n', b'\r', rest)?;
        if rest[end] != b'\n' || rest.get(end + 1) != Some(&b'\n') {
            return None;
        }
        let value = &rest[..end];
        let value = value.strip_prefix(b" ").unwrap_or(value);
        // The general path's two cap checks: the line, then the data with its newline.
        let kept = self.last_id.len();
        if kept + 5 + end > self.max_event_bytes || kept + value.len() + 1 > self.max_event_bytes {
            return None;
        }
        *input = &rest[end + 2..];
        Some(value)
    }

    fn step(&mut self, input: &mut &[u8]) -> Result<Step, TooLarge> {
        if let Some(matched) = self.bom_matched {
            let Some((&byte, rest)) = input.split_first() else {
                return Ok(Step::NeedMore);
            };
            if byte == BOM[matched] {
                *input = rest;
                self.bom_matched = if matched + 1 == BOM.len() {
                    None
                } else {
                    Some(matched + 1)
                };
            } else {
                // What looked like a BOM was content after all.
                self.line.extend_from_slice(&BOM[..matched]);
                self.bom_matched = None;
            }
            return Ok(Step::Continue);
        }
        if self.skip_lf {
            if input.is_empty() {
                return Ok(Step::NeedMore);
            }
            self.skip_lf = false;
            if input[0] == b'\n' {
                *input = &input[1..];
            }
        }
        let Some(end) = memchr::memchr2(b'\n', b'\r', input) else {
            self.check_room(input.len())?;
            self.line.extend_from_slice(input);
            *input = &[];
            return Ok(Step::NeedMore);
        };
        let terminator = input[end];
        let consumed = match (terminator, input.get(end + 1)) {
            (b'\r', Some(b'\n')) => end + 2,
            (b'\r', None) => {
                self.skip_lf = true;
                end + 1
            }
            _ => end + 1,
        };
        let dispatch = if self.line.is_empty() {
            self.check_room(end)?;
            let line = &input[..end];
            let dispatch = line.is_empty();
            if !dispatch {
                self.field(line)?;
            }
            dispatch
        } else {
            self.check_room(end)?;
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(&input[..end]);
            let result = self.field(&line);
            line.clear();
            self.line = line;
            result?;
            false
        };
        *input = &input[consumed..];
        if dispatch {
            if self.data.is_empty() {
                self.event_type.clear();
                return Ok(Step::Continue);
            }
            return Ok(Step::Dispatch);
        }
        Ok(Step::Continue)
    }

    /// Fails when `more` bytes would take what the decoder holds over the cap.
    fn check_room(&self, more: usize) -> Result<(), TooLarge> {
        if self.buffered_bytes() + more > self.max_event_bytes {
            return Err(TooLarge {
                limit: self.max_event_bytes,
            });
        }
        Ok(())
    }

    /// Processes one non-empty line.
    fn field(&mut self, line: &[u8]) -> Result<(), TooLarge> {
        if line[0] == b':' {
            return Ok(()); // a comment, e.g. ": ping"
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            // The line being processed is not counted in `buffered_bytes` here (it was taken
            // out of `self.line`, or never copied into it), so each check counts what stays.
            b"data" => {
                self.check_room(value.len() + 1)?;
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            b"event" => {
                self.event_type.clear();
                self.check_room(value.len())?;
                self.event_type.extend_from_slice(value);
            }
            b"id" if !value.contains(&0) => {
                self.last_id.clear();
                self.check_room(value.len())?;
                self.last_id.extend_from_slice(value);
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.retry_ms = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            _ => {} // unknown fields are ignored
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq, Clone)]
    pub(crate) struct Owned {
        event_type: String,
        data: String,
        id: String,
    }

    fn own(e: Event<'_>) -> Owned {
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        Owned {
            event_type: s(e.event_type),
            data: s(e.data),
            id: s(e.id),
        }
    }

    /// Feeds `reads` one after the other and collects every event.
    pub(crate) fn decode_reads(reads: &[&[u8]], cap: usize) -> Result<Vec<Owned>, TooLarge> {
        let mut decoder = Decoder::new(cap);
        let mut events = Vec::new();
        for read in reads {
            let mut input = *read;
            while let Some(event) = decoder.next_event(&mut input)? {
                events.push(own(event));
            }
            assert!(input.is_empty());
        }
        Ok(events)
    }

    fn decode(stream: &[u8]) -> Vec<Owned> {
        decode_reads(&[stream], 1 << 20).unwrap()
    }

    fn data(events: &[Owned]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn lf_cr_and_crlf_line_ends() {
        assert_eq!(
            data(&decode(b"data: a\n\ndata: b\r\rdata: c\r\n\r\n")),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn cr_and_lf_in_different_reads_are_one_line_end() {
        let events = decode_reads(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"], 1024).unwrap();
        assert_eq!(data(&events), ["a\nb"]);
        // A CR at the end of a read followed by a non-LF byte is a line end of its own.
        let events = decode_reads(&[b"data: a\r", b"\r"], 1024).unwrap();
        assert_eq!(data(&events), ["a"]);
    }

    #[test]
    fn space_after_colon_is_optional_and_only_one_is_removed() {
        assert_eq!(data(&decode(b"data:a\n\ndata:  b\n\n")), ["a", " b"]);
        // `data` alone appends an empty line: the buffer is "\n", which is not empty, so it dispatches.
        assert_eq!(data(&decode(b"data\n\n")), [""]);
    }

    #[test]
    fn several_data_lines_are_joined_with_lf() {
        assert_eq!(
            data(&decode(b"data: {\"a\":\ndata: 1}\n\n")),
            ["{\"a\":\n1}"]
        );
        assert_eq!(data(&decode(b"data:\ndata:\n\n")), ["\n"]);
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored() {
        assert_eq!(
            data(&decode(b": ping\n\n:\ndata: x\nfoo: bar\nnocolon\n\n")),
            ["x"]
        );
    }

    #[test]
    fn empty_data_buffer_is_not_dispatched_and_resets_the_event_type() {
        let events = decode(b"event: error\n\ndata: x\n\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, "");
    }

    #[test]
    fn event_id_and_retry_fields() {
        let mut decoder = Decoder::new(1024);
        let mut input: &[u8] =
            b"event: error\nid: 7\nretry: 1500\ndata: x\n\nretry: 2x\nid: a\0b\ndata: y\n\n";
        let first = own(decoder.next_event(&mut input).unwrap().unwrap());
        assert_eq!(
            (
                first.event_type.as_str(),
                first.id.as_str(),
                first.data.as_str()
            ),
            ("error", "7", "x")
        );
        let second = own(decoder.next_event(&mut input).unwrap().unwrap());
        // The id persists, an id with NUL is ignored, the event type resets, a bad retry is ignored.
        assert_eq!((second.event_type.as_str(), second.id.as_str()), ("", "7"));
        assert_eq!(decoder.retry_ms(), Some(1500));
    }

    #[test]
    fn one_leading_bom_is_skipped_even_when_split() {
        let events = decode_reads(&[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"], 1024).unwrap();
        assert_eq!(data(&events), ["a"]);
        // Only one: a second BOM is part of the first field name, so that line is ignored.
        assert_eq!(
            data(&decode(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n")),
            ["b"]
        );
        // A partial BOM is content.
        assert_eq!(decode(b"\xEFdata: a\n\n").len(), 0);
    }

    #[test]
    fn multibyte_utf8_split_across_reads() {
        let text = "data: привет 👋\n\n".as_bytes();
        for at in 0..text.len() {
            let events = decode_reads(&[&text[..at], &text[at..]], 1024).unwrap();
            assert_eq!(data(&events), ["привет 👋"], "split at {at}");
        }
    }

    #[test]
    fn several_events_in_one_read_and_done_marker() {
        assert_eq!(
            data(&decode(b"data: 1\n\ndata: 2\n\ndata: [DONE]\n\n")),
            ["1", "2", "[DONE]"]
        );
    }

    #[test]
    fn unfinished_event_at_end_is_not_dispatched() {
        let mut decoder = Decoder::new(1024);
        let mut input: &[u8] = b"data: a\n\ndata: b\n";
        assert!(decoder.next_event(&mut input).unwrap().is_some());
        assert!(decoder.next_event(&mut input).unwrap().is_none());
        assert_eq!(decoder.pending_bytes(), 2);
    }

    #[test]
    fn cap_on_one_line_and_on_one_event() {
        assert_eq!(
            decode_reads(&[&[b'x'; 100]], 64),
            Err(TooLarge { limit: 64 })
        );
        let many_lines = b"data: 0123456789\n".repeat(10);
        assert_eq!(
            decode_reads(&[&many_lines], 64),
            Err(TooLarge { limit: 64 })
        );
        // Exactly at the cap is fine: "data: " + 58 bytes is a 64-byte line.
        let mut fits = b"data: ".to_vec();
        fits.extend_from_slice(&[b'y'; 58]);
        fits.extend_from_slice(b"\n\n");
        assert_eq!(decode_reads(&[&fits], 64).unwrap()[0].data.len(), 58);
        // A long stream of small events never trips the cap.
        assert_eq!(
            decode_reads(&[&b"data: 0123456789\n\n".repeat(100)], 64)
                .unwrap()
                .len(),
            100
        );
    }

    #[test]
    fn buffered_memory_never_exceeds_the_cap_in_one_byte_reads() {
        let mut decoder = Decoder::new(32);
        let stream = b"data: 0123456789\ndata: 0123456789\n\n".repeat(3);
        for byte in stream.chunks(1) {
            let mut input = byte;
            while decoder.next_event(&mut input).unwrap().is_some() {}
            assert!(decoder.buffered_bytes() <= 32);
        }
    }

    /// A stream that exercises every rule, for the split tests.
    pub(crate) const TORTURE: &[u8] = b"\xEF\xBB\xBF: ping\r\n\r\ndata:{\"a\":\"\xD0\xBF\xD1\x80\xF0\x9F\x91\x8B\"}\r\rid: 1\nevent: x\nretry: 10\ndata: one\ndata:two\n\ndata\n\n\n\ndata:  z\r\n\r\ndata: [DONE]\n\n";

    #[test]
    fn the_same_stream_split_at_every_position_gives_identical_events() {
        let whole = decode(TORTURE);
        assert_eq!(whole.len(), 5);
        for a in 0..=TORTURE.len() {
            for b in a..=TORTURE.len() {
                let parts = [&TORTURE[..a], &TORTURE[a..b], &TORTURE[b..]];
                assert_eq!(
                    decode_reads(&parts, 1 << 20).unwrap(),
                    whole,
                    "split at {a} and {b}"
                );
            }
        }
    }

    #[test]
    fn the_same_stream_split_at_random_positions_gives_identical_events() {
        let stream = [
            TORTURE,
            &include_bytes!("../tests/fixtures/llama-stream.sse")[..],
        ]
        .concat();
        let whole = decode(&stream);
        let mut rng = fastrand::Rng::with_seed(0x5EED);
        for _ in 0..2000 {
            let mut reads = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let n = rng.usize(0..=rest.len().min(40));
                reads.push(&rest[..n]);
                rest = &rest[n..];
            }
            assert_eq!(decode_reads(&reads, 1 << 20).unwrap(), whole);
        }
    }
}

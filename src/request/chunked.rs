//! An HTTP/1.1 response body's framing, decoded in place: chunked transfer coding (sizes,
//! extensions, trailers), a `Content-Length`, or the bytes until the server closes. The decoder
//! never copies: it says which bytes of its input are body data, and how many it consumed.

use std::ops::Range;

/// The longest chunk-size line (with its extensions), and the most trailer bytes, accepted.
pub(super) const MAX_LINE: usize = 4096;
const MAX_TRAILERS: usize = 64 * 1024;

/// How the body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    Chunked,
    Length(u64),
    /// Until the server closes the connection.
    Close,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk: this many data bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines up to an empty one; bytes seen so far.
    Trailers(usize),
    /// `Content-Length` bytes left.
    Length(u64),
    Close,
    Done,
}

/// What the front of the input held.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// Body data at this range of the input (everything before it was framing).
    Data(Range<usize>),
    /// Nothing more can be decoded without more bytes.
    More,
    /// The body is complete.
    End,
}

pub(super) struct BodyDecoder {
    state: State,
}

impl BodyDecoder {
    pub(super) fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Chunked => State::Size,
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Close => State::Close,
        };
        BodyDecoder { state }
    }

    /// Decodes from the front of `input`: how many bytes it consumed, and what they held (at
    /// most one run of data). An error says how the framing is broken.
    pub(super) fn next(&mut self, input: &[u8]) -> Result<(usize, Piece), String> {
        let mut at = 0;
        loop {
            let rest = &input[at..];
            match self.state {
                State::Done => return Ok((at, Piece::End)),
                State::Close if rest.is_empty() => return Ok((at, Piece::More)),
                State::Close => return Ok((input.len(), Piece::Data(at..input.len()))),
                State::Length(_) | State::Data(_) if rest.is_empty() => {
                    return Ok((at, Piece::More))
                }
                State::Length(left) | State::Data(left) => {
                    let n = left.min(rest.len() as u64) as usize;
                    let left = left - n as u64;
                    self.state = match self.state {
                        State::Length(_) if left == 0 => State::Done,
                        State::Length(_) => State::Length(left),
                        _ if left == 0 => State::DataEnd,
                        _ => State::Data(left),
                    };
                    return Ok((at + n, Piece::Data(at..at + n)));
                }
                State::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        at += 2;
                        self.state = State::Size;
                    }
                    [] | [b'\r'] => return Ok((at, Piece::More)),
                    _ => return Err("a chunk's data is not followed by CRLF".into()),
                },
                State::Size => {
                    // The usual line, hex digits and CRLF, read in one pass.
                    if let Some((size, used)) = plain_size_line(rest) {
                        at += used;
                        self.state = match size {
                            0 => State::Trailers(0),
                            n => State::Data(n),
                        };
                        continue;
                    }
                    let Some(line) = line(rest)? else {
                        return Ok((at, Piece::More));
                    };
                    at += line.len() + 2;
                    self.state = match chunk_size(line)? {
                        0 => State::Trailers(0),
                        n => State::Data(n),
                    };
                }
                State::Trailers(seen) => {
                    let Some(line) = line(rest)? else {
                        return Ok((at, Piece::More));
                    };
                    at += line.len() + 2;
                    let seen = seen + line.len() + 2;
                    if seen > MAX_TRAILERS {
                        return Err(format!("the trailers are larger than {MAX_TRAILERS} bytes"));
                    }
                    self.state = if line.is_empty() {
                        State::Done
                    } else {
                        State::Trailers(seen)
                    };
                }
            }
        }
    }

    /// At the end of the connection's bytes: `Ok` when that is where the body ends.
    pub(super) fn at_eof(&mut self) -> Result<(), String> {
        match self.state {
            State::Close | State::Done => {
                self.state = State::Done;
                Ok(())
            }
            State::Length(left) => Err(format!(
                "the connection closed {left} bytes before the end of the body (Content-Length)"
            )),
            _ => Err("the connection closed before the last chunk of the body".into()),
        }
    }

    /// Whether the whole body was read and the connection may carry another request.
    pub(super) fn complete(&self) -> bool {
        self.state == State::Done
    }
}

/// A chunk-size line of hex digits and CRLF, no extensions (what servers send): the size and
/// the line's length. `None` for anything else, which [`line`] and [`chunk_size`] judge.
#[inline]
fn plain_size_line(input: &[u8]) -> Option<(u64, usize)> {
    let mut size = 0u64;
    let mut digits = 0;
    while let Some(&b) = input.get(digits) {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => break,
        };
        if digits == 15 {
            return None; // too long: chunk_size words the error
        }
        size = size << 4 | u64::from(digit);
        digits += 1;
    }
    (digits > 0 && input.get(digits..digits + 2) == Some(b"\r\n")).then_some((size, digits + 2))
}

/// The line at the front of `input` without its CRLF, `None` while it is incomplete.
fn line(input: &[u8]) -> Result<Option<&[u8]>, String> {
    match memchr::memchr(b'\n', input) {
        Some(end) if end > 0 && input[end - 1] == b'\r' => Ok(Some(&input[..end - 1])),
        Some(_) => Err("a chunk line does not end with CRLF".into()),
        None if input.len() >= MAX_LINE => Err(format!(
            "a chunk-size or trailer line is longer than {MAX_LINE} bytes"
        )),
        None => Ok(None),
    }
}

/// The size in a chunk-size line: hex digits, then optional whitespace and extensions.
fn chunk_size(line: &[u8]) -> Result<u64, String> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = &line[digits..];
    let rest = rest.trim_ascii_start();
    if digits == 0 || digits > 15 || !(rest.is_empty() || rest[0] == b';') {
        return Err(format!(
            "a chunk size is not a hex number: '{}'",
            String::from_utf8_lossy(&line[..line.len().min(40)])
        ));
    }
    let text = std::str::from_utf8(&line[..digits]).map_err(|e| e.to_string())?;
    u64::from_str_radix(text, 16).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` given to the decoder in pieces cut at `cuts`, as a reader would: unconsumed
    /// bytes stay and more are appended. The body, and whether it completed.
    fn decode(framing: Framing, wire: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, bool), String> {
        let mut decoder = BodyDecoder::new(framing);
        let mut buffer = Vec::new();
        let mut body = Vec::new();
        let mut ends = cuts.to_vec();
        ends.push(wire.len());
        let mut from = 0;
        for end in ends {
            buffer.extend_from_slice(&wire[from..end]);
            from = end;
            loop {
                let (used, piece) = decoder.next(&buffer)?;
                match piece {
                    Piece::Data(range) => body.extend_from_slice(&buffer[range]),
                    Piece::End => {
                        buffer.drain(..used);
                        return Ok((body, buffer.is_empty()));
                    }
                    Piece::More => {
                        buffer.drain(..used);
                        break;
                    }
                }
                buffer.drain(..used);
            }
        }
        decoder.at_eof()?;
        Ok((body, true))
    }

    const WIRE: &[u8] = b"5\r\nhello\r\n1;name=value;x=\"q\"\r\n \r\nA \r\n0123456789\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n";

    #[test]
    fn chunked_bodies_decode_split_at_every_byte_boundary() {
        let expected = b"hello 0123456789".to_vec();
        assert_eq!(
            decode(Framing::Chunked, WIRE, &[]),
            Ok((expected.clone(), true))
        );
        for cut in 0..=WIRE.len() {
            assert_eq!(
                decode(Framing::Chunked, WIRE, &[cut]),
                Ok((expected.clone(), true)),
                "cut at {cut}"
            );
        }
        let every: Vec<usize> = (1..WIRE.len()).collect();
        assert_eq!(decode(Framing::Chunked, WIRE, &every), Ok((expected, true)));
    }

    #[test]
    fn the_end_is_the_empty_line_after_the_last_chunk_and_its_trailers() {
        let mut decoder = BodyDecoder::new(Framing::Chunked);
        let (used, piece) = decoder.next(b"0\r\n\r\nHTTP/1.1").unwrap();
        assert_eq!((used, piece), (5, Piece::End));
        assert!(decoder.complete());
        let mut decoder = BodyDecoder::new(Framing::Chunked);
        assert_eq!(decoder.next(b"0\r\nX: 1\r\n").unwrap(), (9, Piece::More));
        assert!(!decoder.complete());
        assert!(decoder.at_eof().is_err(), "trailers never ended");
    }

    #[test]
    fn bad_chunk_sizes_and_framing_are_errors() {
        for wire in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"\r\nhello\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"5 x\r\nhello\r\n0\r\n\r\n",
            b"1000000000000000\r\n",
            b"5\r\nhelloXY0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
        ] {
            let result = decode(Framing::Chunked, wire, &[]);
            assert!(
                result.is_err(),
                "{:?}: {result:?}",
                String::from_utf8_lossy(wire)
            );
        }
        let long = [b"5;".as_slice(), &[b'x'; MAX_LINE]].concat();
        assert!(
            decode(Framing::Chunked, &long, &[]).is_err(),
            "an endless size line"
        );
    }

    #[test]
    fn the_one_pass_size_line_reads_what_the_general_path_reads() {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for digits in [
            "0",
            "5",
            "f0",
            "Ff",
            "10",
            "abcDEF",
            "fffffffffffffff",
            "1000000000000000",
        ] {
            for end in ["\r\n", "\r", "", "\n", " \r\n", ";a=b\r\n", "x\r\n"] {
                lines.push(format!("{digits}{end}data").into_bytes());
            }
        }
        let mut plain = 0;
        for input in &lines {
            let general = line(input)
                .ok()
                .flatten()
                .map(|l| (chunk_size(l), l.len() + 2));
            match plain_size_line(input) {
                Some((size, used)) => {
                    plain += 1;
                    assert_eq!(general, Some((Ok(size), used)), "{input:?}");
                }
                // Left to the general path: extensions, whitespace, errors, incomplete lines.
                None => {
                    if let Some((Ok(_), _)) = general {
                        assert!(input.contains(&b';') || input.contains(&b' '), "{input:?}");
                    }
                }
            }
        }
        assert_eq!(
            plain, 7,
            "every plain line of hex digits and CRLF, up to 15 digits"
        );
    }

    #[test]
    fn a_connection_closed_inside_a_chunked_body_is_an_error() {
        for end in 0..WIRE.len() {
            let result = decode(Framing::Chunked, &WIRE[..end], &[]);
            assert!(result.is_err(), "ended at {end}: {result:?}");
        }
    }

    #[test]
    fn content_length_and_close_framing() {
        assert_eq!(
            decode(Framing::Length(5), b"helloEXTRA", &[2]),
            Ok((b"hello".to_vec(), false))
        );
        assert!(decode(Framing::Length(6), b"hello", &[2]).is_err());
        assert_eq!(decode(Framing::Length(0), b"", &[]), Ok((vec![], true)));
        assert_eq!(
            decode(Framing::Close, b"all of it", &[3, 4]),
            Ok((b"all of it".to_vec(), true))
        );
    }
}

//! String helpers of the fast path: finding the end of a plain run, decoding escapes; and the
//! one JSON string writer the message builders share.

/// Whether `c` ends a string's plain run: a quote, a backslash or a control character.
#[inline(always)]
fn ends_run(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// The index of the first byte at or after `i` that ends a string's plain run (or `b.len()`).
/// Sixteen bytes at a time with SSE2 (part of every x86-64 CPU), else eight at a time in a
/// `u64`; most strings of a chunk (its keys, ids and tokens) end within the first sixteen.
#[inline(always)]
pub(super) fn plain_run(b: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= b.len() {
        use std::arch::x86_64::*;
        // SAFETY: `i + 16 <= b.len()`, so the unaligned 16-byte load reads only bytes of `b`;
        // the other intrinsics touch registers only, and SSE2 is in x86-64's baseline.
        let mask = unsafe {
            let x = _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
            // Unsigned x <= 0x1f exactly when min(x, 0x1f) == x.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        };
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    // Eight bytes at a time: a zero byte in `x ^ pattern`, or a byte below 0x20, sets that
    // byte's high bit in `mask`; the lowest set bit is exact (a borrow only spreads upwards).
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    while let Some(word) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let mask = zero(x ^ (ONES * b'"' as u64))
            | zero(x ^ (ONES * b'\\' as u64))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if mask != 0 {
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i).is_some_and(|&c| !ends_run(c)) {
        i += 1;
    }
    i
}

/// Decodes a string's escapes into `out`; `None` for what serde should judge (invalid UTF-8, a
/// lone surrogate).
pub(super) fn unescape(raw: &[u8], out: &mut String) -> Option<()> {
    let mut rest = raw;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.push_str(std::str::from_utf8(&rest[..at]).ok()?);
        let c = match *rest.get(at + 1)? {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'u' => {
                let hi = hex4(rest.get(at + 2..)?)?;
                let (code, used) = if (0xD800..0xDC00).contains(&hi) {
                    let lo = match rest.get(at + 6..at + 12)? {
                        [b'\\', b'u', h @ ..] => hex4(h)?,
                        _ => return None,
                    };
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    (0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 12)
                } else {
                    (hi, 6)
                };
                out.push(char::from_u32(code)?);
                rest = &rest[at + used..];
                continue;
            }
            other => other as char, // " \ /
        };
        out.push(c);
        rest = &rest[at + 2..];
    }
    out.push_str(std::str::from_utf8(rest).ok()?);
    Some(())
}

fn hex4(h: &[u8]) -> Option<u32> {
    u32::from_str_radix(std::str::from_utf8(h.get(..4)?).ok()?, 16).ok()
}

/// Appends `s` as a JSON string literal (serde_json's escaping), without a copy on the side.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    serde_json::to_writer(Appender(out), s).expect("a string always serializes");
}

/// `io::Write` into a `String`, for serde_json's escaper (which writes pieces of valid UTF-8:
/// runs of the input between escapes, and ASCII escapes).
struct Appender<'a>(&'a mut String);

impl std::io::Write for Appender<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = std::str::from_utf8(buf)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        self.0.push_str(text);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte by byte, for comparison.
    fn plain_run_slowly(b: &[u8], i: usize) -> usize {
        (i..b.len()).find(|&j| ends_run(b[j])).unwrap_or(b.len())
    }

    #[test]
    fn plain_run_finds_the_first_quote_backslash_or_control_character_at_any_offset() {
        // Every byte value at every position of every length up to 40 (the 16- and 8-byte
        // blocks and the tail), after a run of plain bytes, ASCII and not.
        for len in 0..40 {
            for filler in [b'a', 0x7f, 0x80, 0xff, b' '] {
                for at in 0..len {
                    for c in 0..=255u8 {
                        let mut b = vec![filler; len];
                        b[at] = c;
                        for start in [0, 1, 7, at] {
                            if start <= len {
                                assert_eq!(
                                    plain_run(&b, start),
                                    plain_run_slowly(&b, start),
                                    "{b:?} from {start}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

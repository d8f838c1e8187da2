//! The fast path of chunk parsing: a hand-written scanner for the shape nearly every streamed
//! chunk has, measured at about a fifth of the time serde takes on the same chunk (see
//! benches/README.md).
//!
//! It reads the document once, validating its JSON syntax, and picks out `choices[0]`'s
//! `delta`/`message` `content`, `reasoning_content`, `reasoning` and `finish_reason`. Whenever
//! anything is not plain — an `error` or `usage` object, an escape inside a key, a duplicate
//! field, a type serde would reject, deep nesting, any syntax error — it gives up (`None`) and
//! the serde parser decides, so results and error messages are serde's own. The property test
//! in `chunk` checks that whenever this returns a result, serde returns the same one.
//!
//! Escaped text is decoded into the caller's scratch buffer, so no chunk allocates once that
//! buffer has grown to the longest text.

use super::parsed::Parsed;
use super::text::{plain_run, unescape};
use std::borrow::Cow;

/// Nesting deeper than this goes to serde (whose own limit is 128).
const MAX_DEPTH: u32 = 64;

/// Where a string's text is: its raw bytes in the document, and whether they hold escapes.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    escaped: bool,
}

/// A string field: absent or null (`None`), or a string.
type Field = Option<Span>;

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline(always)]
    fn ws(&mut self) {
        // Compact JSON has none: one comparison for any byte above the space.
        while let Some(&c) = self.b.get(self.i) {
            if c > b' ' || !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string, the scanner at its opening quote.
    #[inline]
    fn string(&mut self) -> Option<Span> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            self.i = plain_run(self.b, self.i);
            match *self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(Span {
                        start,
                        end: self.i - 1,
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    match *self.b.get(self.i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                        b'u' => {
                            let hex = self.b.get(self.i + 2..self.i + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None, // a control character
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.ws();
        (self.b.get(self.i..self.i + word.len())? == word).then(|| self.i += word.len())
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        self.ws();
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// Any JSON value, checked and thrown away.
    fn skip(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(depth, |s, _| s.skip(depth + 1)),
            b'[' => self.array(depth, |s, _| s.skip(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    /// An object; `value` is called with each key (plain ASCII without escapes, else the whole
    /// document goes to serde) and must consume its value.
    fn object(
        &mut self,
        depth: u32,
        mut value: impl FnMut(&mut Self, &[u8]) -> Option<()>,
    ) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let span = self.string()?;
            let b = self.b;
            let key = &b[span.start..span.end];
            if span.escaped || !key.is_ascii() {
                return None;
            }
            self.eat(b':')?;
            value(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array; `element` is called with each index and must consume the element.
    fn array(
        &mut self,
        depth: u32,
        mut element: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        let mut n = 0;
        loop {
            element(self, n)?;
            n += 1;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null` (None) or a string; anything else goes to serde.
    fn text(&mut self, slot: &mut Option<Field>) -> Option<()> {
        if slot.is_some() {
            return None; // a duplicate field: serde's error
        }
        *slot = Some(match self.peek()? {
            b'"' => Some(self.string()?),
            _ => {
                self.literal(b"null")?;
                None
            }
        });
        Some(())
    }

    /// `null`, or an object read by `fields`; sets `*seen` (a second one goes to serde).
    fn nullable_object(
        &mut self,
        seen: &mut bool,
        depth: u32,
        present: &mut bool,
        fields: impl FnMut(&mut Self, &[u8]) -> Option<()>,
    ) -> Option<()> {
        if std::mem::replace(seen, true) {
            return None;
        }
        if self.peek()? == b'n' {
            return self.literal(b"null");
        }
        *present = true;
        self.object(depth, fields)
    }
}

#[derive(Default)]
struct Found {
    has_choice: bool,
    content: Option<Field>,
    reasoning_content: Option<Field>,
    reasoning: Option<Field>,
    finish_reason: Option<Field>,
}

/// Reads `{ "delta" | "message": { content, reasoning_content, reasoning }, finish_reason }`.
fn choice(s: &mut Scanner<'_>, found: &mut Found) -> Option<()> {
    if s.peek()? != b'{' {
        return None; // null or an array: serde's business
    }
    let (mut seen_delta, mut seen_message, mut has_delta) = (false, false, false);
    let mut has_message = false;
    // The message's fields count only when there is no delta (as in `delta.or(message)`).
    let mut message = Found::default();
    s.object(2, |s, key| match key {
        b"delta" => {
            let mut present = false;
            let r = s.nullable_object(&mut seen_delta, 3, &mut present, |s, k| {
                delta_field(s, k, found)
            });
            has_delta |= present;
            r
        }
        b"message" => s.nullable_object(&mut seen_message, 3, &mut has_message, |s, k| {
            delta_field(s, k, &mut message)
        }),
        b"finish_reason" => s.text(&mut found.finish_reason),
        _ => s.skip(3),
    })?;
    if has_delta && has_message {
        // Both (no server sends that): serde decodes the message's texts even though the
        // delta's count, and its errors on them are its own.
        return None;
    }
    if !has_delta {
        found.content = message.content;
        found.reasoning_content = message.reasoning_content;
        found.reasoning = message.reasoning;
    }
    Some(())
}

fn delta_field(s: &mut Scanner<'_>, key: &[u8], found: &mut Found) -> Option<()> {
    match key {
        b"content" => s.text(&mut found.content),
        b"reasoning_content" => s.text(&mut found.reasoning_content),
        b"reasoning" => s.text(&mut found.reasoning),
        // Tool calls are rare and need the assembler: serde reads those chunks (null is skipped).
        b"tool_calls" | b"function_call" => match s.peek()? {
            b'n' => s.literal(b"null"),
            _ => None,
        },
        // Round-trip reasoning is as rare and goes to serde the same way; null and `[]`
        // (gateways that repeat an empty array on every chunk) say nothing and stay here.
        b"reasoning_details" => match s.peek()? {
            b'n' => s.literal(b"null"),
            b'[' => s.array(4, |_, _| None),
            _ => None,
        },
        _ => s.skip(4),
    }
}

/// A string's text as `str`; `None` for invalid UTF-8 (serde's to word). A token is short and
/// nearly always ASCII: checked as such first, without the general validator's set-up.
#[inline]
fn utf8(text: &[u8]) -> Option<&str> {
    if text.len() <= 32 && text.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(text) });
    }
    std::str::from_utf8(text).ok()
}

/// What the scanner remembers of a stream's last document. Servers repeat the same members in
/// every chunk of a stream, byte for byte (`"id"`, `"object"`, `"created"`, `"model"`,
/// `"system_fingerprint"`: before `choices` in OpenAI's and vLLM's order, after it in
/// llama.cpp's), and the scanner only checks and skips them. A document that starts (or, after
/// a member the scanner reads, ends) with the same bytes as the last one leads the scanner
/// through the same steps to the same place, so those bytes are compared instead of scanned.
/// Each part is kept only up to [`MEMO_MAX`] bytes, so memory does not grow with what a server
/// sends.
#[derive(Default)]
pub struct Memo {
    /// The start of the last document up to the comma after the members skipped before the
    /// first member read (`{"id":…,"system_fingerprint":"fp",`); empty when there were none.
    prefix: Vec<u8>,
    /// The end of the last document after the value of the last member read (`,"created":…}`
    /// and any whitespace): members skipped, the closing brace, whitespace.
    suffix: Vec<u8>,
}

/// The longest prefix or suffix a [`Memo`] keeps.
const MEMO_MAX: usize = 512;

impl Memo {
    fn remember(part: &mut Vec<u8>, bytes: &[u8]) {
        part.clear();
        if bytes.len() <= MEMO_MAX {
            part.extend_from_slice(bytes);
        } else {
            // Not kept: and a long buffer, once kept, is not held on to either.
            part.shrink_to(MEMO_MAX);
        }
    }
}

/// The top-level member named `key`, the scanner after its colon; `Some(true)` for a member
/// the scanner reads, `Some(false)` for one it checks and skips (which changes nothing but the
/// position: what makes [`Memo`] sound).
fn top_member(
    s: &mut Scanner<'_>,
    key: &[u8],
    found: &mut Found,
    seen_choices: &mut bool,
    seen_usage: &mut bool,
) -> Option<bool> {
    match key {
        b"choices" => {
            if std::mem::replace(seen_choices, true) {
                return None;
            }
            if s.peek()? == b'n' {
                s.literal(b"null")?;
                return Some(true);
            }
            if s.peek()? != b'[' {
                return None;
            }
            s.array(1, |s, n| {
                if n == 0 {
                    found.has_choice = true;
                    choice(s, found)
                } else {
                    s.skip(2)
                }
            })?;
        }
        // A usage object (the last chunk) or an error: serde reads those.
        b"usage" => {
            if std::mem::replace(seen_usage, true) {
                return None;
            }
            s.literal(b"null")?;
        }
        b"error" => return None,
        // llama.cpp's `timings` (its last chunk only): serde keeps it raw; null stays here.
        b"timings" => match s.peek()? {
            b'n' => s.literal(b"null")?,
            _ => return None,
        },
        _ => {
            s.skip(1)?;
            return Some(false);
        }
    }
    Some(true)
}

/// The fast path; `None` means "ask serde". Escaped text is decoded into `scratch`; `memo`
/// is the stream's (see [`Memo`]: the answer is the same whatever it holds).
pub fn parse<'a>(json: &'a [u8], scratch: &'a mut String, memo: &mut Memo) -> Option<Parsed<'a>> {
    let mut s = Scanner { b: json, i: 0 };
    let mut found = Found::default();
    let (mut seen_choices, mut seen_usage) = (false, false);
    // Where the first member read starts (its key) and the last one ends (its value).
    let mut first_read: Option<usize> = None;
    let mut last_read_end: Option<usize> = None;
    let mut skipped_first = false;
    let mut suffix_known = false;
    let prefix_known = !memo.prefix.is_empty() && json.starts_with(&memo.prefix);
    let empty = if prefix_known {
        // After the prefix's last comma: a key comes next, as in the loop below.
        s.i = memo.prefix.len();
        skipped_first = true;
        false
    } else {
        s.eat(b'{')?;
        s.peek()? == b'}'
    };
    if empty {
        s.i += 1;
    } else {
        loop {
            if s.peek()? != b'"' {
                return None;
            }
            let key_start = s.i;
            let span = s.string()?;
            let key = &json[span.start..span.end];
            if span.escaped || !key.is_ascii() {
                return None;
            }
            s.eat(b':')?;
            if top_member(&mut s, key, &mut found, &mut seen_choices, &mut seen_usage)? {
                first_read.get_or_insert(key_start);
                last_read_end = Some(s.i);
                let rest = &json[s.i..];
                if rest.len() == memo.suffix.len() && !rest.is_empty() && *rest == memo.suffix[..] {
                    suffix_known = true;
                    break;
                }
            } else if first_read.is_none() {
                skipped_first = true;
            }
            match s.peek()? {
                b',' => s.i += 1,
                b'}' => {
                    s.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    if !suffix_known && s.peek().is_some() {
        return None; // trailing characters
    }
    // The document is sound from its start to its end: remember its repeated parts.
    if let Some(start) = first_read {
        if !skipped_first {
            memo.prefix.clear();
        } else if !(prefix_known && start == memo.prefix.len()) {
            Memo::remember(&mut memo.prefix, &json[..start]);
        }
    }
    if let Some(end) = last_read_end {
        if !suffix_known {
            Memo::remember(&mut memo.suffix, &json[end..]);
        }
    }

    let fields = [
        found.content,
        found.reasoning_content,
        found.reasoning,
        found.finish_reason,
    ];
    if !fields
        .iter()
        .any(|f| matches!(f, Some(Some(Span { escaped: true, .. }))))
    {
        // The usual case: every text is borrowed from the document as it is.
        let text = |field: Option<Field>| -> Option<Option<Cow<'a, str>>> {
            match field.flatten() {
                None => Some(None),
                Some(span) => Some(Some(Cow::Borrowed(utf8(&json[span.start..span.end])?))),
            }
        };
        let reasoning = text(found.reasoning_content)?;
        return Some(Parsed {
            content: text(found.content)?,
            reasoning: if reasoning.is_some() {
                reasoning
            } else {
                text(found.reasoning)?
            },
            finish_reason: text(found.finish_reason)?,
            usage: None,
            error: None,
            tool_calls: None,
            function_call: None,
            reasoning_details: None,
            timings: None,
            has_choice: found.has_choice,
        });
    }

    // Decode: escaped strings into the scratch buffer, then borrow everything.
    enum At<'a> {
        Json(&'a str),
        Scratch(usize, usize),
    }
    scratch.clear();
    let mut at: [Option<At<'a>>; 4] = [None, None, None, None];
    for (at, field) in at.iter_mut().zip(fields) {
        let Some(Some(span)) = field else { continue };
        let raw = &json[span.start..span.end];
        *at = Some(if span.escaped {
            let start = scratch.len();
            unescape(raw, scratch)?;
            At::Scratch(start, scratch.len())
        } else {
            At::Json(utf8(raw)?)
        });
    }
    let scratch: &'a String = scratch;
    let [content, reasoning_content, reasoning, finish_reason] = at.map(|at| {
        at.map(|at| {
            Cow::Borrowed(match at {
                At::Json(text) => text,
                At::Scratch(start, end) => &scratch[start..end],
            })
        })
    });
    Some(Parsed {
        content,
        reasoning: reasoning_content.or(reasoning),
        finish_reason,
        usage: None,
        error: None,
        tool_calls: None,
        function_call: None,
        reasoning_details: None,
        timings: None,
        has_choice: found.has_choice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan<'a>(json: &'a [u8], scratch: &'a mut String, memo: &mut Memo) -> Option<String> {
        parse(json, scratch, memo).map(|p| format!("{p:?}"))
    }

    #[test]
    fn the_memo_keeps_the_members_before_and_after_the_ones_read() {
        let mut memo = Memo::default();
        let mut scratch = String::new();
        // OpenAI's and vLLM's order: the repeated members first.
        let openai = |token: &str| {
            format!(
                r#"{{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp","choices":[{{"index":0,"delta":{{"content":"{token}"}},"finish_reason":null}}]}}"#
            )
        };
        let first = scan(openai("a").as_bytes(), &mut scratch, &mut memo).unwrap();
        assert_eq!(
            memo.prefix,
            br#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp","#
        );
        assert_eq!(memo.suffix, b"}");
        // The next chunk starts the same: the answer is its own.
        assert_eq!(
            scan(openai("a").as_bytes(), &mut scratch, &mut memo).unwrap(),
            first
        );
        let second = scan(openai("b").as_bytes(), &mut scratch, &mut memo).unwrap();
        assert!(second.contains(r#"content: Some("b")"#), "{second}");

        // llama.cpp's order: the repeated members after `choices`.
        let llama = |token: &str| {
            format!(
                r#"{{"choices":[{{"finish_reason":null,"index":0,"delta":{{"content":"{token}"}}}}],"created":1,"id":"c","model":"m","object":"chat.completion.chunk"}} "#
            )
        };
        scan(llama("a").as_bytes(), &mut scratch, &mut memo).unwrap();
        assert!(memo.prefix.is_empty());
        assert_eq!(
            memo.suffix,
            br#","created":1,"id":"c","model":"m","object":"chat.completion.chunk"} "#
        );
        let b = scan(llama("b").as_bytes(), &mut scratch, &mut memo).unwrap();
        assert!(b.contains(r#"content: Some("b")"#), "{b}");

        // A document that differs after the remembered start is read as it is: a bad one
        // still goes to serde, and a good one replaces what is remembered.
        let mut memo = Memo::default();
        scan(openai("a").as_bytes(), &mut scratch, &mut memo).unwrap();
        let broken = openai("a").replace(
            r#""system_fingerprint":"fp","#,
            r#""system_fingerprint":"fp",}"#,
        );
        assert!(scan(broken.as_bytes(), &mut scratch, &mut memo).is_none());
        let other = br#"{"id":"c2","choices":[],"model":"n"}"#;
        scan(other, &mut scratch, &mut memo).unwrap();
        assert_eq!(memo.prefix, br#"{"id":"c2","#);
        assert_eq!(memo.suffix, br#","model":"n"}"#);
    }

    #[test]
    fn the_memo_keeps_no_part_longer_than_its_cap() {
        let mut memo = Memo::default();
        let mut scratch = String::new();
        let long = "x".repeat(MEMO_MAX);
        let json = format!(r#"{{"id":"{long}","choices":[],"model":"{long}"}}"#);
        assert!(scan(json.as_bytes(), &mut scratch, &mut memo).is_some());
        assert!(memo.prefix.is_empty() && memo.suffix.is_empty());
        assert!(memo.prefix.capacity() <= MEMO_MAX && memo.suffix.capacity() <= MEMO_MAX);
    }
}

//! Conversations: a message history kept as JSON text, for `ylokh_conversation_*`.
//!
//! The history is one buffer holding the JSON array (`[m0,m1,...]`) followed by a NUL byte, so
//! [`Conversation::json`] and [`Conversation::json_cstr`] cost nothing, plus the byte span of
//! each message in it. Every message is validated or built before anything is written, so a
//! failed call leaves the conversation unchanged.
//!
//! What is stored:
//! - [`add`](Conversation::add): `{"role":ROLE,"content":CONTENT}`;
//! - [`add_json`](Conversation::add_json): the caller's text **as given** (only leading and
//!   trailing whitespace removed) once it has parsed as a JSON object with a string `"role"`;
//!   key order, number spelling and escapes are kept;
//! - [`add_tool_result`](Conversation::add_tool_result):
//!   `{"role":"tool","tool_call_id":ID,"content":CONTENT}`;
//! - [`add_image`](Conversation::add_image): `{"role":ROLE,"content":[{"type":"text",
//!   "text":TEXT},{"type":"image_url","image_url":{"url":URL}}]}`, the text part only when
//!   there is a text; URL is an http(s) or `data:` URL as given, or a file read now and written
//!   as `data:MIME;base64,...` (PNG, JPEG, GIF or WebP, recognised by their magic bytes).

use crate::chunk::push_json_str;
use base64::Engine as _;
use serde_json::Value;
use std::ffi::CStr;
use std::fmt;

/// A refused change, with a message that says what happened and what to do. Every refusal is
/// the caller's mistake (`YLOKH_INVALID_ARGUMENT` in the C API), so the message is all it has:
/// an empty required text, `add_json` text that is not JSON or not a message, an image file
/// that cannot be read or is not a PNG, JPEG, GIF or WebP image, a `truncate` past the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConversationError {
    pub message: String,
}

impl ConversationError {
    fn new(message: String) -> Self {
        ConversationError { message }
    }
}

impl fmt::Display for ConversationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConversationError {}

/// A message history.
#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    /// `[` messages separated by `,` `]` then a NUL byte.
    buf: String,
    /// Each message's byte range in `buf`.
    spans: Vec<(usize, usize)>,
}

impl Default for Conversation {
    fn default() -> Self {
        Self::new()
    }
}

/// Where an image comes from.
enum ImageSource<'a> {
    /// An http(s) or data: URL, sent as given.
    Url(&'a str),
    /// A file's bytes and their MIME type.
    File { mime: &'static str, bytes: Vec<u8> },
}

impl Conversation {
    pub(crate) fn new() -> Self {
        Conversation {
            buf: String::from("[]\0"),
            spans: Vec::new(),
        }
    }

    /// The number of messages.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The messages as a JSON array, NUL-terminated (for `ylokh_conversation_json`).
    pub(crate) fn json_cstr(&self) -> &CStr {
        CStr::from_bytes_with_nul(self.buf.as_bytes())
            .expect("JSON text holds no NUL byte (it is escaped as \\u0000)")
    }

    /// Each message's JSON text, in order.
    pub(crate) fn message_texts(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.spans.iter().map(|&(start, end)| &self.buf[start..end])
    }

    /// Each message parsed (for the dialect translators); parsed on each call.
    pub(crate) fn messages(&self) -> impl ExactSizeIterator<Item = Value> + '_ {
        self.message_texts()
            .map(|text| serde_json::from_str(text).expect("stored messages are valid JSON"))
    }

    /// Appends `{"role":ROLE,"content":CONTENT}`.
    pub(crate) fn add(&mut self, role: &str, content: &str) -> Result<(), ConversationError> {
        non_empty("role", role)?;
        self.push_with(|out| {
            out.push_str("{\"role\":");
            push_json_str(out, role);
            out.push_str(",\"content\":");
            push_json_str(out, content);
            out.push('}');
        });
        Ok(())
    }

    /// Appends one message given as JSON text (e.g. a result's `message_json`). It must be a
    /// JSON object with a string `"role"`; it is stored as given, without the whitespace
    /// around it.
    pub(crate) fn add_json(&mut self, message_json: &str) -> Result<(), ConversationError> {
        let value: Value = serde_json::from_str(message_json).map_err(|e| {
            ConversationError::new(format!(
                "message_json is not valid JSON ({e}); pass one message object such as \
                     {{\"role\":\"user\",\"content\":\"Hi\"}}"
            ))
        })?;
        let not_a_message = |what: String| {
            Err(ConversationError::new(format!(
                "message_json {what}; a message is a JSON object with a string \"role\", \
                     such as {{\"role\":\"user\",\"content\":\"Hi\"}}"
            )))
        };
        let Value::Object(object) = &value else {
            return not_a_message(format!("is {}, not an object", json_type(&value)));
        };
        match object.get("role") {
            Some(Value::String(_)) => {}
            None => return not_a_message("has no \"role\"".to_owned()),
            Some(other) => {
                return not_a_message(format!(
                    "has a \"role\" that is {}, not a string",
                    json_type(other)
                ))
            }
        }
        let text = message_json.trim_matches([' ', '\t', '\n', '\r']);
        self.push_with(|out| out.push_str(text));
        Ok(())
    }

    /// Appends `{"role":"tool","tool_call_id":ID,"content":CONTENT}`: the answer to a call.
    pub(crate) fn add_tool_result(
        &mut self,
        tool_call_id: &str,
        content: &str,
    ) -> Result<(), ConversationError> {
        non_empty("tool_call_id", tool_call_id)?;
        self.push_with(|out| {
            out.push_str("{\"role\":\"tool\",\"tool_call_id\":");
            push_json_str(out, tool_call_id);
            out.push_str(",\"content\":");
            push_json_str(out, content);
            out.push('}');
        });
        Ok(())
    }

    /// Appends a message with an image and optionally a text. `image` is an `http://` or
    /// `https://` URL or a `data:` URL (sent as given), or else the path of a PNG, JPEG, GIF
    /// or WebP file, read now and sent as a base64 `data:` URL.
    pub(crate) fn add_image(
        &mut self,
        role: &str,
        text: Option<&str>,
        image: &str,
    ) -> Result<(), ConversationError> {
        non_empty("role", role)?;
        non_empty("image", image)?;
        let source = image_source(image)?;
        self.push_with(|out| {
            out.push_str("{\"role\":");
            push_json_str(out, role);
            out.push_str(",\"content\":[");
            if let Some(text) = text {
                out.push_str("{\"type\":\"text\",\"text\":");
                push_json_str(out, text);
                out.push_str("},");
            }
            out.push_str("{\"type\":\"image_url\",\"image_url\":{\"url\":");
            match &source {
                ImageSource::Url(url) => push_json_str(out, url),
                ImageSource::File { mime, bytes } => {
                    // Nothing here needs escaping.
                    out.push_str("\"data:");
                    out.push_str(mime);
                    out.push_str(";base64,");
                    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
                    out.push('"');
                }
            }
            out.push_str("}}]}");
        });
        Ok(())
    }

    /// Keeps the first `n` messages; `n` larger than [`len`](Self::len) is an error.
    pub(crate) fn truncate(&mut self, n: usize) -> Result<(), ConversationError> {
        if n > self.spans.len() {
            return Err(ConversationError::new(format!(
                "cannot keep the first {n} messages: the conversation has only {}",
                self.spans.len()
            )));
        }
        let cut = match n {
            0 => 1,
            n => self.spans[n - 1].1,
        };
        self.buf.truncate(cut);
        self.buf.push_str("]\0");
        self.spans.truncate(n);
        Ok(())
    }

    /// Appends one message written by `write` (which must write one JSON value).
    fn push_with(&mut self, write: impl FnOnce(&mut String)) {
        self.buf.truncate(self.buf.len() - 2); // "]\0"
        if !self.spans.is_empty() {
            self.buf.push(',');
        }
        let start = self.buf.len();
        write(&mut self.buf);
        self.spans.push((start, self.buf.len()));
        self.buf.push_str("]\0");
    }
}

fn non_empty(what: &str, text: &str) -> Result<(), ConversationError> {
    if text.is_empty() {
        return Err(ConversationError::new(format!(
            "{what} is empty; pass a non-empty text"
        )));
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn has_prefix_ignore_case(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn image_source(image: &str) -> Result<ImageSource<'_>, ConversationError> {
    if ["http://", "https://", "data:"]
        .iter()
        .any(|p| has_prefix_ignore_case(image, p))
    {
        return Ok(ImageSource::Url(image));
    }
    let bytes = std::fs::read(image).map_err(|e| {
        ConversationError::new(format!(
            "cannot read the image file \"{image}\": {e}; pass the path of a readable PNG, \
                 JPEG, GIF or WebP file, or an http(s) or data: URL"
        ))
    })?;
    match image_mime(&bytes) {
        Some(mime) => Ok(ImageSource::File { mime, bytes }),
        None => Err(ConversationError::new(format!(
            "the file \"{image}\" is not a PNG, JPEG, GIF or WebP image ({}); convert it to \
                 one of those, or pass an http(s) or data: URL",
            describe_unknown(&bytes)
        ))),
    }
}

/// The MIME type of a PNG, JPEG, GIF or WebP image, from its first bytes.
fn image_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// What an unsupported file seems to be, and its first bytes.
fn describe_unknown(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the file is empty".to_owned();
    }
    let kind = if bytes.starts_with(b"%PDF") {
        Some("a PDF document".to_owned())
    } else if bytes.starts_with(b"BM") {
        Some("a BMP image".to_owned())
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some("a TIFF image".to_owned())
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        Some(format!(
            "an ISO media file of brand \"{}\" (HEIC, AVIF or video)",
            String::from_utf8_lossy(&bytes[8..12])
        ))
    } else if bytes.starts_with(b"PK\x03\x04") {
        Some("a ZIP archive".to_owned())
    } else if bytes.starts_with(b"RIFF") {
        Some("a RIFF file that is not WebP".to_owned())
    } else {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]);
        let head = head.trim_start();
        if head.starts_with("<svg") || head.starts_with("<?xml") {
            Some("SVG or XML text".to_owned())
        } else {
            None
        }
    };
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    match kind {
        Some(kind) => format!("it looks like {kind}; first bytes {}", hex.join(" ")),
        None => format!("its first bytes are {}", hex.join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageBuilder;
    use crate::tool_calls::ToolCall;
    use serde_json::json;
    use std::path::PathBuf;

    // What each kind of refusal says (the C caller gets YLOKH_INVALID_ARGUMENT and this).
    const EMPTY: &str = "is empty; pass a non-empty text";
    const NOT_JSON: &str = "message_json is not valid JSON";
    const NOT_A_MESSAGE: &str = "a message is a JSON object with a string \"role\"";
    const UNREADABLE: &str = "cannot read the image file";
    const NOT_AN_IMAGE: &str = "is not a PNG, JPEG, GIF or WebP image";
    const PAST_THE_END: &str = "cannot keep the first";

    impl Conversation {
        pub(crate) fn is_empty(&self) -> bool {
            self.spans.is_empty()
        }

        /// The messages as a JSON array.
        pub(crate) fn json(&self) -> &str {
            &self.buf[..self.buf.len() - 1]
        }
    }

    const NASTY: &[&str] = &[
        "",
        "plain",
        "quote \" and backslash \\ and slash /",
        "controls \u{0}\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}",
        "emoji 😀👩‍👩‍👧 and astral 𝄞",
        "RTL: שלום עולם، مرحبا بالعالم \u{200f}\u{202e}mixed\u{202c}",
        "line sep \u{2028} para sep \u{2029}",
    ];

    fn parsed(c: &Conversation) -> Value {
        let v: Value =
            serde_json::from_str(c.json()).unwrap_or_else(|e| panic!("{e}: {}", c.json()));
        assert_eq!(c.json_cstr().to_str().unwrap(), c.json());
        assert_eq!(v.as_array().unwrap().len(), c.len());
        assert_eq!(c.messages().collect::<Vec<_>>(), *v.as_array().unwrap());
        v
    }

    /// A fresh directory for one test's files, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("ylokh-conversation-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn file(&self, name: &str, bytes: &[u8]) -> String {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).unwrap();
            path.to_str().unwrap().to_owned()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn empty_conversation() {
        let c = Conversation::new();
        assert_eq!(c.json(), "[]");
        assert_eq!(c.json_cstr().to_bytes(), b"[]");
        assert!(c.is_empty());
        assert_eq!(c.messages().count(), 0);
    }

    #[test]
    fn add_escapes_any_text() {
        let mut c = Conversation::new();
        for &text in NASTY {
            c.add("user", text).unwrap();
            if !text.is_empty() {
                c.add(text, "x").unwrap();
            }
        }
        let v = parsed(&c);
        let mut expected = Vec::new();
        for &text in NASTY {
            expected.push(json!({"role":"user","content":text}));
            if !text.is_empty() {
                expected.push(json!({"role":text,"content":"x"}));
            }
        }
        assert_eq!(v, Value::Array(expected));
        assert_eq!(
            c.message_texts().next().unwrap(),
            r#"{"role":"user","content":""}"#
        );
        assert!(!c.json().bytes().any(|b| b < 0x20));
    }

    #[test]
    fn empty_role_is_refused_and_changes_nothing() {
        let mut c = Conversation::new();
        c.add("system", "be brief").unwrap();
        let before = c.json().to_owned();
        let e = c.add("", "hi").unwrap_err();
        assert!(e.message.contains(EMPTY), "{e}");
        assert!(e.message.contains("role"), "{e}");
        let e = c.add_tool_result("", "x").unwrap_err();
        assert!(e.message.contains(EMPTY), "{e}");
        let e = c.add_image("user", None, "").unwrap_err();
        assert!(e.message.contains(EMPTY), "{e}");
        assert_eq!(c.json(), before);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn add_json_keeps_the_text_as_given() {
        let mut c = Conversation::new();
        let text = r#"{"role":"assistant", "z":1.50, "content":"caf\u00e9", "a":[]}"#;
        c.add_json(&format!("\n  {text}\t\r\n")).unwrap();
        assert_eq!(c.json(), format!("[{text}]"));
        assert_eq!(parsed(&c)[0]["content"], json!("café"));
    }

    #[test]
    fn add_json_takes_a_message_json_with_tool_calls() {
        let mut m = MessageBuilder::new();
        m.push_content("Let me check \"that\".");
        m.push_reasoning("need weather");
        let calls = [ToolCall {
            index: 0,
            id: "call_9".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Zürich"}"#.into(),
            arguments_valid: true,
            extra: Default::default(),
        }];
        let mut c = Conversation::new();
        c.add("user", "Weather?").unwrap();
        c.add_json(&m.to_json(Some(&calls))).unwrap();
        c.add_tool_result("call_9", r#"{"temp":21}"#).unwrap();
        let v = parsed(&c);
        assert_eq!(v[1]["tool_calls"][0]["id"], json!("call_9"));
        assert_eq!(
            v[2],
            json!({"role":"tool","tool_call_id":"call_9","content":"{\"temp\":21}"})
        );
        assert_eq!(
            c.message_texts().nth(2).unwrap(),
            r#"{"role":"tool","tool_call_id":"call_9","content":"{\"temp\":21}"}"#
        );
    }

    #[test]
    fn add_json_refuses_what_is_not_a_message() {
        let mut c = Conversation::new();
        let cases: &[(&str, &str, &str)] = &[
            ("", NOT_JSON, "not valid JSON"),
            ("{\"role\":", NOT_JSON, "not valid JSON"),
            ("{\"role\":\"user\"} x", NOT_JSON, "not valid JSON"),
            (r#"{"role":"\ud800"}"#, NOT_JSON, "not valid JSON"),
            ("[]", NOT_A_MESSAGE, "is an array"),
            ("\"user\"", NOT_A_MESSAGE, "is a string"),
            ("3", NOT_A_MESSAGE, "is a number"),
            ("null", NOT_A_MESSAGE, "is null"),
            ("{\"content\":\"hi\"}", NOT_A_MESSAGE, "has no \"role\""),
            ("{\"role\":1}", NOT_A_MESSAGE, "is a number, not a string"),
            ("{\"role\":null}", NOT_A_MESSAGE, "is null, not a string"),
        ];
        for &(text, kind, words) in cases {
            let e = c.add_json(text).unwrap_err();
            assert!(e.message.contains(kind), "{text}: {e}");
            assert!(e.message.contains(words), "{text}: {e}");
        }
        assert_eq!(c.json(), "[]");
    }

    #[test]
    fn images_from_files_become_data_urls() {
        let dir = TempDir::new("images");
        let files: &[(&str, &[u8], &str)] = &[
            (
                "a.png",
                b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\x00",
                "image/png",
            ),
            (
                "b.jpg",
                b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x80",
                "image/jpeg",
            ),
            ("c.gif", b"GIF87a\x01\0\x01\0\0\0", "image/gif"),
            ("d.gif", b"GIF89a\x01\0\x01\0\x80\0\0\xfe", "image/gif"),
            ("e.webp", b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0", "image/webp"),
            // The name's extension does not matter, only the bytes.
            ("png-really.txt", b"\x89PNG\r\n\x1a\nrest", "image/png"),
        ];
        let mut c = Conversation::new();
        for (name, bytes, _) in files {
            let path = dir.file(name, bytes);
            c.add_image("user", Some("What is \"this\"?"), &path)
                .unwrap();
        }
        let path = dir.file("f.png", files[0].1);
        c.add_image("user", None, &path).unwrap();
        let v = parsed(&c);
        for (i, (_, bytes, mime)) in files.iter().enumerate() {
            let content = v[i]["content"].as_array().unwrap();
            assert_eq!(content.len(), 2);
            assert_eq!(
                content[0],
                json!({"type":"text","text":"What is \"this\"?"})
            );
            assert_eq!(content[1]["type"], json!("image_url"));
            let url = content[1]["image_url"]["url"].as_str().unwrap();
            let data = url
                .strip_prefix(&format!("data:{mime};base64,"))
                .unwrap_or_else(|| panic!("{url}"));
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap();
            assert_eq!(&decoded, bytes);
        }
        let last = &v[files.len()];
        assert_eq!(last["role"], json!("user"));
        assert_eq!(last["content"].as_array().unwrap().len(), 1);
        assert_eq!(last["content"][0]["type"], json!("image_url"));
    }

    #[test]
    fn unknown_or_missing_files_are_refused_with_the_reason() {
        let dir = TempDir::new("bad");
        let mut c = Conversation::new();
        let cases: &[(&str, &[u8], &str)] = &[
            (
                "doc.png",
                b"%PDF-1.7\n",
                "a PDF document; first bytes 25 50 44 46",
            ),
            ("x.bmp", b"BM\x36\0\0\0", "a BMP image"),
            ("x.heic", b"\0\0\0\x18ftypheic\0\0", "brand \"heic\""),
            ("x.svg", b"  <svg xmlns=", "SVG or XML text"),
            ("x.wav", b"RIFF\x24\0\0\0WAVEfmt ", "not WebP"),
            ("empty.jpg", b"", "the file is empty"),
            ("short.png", b"\x89PN", "first bytes are 89 50 4e"),
            (
                "text.gif",
                b"hello world",
                "first bytes are 68 65 6c 6c 6f 20 77 6f",
            ),
        ];
        for (name, bytes, words) in cases {
            let path = dir.file(name, bytes);
            let e = c.add_image("user", Some("hi"), &path).unwrap_err();
            assert!(e.message.contains(NOT_AN_IMAGE), "{e}");
            assert!(e.message.contains(&path), "{e}");
            assert!(e.message.contains(words), "{e}");
            assert!(e.message.contains("PNG, JPEG, GIF or WebP"), "{e}");
        }
        let missing = dir.0.join("missing.png");
        let missing = missing.to_str().unwrap();
        let e = c.add_image("user", None, missing).unwrap_err();
        assert!(e.message.contains(UNREADABLE), "{e}");
        assert!(e.message.contains(missing), "{e}");
        let directory = dir.0.to_str().unwrap();
        let e = c.add_image("user", None, directory).unwrap_err();
        assert!(e.message.contains(UNREADABLE), "{e}");
        assert_eq!(c.json(), "[]");
    }

    #[test]
    fn urls_are_passed_as_given() {
        let mut c = Conversation::new();
        let urls = [
            "https://example.com/cat.png?a=1&b=\"2\"",
            "http://example.com/x.jpg",
            "HTTPS://EXAMPLE.COM/Y.GIF",
            "data:image/png;base64,iVBORw0KGgo=",
            "DATA:image/webp;base64,UklGRg==",
        ];
        for url in urls {
            c.add_image("user", Some(""), url).unwrap();
        }
        let v = parsed(&c);
        for (i, url) in urls.iter().enumerate() {
            assert_eq!(
                v[i],
                json!({"role":"user","content":[
                    {"type":"text","text":""},
                    {"type":"image_url","image_url":{"url":url}}]})
            );
        }
        assert_eq!(
            c.message_texts().nth(1).unwrap(),
            r#"{"role":"user","content":[{"type":"text","text":""},{"type":"image_url","image_url":{"url":"http://example.com/x.jpg"}}]}"#
        );
        // Not a URL scheme we pass on: read as a (missing) file.
        let e = c
            .add_image("user", None, "ftp://example.com/x.png")
            .unwrap_err();
        assert!(e.message.contains(UNREADABLE), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn any_text_round_trips_and_truncate_restores_a_prefix(
            messages in proptest::collection::vec(
                (0u8..3, "\\PC{1,8}", proptest::prelude::any::<String>()), 0..8),
            keep in 0usize..9,
        ) {
            let mut c = Conversation::new();
            let mut expected = Vec::new();
            let mut prefixes = vec![c.json().to_owned()];
            for (kind, role, text) in &messages {
                match kind {
                    0 => {
                        c.add(role, text).unwrap();
                        expected.push(json!({"role":role,"content":text}));
                    }
                    1 => {
                        c.add_tool_result(role, text).unwrap();
                        expected.push(json!({"role":"tool","tool_call_id":role,"content":text}));
                    }
                    _ => {
                        let message = json!({"role":role,"content":text}).to_string();
                        c.add_json(&message).unwrap();
                        expected.push(json!({"role":role,"content":text}));
                    }
                }
                prefixes.push(c.json().to_owned());
            }
            proptest::prop_assert_eq!(parsed(&c), Value::Array(expected.clone()));
            if keep <= messages.len() {
                c.truncate(keep).unwrap();
                proptest::prop_assert_eq!(c.json(), prefixes[keep].as_str());
                proptest::prop_assert_eq!(parsed(&c), Value::Array(expected[..keep].to_vec()));
            } else {
                proptest::prop_assert!(c.truncate(keep).is_err());
                proptest::prop_assert_eq!(c.len(), messages.len());
            }
        }
    }

    #[test]
    fn truncate_keeps_the_first_n() {
        let mut c = Conversation::new();
        for i in 0..4 {
            c.add("user", &format!("m{i}")).unwrap();
        }
        let e = c.truncate(5).unwrap_err();
        assert!(e.message.contains(PAST_THE_END), "{e}");
        assert!(e.message.contains("only 4"), "{e}");
        c.truncate(4).unwrap();
        assert_eq!(c.len(), 4);
        c.truncate(2).unwrap();
        assert_eq!(
            c.json(),
            r#"[{"role":"user","content":"m0"},{"role":"user","content":"m1"}]"#
        );
        parsed(&c);
        c.add("assistant", "again").unwrap();
        assert_eq!(parsed(&c)[2], json!({"role":"assistant","content":"again"}));
        c.truncate(0).unwrap();
        assert_eq!(c.json(), "[]");
        assert_eq!(c.json_cstr().to_bytes(), b"[]");
        c.add("user", "fresh").unwrap();
        assert_eq!(c.json(), r#"[{"role":"user","content":"fresh"}]"#);
        assert_eq!(c.clone().json(), c.json());
    }
}

//! What one JSON document from the server means to us: a streamed chunk
//! (`chat.completion.chunk`), a whole completion (`chat.completion`), or an error body.
//!
//! Only the fields we use are read; everything else is skipped by the parser without being
//! built. Strings are borrowed from the input unless they contain escapes, and `choices` keeps
//! only its first element, so a chunk with plain text allocates nothing.
//!
//! [`parsed`] holds the result; [`scan`] is the fast path for the usual chunk (with [`text`],
//! its string helpers); [`serde_doc`] is the reference parser and reads error bodies.

mod count;
mod parsed;
mod scan;
mod serde_doc;
mod text;

pub(crate) use text::push_json_str;

pub use count::token_count;
pub use parsed::{Parsed, Usage};
pub use serde_doc::{error_body_text, parse_with_serde};

/// What the parser keeps from one document of a stream to the next: the buffer escaped text is
/// decoded into, and what the scanner remembers of the last document ([`scan::Memo`]: at most
/// 1 KiB). One per stream.
#[derive(Default)]
pub struct Scratch {
    text: String,
    memo: scan::Memo,
}

/// Parses one streamed chunk (`choices[0].delta`) or one whole completion (`choices[0].message`).
///
/// The hand-written scanner (`scan`) reads the usual chunk; anything else goes to
/// serde, which also words every error. Escaped text found by the scanner is decoded into
/// `scratch`, which the caller keeps from chunk to chunk.
pub fn parse<'a>(
    json: &'a [u8],
    scratch: &'a mut Scratch,
) -> Result<Parsed<'a>, serde_json::Error> {
    match scan::parse(json, &mut scratch.text, &mut scratch.memo) {
        Some(parsed) => Ok(parsed),
        None => parse_with_serde(json),
    }
}

/// Panics if the fast path's answer for `json` differs from serde's, or from its own answer
/// with another stream's memory (fuzzing and tests).
#[cfg(any(test, feature = "test-hooks"))]
pub fn check_fast_path(json: &[u8]) {
    let mut scratch = Scratch::default();
    check_fast_path_in_stream(json, &mut scratch);
    // Again with the memory of the same document: its repeated parts are compared, not read.
    check_fast_path_in_stream(json, &mut scratch);
}

/// [`check_fast_path`] for the next document of a stream: the answer with `stream`'s memory
/// of the documents before is the one without it, and serde's.
#[cfg(any(test, feature = "test-hooks"))]
pub fn check_fast_path_in_stream(json: &[u8], stream: &mut Scratch) {
    let mut fresh = Scratch::default();
    let alone = scan::parse(json, &mut fresh.text, &mut fresh.memo);
    let in_stream = scan::parse(json, &mut stream.text, &mut stream.memo);
    assert_eq!(
        alone, in_stream,
        "the scanner's memory of the stream changed its answer on {json:?}"
    );
    if let Some(fast) = alone {
        match parse_with_serde(json) {
            Ok(slow) => assert_eq!(fast, slow, "fast path and serde differ on {json:?}"),
            Err(e) => panic!("fast path accepted what serde rejects ({e}): {json:?}"),
        }
    }
}

/// Whether the hand-written scanner reads `json` by itself (tests of the fast path).
#[cfg(any(test, feature = "test-hooks"))]
pub fn takes_fast_path(json: &[u8]) -> bool {
    let mut scratch = Scratch::default();
    scan::parse(json, &mut scratch.text, &mut scratch.memo).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// serde's answer, after checking that the fast path agrees whenever it answers.
    fn checked(json: &[u8]) -> Result<Parsed<'_>, serde_json::Error> {
        check_fast_path(json);
        parse_with_serde(json)
    }

    use takes_fast_path as fast;

    #[test]
    fn usual_chunks_take_the_fast_path_and_escapes_do_not_allocate_each_time() {
        for json in [
            &br#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":" the"},"logprobs":null,"finish_reason":null}]}"#[..],
            br#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}],"usage":null}"#,
            br#"{"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"created":1,"id":"x","model":"g","timings":null}"#,
            br#" {"choices":[{"delta":{"content":"a\n\"b\"\u00e9\ud83d\ude00"},"logprobs":{"content":[{"token":"a","logprob":-0.25,"bytes":[97]}]}}]} "#,
            br#"{"choices":[{"message":{"content":"whole"},"finish_reason":"length"}]}"#,
            br#"{"choices":[]}"#,
        ] {
            assert!(fast(json), "{}", String::from_utf8_lossy(json));
            check_fast_path(json);
        }
        let mut scratch = Scratch::default();
        let json = br#"{"choices":[{"delta":{"content":"line\n"}}]}"#;
        assert_eq!(
            parse(json, &mut scratch).unwrap().content.as_deref(),
            Some("line\n")
        );
        let capacity = scratch.text.capacity();
        for _ in 0..100 {
            assert_eq!(
                parse(json, &mut scratch).unwrap().content.as_deref(),
                Some("line\n")
            );
        }
        assert_eq!(
            scratch.text.capacity(),
            capacity,
            "the scratch buffer is reused"
        );
    }

    #[test]
    fn reasoning_details_go_to_serde_and_empty_ones_stay_fast() {
        let json = br#"{"choices":[{"delta":{"content":"","reasoning_details":[{"type":"reasoning.text","text":"hm","index":0}]}}]}"#;
        assert!(!fast(json));
        let p = checked(json).unwrap();
        assert_eq!(
            p.reasoning_details,
            Some(r#"[{"type":"reasoning.text","text":"hm","index":0}]"#)
        );
        for json in [
            &br#"{"choices":[{"delta":{"content":"a","reasoning_details":[]}}]}"#[..],
            br#"{"choices":[{"delta":{"content":"a","reasoning_details":[ ]}}]}"#,
            br#"{"choices":[{"delta":{"content":"a","reasoning_details":null}}]}"#,
        ] {
            assert!(fast(json), "{}", String::from_utf8_lossy(json));
            assert!(checked(json).unwrap().reasoning_details.is_none());
        }
        let whole = br#"{"choices":[{"message":{"content":"x","reasoning_details":[{"type":"reasoning.encrypted","data":"D"}]}}]}"#;
        assert!(checked(whole).unwrap().reasoning_details.is_some());
    }

    #[test]
    fn unusual_documents_go_to_serde() {
        for json in [
            &br#"{"choices":[{"delta":{"content":"a"},"delta":{}}]}"#[..], // duplicate field
            br#"{"choices":[{"delta":{"cont\u0065nt":"a"}}]}"#,            // escaped key
            br#"{"error":{"message":"x"}}"#,
            br#"{"choices":[],"usage":{"total_tokens":1}}"#,
            br#"{"choices":[{"delta":{"content":5}}]}"#,
            br#"{"choices":[null]}"#,
            br#"{"choices":[{"delta":{"content":"\ud800"}}]}"#, // lone surrogate
            // A message beside a delta: serde still decodes the message's text (here, wrongly).
            br#"{"choices":[{"delta":{},"message":{"content":"\ude00"}}]}"#,
            br#"{"choices":[]} x"#,
            br#"{"a":01}"#,
            br#"[1]"#,
        ] {
            assert!(!fast(json), "{}", String::from_utf8_lossy(json));
            check_fast_path(json);
        }
    }

    #[test]
    fn delta_content_finish_reason_and_borrowing() {
        let json = br#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null},{"delta":{"content":"ignored"}}]}"#;
        let p = checked(json).unwrap();
        assert!(matches!(p.content, Some(Cow::Borrowed("Hi"))));
        assert!(p.finish_reason.is_none() && p.usage.is_none() && p.error.is_none());
        let p = checked(br#"{"choices":[{"delta":{"content":"a\nb\u00e9"}}]}"#).unwrap();
        assert_eq!(p.content.as_deref(), Some("a\nbé"));
    }

    #[test]
    fn null_content_and_empty_choices_are_not_errors() {
        let p = checked(br#"{"choices":[{"delta":{"role":"assistant","content":null}}]}"#).unwrap();
        assert!(p.content.is_none() && p.has_choice);
        let p = checked(
            br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
        )
        .unwrap();
        assert!(!p.has_choice);
        assert_eq!(
            p.usage,
            Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 4,
                total_tokens: 7
            })
        );
        assert!(checked(br#"{"choices":null,"usage":null}"#)
            .unwrap()
            .usage
            .is_none());
    }

    #[test]
    fn reasoning_content_or_reasoning() {
        let p = checked(br#"{"choices":[{"delta":{"reasoning_content":"think"}}]}"#).unwrap();
        assert_eq!(p.reasoning.as_deref(), Some("think"));
        let p = checked(br#"{"choices":[{"delta":{"reasoning":"hmm"}}]}"#).unwrap();
        assert_eq!(p.reasoning.as_deref(), Some("hmm"));
    }

    #[test]
    fn whole_completion_uses_message() {
        let body = include_bytes!("../../tests/fixtures/llama-nonstream.json");
        let p = checked(body).unwrap();
        assert!(p
            .content
            .unwrap()
            .starts_with("Say hello in three languages."));
        assert_eq!(p.finish_reason.as_deref(), Some("length"));
        assert_eq!(
            p.usage,
            Some(Usage {
                prompt_tokens: 29,
                completion_tokens: 48,
                total_tokens: 77
            })
        );
    }

    #[test]
    fn error_objects_in_a_document() {
        assert_eq!(
            checked(br#"{"error":{"message":"boom","code":500}}"#)
                .unwrap()
                .error
                .as_deref(),
            Some("boom")
        );
        assert_eq!(
            checked(br#"{"error":"plain"}"#).unwrap().error.as_deref(),
            Some("plain")
        );
        assert_eq!(
            checked(br#"{"error":{"code":1}}"#)
                .unwrap()
                .error
                .as_deref(),
            Some(r#"{"code":1}"#)
        );
        assert!(checked(br#"{"error":null,"choices":[]}"#)
            .unwrap()
            .error
            .is_none());
    }

    #[test]
    fn timings_are_kept_raw() {
        let p = checked(br#"{"choices":[{"finish_reason":"stop","delta":{}}],"timings":{"prompt_n":5, "predicted_per_second":83.3}}"#).unwrap();
        assert_eq!(
            p.timings,
            Some(r#"{"prompt_n":5, "predicted_per_second":83.3}"#)
        );
        assert_eq!(p.finish_reason.as_deref(), Some("stop"));
        assert!(checked(br#"{"choices":[],"timings":null}"#)
            .unwrap()
            .timings
            .is_none());
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(checked(b"{not json").is_err());
        assert!(checked(br#"{"choices":[{"delta":{"content":5}}]}"#).is_err());
    }

    #[test]
    fn error_bodies_give_the_servers_words() {
        let badjson = include_bytes!("../../tests/fixtures/llama-badjson.json");
        assert!(
            error_body_text(badjson).starts_with("[json.exception.parse_error.101] parse error")
        );
        let nomessages = include_bytes!("../../tests/fixtures/llama-nomessages.json");
        assert_eq!(error_body_text(nomessages), "'messages' is required");
        assert_eq!(error_body_text(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(
            error_body_text(b"<html>\n<h1>502 Bad Gateway</h1></html>"),
            "<html> <h1>502 Bad Gateway</h1></html>"
        );
        assert_eq!(error_body_text(&[b'x'; 600]).len(), 512 + '…'.len_utf8());
    }
}

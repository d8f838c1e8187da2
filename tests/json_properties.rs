//! The hand-written chunk scanner against serde: over generated chunk-shaped documents, some
//! of them damaged byte by byte, whenever the scanner answers, serde gives the same answer
//! (`check_fast_path` panics otherwise), and it does answer for the plain ones.

use proptest::prelude::*;
use ylokh::chunk::{check_fast_path, check_fast_path_in_stream, parse, Scratch};

/// Strings as servers send them, and as they should never send them.
fn string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("the".to_owned()),
        Just(" ".to_owned()),
        Just("é😀".to_owned()),
        Just("\\n".to_owned()),
        Just("\\\"".to_owned()),
        Just("\\\\".to_owned()),
        Just("\\/".to_owned()),
        Just("\\u00e9".to_owned()),
        Just("\\ud83d\\ude00".to_owned()),
        Just("\\ud83d".to_owned()),
        Just("\\ude00".to_owned()),
        Just("\\uZZZZ".to_owned()),
        Just("\\x".to_owned()),
        Just("\u{1}".to_owned()),
        Just("\t".to_owned()),
    ];
    proptest::collection::vec(piece, 0..5).prop_map(|p| format!("\"{}\"", p.concat()))
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("nul".to_owned()),
        prop_oneof![
            Just("0"),
            Just("-12"),
            Just("3.25"),
            Just("1e9"),
            Just("-0.5E-3"),
            Just("01"),
            Just("1."),
            Just("-"),
            Just("2e"),
            Just("12345678901234567890123"),
            Just("x"),
            Just("+1"),
            Just(".5"),
            Just("NaN"),
            Just("truex"),
        ]
        .prop_map(str::to_owned),
        string(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop_oneof![
            Just("choices"), Just("delta"), Just("message"), Just("content"),
            Just("reasoning_content"), Just("reasoning"), Just("finish_reason"), Just("usage"),
            Just("error"), Just("index"), Just("id"), Just("role"),
        ]
        .prop_map(|k| format!("\"{k}\"")),
        1 => prop_oneof![Just("\"cont\\u0065nt\""), Just("\"k\u{e9}y\""), Just("\"\"")].prop_map(str::to_owned),
        1 => string(),
    ]
}

/// Any value, chunk-shaped often enough to reach every branch of the scanner.
fn value() -> impl Strategy<Value = String> {
    scalar().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec((key(), inner), 0..5).prop_map(|entries| {
                let body: Vec<String> = entries
                    .into_iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

/// A streamed chunk with plain values in the places the scanner reads.
fn plain_chunk() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        Just("null".to_owned()),
        string().prop_filter("valid", |s| { serde_json::from_str::<String>(s).is_ok() })
    ];
    (text.clone(), text.clone(), text, any::<bool>(), 0u32..3).prop_map(
        |(content, reasoning, finish, message, extra)| {
            let inner = format!(r#"{{"role":"assistant","content":{content},"reasoning_content":{reasoning}}}"#);
            let which = if message { "message" } else { "delta" };
            let more = r#","logprobs":{"content":[{"token":"a","logprob":-0.5,"bytes":[97]}]}"#;
            format!(
                r#"{{"id":"x","created":1,"choices":[{{"index":0,"{which}":{inner},"finish_reason":{finish}{}}}{}],"usage":null}}"#,
                if extra > 0 { more } else { "" },
                if extra > 1 { r#",{"index":1,"delta":{"content":"b"}}"# } else { "" },
            )
        },
    )
}

/// A chunk with entries drawn from the names the scanner reads, repeats included, and values
/// of every kind in their places.
fn chunk_like() -> impl Strategy<Value = String> {
    fn object(entries: Vec<(&'static str, String)>) -> String {
        let body: Vec<String> = entries
            .into_iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        format!("{{{}}}", body.join(","))
    }
    let text = prop_oneof![2 => string(), 1 => scalar(), 1 => value()];
    let delta_key = prop_oneof![
        Just("\"content\""),
        Just("\"reasoning_content\""),
        Just("\"reasoning\""),
        Just("\"role\""),
        Just("\"cont\\u0065nt\""),
        Just("\"tool_calls\""),
    ];
    let delta = proptest::collection::vec((delta_key, text.clone()), 0..4).prop_map(object);
    let delta = prop_oneof![4 => delta, 1 => scalar(), 1 => value()];
    let choice_key = prop_oneof![
        Just("\"delta\""),
        Just("\"message\""),
        Just("\"index\""),
        Just("\"logprobs\"")
    ];
    let choice_entry = prop_oneof![
        3 => (choice_key, delta),
        1 => (Just("\"finish_reason\""), text),
    ];
    let choice = proptest::collection::vec(choice_entry, 0..4).prop_map(object);
    let choice = prop_oneof![4 => choice, 1 => scalar()];
    let choices =
        proptest::collection::vec(choice, 0..3).prop_map(|c| format!("[{}]", c.join(",")));
    let choices = prop_oneof![4 => choices, 1 => scalar(), 1 => value()];
    let top_entry = prop_oneof![
        4 => (Just("\"choices\""), choices),
        1 => (prop_oneof![Just("\"usage\""), Just("\"error\""), Just("\"id\"")], prop_oneof![scalar(), value()]),
    ];
    proptest::collection::vec(top_entry, 0..4).prop_map(object)
}

fn edit(doc: &str, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = doc.as_bytes().to_vec();
    for &(at, what, byte) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = at % bytes.len();
        match what % 3 {
            0 => bytes[at] = byte,
            1 => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, byte),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6000))]

    #[test]
    fn the_scanner_agrees_with_serde_on_any_document(
        doc in prop_oneof![value(), chunk_like(), plain_chunk()],
        ws in any::<bool>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), prop_oneof![Just(b'"'), Just(b','), Just(b'}'), Just(b']'), Just(b'\\'), Just(b' '), any::<u8>()]), 0..3),
    ) {
        let doc = if ws { doc.replace(',', " ,\n\t").replace(':', ": ") } else { doc };
        check_fast_path(doc.as_bytes());
        check_fast_path(&edit(&doc, &edits));
    }

    #[test]
    fn a_stream_of_documents_gets_each_documents_own_answer(
        docs in proptest::collection::vec(
            (prop_oneof![plain_chunk(), chunk_like(), value()], 0usize..3, any::<bool>()), 1..6),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), prop_oneof![Just(b'"'), Just(b','), Just(b'}'), Just(b']'), Just(b'\\'), Just(b' '), any::<u8>()]), 0..3),
    ) {
        // Documents that repeat their neighbours' members before and after `choices`, as
        // servers' do, some of them damaged after (or inside) the repeated part.
        let mut scratch = Scratch::default();
        for (doc, wrap, damage) in docs {
            let doc = match (wrap, doc.strip_prefix('{')) {
                (1, Some(rest)) if rest.starts_with('"') =>
                    format!(r#"{{"id":"c","object":"chat.completion.chunk","created":1,{rest}"#),
                (2, Some(rest)) if rest.starts_with('"') => format!(
                    r#"{{{},"model":"m","object":"chat.completion.chunk"}}"#,
                    rest.strip_suffix('}').unwrap_or(rest)
                ),
                _ => doc,
            };
            check_fast_path_in_stream(doc.as_bytes(), &mut scratch);
            check_fast_path_in_stream(doc.as_bytes(), &mut scratch);
            if damage {
                check_fast_path_in_stream(&edit(&doc, &edits), &mut scratch);
            }
        }
    }

    #[test]
    fn plain_chunks_take_the_fast_path(doc in plain_chunk()) {
        let mut scratch = Scratch::default();
        // The same as serde, and found by the scanner (parse would hide a fallback, so ask
        // through check_fast_path's twin: serde's answer is what `parse` must give).
        check_fast_path(doc.as_bytes());
        let fast = parse(doc.as_bytes(), &mut scratch).map(|p| format!("{p:?}"));
        let slow = ylokh::chunk::parse_with_serde(doc.as_bytes()).map(|p| format!("{p:?}"));
        prop_assert_eq!(fast.ok(), slow.ok());
        prop_assert!(ylokh::chunk::takes_fast_path(doc.as_bytes()), "{}", doc);
    }
}

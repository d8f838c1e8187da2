//! Delivering what a Chat Completions document says (a stream chunk, or the whole body): its
//! text, reasoning, tool-call fragments, finish reason, usage and timings, to the sink, the
//! assembled message and the assembler. [`super::dialect_events`] does the same for the
//! Responses and Messages dialects.

use super::chat_tools;
use super::progress::Progress;
use crate::chunk;
use crate::error::{snippet, Error};
use crate::sink::Sink;
use crate::status::Status;
use crate::tool_calls;

/// One JSON document from the server (a stream event, or the whole body when not streaming).
/// `scratch`: where the parser decodes escaped text, reused for every document (it lives
/// outside `progress`, so what the parser borrows from it leaves `progress` free).
pub(super) async fn deliver(
    json: &[u8],
    scratch: &mut chunk::Scratch,
    sink: &mut Sink,
    progress: &mut Progress,
) -> Result<(), Error> {
    let parsed = chunk::parse(json, scratch).map_err(|e| {
        Error::protocol(format!(
            "the server sent JSON that does not parse ({e}): {}",
            snippet(json, 200)
        ))
    })?;
    if progress.chunks {
        sink.chunk(json).await?;
    }
    if let Some(message) = parsed.error {
        return Err(Error::new(
            Status::ServerError,
            format!("the server reported an error: {message}"),
        ));
    }
    if let Some(usage) = parsed.usage {
        progress.usage = usage;
    }
    if let Some(timings) = parsed.timings {
        progress.server_timings = Some(timings.to_owned());
    }
    if let Some(reason) = &parsed.finish_reason {
        progress.generation_ended();
        let slot = progress.finish_reason.get_or_insert_with(String::new);
        slot.clear();
        slot.push_str(reason);
    }
    if let Some(text) = parsed.reasoning.as_deref().filter(|t| !t.is_empty()) {
        progress.token_seen();
        progress.message.push_reasoning(text);
        sink.reasoning(text).await?;
    }
    if let Some(text) = parsed.content.as_deref().filter(|t| !t.is_empty()) {
        progress.token_seen();
        progress.tokens += 1;
        progress.message.push_content(text);
        sink.token(text).await?;
    }
    if let Some(details) = parsed.reasoning_details {
        // Round-trip reasoning (rare: the fast path sends these chunks to serde).
        let details: serde_json::Value = serde_json::from_str(details)
            .map_err(|e| Error::protocol(format!("reasoning_details do not parse ({e})")))?;
        progress.message.push_details(&details);
    }
    if parsed.tool_calls.is_some() || parsed.function_call.is_some() {
        let (fragments, function_call) = (parsed.tool_calls, parsed.function_call);
        if progress.streaming {
            let pieces =
                chat_tools::fold_tool_calls(fragments, function_call, &mut progress.tools, sink)?;
            if pieces {
                progress.token_seen();
            }
        } else {
            progress.token_seen();
            progress.whole_calls = tool_calls::from_message_parts(
                chat_tools::value(fragments)?.as_ref(),
                chat_tools::value(function_call)?.as_ref(),
            );
            chat_tools::within_caps(progress.tools.too_many(progress.whole_calls.len()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::sink::EventHandler;
    use crate::sse::Decoder;
    use crate::tool_calls::ToolCallAssembler;
    use crate::tool_calls::{ToolCall, ToolCallDelta};
    use proptest::prelude::*;

    #[derive(Default)]
    struct Deltas(Vec<(u32, String, Option<String>, String)>);

    impl EventHandler for Deltas {
        fn token(&mut self, _: &str) -> Result<(), Error> {
            Ok(())
        }
        fn reasoning(&mut self, _: &str) -> Result<(), Error> {
            Ok(())
        }
        fn chunk(&mut self, _: &[u8]) -> Result<(), Error> {
            Ok(())
        }
        fn tool_call_delta(&mut self, d: &ToolCallDelta<'_>) -> Result<(), Error> {
            self.0.push((
                d.index,
                d.id.to_owned(),
                d.name.map(str::to_owned),
                d.arguments.to_owned(),
            ));
            Ok(())
        }
        fn tool_call(&mut self, _: &ToolCall) -> Result<(), Error> {
            Ok(())
        }
        fn done(&mut self, _: Outcome) {}
    }

    /// The stream read in the given pieces, as the engine reads it: the decoder, the chunk
    /// parser and the assembler. Returns the complete calls.
    fn calls_of(pieces: &[&[u8]]) -> Vec<ToolCall> {
        let mut decoder = Decoder::new(1 << 20);
        let mut tools = ToolCallAssembler::default();
        let mut sink = Sink::Handler(Box::<Deltas>::default());
        let mut scratch = chunk::Scratch::default();
        for piece in pieces {
            let mut input = *piece;
            while let Some(event) = decoder.next_event(&mut input).unwrap() {
                if event.data == b"[DONE]" {
                    continue;
                }
                let parsed = chunk::parse(event.data, &mut scratch).unwrap();
                chat_tools::fold_tool_calls(
                    parsed.tool_calls,
                    parsed.function_call,
                    &mut tools,
                    &mut sink,
                )
                .unwrap();
            }
        }
        tools.finish()
    }

    const STREAMS: [&[u8]; 5] = [
        include_bytes!("../../tests/fixtures/tools/openai.sse"),
        include_bytes!("../../tests/fixtures/tools/parallel.sse"),
        include_bytes!("../../tests/fixtures/tools/noindex.sse"),
        include_bytes!("../../tests/fixtures/tools/textandtools.sse"),
        include_bytes!("../../tests/fixtures/tools/legacy.sse"),
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn any_split_of_the_bytes_gives_the_same_calls(
            which in 0..STREAMS.len(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40),
        ) {
            let stream = STREAMS[which];
            let whole = calls_of(&[stream]);
            prop_assert!(!whole.is_empty());
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            at.sort_unstable();
            at.dedup();
            let mut pieces = Vec::new();
            let mut from = 0;
            for cut in at {
                pieces.push(&stream[from..cut]);
                from = cut;
            }
            pieces.push(&stream[from..]);
            prop_assert_eq!(calls_of(&pieces), whole);
        }
    }
}

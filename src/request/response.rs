//! Reading the response (an event stream, or a whole body) and delivering what it says.

use super::resume::Resumable;
use super::target::Target;
use super::transport::error_chain;
use crate::chunk::{self, Usage};
use crate::dialect::StreamState;
use crate::error::{snippet, Error};
use crate::log::{log, DEBUG};
use crate::message::MessageBuilder;
use crate::silence::{until_first_token, Silence};
use crate::sink::Sink;
use crate::sse::Decoder;
use crate::status::Status;
use crate::tool_calls::{self, ToolCall, ToolCallAssembler};
use futures_util::FutureExt;
use reqwest::header::CONTENT_TYPE;
use std::time::Instant;

/// What the exchange learned on the way, kept whatever way it ends.
#[derive(Default)]
pub(super) struct Progress {
    pub(super) http_status: u16,
    pub(super) finish_reason: Option<String>,
    pub(super) usage: Usage,
    pub(super) tokens: u64,
    /// Whether the answer is read as a stream (deltas) or a whole body (a message).
    pub(super) streaming: bool,
    /// Tool-call fragments of a stream, folded into calls.
    pub(super) tools: ToolCallAssembler,
    /// The calls of a whole (non-streamed) answer.
    pub(super) whole_calls: Vec<ToolCall>,
    /// The assistant message as it arrives, for `message_json`.
    pub(super) message: MessageBuilder,
    /// The complete calls, once every one of them was handed out.
    pub(super) calls: Option<Vec<ToolCall>>,
    pub(super) n_tool_calls: u32,
    /// The Responses or Messages event mapper; `None` for Chat Completions.
    pub(super) dialect: Option<StreamState>,
    /// When the request that was answered was sent (for the first-token timeout).
    pub(super) sent_at: Option<tokio::time::Instant>,
    /// When the response headers arrived.
    pub(super) headers_at: Option<Instant>,
    /// When the first token (text, reasoning or a tool-call piece) arrived.
    pub(super) first_token: Option<Instant>,
    /// The answer moved since the read timeout last looked (see [`Progress::token_seen`]).
    moved: bool,
    /// When the answer's end (its finish reason or the dialect's end event) arrived.
    pub(super) generation_end: Option<Instant>,
    /// Retries of the request and resumes of its stream.
    pub(super) retries: u32,
    pub(super) resumes: u32,
    /// The server's own `timings` object (llama.cpp's last chunk).
    pub(super) server_timings: Option<String>,
}

impl Progress {
    pub(super) fn new(
        streaming: bool,
        dialect: Option<StreamState>,
        options: &crate::options::Options,
    ) -> Progress {
        Progress {
            streaming,
            dialect,
            message: MessageBuilder::with_cap(options.max_message_bytes),
            tools: ToolCallAssembler::with_caps(options.max_tool_calls, options.max_event_bytes),
            ..Progress::default()
        }
    }

    /// A token (text, reasoning or a tool-call piece) arrived: the answer moved. Notes the
    /// first token's time; one branch and one store per token after it.
    #[inline]
    pub(super) fn token_seen(&mut self) {
        self.moved = true;
        first_time(&mut self.first_token);
    }

    /// The answer moved without a token (a dialect's progress event for a running step).
    #[inline]
    pub(super) fn answer_moved(&mut self) {
        self.moved = true;
    }

    /// Whether the answer moved since the last call. Before the first token every read counts
    /// (the first-token timeout, when set, is the one that counts only tokens).
    fn take_moved(&mut self) -> bool {
        std::mem::take(&mut self.moved) || self.first_token.is_none()
    }

    /// Notes the end of the generation (the first finish reason or end event).
    pub(super) fn generation_ended(&mut self) {
        first_time(&mut self.generation_end);
    }
}

/// Sets `at` to now unless it is set.
#[inline]
fn first_time(at: &mut Option<Instant>) {
    if at.is_none() {
        *at = Some(Instant::now());
    }
}

/// Reads a body up to `cap` bytes: the bytes, and whether that was all of it.
pub(super) async fn read_capped(
    target: &Target,
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), Error> {
    let mut body = Vec::new();
    let mut silence = Silence::new(target.options.read_timeout);
    while let Some(chunk) = next_chunk(&mut silence, response, 0).await?? {
        if body.len() + chunk.len() > cap {
            body.extend_from_slice(&chunk[..cap - body.len()]);
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// The next piece of the body, `None` at its end; the outer error is the read timeout's.
async fn next_chunk(
    silence: &mut Silence,
    response: &mut reqwest::Response,
    tokens: u64,
) -> Result<Result<Option<bytes::Bytes>, Error>, Error> {
    silence
        .guard("reading the response body", read_chunk(response, tokens))
        .await
}

/// The next piece of the body, `None` at its end.
async fn read_chunk(
    response: &mut reqwest::Response,
    tokens: u64,
) -> Result<Option<bytes::Bytes>, Error> {
    response.chunk().await.map_err(|e| {
        Error::new(
            Status::Incomplete,
            format!(
                "the connection broke while reading the answer, after {tokens} tokens: {}",
                error_chain(&e)
            ),
        )
    })
}

pub(super) async fn http_error(target: &Target, mut response: reqwest::Response) -> Error {
    let status = response.status();
    // The error text matters more than a failure to read all of it: use what arrived.
    let body = read_capped(target, &mut response, 64 * 1024)
        .await
        .map(|(body, _)| body)
        .unwrap_or_default();
    // Scrubbed before it is parsed or cut, so that no part of a secret it echoes is quoted.
    let body = target.scrub(String::from_utf8_lossy(&body).into_owned());
    let text = chunk::error_body_text(body.as_bytes());
    let hint = match status.as_u16() {
        401 | 403 => " (check the API key: ylokh_options_set_api_key)",
        404 => " (check the base URL, which should end in /v1, and the model name)",
        429 => " (rate limited; retries are set with ylokh_options_set_max_retries)",
        _ => "",
    };
    let mut error = Error::new(
        Status::Http,
        format!(
            "HTTP {} from {}: {}{hint}",
            status,
            target.endpoint,
            if text.is_empty() {
                "(empty body)"
            } else {
                &text
            }
        ),
    );
    error.http_status = status.as_u16();
    error
}

/// Reads an event stream to its end. When it is `resumable`, a connection that breaks before the
/// end is resumed where it broke: from the exact byte into the same decoder (a conversation
/// stream), or after the last event (a background response).
pub(super) async fn read_stream(
    target: &Target,
    state: &super::RequestState,
    mut response: reqwest::Response,
    resumable: Option<&Resumable>,
    sink: &mut Sink,
    progress: &mut Progress,
) -> Result<(), Error> {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !content_type.is_empty()
        && !content_type
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
    {
        let (body, _) = read_capped(target, &mut response, 64 * 1024).await?;
        if let Ok(chunk::Parsed {
            error: Some(message),
            ..
        }) = chunk::parse_with_serde(&body)
        {
            return Err(Error::new(
                Status::ServerError,
                format!("the server answered with an error: {message}"),
            ));
        }
        return Err(Error::protocol(format!(
            "expected an event stream (text/event-stream) for a streaming request, but the server sent '{}': {}; is the base URL an OpenAI-compatible API (usually ending in /v1)?",
            snippet(content_type.as_bytes(), 100),
            snippet(&body, 200)
        )));
    }
    let first_byte = Instant::now();
    let mut decoder = Decoder::new(target.options.max_event_bytes);
    let mut scratch = String::new();
    let mut first = true;
    let mut silence = Silence::new(target.options.read_timeout);
    // Until the first token only the first-token timeout applies, when it is set.
    let first_token = target
        .options
        .first_token_timeout
        .zip(progress.sent_at)
        .map(|(limit, sent)| (sent + limit, limit));
    // The body bytes decoded so far, where a resumed stream starts; failed resumes in a row.
    let (mut offset, mut failures) = (0u64, 0u32);
    loop {
        let next = match first_token.filter(|_| progress.first_token.is_none()) {
            Some((deadline, limit)) => {
                until_first_token(deadline, limit, read_chunk(&mut response, progress.tokens))
                    .await?
            }
            // A read timeout is a broken connection too. After the first token, only what
            // moves the answer resets it: pings, comments and empty events do not.
            None => {
                let moved = progress.take_moved();
                silence
                    .watch(
                        moved,
                        "reading the response body",
                        read_chunk(&mut response, progress.tokens),
                    )
                    .await
                    .and_then(|next| next)
            }
        };
        let broke = match (next, resumable) {
            (Ok(Some(bytes)), _) => Ok(bytes),
            (Ok(None), None) => break,
            (Ok(None), Some(_)) => match unfinished(progress, &decoder) {
                Ok(()) => return Ok(()),
                Err(e) => Err(e),
            },
            (Err(e), _) => Err(e),
        };
        let bytes = match (broke, resumable) {
            (Ok(bytes), _) => bytes,
            (Err(e), None) => return Err(e),
            (Err(e), Some(resumable)) => {
                let (url, fresh) = super::resume::resume_url(target, resumable, offset, progress)
                    .map_err(|why| super::resume::gave_up(&e, &why))?;
                response =
                    super::resume::reconnect(target, url, offset, e, &mut failures, progress)
                        .await?;
                if fresh {
                    // The events after the last one delivered: what is left of a broken one goes.
                    decoder = Decoder::new(target.options.max_event_bytes);
                }
                silence = Silence::new(target.options.read_timeout);
                continue;
            }
        };
        offset += bytes.len() as u64;
        failures = 0;
        if first {
            first = false;
            log!(
                DEBUG,
                "first body byte after {} ms",
                first_byte.elapsed().as_millis()
            );
        }
        let mut input = &bytes[..];
        loop {
            let event = decoder.next_event(&mut input).map_err(|too_large| {
                Error::protocol(format!(
                    "an event from the server is larger than {} bytes (the cap set with ylokh_options_set_max_event_bytes)",
                    too_large.limit
                ))
            })?;
            let Some(event) = event else { break };
            if state.is_cancelled() {
                return Err(super::cancelled()); // asked inside a callback: no more deliveries
            }
            let end = match progress.dialect {
                None => event.data == b"[DONE]",
                Some(_) => {
                    super::dialect_events::deliver_event(
                        event.event_type,
                        event.data,
                        sink,
                        progress,
                    )
                    .await?
                }
            };
            if end {
                // Take the end of the body if it is already here, so the connection can be reused.
                for _ in 0..4 {
                    if !matches!(response.chunk().now_or_never(), Some(Ok(Some(_)))) {
                        break;
                    }
                }
                return Ok(());
            }
            if progress.dialect.is_some() {
                continue;
            }
            if event.event_type == b"error" {
                let message = chunk::error_body_text(event.data);
                return Err(Error::new(
                    Status::ServerError,
                    format!("the server reported an error inside the stream: {message}"),
                ));
            }
            deliver(event.data, &mut scratch, sink, progress).await?;
        }
    }
    unfinished(progress, &decoder)
}

/// At the end of the body: `Ok` when the answer finished, else why it did not.
fn unfinished(progress: &Progress, decoder: &Decoder) -> Result<(), Error> {
    if progress.finish_reason.is_some() && progress.dialect.is_none() {
        return Ok(()); // a clean end after a finish_reason, without [DONE]
    }
    let pending = match decoder.pending_bytes() {
        0 => String::new(),
        n => format!(" ({n} bytes of an unfinished event were dropped)"),
    };
    if let Some(end) = progress.dialect.as_ref().map(StreamState::end_event) {
        return Err(Error::new(
            Status::Incomplete,
            format!(
                "the stream ended before the answer finished: no {end} event after {} tokens{pending}; the server may have stopped or a proxy cut the connection",
                progress.tokens
            ),
        ));
    }
    Err(Error::new(
        Status::Incomplete,
        format!(
            "the stream ended before the answer finished: no `data: [DONE]` and no finish_reason after {} tokens{pending}; the server may have stopped or a proxy cut the connection",
            progress.tokens
        ),
    ))
}

/// One JSON document from the server (a stream event, or the whole body when not streaming).
/// `scratch`: where the parser decodes escaped text, reused for every document (it lives
/// outside `progress`, so what the parser borrows from it leaves `progress` free).
async fn deliver(
    json: &[u8],
    scratch: &mut String,
    sink: &mut Sink,
    progress: &mut Progress,
) -> Result<(), Error> {
    let parsed = chunk::parse(json, scratch).map_err(|e| {
        Error::protocol(format!(
            "the server sent JSON that does not parse ({e}): {}",
            snippet(json, 200)
        ))
    })?;
    sink.chunk(json).await?;
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
            let pieces = super::chat_tools::fold_tool_calls(
                fragments,
                function_call,
                &mut progress.tools,
                sink,
            )?;
            if pieces {
                progress.token_seen();
            }
        } else {
            progress.token_seen();
            progress.whole_calls = tool_calls::from_message_parts(
                super::chat_tools::value(fragments)?.as_ref(),
                super::chat_tools::value(function_call)?.as_ref(),
            );
            super::chat_tools::within_caps(progress.tools.too_many(progress.whole_calls.len()))?;
        }
    }
    Ok(())
}

pub(super) async fn read_whole(
    target: &Target,
    mut response: reqwest::Response,
    sink: &mut Sink,
    progress: &mut Progress,
) -> Result<(), Error> {
    let cap = target.options.max_event_bytes;
    let (body, complete) = read_capped(target, &mut response, cap).await?;
    if !complete {
        return Err(Error::protocol(format!(
            "the response body is larger than {cap} bytes (the cap set with ylokh_options_set_max_event_bytes)"
        )));
    }
    if progress.dialect.is_some() {
        return super::dialect_events::deliver_whole(&body, sink, progress).await;
    }
    let has_choice = chunk::parse_with_serde(&body)
        .map(|p| p.has_choice || p.error.is_some())
        .unwrap_or(true);
    if !has_choice {
        return Err(Error::protocol(format!(
            "the response has no choices[0]: {}",
            snippet(&body, 200)
        )));
    }
    deliver(&body, &mut String::new(), sink, progress).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::sink::EventHandler;
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
        let mut scratch = String::new();
        for piece in pieces {
            let mut input = *piece;
            while let Some(event) = decoder.next_event(&mut input).unwrap() {
                if event.data == b"[DONE]" {
                    continue;
                }
                let parsed = chunk::parse(event.data, &mut scratch).unwrap();
                super::super::chat_tools::fold_tool_calls(
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

//! Reading the response: an event stream (decoded into events, each handed to the chat or the
//! dialect delivery, resumed where it broke when it can be) or a whole body.

use super::chat_events::deliver;
use super::progress::Progress;
use super::read::read_capped;
use super::reply::Reply;
use super::resumable::Resumable;
use super::state::{cancelled, RequestState};
use super::target::Target;
use super::{dialect_events, resume};
use crate::chunk;
use crate::dialect::StreamState;
use crate::error::{snippet, Error};
use crate::log::{log, DEBUG};
use crate::silence::{until_first_token, Silence};
use crate::sink::Sink;
use crate::sse::Decoder;
use crate::status::Status;
use futures_util::FutureExt;
use reqwest::header::CONTENT_TYPE;
use std::time::Instant;

/// Reads an event stream to its end. When it is `resumable`, a connection that breaks before the
/// end is resumed where it broke: from the exact byte into the same decoder (a conversation
/// stream), or after the last event (a background response).
pub(super) async fn read_stream(
    target: &Target,
    state: &RequestState,
    mut response: Reply<'_>,
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
        let (body, _) = Box::pin(read_capped(target, &mut response, 64 * 1024)).await?;
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
    let mut scratch = chunk::Scratch::default();
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
                until_first_token(deadline, limit, response.piece(progress.tokens)).await?
            }
            // A read timeout is a broken connection too. After the first token, only what
            // moves the answer resets it: pings, comments and empty events do not.
            None => {
                let moved = progress.take_moved();
                let doing = "reading the response body";
                match response.buffered(progress.tokens) {
                    // The next HTTP chunk is in the buffer already: no future, no timer.
                    Ok(true) => silence
                        .ready(moved, doing)
                        .map(|()| response.take_buffered()),
                    Ok(false) => silence
                        .watch(moved, doing, response.piece(progress.tokens))
                        .await
                        .and_then(|next| next),
                    Err(e) => Err(e),
                }
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
                let (url, fresh) = resume::resume_url(target, resumable, offset, progress)
                    .map_err(|why| resume::gave_up(&e, &why))?;
                // Boxed, as the first send is: rare, and large.
                response = Box::pin(resume::reconnect(
                    target,
                    url,
                    offset,
                    e,
                    &mut failures,
                    progress,
                ))
                .await?
                .into();
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
        let mut input = bytes;
        loop {
            let event = decoder.next_event(&mut input).map_err(|too_large| {
                Error::protocol(format!(
                    "an event from the server is larger than {} bytes (the cap set with ylokh_options_set_max_event_bytes)",
                    too_large.limit
                ))
            })?;
            let Some(event) = event else { break };
            if state.is_cancelled() {
                return Err(cancelled()); // asked inside a callback: no more deliveries
            }
            let end = match progress.dialect {
                None => event.data == b"[DONE]",
                Some(_) => {
                    dialect_events::deliver_event(event.event_type, event.data, sink, progress)
                        .await?
                }
            };
            if end {
                // Take the end of the body if it is already here, so the connection can be reused.
                for _ in 0..4 {
                    if !matches!(response.piece(0).now_or_never(), Some(Ok(Some(_)))) {
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

pub(super) async fn read_whole(
    target: &Target,
    mut response: Reply<'_>,
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
        return dialect_events::deliver_whole(&body, sink, progress).await;
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
    deliver(&body, &mut chunk::Scratch::default(), sink, progress).await
}

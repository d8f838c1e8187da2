//! Delivering what a Responses or Messages event (or whole response) says: the dialect's
//! [`StreamState`](crate::dialect::StreamState) maps it to events, and this hands them to the
//! sink and the assembler exactly as the chat path does. Chat Completions never comes here.

use super::progress::Progress;
use crate::chunk::Usage;
use crate::dialect::Event;
use crate::error::{snippet, Error};
use crate::sink::Sink;
use crate::status::Status;
use crate::tool_calls::{Fragment, ToolCallDelta};
use std::borrow::Cow;
use std::ops::ControlFlow;

/// An [`Event`] that outlives the parsed document, so the (async) sink can take it.
enum Owned {
    Token(String),
    Reasoning(String),
    Detail(serde_json::Value),
    Fragment {
        index: Option<u64>,
        id: Option<String>,
        name: Option<String>,
        arguments: Option<String>,
    },
    FinishReason(String),
    Usage(Usage),
    ServerError(String),
    Terminal,
    Progress,
}

fn own(event: Event<'_>) -> Option<Owned> {
    Some(match event {
        Event::Token(t) => Owned::Token(t.to_owned()),
        Event::Reasoning(t) => Owned::Reasoning(t.to_owned()),
        Event::ReasoningDetail(fragment) => Owned::Detail(fragment),
        Event::ToolFragment(f) => Owned::Fragment {
            index: f.index,
            id: f.id.map(str::to_owned),
            name: f.name.map(str::to_owned),
            arguments: f.arguments.map(Cow::into_owned),
        },
        Event::FinishReason(r) => Owned::FinishReason(r.to_owned()),
        Event::Usage(u) => Owned::Usage(u),
        Event::ServerError(m) => Owned::ServerError(m),
        Event::Terminal => Owned::Terminal,
        Event::Progress => Owned::Progress,
        Event::Ignored => return None,
    })
}

/// One SSE event of a dialect stream; `Ok(true)` when it was the dialect's clean end.
pub(super) async fn deliver_event(
    event_type: &[u8],
    data: &[u8],
    sink: &mut Sink,
    progress: &mut Progress,
) -> Result<bool, Error> {
    if progress.chunks {
        sink.chunk(data).await?;
    }
    let mut events = Vec::new();
    let state = progress
        .dialect
        .as_mut()
        .ok_or_else(|| Error::internal("a dialect event on a chat request"))?;
    let _always_continues: ControlFlow<()> = state
        .on_event(event_type, data, |e| {
            events.extend(own(e));
            ControlFlow::Continue(())
        })
        .map_err(|e| unparsable(e, data))?;
    if let Some(timings) = state.take_timings() {
        progress.server_timings = Some(timings);
    }
    apply(events, sink, progress, true).await
}

/// A whole (non-streamed) dialect response.
pub(super) async fn deliver_whole(
    body: &[u8],
    sink: &mut Sink,
    progress: &mut Progress,
) -> Result<(), Error> {
    if progress.chunks {
        sink.chunk(body).await?;
    }
    let mut events = Vec::new();
    let state = progress
        .dialect
        .as_mut()
        .ok_or_else(|| Error::internal("a dialect body on a chat request"))?;
    let _always_continues: ControlFlow<()> = state
        .on_whole(body, |e| {
            events.extend(own(e));
            ControlFlow::Continue(())
        })
        .map_err(|e| unparsable(e, body))?;
    if apply(events, sink, progress, false).await? {
        return Ok(());
    }
    Err(Error::protocol(format!(
        "the response is not a complete answer of this API: {}",
        snippet(body, 200)
    )))
}

fn unparsable(e: serde_json::Error, data: &[u8]) -> Error {
    Error::protocol(format!(
        "the server sent JSON that does not parse ({e}): {}",
        snippet(data, 200)
    ))
}

/// Hands the events on; `deltas`: whether tool-call pieces go to `on_tool_call_delta` (a
/// stream) or not (a whole response, as for chat). `Ok(true)` on the dialect's clean end.
async fn apply(
    events: Vec<Owned>,
    sink: &mut Sink,
    progress: &mut Progress,
    deltas: bool,
) -> Result<bool, Error> {
    let mut terminal = false;
    for event in events {
        match event {
            Owned::Token(text) => {
                progress.token_seen();
                progress.tokens += 1;
                progress.message.push_content(&text);
                sink.token(&text).await?;
            }
            Owned::Reasoning(text) => {
                progress.token_seen();
                progress.message.push_reasoning(&text);
                sink.reasoning(&text).await?;
            }
            Owned::Detail(fragment) => progress.message.push_details(&fragment),
            Owned::Fragment {
                index,
                id,
                name,
                arguments,
            } => {
                progress.token_seen();
                let fragment = Fragment {
                    index,
                    id: id.as_deref(),
                    name: name.as_deref(),
                    arguments: arguments.map(Cow::Owned),
                };
                let flow = progress
                    .tools
                    .apply_fragment_with(fragment, |d: ToolCallDelta<'_>| {
                        match if deltas {
                            sink.tool_call_delta(&d)
                        } else {
                            Ok(())
                        } {
                            Ok(()) => ControlFlow::Continue(()),
                            Err(e) => ControlFlow::Break(e),
                        }
                    });
                if let ControlFlow::Break(e) = flow {
                    return Err(e);
                }
                super::chat_tools::within_caps(progress.tools.over())?;
            }
            Owned::FinishReason(reason) => {
                progress.generation_ended();
                progress.finish_reason = Some(reason)
            }
            Owned::Usage(usage) => progress.usage = usage,
            Owned::ServerError(message) => {
                return Err(Error::new(
                    Status::ServerError,
                    format!("the server reported an error: {message}"),
                ))
            }
            Owned::Terminal => {
                progress.generation_ended();
                terminal = true
            }
            Owned::Progress => progress.answer_moved(),
        }
    }
    Ok(terminal)
}

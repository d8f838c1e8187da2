//! Where a request's events go: a handler the caller's layer provides (the FFI layer's C
//! callbacks), or the pull queue.
//!
//! The per-token path is one enum match and, for a handler, one call through its vtable: no
//! allocation, no lock. The pull queue copies the text into a recycled buffer under its lock.

use crate::error::Error;
use crate::outcome::Outcome;
use crate::pull::{PullQueue, TextKind};
use crate::tool_calls::{ToolCall, ToolCallDelta};
use std::sync::Arc;

/// Receives one request's events, in order, on a library thread; never two calls at once.
/// A text event that returns an error stops the request with that error.
pub trait EventHandler: Send {
    /// Each non-empty piece of the answer's content.
    fn token(&mut self, text: &str) -> Result<(), Error>;
    /// Each non-empty piece of reasoning text.
    fn reasoning(&mut self, text: &str) -> Result<(), Error>;
    /// The raw JSON of every parsed document.
    fn chunk(&mut self, json: &[u8]) -> Result<(), Error>;
    /// Whether [`EventHandler::chunk`] does anything. Asked once per request: when not, no
    /// document is handed over (a branch per document instead of a call through the vtable).
    fn wants_chunks(&self) -> bool {
        true
    }
    /// A piece of a tool call as it streams in (never a complete call).
    fn tool_call_delta(&mut self, delta: &ToolCallDelta<'_>) -> Result<(), Error>;
    /// A complete tool call, only once the answer ended well, in index order.
    fn tool_call(&mut self, call: &ToolCall) -> Result<(), Error>;
    /// The last event, exactly once, whatever happened.
    fn done(&mut self, outcome: Outcome);
}

pub enum Sink {
    Handler(Box<dyn EventHandler>),
    Queue(Arc<PullQueue>),
}

impl Sink {
    pub async fn token(&mut self, text: &str) -> Result<(), Error> {
        match self {
            Sink::Handler(h) => h.token(text),
            Sink::Queue(q) => {
                q.push_text(TextKind::Token, text.as_bytes()).await;
                Ok(())
            }
        }
    }

    pub async fn reasoning(&mut self, text: &str) -> Result<(), Error> {
        match self {
            Sink::Handler(h) => h.reasoning(text),
            Sink::Queue(q) => {
                q.push_text(TextKind::Reasoning, text.as_bytes()).await;
                Ok(())
            }
        }
    }

    /// Whether [`Sink::chunk`] does anything: a handler that takes documents, or a queue asked
    /// for them (`pull_chunks`).
    pub fn wants_chunks(&self) -> bool {
        match self {
            Sink::Handler(h) => h.wants_chunks(),
            Sink::Queue(q) => q.chunks,
        }
    }

    pub async fn chunk(&mut self, json: &[u8]) -> Result<(), Error> {
        match self {
            Sink::Handler(h) => h.chunk(json),
            Sink::Queue(q) if q.chunks => {
                q.push_text(TextKind::Chunk, json).await;
                Ok(())
            }
            Sink::Queue(_) => Ok(()),
        }
    }

    /// Deltas go to a handler only: the pull queue takes complete calls.
    pub fn tool_call_delta(&mut self, delta: &ToolCallDelta<'_>) -> Result<(), Error> {
        match self {
            Sink::Handler(h) => h.tool_call_delta(delta),
            Sink::Queue(_) => Ok(()),
        }
    }

    pub async fn tool_call(&mut self, call: &ToolCall) -> Result<(), Error> {
        match self {
            Sink::Handler(h) => h.tool_call(call),
            Sink::Queue(q) => {
                q.push_text(TextKind::ToolCall, call.to_event_json().as_bytes())
                    .await;
                Ok(())
            }
        }
    }

    /// The last delivery of every request.
    pub fn done(&mut self, outcome: Outcome) {
        match self {
            Sink::Handler(h) => h.done(outcome),
            Sink::Queue(q) => q.push_done(outcome),
        }
    }
}

//! What a request learned on the way (`Progress`): its running tally, written by the exchange
//! ([`super`]), the stream reader, the chat and dialect deliveries and the resumes, and kept
//! whatever way the request ends. The per-token bookkeeping is one method,
//! [`Progress::token_seen`].

use crate::chunk::Usage;
use crate::dialect::StreamState;
use crate::message::MessageBuilder;
use crate::tool_calls::{ToolCall, ToolCallAssembler};
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
    /// Whether the sink takes each document's raw JSON ([`crate::sink::Sink::wants_chunks`], asked once).
    pub(super) chunks: bool,
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
    pub(super) fn take_moved(&mut self) -> bool {
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

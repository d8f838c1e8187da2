//! How a request ended: what the last delivery (`on_done`, or the pull queue's DONE) is told.

use crate::chunk::Usage;
use crate::error::Error;
use crate::status::Status;

/// How long the request took, as the client measured it, and what the server said of its own
/// timings. Times in milliseconds from the start of the request; -1 (or `None`) when unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// Until the response headers arrived (after any retries).
    pub ttfb_ms: i64,
    /// Until the first token (text, reasoning or a tool-call piece) was delivered.
    pub ttft_ms: i64,
    /// Until the request ended.
    pub duration_ms: i64,
    /// Completion tokens after the first, per second from the first token to the end of the
    /// generation; -1 when fewer than two tokens arrived.
    pub tokens_per_s: f64,
    pub retries: u32,
    pub resumes: u32,
    /// The server's own `timings` object (llama.cpp), raw JSON.
    pub server_json: Option<String>,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            ttfb_ms: -1,
            ttft_ms: -1,
            duration_ms: -1,
            tokens_per_s: -1.0,
            retries: 0,
            resumes: 0,
            server_json: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub http_status: u16,
    /// `None` when OK; else what happened and what to do.
    pub message: Option<String>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
    /// The assistant message as it arrived (chat format), `None` only when no response arrived.
    pub message_json: Option<String>,
    /// Complete tool calls handed out.
    pub n_tool_calls: u32,
    pub timings: Timings,
    /// Whether the answer's text parses as JSON, when the request asked for a JSON
    /// `response_format` (any dialect's spelling) and ended well; `None` otherwise.
    pub json_valid: Option<bool>,
}

impl Outcome {
    /// A request that succeeded (the caller fills in what it learned).
    pub fn ok() -> Outcome {
        Outcome {
            status: Status::Ok,
            http_status: 0,
            message: None,
            finish_reason: None,
            usage: Usage::default(),
            message_json: None,
            n_tool_calls: 0,
            timings: Timings::default(),
            json_valid: None,
        }
    }

    /// A request that failed with `error` before anything else was learned.
    pub fn failed(error: Error) -> Outcome {
        Outcome {
            status: error.status,
            http_status: error.http_status,
            message: Some(error.message),
            finish_reason: None,
            usage: Usage::default(),
            message_json: None,
            n_tool_calls: 0,
            timings: Timings::default(),
            json_valid: None,
        }
    }

    /// `Ok` when the request succeeded, else its failure as an [`Error`].
    pub fn result(&self) -> Result<(), Error> {
        if self.status == Status::Ok {
            return Ok(());
        }
        let mut error = Error::new(self.status, self.message.clone().unwrap_or_default());
        error.http_status = self.http_status;
        Err(error)
    }
}

//! How a request ended: what the last delivery (`on_done`, or the pull queue's DONE) is told.

use crate::chunk::Usage;
use crate::error::Error;
use crate::status::Status;

#[derive(Debug, Clone, PartialEq, Eq)]
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

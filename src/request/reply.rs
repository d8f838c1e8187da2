//! A response, whichever path brought it: reqwest's, or the direct HTTP/1.1 path (`http1.rs`);
//! its status, headers, and its body in pieces. A send on either path fails with a [`SendError`].

use super::http1;
use super::transport::error_chain;
use crate::error::Error;
use crate::status::Status;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

pub(super) enum Reply<'t> {
    Reqwest {
        response: reqwest::Response,
        /// The piece of the body handed out last.
        piece: bytes::Bytes,
    },
    Direct(http1::Response<'t>),
}

/// Why a send got no response.
pub(super) enum SendError {
    Reqwest(reqwest::Error),
    Direct(http1::Failure),
}

impl From<reqwest::Response> for Reply<'_> {
    fn from(response: reqwest::Response) -> Self {
        Reply::Reqwest {
            response,
            piece: bytes::Bytes::new(),
        }
    }
}

impl<'t> Reply<'t> {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            Reply::Reqwest { response, .. } => response.status(),
            Reply::Direct(response) => response.status,
        }
    }

    pub(super) fn headers(&self) -> &HeaderMap {
        match self {
            Reply::Reqwest { response, .. } => response.headers(),
            Reply::Direct(response) => &response.headers,
        }
    }

    /// Whether the next piece of the body is here already, so that [`Reply::take_buffered`]
    /// hands it out without waiting (the direct path, whose buffer may hold many HTTP chunks;
    /// reqwest's: never). An error says how the framing broke.
    pub(super) fn buffered(&mut self, tokens: u64) -> Result<bool, Error> {
        match self {
            Reply::Reqwest { .. } => Ok(false),
            Reply::Direct(response) => response.buffered().map_err(|e| broke(tokens, e)),
        }
    }

    /// The piece [`Reply::buffered`] found.
    pub(super) fn take_buffered(&mut self) -> Option<&[u8]> {
        match self {
            Reply::Reqwest { .. } => None,
            Reply::Direct(response) => response.take_buffered(),
        }
    }

    /// The next piece of the body, `None` at its end; `tokens` (delivered so far) is for the
    /// message when the connection breaks.
    pub(super) async fn piece(&mut self, tokens: u64) -> Result<Option<&[u8]>, Error> {
        let broke = |detail: String| broke(tokens, detail);
        match self {
            Reply::Reqwest { response, piece } => {
                match response.chunk().await.map_err(|e| broke(error_chain(&e)))? {
                    Some(bytes) => {
                        *piece = bytes;
                        Ok(Some(&piece[..]))
                    }
                    None => Ok(None),
                }
            }
            Reply::Direct(response) => response.piece().await.map_err(broke),
        }
    }
}

/// The connection (or its framing) broke after `tokens` tokens.
fn broke(tokens: u64, detail: String) -> Error {
    Error::new(
        Status::Incomplete,
        format!("the connection broke while reading the answer, after {tokens} tokens: {detail}"),
    )
}

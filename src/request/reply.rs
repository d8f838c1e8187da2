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

    /// The next piece of the body, `None` at its end; `tokens` (delivered so far) is for the
    /// message when the connection breaks.
    pub(super) async fn piece(&mut self, tokens: u64) -> Result<Option<&[u8]>, Error> {
        let broke = |detail: String| {
            Error::new(
                Status::Incomplete,
                format!(
                    "the connection broke while reading the answer, after {tokens} tokens: {detail}"
                ),
            )
        };
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

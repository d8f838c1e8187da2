//! A response body read in pieces under the read timeout, and a whole body read under a cap.

use super::target::Target;
use super::transport::error_chain;
use crate::error::Error;
use crate::silence::Silence;
use crate::status::Status;

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
pub(super) async fn next_chunk(
    silence: &mut Silence,
    response: &mut reqwest::Response,
    tokens: u64,
) -> Result<Result<Option<bytes::Bytes>, Error>, Error> {
    silence
        .guard("reading the response body", read_chunk(response, tokens))
        .await
}

/// The next piece of the body, `None` at its end.
pub(super) async fn read_chunk(
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

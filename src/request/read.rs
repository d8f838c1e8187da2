//! A whole response body read under a cap, each piece under the read timeout.

use super::reply::Reply;
use super::target::Target;
use crate::error::Error;
use crate::silence::Silence;

/// Reads a body up to `cap` bytes: the bytes, and whether that was all of it.
pub(super) async fn read_capped(
    target: &Target,
    response: &mut Reply<'_>,
    cap: usize,
) -> Result<(Vec<u8>, bool), Error> {
    let mut body = Vec::new();
    let mut silence = Silence::new(target.options.read_timeout);
    while let Some(chunk) = silence
        .guard("reading the response body", response.piece(0))
        .await??
    {
        if body.len() + chunk.len() > cap {
            body.extend_from_slice(&chunk[..cap - body.len()]);
            return Ok((body, false));
        }
        body.extend_from_slice(chunk);
    }
    Ok((body, true))
}

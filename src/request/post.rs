//! A POST beside chat (embeddings) through the same send path — retries, `Retry-After`, the
//! resend on a dead kept-alive connection, the HTTP error text — with its whole answer read
//! under the client's cap (`max_event_bytes`).

use super::read::read_capped;
use super::retry::send_with_retries;
use super::target::Target;
use crate::error::Error;

/// Sends `body` to `target.endpoint` and returns the HTTP status and the whole answer.
pub async fn post_whole(target: &Target, body: Vec<u8>) -> Result<(u16, Vec<u8>), Error> {
    let mut retries = 0;
    let (mut response, _) =
        send_with_retries(target, body.into(), false, None, &mut retries, &mut None).await?;
    let status = response.status().as_u16();
    let cap = target.options.max_event_bytes;
    let (answer, complete) = read_capped(target, &mut response, cap).await?;
    if !complete {
        let mut e = Error::protocol(format!(
            "the response body is larger than {cap} bytes (the cap set with ylokh_options_set_max_event_bytes)"
        ));
        e.http_status = status;
        return Err(e);
    }
    Ok((status, answer))
}

//! The error an HTTP error response becomes: its status, the server's own text (scrubbed of
//! every secret the library holds) and a hint of what to do.

use super::read::read_capped;
use super::reply::Reply;
use super::target::Target;
use crate::chunk;
use crate::error::Error;
use crate::status::Status;

/// `response` (an HTTP error status) as an error, its body read up to 64 KiB.
pub(super) async fn http_error(target: &Target, mut response: Reply<'_>) -> Error {
    let status = response.status();
    // The error text matters more than a failure to read all of it: use what arrived.
    let body = read_capped(target, &mut response, 64 * 1024)
        .await
        .map(|(body, _)| body)
        .unwrap_or_default();
    // Scrubbed before it is parsed or cut, so that no part of a secret it echoes is quoted.
    let body = target.scrub(String::from_utf8_lossy(&body).into_owned());
    let text = chunk::error_body_text(body.as_bytes());
    let hint = match status.as_u16() {
        401 | 403 => " (check the API key: ylokh_options_set_api_key)",
        404 => " (check the base URL, which should end in /v1, and the model name)",
        429 => " (rate limited; retries are set with ylokh_options_set_max_retries)",
        _ => "",
    };
    let mut error = Error::new(
        Status::Http,
        format!(
            "HTTP {} from {}: {}{hint}",
            status,
            target.endpoint,
            if text.is_empty() {
                "(empty body)"
            } else {
                &text
            }
        ),
    );
    error.http_status = status.as_u16();
    error
}

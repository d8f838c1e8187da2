//! Resumable streams, two kinds:
//! - llama.cpp's conversation streams (Chat Completions): the request carries
//!   `X-Conversation-Id: ID`, the server keeps a copy of the event stream's bytes and goes on
//!   generating when the connection drops; `GET {base}/stream?conv_id=ID&from=N` replays from
//!   byte N and follows the generation; `DELETE {base}/stream?conv_id=ID` stops it.
//! - OpenAI's background responses (Responses): the body says `"background": true`;
//!   `GET {base}/responses/{id}?stream=true&starting_after=SEQ` streams the events after
//!   sequence number SEQ; `POST {base}/responses/{id}/cancel` stops it.

use super::http_error::http_error;
use super::progress::Progress;
use super::resumable::Resumable;
use super::retry::{backoff, retryable};
use super::target::Target;
use crate::error::Error;
use crate::log::{log, INFO, WARN};
use crate::silence::Silence;
use crate::status::Status;
use reqwest::header::ACCEPT;
use std::time::{Duration, Instant};

/// How long a cancel waits for the server to take the DELETE.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// `{base}/PATH` (PATH without a leading slash).
fn base_url(target: &Target, path: &str) -> reqwest::Url {
    let mut url = target.options.base_url.clone();
    let path = format!("{}/{path}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

/// Where the stream goes on after the break: the URL, and whether it starts at an event
/// boundary (a background response: the decoder starts afresh) rather than at the exact byte.
pub(super) fn resume_url(
    target: &Target,
    resumable: &Resumable,
    offset: u64,
    progress: &Progress,
) -> Result<(reqwest::Url, bool), String> {
    match resumable {
        Resumable::Conversation(id) => Ok((stream_url(target, id, Some(offset)), false)),
        Resumable::Background => {
            let point = progress.dialect.as_ref().and_then(|d| d.resume_point());
            let (Some(id), sequence) = point.unwrap_or((None, None)) else {
                return Err("no response id arrived before the break".into());
            };
            let Some(sequence) = sequence else {
                return Err(
                    "the server sends no sequence_number, so there is no point to resume after"
                        .into(),
                );
            };
            let mut url = base_url(target, &format!("responses/{id}"));
            url.query_pairs_mut()
                .append_pair("stream", "true")
                .append_pair("starting_after", &sequence.to_string());
            Ok((url, true))
        }
    }
}

/// Gives up on a break: `broke`'s message, and why resume could not help.
pub(super) fn gave_up(broke: &Error, why: &str) -> Error {
    Error::new(
        Status::Incomplete,
        format!("{}; resume was tried: {why}", broke.message),
    )
}

/// `{base}/stream?conv_id=ID` and, when given, `&from=N`.
fn stream_url(target: &Target, conversation: &str, from: Option<u64>) -> reqwest::Url {
    let mut url = base_url(target, "stream");
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("conv_id", conversation);
        if let Some(from) = from {
            query.append_pair("from", &from.to_string());
        }
    }
    url
}

/// The stream again from `url`, after the connection broke with `broke` at body byte `from`:
/// up to the retry budget of attempts in a row (`failures` counts them; the caller resets it
/// when bytes arrive), each after the retries' backoff. Fails with `Status::Incomplete` and a
/// message that says resume was tried, and why it failed.
pub(super) async fn reconnect(
    target: &Target,
    url: reqwest::Url,
    from: u64,
    broke: Error,
    failures: &mut u32,
    progress: &mut Progress,
) -> Result<reqwest::Response, Error> {
    let options = &target.options;
    let gave_up = |why: String| gave_up(&broke, &why);
    loop {
        if *failures >= options.max_retries {
            return Err(gave_up(if options.max_retries == 0 {
                "not attempted, as ylokh_options_set_max_retries is 0 (resumes use the retry budget)".to_string()
            } else {
                format!(
                    "{} attempts in a row failed (the retry budget, ylokh_options_set_max_retries)",
                    *failures
                )
            }));
        }
        let delay = backoff(*failures);
        *failures += 1;
        log!(
            WARN,
            "the stream broke after {from} bytes ({}); resuming with GET {} in {} ms (attempt {} of {})",
            broke.message,
            url.path(),
            delay.as_millis(),
            *failures,
            options.max_retries
        );
        tokio::time::sleep(delay).await;
        let started = Instant::now();
        let request = target
            .http
            .get(url.clone())
            .header(ACCEPT, "text/event-stream");
        let sent = Silence::new(options.read_timeout)
            .guard("waiting for the resumed stream", request.send())
            .await;
        match sent {
            Ok(Ok(response)) if response.status().is_success() => {
                progress.resumes += 1;
                log!(
                    INFO,
                    "resumed the stream (broken after {from} bytes) in {} ms (resume {})",
                    started.elapsed().as_millis(),
                    progress.resumes
                );
                return Ok(response);
            }
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let mut error = http_error(target, response.into()).await;
                error.message = error.message.replace(
                    target.endpoint.as_str(),
                    url.as_str().split('?').next().unwrap_or(""),
                );
                if !retryable(status) {
                    let hint = match status {
                        404 => "; the server keeps no copy of this stream (resume needs llama.cpp's conversation streams or OpenAI's background responses, or the copy expired)",
                        400 => "; the server no longer has the bytes from that offset",
                        _ => "",
                    };
                    return Err(gave_up(format!("{}{hint}", error.message)));
                }
                log!(WARN, "resume attempt failed: {}", error.message);
            }
            Ok(Err(e)) => log!(
                WARN,
                "resume attempt failed: {}",
                target.classify(&e).message
            ),
            Err(timeout) => log!(WARN, "resume attempt failed: {}", timeout.message),
        }
    }
}

/// Stops the generation on the server (a cancelled or failed resumable request): closing the
/// connection no longer does. Waits at most a moment; a failure is only logged.
pub(super) async fn stop(target: &Target, resumable: &Resumable, progress: &Progress) {
    let request = match resumable {
        Resumable::Conversation(id) => target.http.delete(stream_url(target, id, None)),
        Resumable::Background => {
            let point = progress.dialect.as_ref().and_then(|d| d.resume_point());
            let Some((Some(id), _)) = point else {
                return; // no response was created, or its id never arrived
            };
            target
                .http
                .post(base_url(target, &format!("responses/{id}/cancel")))
        }
    };
    let sent = tokio::time::timeout(STOP_TIMEOUT, request.send()).await;
    match sent {
        Ok(Ok(response)) => log!(
            INFO,
            "stopped the generation on the server: {} {} answered {}",
            response.url().path(),
            match resumable {
                Resumable::Conversation(_) => "DELETE",
                Resumable::Background => "POST",
            },
            response.status()
        ),
        Ok(Err(e)) => log!(
            WARN,
            "could not stop the generation on the server: {}",
            target.classify(&e).message
        ),
        Err(_) => log!(
            WARN,
            "could not stop the generation on the server: no answer within {} ms",
            STOP_TIMEOUT.as_millis()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(base: &str) -> Target {
        crate::request::target::tests::target(base, false)
    }

    #[test]
    fn urls_of_the_stream_and_the_cancel() {
        for base in ["http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1/"] {
            let t = target(base);
            assert_eq!(
                stream_url(&t, "ylokh-0a", Some(1164)).as_str(),
                "http://127.0.0.1:8080/v1/stream?conv_id=ylokh-0a&from=1164"
            );
            assert_eq!(
                stream_url(&t, "a/b::m", None).as_str(),
                "http://127.0.0.1:8080/v1/stream?conv_id=a%2Fb%3A%3Am"
            );
            assert_eq!(
                base_url(&t, "responses/resp_1/cancel").as_str(),
                "http://127.0.0.1:8080/v1/responses/resp_1/cancel"
            );
        }
    }
}

//! Sending a request, again when it may help: on connect errors, retryable HTTP statuses (after
//! the server's `Retry-After` or a backoff), and once at once when a kept-alive connection died
//! before the answer.

use super::http1;
use super::http_error::http_error;
use super::reply::{Reply, SendError};
use super::resumable;
use super::target::Target;
use super::transport::{error_chain, is_dead_connection};
use crate::connect_log::on_new_connection;
use crate::error::Error;
use crate::log::{log, DEBUG, INFO, WARN};
use crate::silence::until_first_token;
use crate::status::Status;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use std::time::Duration;
use tokio::time::Instant;

pub(super) async fn send_with_retries<'t>(
    target: &'t Target,
    body: bytes::Bytes,
    stream: bool,
    conversation: Option<&str>,
    retries: &mut u32,
    headers_at: &mut Option<std::time::Instant>,
) -> Result<(Reply<'t>, Instant), Error> {
    let options = &target.options;
    // A stream to a plain http:// server without a proxy: the direct HTTP/1.1 path.
    let direct = match &target.direct {
        Some(direct) if stream => {
            let mut extra = vec![
                ("content-type", "application/json"),
                ("accept", "text/event-stream"),
            ];
            if let Some(id) = conversation {
                extra.push((resumable::HEADER, id));
            }
            Some(http1::request(target, direct, &body, &extra))
        }
        _ => None,
    };
    let mut attempt = 0;
    let mut resent = false;
    let mut resend_now = false;
    loop {
        // A resend goes out on a new connection: the pool may hold more that the server ended.
        let http = if std::mem::take(&mut resend_now) {
            target.unpooled_http()?
        } else {
            &target.http
        };
        let build = |http: &reqwest::Client, url: reqwest::Url| {
            let request = http
                .post(url)
                .header(CONTENT_TYPE, "application/json")
                .header(
                    ACCEPT,
                    if stream {
                        "text/event-stream"
                    } else {
                        "application/json"
                    },
                )
                .body(body.clone());
            match conversation {
                Some(id) => request.header(resumable::HEADER, id),
                None => request,
            }
        };
        log!(
            INFO,
            "POST {} (stream {}, {} bytes, attempt {})",
            target.endpoint,
            stream,
            body.len(),
            attempt + 1
        );
        let sent_at = Instant::now();
        let (sent, new_connection) = on_new_connection(async {
            let send = super::redirect::send(target, http, build, direct.as_deref());
            match (options.first_token_timeout, options.read_timeout) {
                // A long prompt is read before the first byte comes: not an idle connection.
                (Some(limit), _) => until_first_token(sent_at + limit, limit, send).await,
                (None, Some(limit)) => tokio::time::timeout(limit, send)
                    .await
                    .map_err(|_| headers_timeout(limit)),
                (None, None) => Ok(send.await),
            }
        })
        .await;
        // The first-token or read timeout (`?`), then a redirect the request cannot follow.
        let sent = match sent? {
            Ok(sent) => sent,
            Err(redirect) => {
                *headers_at = Some(std::time::Instant::now());
                return Err(redirect);
            }
        };
        if sent.is_ok() {
            // A response (any status): its time to first byte, also when it is an error.
            *headers_at = Some(std::time::Instant::now());
        }
        let retry_delay = match sent {
            Ok(response) if response.status().is_success() => return Ok((response, sent_at)),
            Ok(response) => {
                let status = response.status().as_u16();
                if attempt >= options.max_retries || !retryable(status) {
                    return Err(http_error(target, response).await);
                }
                retry_after(response.headers()).unwrap_or_else(|| backoff(attempt))
            }
            // The direct path resends on its own, and words its failures.
            Err(SendError::Direct(failure)) => {
                let error = failure.error;
                if attempt >= options.max_retries
                    || !(error.status == Status::Connect || failure.connect)
                {
                    return Err(error);
                }
                log!(DEBUG, "attempt {} failed: {}", attempt + 1, error.message);
                backoff(attempt)
            }
            Err(SendError::Reqwest(e)) if !resent && !new_connection && is_dead_connection(&e) => {
                // A kept-alive connection that the server closed or reset (its idle timer) as
                // the request went out: no answer was begun. Send it again at once on a new
                // connection, as curl does; once per request, not one of the configured retries
                // and without a backoff. The dead connection is not pooled again.
                resent = true;
                resend_now = true;
                log!(
                    DEBUG,
                    "the kept-alive connection died before the answer ({}); resending at once on a new connection",
                    target.scrub(error_chain(&e))
                );
                continue;
            }
            Err(SendError::Reqwest(e)) => {
                let error = target.classify(&e);
                if attempt >= options.max_retries
                    || !(error.status == Status::Connect || e.is_connect())
                {
                    return Err(error);
                }
                log!(DEBUG, "attempt {} failed: {}", attempt + 1, error.message);
                backoff(attempt)
            }
        };
        attempt += 1;
        *retries += 1;
        log!(
            WARN,
            "retrying in {} ms (retry {} of {})",
            retry_delay.as_millis(),
            attempt,
            options.max_retries
        );
        tokio::time::sleep(retry_delay).await;
    }
}

/// The read timeout before the response head was complete. Whether part of it had arrived is
/// not known here (the HTTP client reads the head whole), so the message says neither.
fn headers_timeout(limit: Duration) -> Error {
    Error::new(
        Status::Timeout,
        format!(
            "the response headers did not arrive complete within {} ms of sending the request (read timeout, which covers the whole response head); raise it with ylokh_options_set_read_timeout_ms (0: no limit)",
            limit.as_millis()
        ),
    )
}

pub(super) fn retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// The server's own wish: `retry-after-ms` (milliseconds), else `Retry-After` (seconds or an
/// HTTP date); honoured up to 60 s, beyond that the ordinary backoff applies.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let delay = if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        Duration::try_from_secs_f64(ms / 1000.0).ok()?
    } else {
        let value = text("retry-after")?;
        match value.parse::<f64>() {
            Ok(secs) => Duration::try_from_secs_f64(secs).ok()?,
            Err(_) => httpdate_delay(value)?,
        }
    };
    (delay <= Duration::from_secs(60)).then_some(delay)
}

/// Seconds until an IMF-fixdate like `Wed, 21 Oct 2026 07:28:00 GMT`.
fn httpdate_delay(value: &str) -> Option<Duration> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)? as i64
        + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms[..] else { return None };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let at = days * 86400 + h * 3600 + m * 60 + s;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some(Duration::from_secs(at.saturating_sub(now).max(0) as u64))
}

/// Exponential backoff with jitter, as openai-python does: 0.5 s doubling up to 8 s, minus up
/// to a quarter at random.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = (0.5 * 2f64.powi(attempt.min(10) as i32)).min(8.0);
    Duration::from_secs_f64(base * (1.0 - 0.25 * fastrand::f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        h.remove("retry-after-ms");
        h.insert("retry-after", "3600".parse().unwrap());
        assert_eq!(
            retry_after(&h),
            None,
            "more than 60 s falls back to the backoff"
        );
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..20 {
            let d = backoff(attempt).as_secs_f64();
            let base = (0.5 * 2f64.powi(attempt.min(10) as i32)).min(8.0);
            assert!(d <= base && d >= base * 0.75, "attempt {attempt}: {d}");
        }
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 409, 429, 500, 502, 503] {
            assert!(retryable(s));
        }
        for s in [400, 401, 404, 422] {
            assert!(!retryable(s));
        }
    }
}

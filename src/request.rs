//! One chat completion: build the body, send it (with retries), read the answer as an event
//! stream or a whole body, deliver what it says, and end with an [`Outcome`].

use crate::chunk::{self, Usage};
use crate::client::Shared;
use crate::error::{snippet, Error};
use crate::log::{log, DEBUG, INFO, WARN};
use crate::options::{redact_url, Options};
use crate::silence::Silence;
use crate::sink::Sink;
use crate::sse::Decoder;
use crate::status::*;
use futures_util::FutureExt;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How a request ended: what `on_done` is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: u32,
    pub http_status: u16,
    pub message: Option<String>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
}

/// The part of a request shared between its task and its handle.
pub struct RequestState {
    cancelled: AtomicBool,
    cancel: Notify,
    /// The final status and message, once on_done has returned.
    finished: Mutex<Option<(u32, Option<String>)>>,
    finished_cv: Condvar,
    pub pull: Option<std::sync::Arc<crate::pull::PullQueue>>,
}

impl RequestState {
    pub fn new(pull: Option<std::sync::Arc<crate::pull::PullQueue>>) -> Self {
        RequestState {
            cancelled: AtomicBool::new(false),
            cancel: Notify::new(),
            finished: Mutex::new(None),
            finished_cv: Condvar::new(),
            pull,
        }
    }

    /// Asks the request to stop; never blocks; idempotent.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.cancel.notify_waiters();
    }

    async fn cancelled(&self) {
        loop {
            // A `Notified` receives notify_waiters from its creation on, so no wake-up is lost.
            let notified = self.cancel.notified();
            if self.cancelled.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    /// Records the final status once on_done has returned, and wakes the waiters.
    pub fn finish(&self, status: u32, message: Option<String>) {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = Some((status, message));
        self.finished_cv.notify_all();
    }

    /// The final status and message, or `None` when `timeout` passed first (`None`: no limit).
    pub fn wait(&self, timeout: Option<Duration>) -> Option<(u32, Option<String>)> {
        crate::wait::wait_for(&self.finished, &self.finished_cv, timeout, |done| {
            done.clone()
        })
    }
}

/// The JSON body: the client's default params, then `messages`, `model`, `stream`, then every
/// key of `params` (later wins, like the seed's `**kwargs`). Returns the body and whether the
/// answer will be a stream (the body's final `stream` value).
pub fn build_body(
    options: &Options,
    model: Option<&str>,
    messages: &[(&str, &str)],
    params: Option<Map<String, Value>>,
    stream: bool,
) -> (Vec<u8>, bool) {
    let mut body = options.default_params.clone();
    let messages = messages
        .iter()
        .map(|(role, content)| {
            let mut m = Map::with_capacity(2);
            m.insert("role".into(), Value::from(*role));
            m.insert("content".into(), Value::from(*content));
            Value::Object(m)
        })
        .collect();
    body.insert("messages".into(), Value::Array(messages));
    if let Some(model) = model.or(options.default_model.as_deref()) {
        body.insert("model".into(), Value::from(model));
    }
    body.insert("stream".into(), Value::Bool(stream));
    body.extend(params.unwrap_or_default());
    let stream = body.get("stream") == Some(&Value::Bool(true));
    (
        serde_json::to_vec(&body).expect("a JSON map always serializes"),
        stream,
    )
}

/// What the exchange learned on the way, kept whatever way it ends.
#[derive(Default)]
struct Progress {
    http_status: u16,
    finish_reason: Option<String>,
    usage: Usage,
    tokens: u64,
    /// Where the JSON parser decodes escaped text; reused for every chunk.
    scratch: String,
}

/// Runs one request to its end. Never panics out (the caller catches), never returns early on
/// cancel without an outcome.
pub async fn run(
    shared: &Shared,
    state: &RequestState,
    body: bytes::Bytes,
    stream: bool,
    sink: &mut Sink,
) -> Outcome {
    let started = Instant::now();
    let mut progress = Progress::default();
    let result = {
        let work = exchange(shared, body, stream, sink, &mut progress);
        let work = async {
            match shared.options.timeout {
                None => work.await,
                Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
                    Err(Error::new(
                        YLOKH_TIMEOUT,
                        format!(
                            "the request did not finish within its {} ms time limit; raise it with ylokh_options_set_timeout_ms (0: no limit)",
                            limit.as_millis()
                        ),
                    ))
                }),
            }
        };
        tokio::select! {
            biased;
            _ = state.cancelled() => {
                log!(
                    INFO,
                    "request cancelled after {} ms: its connection is closed",
                    started.elapsed().as_millis()
                );
                Err(Error::new(YLOKH_CANCELLED, "the request was cancelled"))
            }
            result = work => result,
        }
    };
    let (status, http_status, message) = match result {
        Ok(()) => (YLOKH_OK, progress.http_status, None),
        Err(e) => {
            let http_status = if e.http_status != 0 {
                e.http_status
            } else {
                progress.http_status
            };
            (e.status, http_status, Some(shared.scrub(e.message)))
        }
    };
    log!(
        INFO,
        "request done: {} (http {}) after {} ms, {} tokens{}",
        name(status).to_string_lossy(),
        http_status,
        started.elapsed().as_millis(),
        progress.tokens,
        message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    );
    Outcome {
        status,
        http_status,
        message,
        finish_reason: progress.finish_reason,
        usage: progress.usage,
    }
}

async fn exchange(
    shared: &Shared,
    body: bytes::Bytes,
    stream: bool,
    sink: &mut Sink,
    progress: &mut Progress,
) -> Result<(), Error> {
    let sent = Instant::now();
    let response = send_with_retries(shared, body, stream).await?;
    progress.http_status = response.status().as_u16();
    log!(
        DEBUG,
        "response {} after {} ms",
        response.status(),
        sent.elapsed().as_millis()
    );
    if stream {
        read_stream(shared, response, sink, progress).await
    } else {
        read_whole(shared, response, sink, progress).await
    }
}

async fn send_with_retries(
    shared: &Shared,
    body: bytes::Bytes,
    stream: bool,
) -> Result<reqwest::Response, Error> {
    let options = &shared.options;
    let mut attempt = 0;
    let mut stale_retried = false;
    loop {
        let request = shared
            .http
            .post(shared.endpoint.clone())
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
        log!(
            INFO,
            "POST {} (stream {}, {} bytes, attempt {})",
            shared.endpoint,
            stream,
            body.len(),
            attempt + 1
        );
        let sent = Silence::new(options.read_timeout)
            .guard("waiting for the response headers", request.send())
            .await?;
        let retry_delay = match sent {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => {
                let status = response.status().as_u16();
                if attempt >= options.max_retries || !retryable(status) {
                    return Err(http_error(shared, response).await);
                }
                retry_after(response.headers()).unwrap_or_else(|| backoff(attempt))
            }
            Err(e) if !stale_retried && is_stale_connection(&e) => {
                // A kept-alive connection the server had just closed: it never saw the request.
                // Send it again at once on a fresh connection, as curl does; this is not one of
                // the configured retries.
                stale_retried = true;
                log!(
                    DEBUG,
                    "the pooled connection was closed by the server; resending on a new one"
                );
                continue;
            }
            Err(e) => {
                let error = shared.classify(&e);
                if attempt >= options.max_retries
                    || !(error.status == YLOKH_CONNECT || e.is_connect())
                {
                    return Err(error);
                }
                log!(DEBUG, "attempt {} failed: {}", attempt + 1, error.message);
                backoff(attempt)
            }
        };
        attempt += 1;
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

fn retryable(status: u16) -> bool {
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
fn backoff(attempt: u32) -> Duration {
    let base = (0.5 * 2f64.powi(attempt.min(10) as i32)).min(8.0);
    Duration::from_secs_f64(base * (1.0 - 0.25 * fastrand::f64()))
}

/// Reads a body up to `cap` bytes: the bytes, and whether that was all of it.
async fn read_capped(
    shared: &Shared,
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), Error> {
    let mut body = Vec::new();
    let mut silence = Silence::new(shared.options.read_timeout);
    while let Some(chunk) = next_chunk(&mut silence, response, 0).await? {
        if body.len() + chunk.len() > cap {
            body.extend_from_slice(&chunk[..cap - body.len()]);
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// The next piece of the body, `None` at its end.
async fn next_chunk(
    silence: &mut Silence,
    response: &mut reqwest::Response,
    tokens: u64,
) -> Result<Option<bytes::Bytes>, Error> {
    silence
        .guard("reading the response body", response.chunk())
        .await?
        .map_err(|e| {
            Error::new(
                YLOKH_INCOMPLETE,
                format!(
                    "the connection broke while reading the answer, after {tokens} tokens: {}",
                    error_chain(&e)
                ),
            )
        })
}

async fn http_error(shared: &Shared, mut response: reqwest::Response) -> Error {
    let status = response.status();
    // The error text matters more than a failure to read all of it: use what arrived.
    let body = read_capped(shared, &mut response, 64 * 1024)
        .await
        .map(|(body, _)| body)
        .unwrap_or_default();
    let text = chunk::error_body_text(&body);
    let hint = match status.as_u16() {
        401 | 403 => " (check the API key: ylokh_options_set_api_key)",
        404 => " (check the base URL, which should end in /v1, and the model name)",
        429 => " (rate limited; retries are set with ylokh_options_set_max_retries)",
        _ => "",
    };
    let mut error = Error::new(
        YLOKH_HTTP_STATUS,
        format!(
            "HTTP {} from {}: {}{hint}",
            status,
            shared.endpoint,
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

async fn read_stream(
    shared: &Shared,
    mut response: reqwest::Response,
    sink: &mut Sink,
    progress: &mut Progress,
) -> Result<(), Error> {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !content_type.is_empty()
        && !content_type
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
    {
        let (body, _) = read_capped(shared, &mut response, 64 * 1024).await?;
        if let Ok(chunk::Parsed {
            error: Some(message),
            ..
        }) = chunk::parse_with_serde(&body)
        {
            return Err(Error::new(
                YLOKH_SERVER_ERROR,
                format!("the server answered with an error: {message}"),
            ));
        }
        return Err(Error::protocol(format!(
            "expected an event stream (text/event-stream) for a streaming request, but the server sent '{}': {}; is the base URL an OpenAI-compatible API (usually ending in /v1)?",
            snippet(content_type.as_bytes(), 100),
            snippet(&body, 200)
        )));
    }
    let first_byte = Instant::now();
    let mut decoder = Decoder::new(shared.options.max_event_bytes);
    let mut first = true;
    let mut silence = Silence::new(shared.options.read_timeout);
    while let Some(bytes) = next_chunk(&mut silence, &mut response, progress.tokens).await? {
        if first {
            first = false;
            log!(
                DEBUG,
                "first body byte after {} ms",
                first_byte.elapsed().as_millis()
            );
        }
        let mut input = &bytes[..];
        loop {
            let event = decoder.next_event(&mut input).map_err(|too_large| {
                Error::protocol(format!(
                    "an event from the server is larger than {} bytes (the cap set with ylokh_options_set_max_event_bytes)",
                    too_large.limit
                ))
            })?;
            let Some(event) = event else { break };
            if event.data == b"[DONE]" {
                // Take the end of the body if it is already here, so the connection can be reused.
                for _ in 0..4 {
                    if !matches!(response.chunk().now_or_never(), Some(Ok(Some(_)))) {
                        break;
                    }
                }
                return Ok(());
            }
            if event.event_type == b"error" {
                let message = chunk::error_body_text(event.data);
                return Err(Error::new(
                    YLOKH_SERVER_ERROR,
                    format!("the server reported an error inside the stream: {message}"),
                ));
            }
            deliver(event.data, sink, progress).await?;
        }
    }
    if progress.finish_reason.is_some() {
        return Ok(()); // a clean end after a finish_reason, without [DONE]
    }
    let pending = match decoder.pending_bytes() {
        0 => String::new(),
        n => format!(" ({n} bytes of an unfinished event were dropped)"),
    };
    Err(Error::new(
        YLOKH_INCOMPLETE,
        format!(
            "the stream ended before the answer finished: no `data: [DONE]` and no finish_reason after {} tokens{pending}; the server may have stopped or a proxy cut the connection",
            progress.tokens
        ),
    ))
}

/// One JSON document from the server (a stream event, or the whole body when not streaming).
async fn deliver(json: &[u8], sink: &mut Sink, progress: &mut Progress) -> Result<(), Error> {
    let parsed = chunk::parse(json, &mut progress.scratch).map_err(|e| {
        Error::protocol(format!(
            "the server sent JSON that does not parse ({e}): {}",
            snippet(json, 200)
        ))
    })?;
    sink.chunk(json).await?;
    if let Some(message) = parsed.error {
        return Err(Error::new(
            YLOKH_SERVER_ERROR,
            format!("the server reported an error: {message}"),
        ));
    }
    if let Some(usage) = parsed.usage {
        progress.usage = usage;
    }
    if let Some(reason) = parsed.finish_reason {
        let slot = progress.finish_reason.get_or_insert_with(String::new);
        slot.clear();
        slot.push_str(&reason);
    }
    if let Some(text) = parsed.reasoning.as_deref().filter(|t| !t.is_empty()) {
        sink.reasoning(text).await?;
    }
    if let Some(text) = parsed.content.as_deref().filter(|t| !t.is_empty()) {
        progress.tokens += 1;
        sink.token(text).await?;
    }
    Ok(())
}

async fn read_whole(
    shared: &Shared,
    mut response: reqwest::Response,
    sink: &mut Sink,
    progress: &mut Progress,
) -> Result<(), Error> {
    let cap = shared.options.max_event_bytes;
    let (body, complete) = read_capped(shared, &mut response, cap).await?;
    if !complete {
        return Err(Error::protocol(format!(
            "the response body is larger than {cap} bytes (the cap set with ylokh_options_set_max_event_bytes)"
        )));
    }
    let has_choice = chunk::parse_with_serde(&body)
        .map(|p| p.has_choice || p.error.is_some())
        .unwrap_or(true);
    if !has_choice {
        return Err(Error::protocol(format!(
            "the response has no choices[0]: {}",
            snippet(&body, 200)
        )));
    }
    deliver(&body, sink, progress).await
}

impl Shared {
    /// Turns a transport error into a status and a message that says what to do.
    pub fn classify(&self, e: &reqwest::Error) -> Error {
        let url = &self.endpoint;
        let target = format!(
            "{}:{}",
            url.host_str().unwrap_or("?"),
            url.port_or_known_default().unwrap_or(0)
        );
        let base = redact_url(&self.options.base_url);
        let detail = error_chain(e);
        let via = self
            .options
            .proxy
            .as_ref()
            .map(|p| format!(" through proxy {}", redact_url(p)))
            .unwrap_or_default();
        let lower = detail.to_ascii_lowercase();
        if e.is_redirect() {
            return Error::protocol(format!(
                "the server redirected too many times (more than 5): {detail} (base URL {base})"
            ));
        }
        if e.is_timeout() {
            let ms = self
                .options
                .connect_timeout
                .map(|t| t.as_millis())
                .unwrap_or(0);
            return Error::new(
                YLOKH_TIMEOUT,
                format!("could not connect to {target}{via} within {ms} ms (connect timeout; ylokh_options_set_connect_timeout_ms) (base URL {base})"),
            );
        }
        if is_tls_error(e) || lower.contains("certificate") || lower.contains("tls handshake") {
            return Error::new(
                YLOKH_TLS,
                format!("TLS with {target} failed: {detail}; if the server uses a private CA, add it with ylokh_options_add_ca_file"),
            );
        }
        if self.options.proxy.is_some()
            && (e.is_connect() || lower.contains("proxy") || lower.contains("socks"))
        {
            return Error::new(YLOKH_CONNECT, format!("could not reach {target}{via}: {detail}; is the proxy running and are its credentials right?"));
        }
        if lower.contains("connection refused") {
            return Error::new(
                YLOKH_CONNECT,
                format!(
                    "connection refused by {target} — is the server running? (base URL {base})"
                ),
            );
        }
        if lower.contains("dns error")
            || lower.contains("failed to lookup")
            || lower.contains("name or service not known")
        {
            return Error::new(
                YLOKH_CONNECT,
                format!(
                    "could not resolve host '{}': {detail} (base URL {base})",
                    url.host_str().unwrap_or("?")
                ),
            );
        }
        if e.is_connect() {
            return Error::new(
                YLOKH_CONNECT,
                format!("could not connect to {target}: {detail} (base URL {base})"),
            );
        }
        Error::new(
            YLOKH_CONNECT,
            format!("no response from {target}: {detail} (base URL {base})"),
        )
    }

    /// Removes the API key and the proxy password from a message, should any lower layer ever
    /// have echoed them.
    pub fn scrub(&self, mut message: String) -> String {
        let key = self.options.api_key.as_ref().map(|k| k.expose());
        let proxy_password = self.options.proxy.as_ref().and_then(|p| p.password());
        for secret in [key, proxy_password]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
        {
            if message.contains(secret) {
                message = message.replace(secret, "[redacted]");
            }
        }
        message
    }
}

/// Whether the request died because its (reused) connection closed before any response byte.
fn is_stale_connection(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// Whether a rustls error (handshake, certificate, alert) is in the error's source chain. The
/// TLS layer wraps it in `io::Error`s, sometimes nested, whose `source()` skips the error they
/// hold, so each `io::Error` is opened with `get_ref()`.
fn is_tls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if is_tls_error(inner) {
                return true;
            }
        }
        next = err.source();
    }
    false
}

/// An error and its sources, each once, joined with ": ".
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_merges_like_the_seeds_kwargs() {
        let options = Options::ylokh();
        let params =
            crate::options::parse_object(r#"{"temperature":0,"stream":false,"max_tokens":5}"#, "p")
                .unwrap();
        let (body, stream) = build_body(&options, None, &[("user", "hi")], Some(params), true);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["model"], "gpt-3.5-turbo");
        assert_eq!(body["temperature"], 0);
        assert_eq!(body["top_p"], 1);
        assert_eq!(body["max_tokens"], 5);
        assert_eq!(body["messages"][0]["content"], "hi");
        assert!(
            !stream,
            "params_json's stream wins, and decides how the answer is read"
        );
        let compatible = Options::compatible("http://h/v1").unwrap();
        let (body, stream) = build_body(&compatible, None, &[], None, true);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"messages":[],"stream":true}"#
        );
        assert!(stream);
    }

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

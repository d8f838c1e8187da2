//! rmcp's Streamable HTTP transport on the client's own reqwest client (rmcp's built-in one is
//! a different reqwest version): the session's requests go through the client's proxies, TLS
//! settings and connect timeouts. Only HTTP plumbing here; the protocol is rmcp's.
//!
//! Every header the caller gives is marked sensitive (reqwest keeps it out of Debug output)
//! and no header value ever reaches an error text: a bearer token stays out of messages and
//! log records.

use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use reqwest::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::{Sse, SseStream};
use std::borrow::Cow;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

const SESSION_ID: &str = "Mcp-Session-Id";
const LAST_EVENT_ID: &str = "Last-Event-Id";
const EVENT_STREAM: &str = "text/event-stream";
const JSON: &str = "application/json";

/// The client's reqwest client, as rmcp's HTTP client.
#[derive(Clone)]
pub struct Http(pub reqwest::Client);

/// A transport failure from reqwest, its text without the URL's secrets (reqwest's own text
/// names the URL; the caller's URL may carry userinfo or a token in its query).
#[derive(Debug)]
pub struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

fn client_error(e: reqwest::Error) -> StreamableHttpError<HttpError> {
    let what = if e.is_connect() {
        "could not connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "the response body broke off"
    } else {
        "the HTTP request failed"
    };
    // Only the source chain's texts, never the URL (e.without_url()).
    let mut text = what.to_owned();
    let e = e.without_url();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    StreamableHttpError::Client(HttpError(text))
}

fn media_type_is(value: &HeaderValue, wanted: &str) -> bool {
    value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(wanted))
}

fn with_headers(
    mut builder: reqwest::RequestBuilder,
    auth: Option<String>,
    headers: HashMap<HeaderName, HeaderValue>,
) -> reqwest::RequestBuilder {
    if let Some(token) = auth {
        if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            value.set_sensitive(true);
            builder = builder.header(reqwest::header::AUTHORIZATION, value);
        }
    }
    for (name, mut value) in headers {
        value.set_sensitive(true);
        builder = builder.header(name, value);
    }
    builder
}

/// A body read whole, up to `max` bytes.
async fn read_bounded(
    response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, StreamableHttpError<HttpError>> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(client_error)?;
        if body.len() + piece.len() > max {
            return Err(StreamableHttpError::ResponseBodyTooLarge { max_size: max });
        }
        body.extend_from_slice(&piece);
    }
    Ok(body)
}

/// An event stream whose events may not grow past `max` bytes (a server that never ends an
/// event cannot make the decoder's buffer grow without bound).
struct Bounded<S> {
    inner: S,
    /// Bytes since the last blank line (approximately: the end of an event).
    pending: usize,
    max: usize,
    failed: bool,
}

#[derive(Debug)]
struct EventTooLarge(usize);

impl std::fmt::Display for EventTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "an event of the MCP server's stream passed the maximum size of {} bytes",
            self.0
        )
    }
}

impl std::error::Error for EventTooLarge {}

impl<S: Stream<Item = Result<Bytes, reqwest::Error>> + Unpin> Stream for Bounded<S> {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                let end = memchr::memmem::rfind(&bytes, b"\n\n")
                    .or_else(|| memchr::memmem::rfind(&bytes, b"\r\n\r\n"));
                self.pending = match end {
                    Some(at) => bytes.len() - at,
                    None => self.pending + bytes.len(),
                };
                if self.pending > self.max {
                    self.failed = true;
                    let max = self.max;
                    return Poll::Ready(Some(Err(std::io::Error::other(EventTooLarge(max)))));
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(std::io::Error::other(HttpError(
                match client_error(e) {
                    StreamableHttpError::Client(HttpError(text)) => text,
                    other => other.to_string(),
                },
            ))))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn sse(response: reqwest::Response, max: usize) -> BoxStream<'static, Result<Sse, SseError>> {
    let bounded = Bounded {
        inner: Box::pin(response.bytes_stream()),
        pending: 0,
        max,
        failed: false,
    };
    SseStream::from_bytes_stream(bounded).boxed()
}

/// A failed response as an error that says its status (and none of the request's headers).
fn status_error(status: StatusCode) -> StreamableHttpError<HttpError> {
    StreamableHttpError::UnexpectedServerResponse(Cow::Owned(format!(
        "the MCP server answered HTTP {status}"
    )))
}

impl StreamableHttpClient for Http {
    type Error = HttpError;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<HttpError>> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<HttpError>> {
        let body = serde_json::to_vec(&message)?;
        let mut request = self
            .0
            .post(uri.as_ref())
            .header(ACCEPT, format!("{EVENT_STREAM}, {JSON}"))
            .header(CONTENT_TYPE, JSON)
            .body(body);
        let attached = session_id.is_some();
        if let Some(id) = session_id {
            request = request.header(SESSION_ID, id.as_ref());
        }
        let request = with_headers(request, auth_header, custom_headers);
        let response = request.send().await.map_err(client_error)?;
        let status = response.status();
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && attached {
            return Err(StreamableHttpError::SessionExpired);
        }
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        let is_json = content_type
            .as_ref()
            .is_some_and(|c| media_type_is(c, JSON));
        let new_session = response
            .headers()
            .get(SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let awaits_nothing = !matches!(message, ClientJsonRpcMessage::Request(_));
        if !status.is_success() {
            // A JSON-RPC error in the body is the server's answer; anything else: the status.
            if is_json {
                let body = read_bounded(response, limits.max_json_response_size).await?;
                if let Ok(parsed @ ServerJsonRpcMessage::Error(_)) =
                    serde_json::from_slice::<ServerJsonRpcMessage>(&body)
                {
                    return Ok(StreamableHttpPostResponse::Json(parsed, new_session));
                }
            }
            return Err(status_error(status));
        }
        match content_type {
            Some(c) if media_type_is(&c, EVENT_STREAM) => Ok(StreamableHttpPostResponse::Sse(
                sse(response, limits.max_sse_event_size),
                new_session,
            )),
            Some(c) if media_type_is(&c, JSON) => {
                let body = read_bounded(response, limits.max_json_response_size).await?;
                match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
                    Ok(parsed) => Ok(StreamableHttpPostResponse::Json(parsed, new_session)),
                    Err(_) if awaits_nothing => Ok(StreamableHttpPostResponse::Accepted),
                    Err(e) => Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(
                        format!("the MCP server's JSON answer does not parse: {e}"),
                    ))),
                }
            }
            _ if awaits_nothing => Ok(StreamableHttpPostResponse::Accepted),
            other => {
                Err(StreamableHttpError::UnexpectedContentType(other.map(|c| {
                    String::from_utf8_lossy(c.as_bytes()).into_owned()
                })))
            }
        }
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<HttpError>> {
        let request = self
            .0
            .delete(uri.as_ref())
            .header(SESSION_ID, session_id.as_ref());
        let request = with_headers(request, auth_header, custom_headers);
        let response = request.send().await.map_err(client_error)?;
        let status = response.status();
        if status.is_success() || status == StatusCode::METHOD_NOT_ALLOWED {
            return Ok(());
        }
        Err(status_error(status))
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<HttpError>> {
        self.get_stream_with_max_sse_event_size(
            uri,
            session_id,
            last_event_id,
            auth_header,
            custom_headers,
            StreamableHttpResponseLimits::default().max_sse_event_size,
        )
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<HttpError>> {
        let mut request = self
            .0
            .get(uri.as_ref())
            .header(ACCEPT, format!("{EVENT_STREAM}, {JSON}"));
        if let Some(id) = session_id {
            request = request.header(SESSION_ID, id.as_ref());
        }
        if let Some(id) = last_event_id {
            request = request.header(LAST_EVENT_ID, id);
        }
        let request = with_headers(request, auth_header, custom_headers);
        let response = request.send().await.map_err(client_error)?;
        let status = response.status();
        if status == StatusCode::METHOD_NOT_ALLOWED {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        if !status.is_success() {
            return Err(status_error(status));
        }
        match response.headers().get(CONTENT_TYPE) {
            Some(c) if media_type_is(c, EVENT_STREAM) || media_type_is(c, JSON) => {}
            other => {
                return Err(StreamableHttpError::UnexpectedContentType(
                    other.map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned()),
                ))
            }
        }
        Ok(sse(response, max_sse_event_size))
    }
}

/// An HTTP client for MCP servers with the client's proxy, extra CA certificates and connect
/// timeout, but none of its default headers: the LLM server's API key and the caller's headers
/// for it never reach an MCP server. Redirects are followed only within the origin (a header
/// the caller gave for this server never reaches another).
pub fn http_client(
    options: &crate::options::Options,
) -> Result<reqwest::Client, crate::error::Error> {
    use crate::error::Error;
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("libylokh/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let first = &attempt.previous()[0];
            let same_origin = attempt.url().scheme() == first.scheme()
                && attempt.url().host_str() == first.host_str()
                && attempt.url().port_or_known_default() == first.port_or_known_default();
            if attempt.previous().len() >= 5 || !same_origin {
                return attempt.stop();
            }
            attempt.follow()
        }))
        .tcp_nodelay(true);
    if let Some(t) = options.connect_timeout {
        builder = builder.connect_timeout(t);
    }
    builder = match &options.proxy {
        None => builder.no_proxy(),
        Some(url) => builder.proxy(
            reqwest::Proxy::all(url.clone())
                .map_err(|e| Error::invalid(format!("the proxy URL is not usable: {e}")))?,
        ),
    };
    for cert in &options.ca_certs {
        builder = builder.add_root_certificate(cert.clone());
    }
    builder
        .build()
        .map_err(|e| Error::internal(format!("could not set up the MCP HTTP client: {e}")))
}

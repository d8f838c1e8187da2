//! The direct HTTP/1.1 path: a streamed request to a plain `http://` endpoint without a proxy
//! (llama.cpp, vLLM, Ollama: the servers that flush one event per HTTP chunk) sent and read in
//! the request's own task, with no HTTP client between the socket and the SSE decoder.
//!
//! The response is read into one buffer (the only copy between the socket and the decoder) and
//! its framing decoded in place (`chunked.rs`); the body is handed out as slices of that buffer.
//! The buffer grows while reads fill it and is freed whenever the reader waits with nothing
//! pending, so an idle stream holds none. A connection returns to the [`Pool`] only after its
//! response was read to the end; one taken from it that dies before any response byte arrives
//! is replaced at once by a new connection, once (the server's idle timer, as on the reqwest
//! path). Dropping a [`Response`] before its end closes the socket.

use super::chunked::{BodyDecoder, Piece};
use super::head::{self, Head, MAX_HEAD};
use super::pool::Pool;
use super::target::{Direct, Target};
use super::transport::Kind;
use crate::connect_log::{connected, connecting};
use crate::error::Error;
use crate::log::{log, DEBUG};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use std::io::ErrorKind;
use std::ops::Range;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The first buffer of a read, and the largest a buffer grows to.
const START: usize = 4096;
const MAX_BUFFER: usize = 256 * 1024;

/// A transport failure of the direct path, already worded; `connect` when it happened while
/// connecting (the retries treat those as the reqwest path's connect errors).
pub(super) struct Failure {
    pub error: Error,
    pub connect: bool,
}

/// The bytes of a POST of `body` to the target's endpoint, with every header of the client.
pub(super) fn request(
    target: &Target,
    direct: &Direct,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let url = &target.endpoint;
    let mut out = Vec::with_capacity(512 + body.len());
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(url.path().as_bytes());
    if let Some(query) = url.query() {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(url.host_str().unwrap_or("").as_bytes());
    if let Some(port) = url.port() {
        out.extend_from_slice(format!(":{port}").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    let mut header = |name: &[u8], value: &[u8]| {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    for (name, value) in &direct.headers {
        header(name.as_str().as_bytes(), value.as_bytes());
    }
    for (name, value) in extra {
        header(name.as_bytes(), value.as_bytes());
    }
    header(b"content-length", body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Sends `request` (from [`request`]) on a kept-alive connection or a new one and reads the
/// response head.
pub(super) async fn send<'t>(
    target: &'t Target,
    direct: &'t Direct,
    request: &[u8],
) -> Result<Response<'t>, Failure> {
    if let Some(stream) = direct.pool.take() {
        match exchange(target, &direct.pool, stream, request).await {
            Ok(response) => return Ok(response),
            Err(Broke::Dead(detail)) => {
                // The server ended the kept-alive connection (its idle timer) as the request
                // went out: no answer was begun. Sent again at once on a new connection, as
                // curl does; not one of the configured retries, without a backoff.
                log!(
                    DEBUG,
                    "the kept-alive connection died before the answer ({}); resending at once on a new connection",
                    target.scrub(detail)
                );
            }
            Err(Broke::Failed(failure)) => return Err(failure),
        }
    }
    let stream = connect(target).await?;
    match exchange(target, &direct.pool, stream, request).await {
        Ok(response) => Ok(response),
        Err(Broke::Dead(detail)) => Err(Failure {
            error: target.describe(&target.endpoint, &detail, Kind::NoResponse),
            connect: false,
        }),
        Err(Broke::Failed(failure)) => Err(failure),
    }
}

/// A new connection to the endpoint, with the connect log records.
async fn connect(target: &Target) -> Result<TcpStream, Failure> {
    let url = &target.endpoint;
    let name = format!(
        "{}:{}",
        url.host_str().unwrap_or("?"),
        url.port_or_known_default().unwrap_or(0)
    );
    let started = connecting(&name);
    let attempt = async {
        let port = url.port_or_known_default().unwrap_or(80);
        let host = url.host_str().unwrap_or("");
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<std::net::SocketAddr> = match literal.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![(ip, port).into()],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| (Kind::Dns, e.to_string()))?
                .collect(),
        };
        let mut last = (Kind::Dns, "the name has no address".to_string());
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    last = (Kind::Refused, format!("tcp connect error: {e}"))
                }
                Err(e) => last = (Kind::Connect, format!("tcp connect error: {e}")),
            }
        }
        Err(last)
    };
    let result = match target.options.connect_timeout {
        None => attempt.await,
        Some(limit) => tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or_else(|_| Err((Kind::ConnectTimeout, String::new()))),
    };
    connected(&name, started, result.is_ok());
    result.map_err(|(kind, detail)| Failure {
        error: target.describe(url, &detail, kind),
        connect: true,
    })
}

/// How an exchange on a connection failed: before any response byte, with the connection gone
/// (`Dead`: what the server's idle timer does to a kept-alive one), or otherwise.
enum Broke {
    Dead(String),
    Failed(Failure),
}

/// Writes the request on `stream` and reads the response head.
async fn exchange<'t>(
    target: &'t Target,
    pool: &'t Pool,
    mut stream: TcpStream,
    request: &[u8],
) -> Result<Response<'t>, Broke> {
    if let Err(e) = stream.write_all(request).await {
        return Err(if is_gone(&e) {
            Broke::Dead(e.to_string())
        } else {
            Broke::Failed(Failure {
                error: target.describe(&target.endpoint, &e.to_string(), Kind::NoResponse),
                connect: false,
            })
        });
    }
    let mut reader = Reader {
        stream: Some(stream),
        buffer: Vec::with_capacity(START),
        start: 0,
        next_size: START,
    };
    let parse_error = |detail: String| {
        Broke::Failed(Failure {
            error: target.describe(&target.endpoint, &detail, Kind::Parse),
            connect: false,
        })
    };
    loop {
        match head::parse(reader.pending()).map_err(parse_error)? {
            // Interim answers (100 Continue, 103 Early Hints) come before the real one.
            Some((head, len)) if head.status.is_informational() && head.status != 101 => {
                reader.start += len;
            }
            Some((head, len)) => {
                reader.start += len;
                return Ok(Response::new(head, reader, pool));
            }
            None => {
                let seen = reader.start > 0 || !reader.pending().is_empty();
                match reader.fill(MAX_HEAD + 1).await {
                    Ok(0) | Err(_) if !seen => {
                        let why = "connection closed before message completed";
                        return Err(Broke::Dead(why.into()));
                    }
                    Ok(0) => {
                        return Err(parse_error(
                            "the connection closed inside the response head".into(),
                        ))
                    }
                    Ok(_) => {}
                    Err(e) => {
                        return Err(Broke::Failed(Failure {
                            error: target.describe(
                                &target.endpoint,
                                &e.to_string(),
                                Kind::NoResponse,
                            ),
                            connect: false,
                        }))
                    }
                }
            }
        }
    }
}

/// Whether a write failed because the server has closed or reset the connection.
fn is_gone(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionAborted
    )
}

/// A connection's read side: one buffer, consumed from `start`.
struct Reader {
    /// `None` once the connection went back to the pool.
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
    start: usize,
    /// The capacity of the next buffer: doubled while reads fill the buffer, halved while they
    /// bring little.
    next_size: usize,
}

impl Reader {
    fn pending(&self) -> &[u8] {
        &self.buffer[self.start..]
    }

    /// Reads more bytes behind the pending ones, keeping at most `limit` pending: how many
    /// came (0 at the end of the connection's bytes).
    async fn fill(&mut self, limit: usize) -> std::io::Result<usize> {
        if self.start == self.buffer.len() {
            self.start = 0;
            if self.buffer.capacity() == self.next_size {
                self.buffer.clear();
            } else {
                self.buffer = Vec::new(); // allocated at its new size below
            }
        } else if self.buffer.len() == self.buffer.capacity() && self.start > 0 {
            // What is left is part of a framing line or of a head: a few bytes at the front.
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        if self.buffer.capacity() > 0 && self.buffer.len() == self.buffer.capacity() {
            if self.buffer.len() >= limit {
                return Err(std::io::Error::other("the buffer limit was reached"));
            }
            self.buffer.reserve_exact(self.buffer.capacity());
        }
        let Some(stream) = &self.stream else {
            return Ok(0);
        };
        loop {
            if self.buffer.capacity() == 0 {
                self.buffer = Vec::with_capacity(self.next_size);
            }
            let capacity = self.buffer.capacity();
            let room = capacity - self.buffer.len();
            match stream.try_read_buf(&mut self.buffer) {
                Ok(n) => {
                    if n == room {
                        self.next_size = (capacity * 2).min(MAX_BUFFER);
                    } else if n < capacity / 16 {
                        self.next_size = (self.next_size / 2).max(START);
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if self.start == self.buffer.len() {
                        // Nothing pending: an idle stream holds no buffer.
                        self.buffer = Vec::new();
                        self.start = 0;
                    }
                    stream.readable().await?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A response on the direct path, its body read by [`Response::piece`].
pub(super) struct Response<'t> {
    pub status: StatusCode,
    pub headers: HeaderMap,
    reader: Reader,
    body: BodyDecoder,
    keep_alive: bool,
    pool: &'t Pool,
    /// Body data [`Response::buffered`] found in the buffer, for the next `piece`.
    ready: Option<Range<usize>>,
}

impl<'t> Response<'t> {
    fn new(head: Head, reader: Reader, pool: &'t Pool) -> Self {
        Response {
            status: head.status,
            headers: head.headers,
            reader,
            body: BodyDecoder::new(head.framing),
            keep_alive: head.keep_alive,
            pool,
            ready: None,
        }
    }

    /// The next piece of the body as it is in the read buffer, `None` at its end; an error
    /// says how the connection or the framing broke.
    pub(super) async fn piece(&mut self) -> Result<Option<&[u8]>, String> {
        if let Some(ready) = self.ready.take() {
            return Ok(Some(&self.reader.buffer[ready]));
        }
        loop {
            let (used, piece) = self.body.next(self.reader.pending())?;
            let at = self.reader.start;
            self.reader.start += used;
            match piece {
                Piece::Data(range) => {
                    return Ok(Some(&self.reader.buffer[at + range.start..at + range.end]))
                }
                Piece::End => return Ok(None),
                Piece::More => {}
            }
            match self.reader.fill(MAX_BUFFER).await {
                Ok(0) => {
                    self.body.at_eof()?;
                    self.keep_alive = false;
                    return Ok(None);
                }
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Whether the next piece of body data is already in the buffer (decoded without reading,
    /// so a server that sends one event per HTTP chunk costs no wait per chunk); the next
    /// [`Response::piece`] or [`Response::take_buffered`] hands it out.
    pub(super) fn buffered(&mut self) -> Result<bool, String> {
        if self.ready.is_none() {
            let (used, piece) = self.body.next(self.reader.pending())?;
            let at = self.reader.start;
            self.reader.start += used;
            if let Piece::Data(range) = piece {
                self.ready = Some(at + range.start..at + range.end);
            }
        }
        Ok(self.ready.is_some())
    }

    /// The data [`Response::buffered`] found (`None` if it found none).
    pub(super) fn take_buffered(&mut self) -> Option<&[u8]> {
        let ready = self.ready.take()?;
        Some(&self.reader.buffer[ready])
    }
}

impl Drop for Response<'_> {
    fn drop(&mut self) {
        // Reused only when the whole response, and nothing after it, was read.
        if self.keep_alive && self.body.complete() && self.reader.pending().is_empty() {
            if let Some(stream) = self.reader.stream.take() {
                self.pool.put(stream);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn target(base: &str) -> Target {
        crate::request::target::tests::target(base, true)
    }

    /// A server on a thread: each connection reads one request head and body at a time and
    /// answers it with `answer(n)` (n counts requests over all connections), written in pieces
    /// of `piece` bytes; `close_after` closes the connection after each answer.
    fn server(
        answer: impl Fn(usize) -> Vec<u8> + Send + Sync + 'static,
        piece: usize,
        close_after: bool,
    ) -> (String, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let answer = Arc::new(answer);
        let requests = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                let (answer, requests) = (answer.clone(), requests.clone());
                std::thread::spawn(move || loop {
                    let mut seen = Vec::new();
                    let mut byte = [0u8; 1];
                    while !seen.ends_with(b"\r\n\r\n") {
                        if stream.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        seen.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    let length: usize = head
                        .split("content-length: ")
                        .nth(1)
                        .and_then(|v| v.split("\r\n").next())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).unwrap();
                    let wire = answer(requests.fetch_add(1, Ordering::SeqCst));
                    for part in wire.chunks(piece) {
                        if stream.write_all(part).is_err() {
                            return;
                        }
                        let _ = stream.flush();
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                    if close_after {
                        return;
                    }
                });
            }
        });
        (url, connections)
    }

    const EVENTS: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\nf\r\ndata: {\"a\":1}\n\n\r\n10;ext=1\r\ndata: [DONE]\n\n  \r\n0\r\ntrailer: x\r\n\r\n";

    async fn body(response: &mut Response<'_>) -> Vec<u8> {
        let mut body = Vec::new();
        while let Some(piece) = response.piece().await.unwrap() {
            body.extend_from_slice(piece);
        }
        body
    }

    #[tokio::test]
    async fn a_stream_is_read_in_place_and_its_connection_reused_after_its_end() {
        for piece in [1, 7, 1000] {
            let (url, connections) = server(|_| EVENTS.to_vec(), piece, false);
            let target = target(&url);
            let direct = target.direct.as_ref().unwrap();
            let request = request(&target, direct, b"{}", &[("accept", "text/event-stream")]);
            for _ in 0..3 {
                let Ok(mut response) = send(&target, direct, &request).await else {
                    panic!("send failed")
                };
                assert_eq!(response.status, 200);
                assert_eq!(response.headers["content-type"], "text/event-stream");
                assert_eq!(
                    body(&mut response).await,
                    b"data: {\"a\":1}\n\ndata: [DONE]\n\n  ",
                    "pieces of {piece} bytes"
                );
            }
            assert_eq!(connections.load(Ordering::SeqCst), 1, "pieces of {piece}");
        }
    }

    #[tokio::test]
    async fn a_response_dropped_before_its_end_closes_its_connection() {
        let (url, connections) = server(|_| EVENTS.to_vec(), 1000, false);
        let target = target(&url);
        let direct = target.direct.as_ref().unwrap();
        let request = request(&target, direct, b"{}", &[]);
        for _ in 0..2 {
            let Ok(mut response) = send(&target, direct, &request).await else {
                panic!("send failed")
            };
            assert!(response.piece().await.unwrap().is_some());
        }
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_kept_alive_connection_the_server_ended_is_replaced_at_once() {
        // The server answers with keep-alive, then closes: the next request finds the pooled
        // connection dead (or the pool's check drops it) and goes out on a new one.
        let (url, connections) = server(|_| EVENTS.to_vec(), 1000, true);
        let target = target(&url);
        let direct = target.direct.as_ref().unwrap();
        let request = request(&target, direct, b"{}", &[]);
        for _ in 0..5 {
            let Ok(mut response) = send(&target, direct, &request).await else {
                panic!("send failed")
            };
            body(&mut response).await;
        }
        assert_eq!(connections.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_broken_body_or_head_is_an_error_that_says_so() {
        let (url, _) = server(
            |n| match n {
                0 => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_vec(),
                1 => b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort".to_vec(),
                _ => b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec(),
            },
            1000,
            true,
        );
        let target = target(&url);
        let direct = target.direct.as_ref().unwrap();
        let request = request(&target, direct, b"{}", &[]);
        for _ in 0..2 {
            let Ok(mut response) = send(&target, direct, &request).await else {
                panic!("send failed")
            };
            let error = loop {
                match response.piece().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("a broken body read to its end"),
                    Err(e) => break e,
                }
            };
            assert!(!error.is_empty());
        }
        let Err(failure) = send(&target, direct, &request).await else {
            panic!("not HTTP, yet a response")
        };
        assert_eq!(failure.error.status, crate::status::Status::Protocol);
        assert!(
            failure.error.message.contains("response head"),
            "{}",
            failure.error.message
        );
    }

    #[tokio::test]
    async fn connection_refused_says_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        drop(listener);
        let target = target(&url);
        let direct = target.direct.as_ref().unwrap();
        let Err(failure) = send(&target, direct, &request(&target, direct, b"{}", &[])).await
        else {
            panic!("connected to nothing")
        };
        assert!(failure.connect);
        assert_eq!(failure.error.status, crate::status::Status::Connect);
        assert!(
            failure.error.message.contains("connection refused"),
            "{}",
            failure.error.message
        );
    }

    #[test]
    fn the_request_carries_the_path_host_headers_and_length() {
        let target = target("http://127.0.0.1:8080/v1");
        let mut direct = Direct {
            headers: HeaderMap::new(),
            pool: Pool::default(),
        };
        direct
            .headers
            .insert("authorization", "Bearer k".parse().unwrap());
        let wire = request(&target, &direct, b"{}", &[("accept", "text/event-stream")]);
        let text = String::from_utf8(wire).unwrap();
        assert!(text.starts_with("POST /v1/chat/completions"), "{text}");
        assert!(text.contains("\r\nhost: 127.0.0.1:8080\r\n"), "{text}");
        assert!(text.contains("\r\nauthorization: Bearer k\r\n"), "{text}");
        assert!(text.contains("\r\naccept: text/event-stream\r\n"), "{text}");
        assert!(text.ends_with("\r\ncontent-length: 2\r\n\r\n{}"), "{text}");
    }
}

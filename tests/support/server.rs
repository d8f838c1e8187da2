//! The loopback HTTP/1.1 server's machinery, shared by the tests' server (`mod.rs`, whose
//! scenarios answer through it) and the benchmark's (`benches/server.rs` includes this file):
//! the accept loop, reading a request, and writing a response whole or chunked. Plain tokio,
//! nothing of the library's or of any scenario's.

use std::future::Future;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections for as long as the runtime runs, each with Nagle's algorithm off (a
/// streamed event leaves at once), and spawns `on_connection(socket)` for it.
pub async fn accept_loop<F, Fut>(listener: TcpListener, mut on_connection: F)
where
    F: FnMut(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        tokio::spawn(on_connection(socket));
    }
}

/// One request as read; `port` and `nth_on_connection` are 0 until the server that read it
/// sets them.
pub struct Request {
    pub method: String,
    /// The server's own port (for redirects to itself).
    pub port: u16,
    /// 1 for the first request on its connection, 2 for the next, ...
    pub nth_on_connection: u32,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Reads one request; `None` at a clean end of the connection.
pub async fn read_request<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    socket: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Request>> {
    let head_end = loop {
        if buf.first() == Some(&0x16) {
            // A TLS ClientHello on this plain-HTTP port: answer as a real HTTP server does.
            socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                .await?;
            return Ok(None);
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let method = request_line.split(' ').next().unwrap_or("").to_string();
    let mut path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    // The absolute form a client sends to an HTTP proxy: serve it as if we were the origin,
    // so the server doubles as a forward proxy for plain-HTTP tests.
    if let Some(rest) = path.strip_prefix("http://") {
        path = rest
            .find('/')
            .map_or("/".to_string(), |i| rest[i..].to_string());
    }
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Ok(Some(Request {
        method,
        port: 0,
        nth_on_connection: 0,
        path,
        headers,
        body,
    }))
}

/// A response head with `Transfer-Encoding: chunked`; `extra`: more header lines, each ending
/// in CRLF.
pub async fn head<S: AsyncWrite + Unpin + ?Sized>(
    socket: &mut S,
    status: &str,
    content_type: &str,
    extra: &str,
) -> std::io::Result<()> {
    let text = format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n{extra}\r\n");
    socket.write_all(text.as_bytes()).await
}

/// Appends `data` as one HTTP/1.1 chunk (its size in hex, CRLF, the data, CRLF), for bodies
/// rendered ahead (the benchmark's). Empty `data` would end the body: callers never pass it.
pub fn frame_chunk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Writes `data` as one chunk, in three writes (size line, data, CRLF) as a server writing
/// as it goes does; nothing for empty `data`.
pub async fn chunk<S: AsyncWrite + Unpin + ?Sized>(
    socket: &mut S,
    data: &[u8],
) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    socket
        .write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    socket.write_all(data).await?;
    socket.write_all(b"\r\n").await?;
    socket.flush().await // TLS buffers until flushed
}

/// The last chunk: the body's end.
pub async fn end<S: AsyncWrite + Unpin + ?Sized>(socket: &mut S) -> std::io::Result<()> {
    socket.write_all(b"0\r\n\r\n").await?;
    socket.flush().await
}

/// A whole response with Content-Length.
pub async fn whole<S: AsyncWrite + Unpin + ?Sized>(
    socket: &mut S,
    status: &str,
    content_type: &str,
    extra: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    socket.write_all(text.as_bytes()).await?;
    socket.write_all(body).await?;
    socket.flush().await
}

//! An HTTP/1.x response head (status line and headers), parsed with `httparse` under a cap on
//! its size and its number of headers, and how the body after it is framed.

use super::chunked::Framing;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::StatusCode;

/// The largest response head accepted, and the most headers (hyper's default count).
pub(super) const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

#[derive(Debug)]
pub(super) struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// Whether the connection may carry another request once this body is read.
    pub keep_alive: bool,
}

/// The head at the front of `input` and its length in bytes; `None` while it is incomplete. An
/// error says why the bytes are not an acceptable HTTP head.
pub(super) fn parse(input: &[u8]) -> Result<Option<(Head, usize)>, String> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let len = match response.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if input.len() > MAX_HEAD => {
            return Err(format!("the response head is larger than {MAX_HEAD} bytes"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(format!("the response has more than {MAX_HEADERS} headers"))
        }
        Err(e) => return Err(format!("invalid HTTP response head: {e}")),
    };
    if len > MAX_HEAD {
        return Err(format!("the response head is larger than {MAX_HEAD} bytes"));
    }
    let code = response.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| format!("invalid status code {code}"))?;
    let http11 = response.version == Some(1);
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    for h in response.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("invalid header name '{}'", h.name))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| format!("invalid value of the header '{}'", h.name))?;
        headers.append(name, value);
    }
    let has = |name: &str, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    let mut keep_alive = if http11 {
        !has("connection", "close")
    } else {
        has("connection", "keep-alive")
    };
    let framing = if code == 204 || code == 304 || status.is_informational() {
        Framing::Length(0)
    } else if let Some(te) = headers.get_all("transfer-encoding").iter().next_back() {
        // Chunked only when it is the last coding; otherwise the body runs to the close.
        let last = te.to_str().unwrap_or("").rsplit(',').next().unwrap_or("");
        if last.trim().eq_ignore_ascii_case("chunked") && http11 {
            if headers.contains_key("content-length") {
                keep_alive = false; // both framings named: never reuse such a connection
            }
            Framing::Chunked
        } else {
            keep_alive = false;
            Framing::Close
        }
    } else if let Some(length) = headers.get("content-length") {
        let mut values = headers.get_all("content-length").iter();
        let n = length
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| {
                values.all(|v| v.to_str().ok().and_then(|v| v.trim().parse().ok()) == Some(*n))
            })
            .ok_or_else(|| {
                format!(
                    "invalid Content-Length '{}'",
                    String::from_utf8_lossy(length.as_bytes())
                )
            })?;
        Framing::Length(n)
    } else {
        keep_alive = false;
        Framing::Close
    };
    Ok(Some((
        Head {
            status,
            headers,
            framing,
            keep_alive,
        },
        len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(wire: &str) -> Head {
        match parse(wire.as_bytes()) {
            Ok(Some((head, len))) => {
                assert_eq!(len, wire.find("\r\n\r\n").unwrap() + 4);
                head
            }
            other => panic!("{wire:?}: {:?}", other.map(|h| h.map(|h| h.1))),
        }
    }

    const SSE: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\ndata: x\r\n";

    #[test]
    fn a_head_split_at_every_byte_is_incomplete_until_its_empty_line() {
        let end = SSE.find("\r\n\r\n").unwrap() + 4;
        for cut in 0..end {
            assert!(
                matches!(parse(&SSE.as_bytes()[..cut]), Ok(None)),
                "cut at {cut}"
            );
        }
        let h = head(SSE);
        assert_eq!(h.status, 200);
        assert_eq!(h.framing, Framing::Chunked);
        assert!(h.keep_alive);
        assert_eq!(h.headers["content-type"], "text/event-stream");
    }

    #[test]
    fn framing_and_keep_alive_follow_the_headers() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(12), true));
        let h =
            head("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\n");
        assert!(!h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n");
        assert!(!h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
        );
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        let h = head("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(0), true));
    }

    #[test]
    fn bad_heads_are_errors() {
        for wire in [
            "SSH-2.0-OpenSSH_9.2\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
        ] {
            assert!(parse(wire.as_bytes()).is_err(), "{wire:?}");
        }
    }

    #[test]
    fn an_oversized_head_is_an_error_before_it_ends() {
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("X-{i}: {i}\r\n"))
            .collect();
        let wire = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        assert!(parse(wire.as_bytes()).unwrap_err().contains("headers"));
        let long = format!("HTTP/1.1 200 OK\r\nX-Long: {}", "a".repeat(MAX_HEAD));
        assert!(parse(long.as_bytes()).unwrap_err().contains("larger"));
    }
}

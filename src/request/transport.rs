//! Transport errors: what a failure below HTTP means (status and a message that says what to
//! do), and the secrets no message may carry.

use super::target::Target;
use crate::error::Error;
use crate::options::redact_url;
use crate::status::Status;

impl Target {
    /// Turns a transport error into a status and a message that says what to do.
    pub fn classify(&self, e: &reqwest::Error) -> Error {
        // Where the failure happened: the endpoint, or where a redirect led.
        let url = e.url().unwrap_or(&self.endpoint);
        let target = format!(
            "{}:{}",
            url.host_str().unwrap_or("?"),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut base = redact_url(&self.options.base_url);
        if url.host_str() != self.endpoint.host_str()
            || url.port_or_known_default() != self.endpoint.port_or_known_default()
            || url.scheme() != self.endpoint.scheme()
        {
            base = format!("{base}, redirected to {}", redact_url(url));
        }
        let detail = error_chain(e);
        let via = self
            .options
            .proxy
            .as_ref()
            .map(|p| format!(" through proxy {}", redact_url(p)))
            .unwrap_or_default();
        let lower = detail.to_ascii_lowercase();
        if sources(e).any(|s| {
            s.downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_parse)
        }) {
            // An answer came, but not as HTTP: a head too large (more than 100 headers, or
            // about 400 KiB) or malformed. Not a connection failure, and no retry will help.
            return Error::protocol(format!(
                "the response head from {target} is too large or not valid HTTP: {detail}; is the base URL an HTTP API? (base URL {base})"
            ));
        }
        if e.is_timeout() {
            let ms = self
                .options
                .connect_timeout
                .map(|t| t.as_millis())
                .unwrap_or(0);
            return Error::new(
                Status::Timeout,
                format!("could not connect to {target}{via} within {ms} ms (connect timeout; ylokh_options_set_connect_timeout_ms) (base URL {base})"),
            );
        }
        if sources(e).any(|s| s.is::<rustls::Error>()) {
            return Error::new(
                Status::Tls,
                format!("TLS with {target} failed: {detail}; if the server uses a private CA, add it with ylokh_options_add_ca_file"),
            );
        }
        if self.options.proxy.is_some()
            && (e.is_connect() || lower.contains("proxy") || lower.contains("socks"))
        {
            return Error::new(Status::Connect, format!("could not reach {target}{via}: {detail}; is the proxy running and are its credentials right?"));
        }
        if sources(e).any(|s| {
            s.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        }) {
            return Error::new(
                Status::Connect,
                format!(
                    "connection refused by {target} — is the server running? (base URL {base})"
                ),
            );
        }
        // No typed check exists for a failed lookup: hyper-util's connect error is private and
        // std's getaddrinfo error has no stable kind, so the text decides.
        if lower.contains("dns error")
            || lower.contains("failed to lookup")
            || lower.contains("name or service not known")
        {
            return Error::new(
                Status::Connect,
                format!(
                    "could not resolve host '{}': {detail} (base URL {base})",
                    url.host_str().unwrap_or("?")
                ),
            );
        }
        if e.is_connect() {
            return Error::new(
                Status::Connect,
                format!("could not connect to {target}: {detail} (base URL {base})"),
            );
        }
        Error::new(
            Status::Connect,
            format!("no response from {target}: {detail} (base URL {base})"),
        )
    }

    /// Removes every secret a client holds from a message (`crate::secrets`), should any
    /// server or lower layer have echoed one.
    pub fn scrub(&self, message: String) -> String {
        crate::secrets::scrub(message)
    }
}

type DynError = dyn std::error::Error + 'static;

/// An error and every error beneath it, in order. An `io::Error` that holds another error is
/// followed by that error: its own `source()` skips what it holds (the TLS layer wraps rustls
/// errors in such `io::Error`s, sometimes nested).
fn sources(e: &DynError) -> impl Iterator<Item = &DynError> {
    std::iter::successors(Some(e), |err| {
        match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &DynError),
            None => err.source(),
        }
    })
}

/// Whether a request that got no response died because its connection went away: closed
/// (hyper's incomplete message: end of stream before the status line), reset, broken or aborted.
/// On a kept-alive connection this is the server's idle timer, not an answer to the request.
pub(super) fn is_dead_connection(e: &DynError) -> bool {
    use std::io::ErrorKind::*;
    sources(e).any(|s| {
        s.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
            || s.downcast_ref::<std::io::Error>().is_some_and(|io| {
                matches!(
                    io.kind(),
                    ConnectionReset | BrokenPipe | UnexpectedEof | ConnectionAborted
                )
            })
    })
}

/// An error and its sources, each once, joined with ": ".
pub(super) fn error_chain(e: &DynError) -> String {
    let mut parts: Vec<String> = Vec::new();
    for err in sources(e) {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

//! Transport errors: what a failure below HTTP means (status and a message that says what to
//! do), and the secrets no message may carry.

use super::target::Target;
use crate::error::Error;
use crate::options::redact_url;
use crate::status::Status;

impl Target {
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

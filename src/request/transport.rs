//! Transport errors: what a failure below HTTP means (status and a message that says what to
//! do), and the secrets no message may carry.

use super::target::Target;
use crate::error::Error;
use crate::options::redact_url;
use crate::status::Status;

/// What kind of transport failure an error is: each has its own status and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// An answer came, but not as acceptable HTTP (a head too large or malformed).
    Parse,
    ConnectTimeout,
    Tls,
    Proxy,
    Refused,
    Dns,
    Connect,
    /// The connection was made but no response came.
    NoResponse,
}

impl Target {
    /// Turns a transport error into a status and a message that says what to do.
    pub fn classify(&self, e: &reqwest::Error) -> Error {
        // Where the failure happened: the endpoint, or where a redirect led.
        let url = e.url().unwrap_or(&self.endpoint);
        let detail = error_chain(e);
        let lower = detail.to_ascii_lowercase();
        let kind = if sources(e).any(|s| {
            s.downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_parse)
        }) {
            Kind::Parse
        } else if e.is_timeout() {
            Kind::ConnectTimeout
        } else if sources(e).any(|s| s.is::<rustls::Error>()) {
            Kind::Tls
        } else if self.options.proxy.is_some()
            && (e.is_connect() || lower.contains("proxy") || lower.contains("socks"))
        {
            Kind::Proxy
        } else if sources(e).any(|s| {
            s.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        }) {
            Kind::Refused
        } else if lower.contains("dns error")
            || lower.contains("failed to lookup")
            || lower.contains("name or service not known")
        {
            // No typed check exists for a failed lookup: hyper-util's connect error is private
            // and std's getaddrinfo error has no stable kind, so the text decides.
            Kind::Dns
        } else if e.is_connect() {
            Kind::Connect
        } else {
            Kind::NoResponse
        };
        self.describe(url, &detail, kind)
    }

    /// The error a transport failure of `kind` at `url` becomes; `detail` is what the layer
    /// below said.
    pub(super) fn describe(&self, url: &reqwest::Url, detail: &str, kind: Kind) -> Error {
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
        let via = self
            .options
            .proxy
            .as_ref()
            .map(|p| format!(" through proxy {}", redact_url(p)))
            .unwrap_or_default();
        match kind {
            // Not a connection failure, and no retry will help.
            Kind::Parse => Error::protocol(format!(
                "the response head from {target} is too large or not valid HTTP: {detail}; is the base URL an HTTP API? (base URL {base})"
            )),
            Kind::ConnectTimeout => {
                let ms = self
                    .options
                    .connect_timeout
                    .map(|t| t.as_millis())
                    .unwrap_or(0);
                Error::new(
                    Status::Timeout,
                    format!("could not connect to {target}{via} within {ms} ms (connect timeout; ylokh_options_set_connect_timeout_ms) (base URL {base})"),
                )
            }
            Kind::Tls => Error::new(
                Status::Tls,
                format!("TLS with {target} failed: {detail}; if the server uses a private CA, add it with ylokh_options_add_ca_file"),
            ),
            Kind::Proxy => Error::new(Status::Connect, format!("could not reach {target}{via}: {detail}; is the proxy running and are its credentials right?")),
            Kind::Refused => Error::new(
                Status::Connect,
                format!(
                    "connection refused by {target} — is the server running? (base URL {base})"
                ),
            ),
            Kind::Dns => Error::new(
                Status::Connect,
                format!(
                    "could not resolve host '{}': {detail} (base URL {base})",
                    url.host_str().unwrap_or("?")
                ),
            ),
            Kind::Connect => Error::new(
                Status::Connect,
                format!("could not connect to {target}: {detail} (base URL {base})"),
            ),
            Kind::NoResponse => Error::new(
                Status::Connect,
                format!("no response from {target}: {detail} (base URL {base})"),
            ),
        }
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

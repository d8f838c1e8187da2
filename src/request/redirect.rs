//! Redirects of the chat request, followed here rather than by reqwest, whose policy cannot
//! drop headers it does not know: a 307 or 308 is followed (at most [`MAX_REDIRECTS`] times)
//! with the same method and body; to another origin (scheme, host or port) it goes without any
//! credential header (the API key's, and every header `Options::is_credential_header`). A 301,
//! 302 or 303 would turn the POST into a GET without its body, which "succeeds" with nothing:
//! it ends the request with a message that names the redirect.

use super::http1;
use super::reply::{Reply, SendError};
use super::target::Target;
use crate::error::Error;
use crate::log::{log, DEBUG};
use crate::options::redact_url;
use crate::status::Status;
use reqwest::{RequestBuilder, Url};

pub(super) const MAX_REDIRECTS: usize = 5;

/// Sends the request that `build` makes for a client and a URL, first with `http` to the
/// endpoint (or, when `direct` holds the request's bytes, on the direct HTTP/1.1 path), then
/// wherever 307/308s lead (through reqwest). The inner result is the transport's (for the
/// caller's retry rules); the outer error is a redirect the request cannot follow.
pub(super) async fn send<'t>(
    target: &'t Target,
    http: &reqwest::Client,
    build: impl Fn(&reqwest::Client, Url) -> RequestBuilder,
    direct: Option<&[u8]>,
) -> Result<Result<Reply<'t>, SendError>, Error> {
    let mut url = target.endpoint.clone();
    let mut client = http;
    let mut hops = 0;
    loop {
        let sent = match (hops, direct, &target.direct) {
            (0, Some(request), Some(path)) => http1::send(target, path, request)
                .await
                .map(Reply::Direct)
                .map_err(SendError::Direct),
            _ => build(client, url.clone())
                .send()
                .await
                .map(Reply::from)
                .map_err(SendError::Reqwest),
        };
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Ok(Err(e)),
        };
        let status = response.status().as_u16();
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return Ok(Ok(response));
        }
        // Without a usable Location the answer is an HTTP error like any other.
        let Some(next) = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| url.join(location).ok())
        else {
            return Ok(Ok(response));
        };
        if (301..=303).contains(&status) {
            let mut error = Error::new(
                Status::Http,
                format!(
                    "the server redirected the request (HTTP {status} from {} to {}), which would turn the POST into a GET without its body; such a redirect is not followed: set the base URL to where the API is now (ylokh_options_set_base_url)",
                    redact_url(&url),
                    redact_url(&next)
                ),
            );
            error.http_status = status;
            return Err(error);
        }
        if hops == MAX_REDIRECTS {
            let mut error = Error::protocol(format!(
                "the server redirected too many times (more than {MAX_REDIRECTS}); the last redirect went to {} (base URL {})",
                redact_url(&next),
                redact_url(&target.options.base_url)
            ));
            error.http_status = status;
            return Err(error);
        }
        client = if same_origin(&next, &target.endpoint) {
            http
        } else {
            log!(
                DEBUG,
                "HTTP {status}: following the redirect to {} without the credential headers (another origin)",
                redact_url(&next)
            );
            target.foreign_http()?
        };
        url = next;
        hops += 1;
    }
}

/// Same scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_differ_by_scheme_host_or_port() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(&u("http://a:80/x"), &u("http://a/y")));
        assert!(!same_origin(&u("http://a/x"), &u("https://a/x")));
        assert!(!same_origin(&u("http://a/x"), &u("http://b/x")));
        assert!(!same_origin(&u("http://a:1/x"), &u("http://a:2/x")));
        assert!(!same_origin(
            &u("http://127.0.0.1:1/"),
            &u("http://[::1]:1/")
        ));
    }
}

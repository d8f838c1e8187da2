//! Client options: the two presets and every setting, validated when it is set so that a bad
//! value fails at the call that gave it, with a message that names it.

use crate::dialect::Api;
use crate::error::Error;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

pub(crate) const YLOKH_BASE_URL: &str = "https://chatapi.ylokh.xyz/v1";
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(120_000);
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(10_000);
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 2;
pub(crate) const DEFAULT_MAX_EVENT_BYTES: usize = 16 << 20;
pub(crate) const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 << 20;
pub(crate) const DEFAULT_MAX_TOOL_CALLS: u32 = 1024;

/// An API key. Its `Debug` never shows it, and nothing in the library formats it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Clone)]
pub struct Options {
    pub base_url: reqwest::Url,
    pub api_key: Option<Secret>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub proxy: Option<reqwest::Url>,
    pub timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    /// The longest wait from sending a request to its first token (or, not streaming, to the
    /// response headers); while it runs, the read timeout does not.
    pub first_token_timeout: Option<Duration>,
    pub max_retries: u32,
    /// Resume a broken stream where it broke (servers that keep a copy of it).
    pub resume: bool,
    /// Extra trusted roots, parsed from the PEM files given.
    pub ca_certs: Vec<reqwest::Certificate>,
    pub default_model: Option<String>,
    pub default_params: Map<String, Value>,
    pub worker_threads: usize,
    pub max_event_bytes: usize,
    /// Queue CHUNK events for the pull interface too.
    pub pull_chunks: bool,
    /// The server's wire API.
    pub api: Api,
    /// Chat streams ask for usage (`stream_options.include_usage`) unless the params set it.
    pub stream_usage: bool,
    /// Header names the caller marked as secret (`ylokh_options_set_secret_header`).
    pub secret_headers: Vec<HeaderName>,
    /// The most bytes of an answer's text and reasoning text kept for `message_json`.
    pub max_message_bytes: usize,
    /// The most tool calls one answer may have.
    pub max_tool_calls: u32,
}

impl Options {
    /// The Ylokh preset: the seed's endpoint, headers, model and parameters.
    pub fn ylokh() -> Self {
        let mut options =
            Self::compatible_unchecked(reqwest::Url::parse(YLOKH_BASE_URL).expect("preset URL"));
        for (name, value) in [
            ("origin", "https://chat.ylokh.xyz"),
            ("referer", "https://chat.ylokh.xyz/"),
        ] {
            options.headers.push((
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            ));
        }
        options.default_model = Some("gpt-3.5-turbo".into());
        let params = serde_json::json!({
            "temperature": 1, "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0, "allow_fallback": true
        });
        options.default_params = params.as_object().cloned().expect("preset params");
        options.stream_usage = false; // the preset's body stays as the service had it
        options
    }

    /// A plain OpenAI-compatible server at `base_url`.
    pub fn compatible(base_url: &str) -> Result<Self, Error> {
        Ok(Self::compatible_unchecked(parse_base_url(base_url)?))
    }

    fn compatible_unchecked(base_url: reqwest::Url) -> Self {
        Options {
            base_url,
            api_key: None,
            headers: Vec::new(),
            proxy: None,
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            read_timeout: None,
            first_token_timeout: None,
            max_retries: DEFAULT_MAX_RETRIES,
            resume: false,
            ca_certs: Vec::new(),
            default_model: None,
            default_params: Map::new(),
            worker_threads: 1,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            pull_chunks: false,
            api: Api::ChatCompletions,
            stream_usage: true,
            secret_headers: Vec::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_tool_calls: DEFAULT_MAX_TOOL_CALLS,
        }
    }

    pub fn set_base_url(&mut self, url: &str) -> Result<(), Error> {
        self.base_url = parse_base_url(url)?;
        Ok(())
    }

    /// The URL requests go to: `{base_url}/chat/completions`, `/responses` or `/messages`.
    pub fn endpoint(&self) -> reqwest::Url {
        let mut url = self.base_url.clone();
        let path = format!("{}/{}", url.path().trim_end_matches('/'), self.api.path());
        url.set_path(&path);
        url
    }

    pub fn set_api_key(&mut self, key: Option<&str>) -> Result<(), Error> {
        self.api_key = match key {
            None => None,
            Some(key) => {
                // Checked here so that the header can always be built; the key itself is not quoted.
                HeaderValue::from_str(&format!("Bearer {key}"))
                    .map_err(|_| Error::invalid("the API key contains a control character (CR, LF or NUL); pass the key alone"))?;
                Some(Secret(key.to_owned()))
            }
        };
        Ok(())
    }

    /// Sets, replaces (case-insensitively) or, with `None`, removes a header. Framing and
    /// connection headers are refused: the library sets them from the body and the connection.
    pub fn set_header(&mut self, name: &str, value: Option<&str>) -> Result<(), Error> {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::invalid(format!(
                "'{}' is not a valid HTTP header name",
                crate::error::snippet(name.as_bytes(), 64)
            ))
        })?;
        if FRAMING_HEADERS.contains(&name.as_str()) {
            return Err(Error::invalid(format!(
                "the header '{name}' cannot be set: the library writes the message framing and connection headers itself (a wrong one would cut or corrupt the request)"
            )));
        }
        self.headers.retain(|(n, _)| *n != name);
        if let Some(value) = value {
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                Error::invalid(format!(
                    "the value for header '{name}' contains CR, LF or another control character"
                ))
            })?;
            value.set_sensitive(self.is_credential_header(&name));
            self.headers.push((name, value));
        }
        Ok(())
    }

    /// As [`set_header`](Self::set_header), and marks the name as a credential: its value is
    /// never shown and never sent to another origin on a redirect. The mark stays with the name.
    pub fn set_secret_header(&mut self, name: &str, value: Option<&str>) -> Result<(), Error> {
        let header = HeaderName::from_bytes(name.as_bytes()).ok();
        if let Some(header) = header.filter(|h| !FRAMING_HEADERS.contains(&h.as_str())) {
            if !self.secret_headers.contains(&header) {
                self.secret_headers.push(header);
            }
        }
        self.set_header(name, value)
    }

    /// Whether a header carries a credential: one the library knows (see
    /// [`is_known_credential`]) or one the caller marked secret.
    pub fn is_credential_header(&self, name: &HeaderName) -> bool {
        is_known_credential(name.as_str()) || self.secret_headers.contains(name)
    }

    /// Every secret these options hold, for the scrubber: the API key, the values of the
    /// credential headers, and the userinfo of the base URL and the proxy.
    pub fn secrets(&self) -> crate::secrets::Secrets {
        let mut secrets = crate::secrets::Secrets::default();
        if let Some(key) = &self.api_key {
            secrets.add(key.expose());
        }
        for (name, value) in &self.headers {
            if self.is_credential_header(name) {
                if let Ok(value) = value.to_str() {
                    secrets.add_header_value(value);
                }
            }
        }
        for url in std::iter::once(&self.base_url).chain(&self.proxy) {
            secrets.add_userinfo(url.username(), url.password());
        }
        secrets
    }

    /// Takes the user name and password out of the base URL and gives them as the
    /// `Authorization: Basic` value they stand for (what reqwest would send), so that no URL
    /// the library shows or logs carries them.
    pub fn take_base_url_userinfo(&mut self) -> Option<HeaderValue> {
        let url = &mut self.base_url;
        if url.username().is_empty() && url.password().is_none() {
            return None;
        }
        let decode = |s: &str| {
            let mut out = Vec::new();
            let bytes = s.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                match (
                    bytes[i],
                    s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)),
                ) {
                    (b'%', Some(Ok(b))) => {
                        out.push(b);
                        i += 3;
                    }
                    (b, _) => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        };
        let pair = format!(
            "{}:{}",
            decode(url.username()),
            decode(url.password().unwrap_or(""))
        );
        let _ = url.set_username("");
        let _ = url.set_password(None);
        use base64::Engine;
        let mut value = HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ))
        .ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    pub fn set_proxy(&mut self, url: Option<&str>) -> Result<(), Error> {
        self.proxy = match url {
            None => None,
            Some(text) => {
                let url = reqwest::Url::parse(text)
                    .map_err(|e| Error::invalid(format!("the proxy URL is not a valid URL ({e}); expected e.g. http://host:3128 or socks5h://host:1080")))?;
                if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h")
                    || url.host_str().is_none()
                {
                    return Err(Error::invalid(format!(
                        "unsupported proxy '{}': use an http, https, socks5 or socks5h URL with a host",
                        redact_url(&url)
                    )));
                }
                Some(url)
            }
        };
        Ok(())
    }

    pub fn add_ca_file(&mut self, path: &str) -> Result<(), Error> {
        let pem = std::fs::read(path)
            .map_err(|e| Error::invalid(format!("cannot read CA file '{path}': {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::invalid(format!(
                "CA file '{path}' is not a PEM certificate bundle: {e}"
            ))
        })?;
        if certs.is_empty() {
            return Err(Error::invalid(format!(
                "CA file '{path}' holds no PEM certificate"
            )));
        }
        self.ca_certs.extend(certs);
        Ok(())
    }

    pub fn set_default_params(&mut self, json: &str) -> Result<(), Error> {
        self.default_params = parse_object(json, "the default params")?;
        Ok(())
    }

    pub fn set_worker_threads(&mut self, n: u32) -> Result<(), Error> {
        if n == 0 || n > 1024 {
            return Err(Error::invalid(format!(
                "worker threads must be between 1 and 1024, not {n}"
            )));
        }
        self.worker_threads = n as usize;
        Ok(())
    }

    pub fn set_max_event_bytes(&mut self, n: usize) -> Result<(), Error> {
        if n < 64 {
            return Err(Error::invalid(format!(
                "max event bytes must be at least 64, not {n}"
            )));
        }
        self.max_event_bytes = n;
        Ok(())
    }
}

/// Headers that frame the message or manage the connection: the HTTP client writes them, and
/// a caller's copy would cut or corrupt the request (`Content-Length: 5` sent five bytes).
pub(crate) const FRAMING_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "expect",
];

/// Header names that carry credentials, whoever sets them: never shown, never sent to another
/// origin on a redirect. Authorization and cookies (curl's rule), the API key headers of
/// Azure OpenAI (`api-key`), Anthropic (`x-api-key`), Gemini (`x-goog-api-key`), Azure API
/// Management and Cloudflare's AI Gateway, and any name ending in `-key`, `-token`, `-secret`
/// or `-password`.
pub fn is_known_credential(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "authorization",
        "proxy-authorization",
        "cookie",
        "cookie2",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "ocp-apim-subscription-key",
        "cf-aig-authorization",
        "x-auth-token",
    ];
    let name = name.to_ascii_lowercase();
    NAMES.contains(&name.as_str())
        || ["-key", "-token", "-secret", "-password"]
            .iter()
            .any(|end| name.ends_with(end))
}

impl fmt::Debug for Options {
    /// Every setting, but no secret: URLs without userinfo, the key and credential header
    /// values as `<secret>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = match value.to_str() {
                    Ok(v) if !self.is_credential_header(name) && !value.is_sensitive() => v,
                    _ => "<secret>",
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("Options")
            .field("base_url", &redact_url(&self.base_url))
            .field("api_key", &self.api_key)
            .field("headers", &headers)
            .field("secret_headers", &self.secret_headers)
            .field("proxy", &self.proxy.as_ref().map(redact_url))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("max_retries", &self.max_retries)
            .field("resume", &self.resume)
            .field("default_model", &self.default_model)
            .field("default_params", &self.default_params)
            .field("worker_threads", &self.worker_threads)
            .field("max_event_bytes", &self.max_event_bytes)
            .field("pull_chunks", &self.pull_chunks)
            .field("api", &self.api)
            .field("stream_usage", &self.stream_usage)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("max_tool_calls", &self.max_tool_calls)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// Any value: 0 keeps no text.
    pub fn set_max_message_bytes(&mut self, n: usize) {
        self.max_message_bytes = n;
    }

    pub fn set_max_tool_calls(&mut self, n: u32) -> Result<(), Error> {
        if n == 0 {
            return Err(Error::invalid(
                "max tool calls must be at least 1 (a request that wants none sends no tools)",
            ));
        }
        self.max_tool_calls = n;
        Ok(())
    }
}

/// 0 means "no limit".
pub fn millis(ms: u64) -> Option<Duration> {
    (ms != 0).then(|| Duration::from_millis(ms))
}

fn parse_base_url(text: &str) -> Result<reqwest::Url, Error> {
    let url = reqwest::Url::parse(text).map_err(|e| {
        Error::invalid(format!(
            "'{}' is not a valid base URL ({e}); expected e.g. http://127.0.0.1:8080/v1",
            crate::error::snippet(text.as_bytes(), 200)
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::invalid(format!(
            "base URL '{}' must be an http:// or https:// URL with a host",
            redact_url(&url)
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(format!(
            "base URL '{}' must not have a query or fragment",
            redact_url(&url)
        )));
    }
    Ok(url)
}

/// Parses a JSON object (the `**kwargs` of a request, or the default params).
pub fn parse_object(json: &str, what: &str) -> Result<Map<String, Value>, Error> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::invalid(format!(
            "{what} must be a JSON object, like {{\"max_tokens\":64}}"
        ))),
        Err(e) => Err(Error::invalid(format!("{what} are not valid JSON: {e}"))),
    }
}

/// A URL for a message: without user name and password.
pub fn redact_url(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_the_contract() {
        let y = Options::ylokh();
        assert_eq!(
            y.endpoint().as_str(),
            "https://chatapi.ylokh.xyz/v1/chat/completions"
        );
        assert_eq!(y.default_model.as_deref(), Some("gpt-3.5-turbo"));
        assert_eq!(
            Value::Object(y.default_params.clone()).to_string(),
            r#"{"temperature":1,"presence_penalty":0,"top_p":1,"frequency_penalty":0,"allow_fallback":true}"#,
            "in the order the contract lists them"
        );
        assert_eq!(y.headers.len(), 2);
        assert_eq!(
            (y.timeout, y.connect_timeout, y.read_timeout),
            (Some(DEFAULT_TIMEOUT), Some(DEFAULT_CONNECT_TIMEOUT), None)
        );
        assert_eq!(
            (y.max_retries, y.worker_threads, y.max_event_bytes),
            (2, 1, 16 << 20)
        );
        let c = Options::compatible("http://127.0.0.1:8080/v1/").unwrap();
        assert_eq!(
            c.endpoint().as_str(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert!(c.headers.is_empty() && c.default_model.is_none() && c.default_params.is_empty());
    }

    #[test]
    fn bad_values_are_refused_with_a_message() {
        assert!(Options::compatible("not a url")
            .unwrap_err()
            .message
            .contains("not a valid base URL"));
        assert!(Options::compatible("ftp://x/").is_err());
        let mut o = Options::ylokh();
        assert!(o.set_header("X-A", Some("a\r\nEvil: 1")).is_err());
        assert!(o.set_header("Bad Name", Some("v")).is_err());
        assert!(o
            .set_proxy(Some("ftp://user:pw@proxy:1"))
            .unwrap_err()
            .message
            .contains("ftp://proxy:1"));
        assert!(o.set_default_params("[1]").is_err());
        assert!(o.set_default_params("{").is_err());
        assert!(o.set_worker_threads(0).is_err());
        assert!(o.add_ca_file("/nonexistent.pem").is_err());
    }

    #[test]
    fn headers_replace_case_insensitively_and_remove() {
        let mut o = Options::ylokh();
        o.set_header("ORIGIN", Some("https://x")).unwrap();
        assert_eq!(o.headers.iter().filter(|(n, _)| n == "origin").count(), 1);
        o.set_header("Origin", None).unwrap();
        assert!(o.headers.iter().all(|(n, _)| n != "origin"));
    }

    #[test]
    fn the_api_key_never_shows_in_debug() {
        let mut o = Options::ylokh();
        o.set_api_key(Some("sk-secret-123")).unwrap();
        assert!(!format!("{o:?}").contains("sk-secret-123"));
        let err = o.set_api_key(Some("sk-secret\n")).unwrap_err();
        assert!(!err.message.contains("sk-secret"));
    }

    #[test]
    fn no_secret_shows_in_debug() {
        let mut o = Options::compatible("http://user:url-pass-1@127.0.0.1:8080/v1").unwrap();
        o.set_proxy(Some("http://puser:proxy-pass-2@127.0.0.1:3128"))
            .unwrap();
        o.set_header("x-goog-api-key", Some("gemini-key-3"))
            .unwrap();
        o.set_secret_header("X-Tenant", Some("tenant-4")).unwrap();
        o.set_header("x-trace", Some("visible-5")).unwrap();
        let shown = format!("{o:?}");
        for secret in ["url-pass-1", "proxy-pass-2", "gemini-key-3", "tenant-4"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("visible-5") && shown.contains("127.0.0.1:3128"),
            "{shown}"
        );
    }

    #[test]
    fn framing_headers_are_refused_and_credentials_known_or_marked() {
        let mut o = Options::ylokh();
        for name in [
            "Content-Length",
            "transfer-encoding",
            "HOST",
            "Connection",
            "TE",
        ] {
            let e = o.set_header(name, Some("5")).unwrap_err();
            assert!(
                e.message.contains(&name.to_ascii_lowercase()),
                "{}",
                e.message
            );
            assert!(o.set_secret_header(name, Some("5")).is_err());
        }
        assert!(o.secret_headers.is_empty(), "a refused name is not marked");
        let is = |o: &Options, n: &str| {
            o.is_credential_header(&HeaderName::from_bytes(n.as_bytes()).unwrap())
        };
        for name in [
            "Authorization",
            "api-key",
            "X-Goog-Api-Key",
            "cookie",
            "x-my-token",
        ] {
            assert!(is(&o, name), "{name}");
        }
        assert!(!is(&o, "x-tenant") && !is(&o, "origin"));
        o.set_secret_header("X-Tenant", Some("t")).unwrap();
        o.set_header("x-tenant", Some("u")).unwrap();
        assert!(is(&o, "x-tenant"), "the mark stays with the name");
        assert!(o
            .headers
            .iter()
            .all(|(n, v)| n != "x-tenant" || v.is_sensitive()));
    }

    #[test]
    fn base_url_userinfo_becomes_a_basic_header() {
        let mut o = Options::compatible("http://us%20er:p%40ss@127.0.0.1:8080/v1").unwrap();
        let basic = o.take_base_url_userinfo().unwrap();
        use base64::Engine;
        let expected = base64::engine::general_purpose::STANDARD.encode("us er:p@ss");
        assert_eq!(basic.to_str().unwrap(), format!("Basic {expected}"));
        assert_eq!(o.base_url.as_str(), "http://127.0.0.1:8080/v1");
        assert!(o.take_base_url_userinfo().is_none());
    }
}

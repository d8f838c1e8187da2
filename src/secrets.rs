//! The secrets the library holds, and the one scrubber every text it produces goes through.
//!
//! Each client registers what it holds when it is made (the API key, credential and
//! secret-marked header values, the proxy's and the base URL's userinfo) in every form the
//! library sends it: as it is, in the URL's percent-encoding, and as HTTP Basic base64. Every
//! text the library hands out — log records, request messages, `ylokh_last_error`,
//! `message_json` — passes [`scrub`], which replaces each of them, also when a server echoed one
//! percent-encoded or as JSON `\u` escapes, with `[redacted]`. A text is scrubbed against every
//! live client's secrets (log records belong to no client).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

const REDACTED: &str = "[redacted]";

/// One client's secrets, as the strings to look for.
#[derive(Default)]
pub struct Secrets {
    needles: Vec<String>,
}

impl Secrets {
    /// A secret as it is, and percent-decoded when it is percent-encoded.
    pub fn add(&mut self, secret: &str) {
        self.push(secret.to_owned());
        if let Some(decoded) = decode_escapes(secret) {
            self.push(decoded);
        }
    }

    /// A header value that is a credential: the whole value, the part after an auth scheme
    /// (`Bearer TOKEN`), and for `Basic` the decoded `user:password` and password.
    pub fn add_header_value(&mut self, value: &str) {
        self.add(value);
        if let Some((scheme, token)) = value.trim().split_once(' ') {
            let token = token.trim();
            self.add(token);
            if scheme.eq_ignore_ascii_case("basic") {
                use base64::Engine;
                if let Some(pair) = base64::engine::general_purpose::STANDARD
                    .decode(token)
                    .ok()
                    .and_then(|p| String::from_utf8(p).ok())
                {
                    if let Some((_, password)) = pair.split_once(':') {
                        self.add(password);
                    }
                    self.add(&pair);
                }
            }
        }
    }

    /// A URL's userinfo (user and password as the URL holds them, percent-encoded): the
    /// password, `user:password` and its Basic base64 as reqwest sends it. A user name alone
    /// (no password) is a token, so it is a secret too; beside a password it is not.
    pub fn add_userinfo(&mut self, user: &str, password: Option<&str>) {
        let decode = |s: &str| decode_escapes(s).unwrap_or_else(|| s.to_owned());
        match password {
            Some(password) => {
                self.add(password);
                self.add(&format!("{user}:{password}"));
                let pair = format!("{}:{}", decode(user), decode(password));
                self.add(&pair);
                use base64::Engine;
                self.push(base64::engine::general_purpose::STANDARD.encode(pair));
            }
            None if !user.is_empty() => {
                self.add(user);
                use base64::Engine;
                self.push(
                    base64::engine::general_purpose::STANDARD.encode(format!("{}:", decode(user))),
                );
            }
            None => {}
        }
    }

    fn push(&mut self, needle: String) {
        if !needle.is_empty() && !self.needles.contains(&needle) {
            self.needles.push(needle);
            // Longest first, so that a secret inside another goes with it.
            self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every needle replaced; `None` when it held none.
    fn replace(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for needle in &self.needles {
            let current = out.as_deref().unwrap_or(text);
            if current.contains(needle.as_str()) {
                out = Some(current.replace(needle.as_str(), REDACTED));
            }
        }
        out
    }

    /// `text` without any of these secrets, also where it holds one percent-encoded or as
    /// JSON escapes (then the whole text is given decoded, which happens only to such texts).
    pub fn scrub(&self, text: String) -> String {
        let text = self.replace(&text).unwrap_or(text);
        if !text.contains(['%', '\\']) {
            return text;
        }
        match decode_escapes(&text).and_then(|decoded| self.replace(&decoded)) {
            Some(scrubbed) => scrubbed,
            None => text,
        }
    }

    /// Whether a JSON document holds one of these secrets: as JSON writes it (escaped), or
    /// hidden in `\u` escapes or percent-encoding; only then is the document decoded.
    fn found_in_json(&self, json: &str) -> bool {
        self.needles.iter().any(|n| {
            let quoted = serde_json::to_string(n).unwrap_or_default();
            json.contains(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or(n))
        }) || ((json.contains("\\u") || json.contains('%'))
            && decode_escapes(json)
                .is_some_and(|d| self.needles.iter().any(|n| d.contains(n.as_str()))))
    }
}

/// The secrets of every live client.
static REGISTRY: RwLock<Vec<Arc<Secrets>>> = RwLock::new(Vec::new());
/// How many sets the registry holds: a text is scrubbed without a lock while there are none.
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

/// A client's place in the registry; dropping it removes its secrets.
pub struct Registration(Option<Arc<Secrets>>);

/// Adds a client's secrets to those every text is scrubbed of.
pub fn register(secrets: Secrets) -> Registration {
    if secrets.is_empty() {
        return Registration(None);
    }
    let secrets = Arc::new(secrets);
    let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    registry.push(secrets.clone());
    REGISTERED.store(registry.len(), Ordering::Release);
    Registration(Some(secrets))
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(mine) = self.0.take() {
            let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
            registry.retain(|s| !Arc::ptr_eq(s, &mine));
            REGISTERED.store(registry.len(), Ordering::Release);
        }
    }
}

/// `text` without any secret a live client holds.
pub fn scrub(text: String) -> String {
    if REGISTERED.load(Ordering::Acquire) == 0 {
        return text;
    }
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    registry
        .iter()
        .fold(text, |text, secrets| secrets.scrub(text))
}

/// A JSON document (`message_json`) without any secret a live client holds, still valid JSON:
/// the strings in it are scrubbed one by one.
pub fn scrub_json(json: String) -> String {
    if REGISTERED.load(Ordering::Acquire) == 0 {
        return json;
    }
    let found = {
        let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
        registry.iter().any(|s| s.found_in_json(&json))
    };
    if !found {
        return json;
    }
    match serde_json::from_str::<serde_json::Value>(&json) {
        Ok(mut value) => {
            scrub_strings(&mut value);
            value.to_string()
        }
        Err(_) => scrub(json),
    }
}

fn scrub_strings(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => *s = scrub(std::mem::take(s)),
        Value::Array(items) => items.iter_mut().for_each(scrub_strings),
        Value::Object(map) => map.values_mut().for_each(scrub_strings),
        _ => {}
    }
}

/// `text` with `%XX` and JSON escapes (`\uXXXX` with surrogate pairs, `\n`, `\"`, `\\`, `\/`,
/// ...) decoded; `None` when it has none.
fn decode_escapes(text: &str) -> Option<String> {
    if !text.contains(['%', '\\']) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let hex = |b: &[u8]| -> Option<u32> {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
    };
    let mut i = 0;
    let mut changed = false;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if bytes.len() - i >= 3
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit() =>
            {
                if let Some(b) = hex(&bytes[i + 1..i + 3]) {
                    out.push(b as u8);
                    i += 3;
                    changed = true;
                    continue;
                }
            }
            b'\\' if i + 1 < bytes.len() => {
                let simple = match bytes[i + 1] {
                    b'n' => Some(b'\n'),
                    b't' => Some(b'\t'),
                    b'r' => Some(b'\r'),
                    b'b' => Some(8),
                    b'f' => Some(12),
                    b'"' => Some(b'"'),
                    b'\\' => Some(b'\\'),
                    b'/' => Some(b'/'),
                    _ => None,
                };
                if let Some(b) = simple {
                    out.push(b);
                    i += 2;
                    changed = true;
                    continue;
                }
                if bytes[i + 1] == b'u' && bytes.len() - i >= 6 {
                    if let Some(unit) = bytes[i + 2..i + 6]
                        .iter()
                        .all(u8::is_ascii_hexdigit)
                        .then(|| hex(&bytes[i + 2..i + 6]))
                        .flatten()
                    {
                        let mut width = 6;
                        let mut code = unit;
                        if (0xD800..0xDC00).contains(&unit)
                            && bytes.len() - i >= 12
                            && &bytes[i + 6..i + 8] == b"\\u"
                            && bytes[i + 8..i + 12].iter().all(u8::is_ascii_hexdigit)
                        {
                            if let Some(low @ 0xDC00..=0xDFFF) = hex(&bytes[i + 8..i + 12]) {
                                code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                                width = 12;
                            }
                        }
                        let c = char::from_u32(code).unwrap_or('\u{FFFD}');
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        i += width;
                        changed = true;
                        continue;
                    }
                }
            }
            _ => {}
        }
        out.push(bytes[i]);
        i += 1;
    }
    changed.then(|| String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        let mut s = Secrets::default();
        s.add_userinfo("user", Some("p%40ss"));
        s.add_header_value("Bearer sk-abc-123");
        s
    }

    #[test]
    fn every_form_of_a_secret_is_replaced() {
        let s = secrets();
        for text in [
            "p@ss",
            "p%40ss",
            "user:p@ss",
            "Basic dXNlcjpwQHNz",
            "\\u0070\\u0040\\u0073\\u0073",
            "x \\u0073k-abc-123 y",
            "sk%2Dabc%2D123",
            "Bearer sk-abc-123",
        ] {
            let out = s.scrub(format!("before {text} after"));
            assert!(out.contains(REDACTED), "{text}: {out}");
            for needle in ["p@ss", "sk-abc-123", "dXNlcjpwQHNz"] {
                assert!(!out.contains(needle), "{text}: {out}");
            }
        }
        assert_eq!(s.scrub("nothing here, 100%".into()), "nothing here, 100%");
        assert_eq!(
            s.scrub("a \\n b".into()),
            "a \\n b",
            "decoded only when it hides a secret"
        );
    }

    #[test]
    fn decoding_handles_surrogates_and_broken_escapes() {
        assert_eq!(decode_escapes("\\ud83d\\ude00%41").as_deref(), Some("😀A"));
        assert_eq!(decode_escapes("%4 \\u12 \\x %"), None);
        assert_eq!(decode_escapes("plain"), None);
    }

    #[test]
    fn message_json_stays_valid_json() {
        let registration = register(secrets());
        let json = r#"{"role":"assistant","content":"the key is sk-abc-123","n":1}"#.to_string();
        let out = scrub_json(json);
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["content"], "the key is [redacted]");
        drop(registration);
        let mut quoted = Secrets::default();
        quoted.add("pa\"ss");
        let registration = register(quoted);
        let out = scrub_json(r#"{"content":"x pa\"ss y"}"#.to_string());
        assert_eq!(
            out, r#"{"content":"x [redacted] y"}"#,
            "found as JSON escapes it"
        );
        drop(registration);
        let json = r#"{"content":"sk-abc-123"}"#.to_string();
        assert_eq!(
            scrub_json(json.clone()),
            json,
            "a freed client's secrets are forgotten"
        );
    }
}

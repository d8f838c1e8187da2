//! Secrets and redirects against hostile loopback servers: no credential header reaches another
//! origin on a redirect, a redirect that would turn the POST into a GET fails and says so, and
//! no secret the client holds (API key, credential and secret-marked headers, proxy
//! credentials, URL userinfo) shows in any encoding in a message, `ylokh_last_error`,
//! `message_json` or a log record at TRACE.

#[path = "support/edge.rs"]
mod edge;

use edge::{
    assert_nowhere, base64, capture_logs, chat_answer, encodings, respond, run, Origin, Setup,
};
use std::io::Write;
use ylokh::ffi::status::*;

const KEY: &str = "sk-ylokh-KEY-7d1c";

/// The credential headers a caller sets (name, value), each value a secret of its own.
fn credential_headers() -> Vec<(String, String)> {
    [
        ("api-key", "azure-KEY-51f0"),
        ("x-api-key", "anthropic-KEY-9a2e"),
        ("x-goog-api-key", "gemini-KEY-c3b4"),
        ("Cookie", "session=COOKIE-e81d"),
        ("Proxy-Authorization", "Basic UFJPWFktMmY0Nw=="),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

/// Marks `x-tenant-token` as a secret header (the caller's own credential).
fn secret_header(opts: *mut ylokh::ffi::options::ylokh_options) {
    let (name, value) = (c"X-Tenant-Token", c"tenant-SECRET-0b9f");
    unsafe {
        assert_eq!(
            ylokh::ffi::options::ylokh_options_set_secret_header(
                opts,
                name.as_ptr(),
                value.as_ptr()
            ),
            YLOKH_OK
        );
    }
}

/// Every secret value a client of [`credentialed`] holds.
fn all_secret_values() -> Vec<String> {
    let mut values: Vec<String> = credential_headers().into_iter().map(|(_, v)| v).collect();
    values.extend([KEY.to_string(), "tenant-SECRET-0b9f".to_string()]);
    values
}

/// A client with an API key, every credential header, a secret-marked header and one plain
/// header (`x-trace`), which must still arrive everywhere.
fn credentialed(base_url: String) -> Setup {
    let mut headers = credential_headers();
    headers.push(("X-Trace".into(), "trace-1".into()));
    Setup {
        base_url,
        api_key: Some(KEY.into()),
        headers,
        extra: Some(secret_header),
        ..Setup::default()
    }
}

/// An origin that answers every request with a redirect of `code` to `location`.
fn redirector(code: u16, location: String) -> Origin {
    Origin::start("127.0.0.1", move |_, stream| {
        let status = match code {
            301 => "301 Moved Permanently",
            302 => "302 Found",
            303 => "303 See Other",
            307 => "307 Temporary Redirect",
            _ => "308 Permanent Redirect",
        };
        respond(stream, status, &format!("Location: {location}\r\n"), b"");
    })
}

/// An origin on [::1] (another origin than 127.0.0.1) that answers with a chat completion.
fn second_origin() -> Origin {
    Origin::start("::1", |_, stream| {
        respond(stream, "200 OK", "", &chat_answer("from the second origin"))
    })
}

#[test]
fn a_307_or_308_to_another_origin_is_followed_without_any_credential_header() {
    for code in [307, 308] {
        let second = second_origin();
        let first = redirector(
            code,
            format!("{}/elsewhere/v1/chat/completions", second.url()),
        );
        let outcome = run(&credentialed(format!("{}/v1", first.url())));
        assert_eq!(outcome.status, YLOKH_OK, "{code}: {outcome:?}");
        assert_eq!(outcome.text, "from the second origin");
        let sent = &first.seen()[0];
        for value in all_secret_values() {
            assert!(
                sent.head.contains(&value),
                "{code}: the first origin got {value}"
            );
        }
        let seen = second.seen();
        assert!(!seen.is_empty(), "{code}: the redirect was not followed");
        for request in &seen {
            assert_eq!(request.method, "POST", "{code} keeps the method");
            assert_eq!(request.body, sent.body, "{code} keeps the body");
            assert_eq!(
                request.header("x-trace"),
                Some("trace-1"),
                "{code}: {}",
                request.head
            );
            for name in [
                "authorization",
                "proxy-authorization",
                "cookie",
                "api-key",
                "x-api-key",
                "x-goog-api-key",
                "x-tenant-token",
            ] {
                assert!(
                    request.header(name).is_none(),
                    "{code}: {name} crossed to another origin:\n{}",
                    request.head
                );
            }
            for value in all_secret_values() {
                assert!(!request.head.contains(&value), "{code}: {value} crossed");
            }
        }
    }
}

#[test]
fn the_messages_key_does_not_follow_a_redirect_to_another_origin_but_the_request_does() {
    let second = Origin::start("::1", |_, stream| {
        let body = serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "moved"}],
            "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}
        });
        respond(stream, "200 OK", "", body.to_string().as_bytes())
    });
    let first = redirector(307, format!("{}/v1/messages", second.url()));
    let setup = Setup {
        base_url: format!("{}/v1", first.url()),
        api_key: Some(KEY.into()),
        api: Some(ylokh::ffi::options::YLOKH_API_MESSAGES),
        ..Setup::default()
    };
    let outcome = run(&setup);
    assert_eq!(outcome.status, YLOKH_OK, "{outcome:?}");
    assert_eq!(outcome.text, "moved");
    assert_eq!(first.seen()[0].header("x-api-key"), Some(KEY));
    for request in second.seen() {
        assert!(request.header("x-api-key").is_none(), "{}", request.head);
        assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    }
}

#[test]
fn a_307_on_the_same_origin_keeps_the_credentials() {
    let origin = Origin::start("127.0.0.1", |seen, stream| {
        if seen.target.starts_with("/old/") {
            respond(
                stream,
                "307 Temporary Redirect",
                "Location: /new/v1/chat/completions\r\n",
                b"",
            );
        } else {
            respond(stream, "200 OK", "", &chat_answer("same origin"));
        }
    });
    let outcome = run(&credentialed(format!("{}/old/v1", origin.url())));
    assert_eq!(outcome.status, YLOKH_OK, "{outcome:?}");
    let seen = origin.seen();
    let moved = seen.iter().find(|s| s.target.starts_with("/new/")).unwrap();
    for value in all_secret_values() {
        assert!(
            moved.head.contains(&value),
            "{value} was dropped on the same origin"
        );
    }
}

#[test]
fn a_301_302_or_303_fails_with_a_message_that_names_the_redirect() {
    for code in [301, 302, 303] {
        let second = second_origin();
        let location = format!("{}/v2/chat/completions", second.url());
        let first = redirector(code, location.clone());
        let outcome = run(&Setup {
            base_url: format!("{}/v1", first.url()),
            ..Setup::default()
        });
        assert_eq!(outcome.status, YLOKH_HTTP_STATUS, "{code}: {outcome:?}");
        assert_eq!(outcome.http_status, code);
        for part in [&code.to_string(), "redirect", &location, "GET"] {
            assert!(
                outcome.message.contains(part),
                "{code}: no {part:?} in {}",
                outcome.message
            );
        }
        assert!(
            second.seen().is_empty(),
            "{code}: the redirect was followed"
        );
    }
}

#[test]
fn a_failed_redirect_target_is_named_in_the_message_not_the_first_origin() {
    // A 307 to https on a port that answers in plain HTTP at once: the TLS failure is the
    // target's.
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let plain_addr = plain.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut stream in plain.incoming().flatten() {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        }
    });
    let first = redirector(307, format!("https://{plain_addr}/v1/chat/completions"));
    let outcome = run(&Setup {
        base_url: format!("{}/v1", first.url()),
        ..Setup::default()
    });
    assert_eq!(outcome.status, YLOKH_TLS, "{outcome:?}");
    let failed_at = format!("TLS with {plain_addr} failed");
    assert!(outcome.message.contains(&failed_at), "{}", outcome.message);
    // A 307 to a port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let first = redirector(307, format!("https://127.0.0.1:{port}/v1/chat/completions"));
    let outcome = run(&Setup {
        base_url: format!("{}/v1", first.url()),
        ..Setup::default()
    });
    assert_eq!(outcome.status, YLOKH_CONNECT, "{outcome:?}");
    let refused = format!("connection refused by 127.0.0.1:{port}");
    assert!(outcome.message.contains(&refused), "{}", outcome.message);
    assert!(
        outcome.message.contains("redirected to https://127.0.0.1"),
        "{}",
        outcome.message
    );
}

/// Every encoding of `user:password` the library may send or show: the password plain,
/// percent-encoded and `\u`-escaped, the pair likewise, and the pair in base64 (HTTP Basic).
fn credential_needles(user: &str, password: &str) -> Vec<String> {
    let pair = format!("{user}:{password}");
    let mut needles = encodings(password);
    needles.extend(encodings(&pair));
    needles.push(base64(&pair));
    needles
}

/// A hostile server that echoes every header it got, in its error body: the values as they
/// came, and each decoded from Basic, percent-encoded and `\u`-escaped, in JSON and in text.
fn echo_everything(status: &'static str, content_type: &'static str) -> Origin {
    Origin::start("127.0.0.1", move |seen, stream| {
        let mut echo = format!("{} {}\n", seen.method, seen.target);
        // Credentials first, so that they are inside the part of a text body a message quotes.
        let mut headers = seen.headers.clone();
        headers.sort_by_key(|(name, _)| {
            !(name.contains("auth")
                || name.contains("key")
                || name.contains("token")
                || name == "cookie")
        });
        for (name, value) in &headers {
            echo.push_str(&format!("{name}: {value}\n"));
            if let Some(b64) = value.strip_prefix("Basic ") {
                use base64::Engine;
                if let Ok(plain) = base64::engine::general_purpose::STANDARD.decode(b64) {
                    let plain = String::from_utf8_lossy(&plain).to_string();
                    for form in encodings(&plain) {
                        echo.push_str(&format!("decoded: {form}\n"));
                    }
                    if let Some((_, password)) = plain.split_once(':') {
                        for form in encodings(password) {
                            echo.push_str(&format!("password: {form}\n"));
                        }
                    }
                }
            }
            for form in encodings(value) {
                echo.push_str(&format!("{name} again: {form}\n"));
            }
        }
        let body = if content_type == "application/json" {
            serde_json::json!({"error": {"message": echo}}).to_string()
        } else {
            echo
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nProxy-Authenticate: Basic realm=\"p\"\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body.as_bytes());
    })
}

#[test]
fn the_proxy_password_is_in_no_text_in_any_encoding() {
    capture_logs();
    for (user, password, in_url) in [
        ("user", "hunter2", "hunter2"),
        ("proxy user", "p@ss w/rd:ü", "p%40ss%20w%2Frd%3A%C3%BC"),
    ] {
        for (status, content_type) in [
            ("407 Proxy Authentication Required", "application/json"),
            ("407 Proxy Authentication Required", "text/plain"),
            ("401 Unauthorized", "application/json"),
        ] {
            let proxy = echo_everything(status, content_type);
            let user_in_url = user.replace(' ', "%20");
            let outcome = run(&Setup {
                base_url: "http://127.0.0.1:9/v1".into(),
                proxy: Some(format!(
                    "http://{user_in_url}:{in_url}@{}",
                    proxy.host_port()
                )),
                ..Setup::default()
            });
            let sent = &proxy.seen()[0];
            assert_eq!(
                sent.header("proxy-authorization"),
                Some(format!("Basic {}", base64(&format!("{user}:{password}"))).as_str()),
                "the proxy got the credentials"
            );
            assert_eq!(outcome.status, YLOKH_HTTP_STATUS, "{outcome:?}");
            assert!(
                outcome.message.contains("[redacted]"),
                "{}",
                outcome.message
            );
            assert!(
                outcome.message.contains(&proxy.host_port())
                    || outcome.message.contains("127.0.0.1:9")
            );
            let mut needles = credential_needles(user, password);
            needles.push(in_url.to_string());
            assert_nowhere(&needles, &outcome.texts());
        }
    }
}

#[test]
fn a_password_in_the_base_url_is_in_no_text_in_any_encoding() {
    capture_logs();
    for content_type in ["application/json", "text/plain"] {
        let server = echo_everything("401 Unauthorized", content_type);
        let outcome = run(&Setup {
            base_url: format!("http://user:hunter2@{}/v1", server.host_port()),
            ..Setup::default()
        });
        assert_eq!(
            server.seen()[0].header("authorization"),
            Some(format!("Basic {}", base64("user:hunter2")).as_str()),
            "the server got the credentials"
        );
        assert_eq!(outcome.status, YLOKH_HTTP_STATUS, "{outcome:?}");
        assert!(
            outcome.message.contains(&server.host_port()),
            "{}",
            outcome.message
        );
        assert_nowhere(&credential_needles("user", "hunter2"), &outcome.texts());
    }
    // A 200 whose answer echoes the credentials: message_json is scrubbed too.
    let echo = Origin::start("127.0.0.1", |seen, stream| {
        let auth = seen.header("authorization").unwrap_or("").to_string();
        let text = format!("you sent {auth}, that is {}", "user:hunter2");
        respond(stream, "200 OK", "", &chat_answer(&text))
    });
    let outcome = run(&Setup {
        base_url: format!("http://user:hunter2@{}/v1", echo.host_port()),
        ..Setup::default()
    });
    assert_eq!(outcome.status, YLOKH_OK, "{outcome:?}");
    assert!(
        outcome.message_json.contains("[redacted]"),
        "{}",
        outcome.message_json
    );
    serde_json::from_str::<serde_json::Value>(&outcome.message_json).unwrap();
    assert_nowhere(&credential_needles("user", "hunter2"), &outcome.texts());
}

#[test]
fn the_key_and_every_credential_or_secret_header_are_in_no_text_in_any_encoding() {
    capture_logs();
    for content_type in ["application/json", "text/plain"] {
        let server = echo_everything("401 Unauthorized", content_type);
        let outcome = run(&credentialed(format!("{}/v1", server.url())));
        assert_eq!(outcome.status, YLOKH_HTTP_STATUS, "{outcome:?}");
        assert!(
            outcome.message.contains("[redacted]"),
            "{}",
            outcome.message
        );
        let needles: Vec<String> = all_secret_values()
            .iter()
            .flat_map(|v| encodings(v))
            .collect();
        assert_nowhere(&needles, &outcome.texts());
    }
}

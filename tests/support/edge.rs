//! Support for the security and HTTP-edge tests: a tiny HTTP/1.1 origin on a loopback address
//! that records every request it gets and answers through a handler (one request per
//! connection), a request runner over the C ABI that returns everything the caller can see,
//! and a process-wide capture of every log record at TRACE.
#![allow(dead_code)] // each test file uses a part

use std::ffi::{c_char, c_void, CStr, CString};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use ylokh::ffi::client::{ylokh_client_free, ylokh_client_new};
use ylokh::ffi::misc::ylokh_last_error;
use ylokh::ffi::options::*;
use ylokh::ffi::request::{
    ylokh_chat_complete, ylokh_chat_start, ylokh_request_free, ylokh_request_next,
};
use ylokh::ffi::status::*;
use ylokh::ffi::types::{ylokh_event, ylokh_message, YLOKH_EVENT_DONE};

/// One request as the origin received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// The request target as sent: a path, or an absolute URL (to a proxy).
    pub target: String,
    /// The whole head as text (request line and headers).
    pub head: String,
    /// Header names in lower case, values as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Seen, &mut TcpStream) + Send + Sync;

/// An HTTP origin on `127.0.0.1` or `[::1]`, port 0.
pub struct Origin {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Origin {
    /// Serves on `ip` ("127.0.0.1" or "::1"); `handler` writes the answer to each request.
    pub fn start(
        ip: &str,
        handler: impl Fn(&Seen, &mut TcpStream) + Send + Sync + 'static,
    ) -> Origin {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (handler, record) = (handler.clone(), record.clone());
                std::thread::spawn(move || {
                    if let Some(request) = read_request(&mut stream) {
                        record.lock().unwrap().push(request.clone());
                        handler(&request, &mut stream);
                    }
                });
            }
        });
        Origin { addr, seen }
    }

    /// `http://HOST:PORT` (IPv6 in brackets).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// "HOST:PORT" as the library names it in messages.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let target = request_line.next().unwrap_or("").to_string();
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
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..(head_end + length).min(buf.len())].to_vec();
    Some(Seen {
        method,
        target,
        head,
        headers,
        body,
    })
}

/// Writes a whole response with Content-Length, then the connection closes.
pub fn respond(stream: &mut TcpStream, status: &str, extra_headers: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

/// A non-streamed chat completion whose text is `content`.
pub fn chat_answer(content: &str) -> Vec<u8> {
    serde_json::json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    })
    .to_string()
    .into_bytes()
}

/// What the caller of one request can see.
#[derive(Debug, Default)]
pub struct Outcome {
    pub status: u32,
    pub http_status: u16,
    pub message: String,
    pub message_json: String,
    pub ttfb_ms: i64,
    /// `ylokh_last_error` after the same request through `ylokh_chat_complete`.
    pub last_error: String,
    /// The answer's text (pull TOKEN events).
    pub text: String,
}

impl Outcome {
    /// Every text the library produced for this request, for searching.
    pub fn texts(&self) -> [(&'static str, &str); 3] {
        [
            ("message", &self.message),
            ("message_json", &self.message_json),
            ("ylokh_last_error", &self.last_error),
        ]
    }
}

/// Options for one client, set through the C ABI.
#[derive(Default, Clone)]
pub struct Setup {
    pub base_url: String,
    pub api_key: Option<String>,
    pub api: Option<u32>,
    pub headers: Vec<(String, String)>,
    pub proxy: Option<String>,
    pub read_timeout_ms: u64,
    pub max_retries: u32,
    /// Extra setters, for options this struct does not name.
    pub extra: Option<fn(*mut ylokh_options)>,
}

fn c_text(ptr: *const c_char) -> String {
    if ptr.is_null() {
        String::new()
    } else {
        // SAFETY: a NUL-terminated string from the library.
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }
}

/// Makes the client, runs one non-streamed request through the pull interface, then the same
/// through `ylokh_chat_complete` (for `ylokh_last_error`), and frees the client.
pub fn run(setup: &Setup) -> Outcome {
    let url = CString::new(setup.base_url.as_str()).unwrap();
    let mut outcome = Outcome::default();
    unsafe {
        let opts = ylokh_options_new_compatible(url.as_ptr());
        assert!(!opts.is_null(), "{}", c_text(ylokh_last_error()));
        assert_eq!(
            ylokh_options_set_max_retries(opts, setup.max_retries),
            YLOKH_OK
        );
        assert_eq!(ylokh_options_set_timeout_ms(opts, 10_000), YLOKH_OK);
        if setup.read_timeout_ms > 0 {
            assert_eq!(
                ylokh_options_set_read_timeout_ms(opts, setup.read_timeout_ms),
                YLOKH_OK
            );
        }
        if let Some(api) = setup.api {
            assert_eq!(ylokh_options_set_api(opts, api), YLOKH_OK);
        }
        if let Some(key) = &setup.api_key {
            let key = CString::new(key.as_str()).unwrap();
            assert_eq!(ylokh_options_set_api_key(opts, key.as_ptr()), YLOKH_OK);
        }
        for (name, value) in &setup.headers {
            let (n, v) = (
                CString::new(name.as_str()).unwrap(),
                CString::new(value.as_str()).unwrap(),
            );
            assert_eq!(
                ylokh_options_set_header(opts, n.as_ptr(), v.as_ptr()),
                YLOKH_OK,
                "{name}"
            );
        }
        if let Some(proxy) = &setup.proxy {
            let proxy = CString::new(proxy.as_str()).unwrap();
            assert_eq!(ylokh_options_set_proxy(opts, proxy.as_ptr()), YLOKH_OK);
        }
        if let Some(extra) = setup.extra {
            extra(opts);
        }
        let mut client = std::ptr::null_mut();
        assert_eq!(ylokh_client_new(opts, &mut client), YLOKH_OK);
        ylokh_options_free(opts);
        let (role, content) = (CString::new("user").unwrap(), CString::new("hi").unwrap());
        let messages = [ylokh_message {
            role: role.as_ptr(),
            content: content.as_ptr(),
        }];
        let mut req = std::ptr::null_mut();
        let started = ylokh_chat_start(
            client,
            std::ptr::null(),
            messages.as_ptr(),
            1,
            std::ptr::null(),
            false,
            std::ptr::null(),
            &mut req,
        );
        assert_eq!(started, YLOKH_OK, "{}", c_text(ylokh_last_error()));
        loop {
            let mut event: ylokh_event = std::mem::zeroed();
            assert_eq!(ylokh_request_next(req, 20_000, &mut event), YLOKH_OK);
            if event.kind == YLOKH_EVENT_DONE {
                let r = &*event.result;
                outcome.status = r.status;
                outcome.http_status = r.http_status;
                outcome.message = c_text(r.message);
                outcome.message_json = c_text(r.message_json);
                outcome.ttfb_ms = r.ttfb_ms;
                break;
            }
            if !event.text.is_null() {
                let bytes = std::slice::from_raw_parts(event.text.cast::<u8>(), event.len);
                outcome.text.push_str(&String::from_utf8_lossy(bytes));
            }
        }
        ylokh_request_free(req);
        let mut text = std::ptr::null_mut();
        let status = ylokh_chat_complete(
            client,
            std::ptr::null(),
            messages.as_ptr(),
            1,
            std::ptr::null(),
            &mut text,
            std::ptr::null_mut(),
        );
        if status == YLOKH_OK {
            ylokh::ffi::misc::ylokh_string_free(text);
        } else {
            outcome.last_error = c_text(ylokh_last_error());
        }
        ylokh_client_free(client);
    }
    outcome
}

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" fn on_log(_: *mut c_void, level: u32, text: *const c_char, len: usize) {
    // SAFETY: the library passes `len` bytes of text, valid during the call.
    let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) };
    RECORDS
        .lock()
        .unwrap()
        .push(format!("[{level}] {}", String::from_utf8_lossy(bytes)));
}

/// Starts capturing every log record of this test process at TRACE (once; never stopped).
pub fn capture_logs() {
    static ON: OnceLock<()> = OnceLock::new();
    ON.get_or_init(|| unsafe {
        assert_eq!(
            ylokh::ffi::log::ylokh_set_log_callback(5, Some(on_log), std::ptr::null_mut()),
            YLOKH_OK
        );
    });
}

/// Every record captured so far.
pub fn log_records() -> Vec<String> {
    RECORDS.lock().unwrap().clone()
}

/// Every way the library could send or show `secret`: as it is, percent-encoded (every byte
/// but the unreserved ones), and as JSON `\u` escapes (every character).
pub fn encodings(secret: &str) -> Vec<String> {
    let percent: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let unicode: String = secret
        .encode_utf16()
        .map(|u| format!("\\u{u:04x}"))
        .collect();
    let mut all = vec![secret.to_string(), percent, unicode];
    all.dedup();
    all
}

/// Base64 (standard alphabet, padded) of `text`: how HTTP Basic credentials travel.
pub fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Panics when any of `needles` appears in any of `texts` or in any captured log record.
pub fn assert_nowhere(needles: &[String], texts: &[(&str, &str)]) {
    for needle in needles {
        for (what, text) in texts {
            assert!(
                !text.contains(needle.as_str()),
                "the secret {needle:?} is in the {what}: {text}"
            );
        }
        for record in log_records() {
            assert!(
                !record.contains(needle.as_str()),
                "the secret {needle:?} is in a log record: {record}"
            );
        }
    }
}

//! The C ABI driven from Rust: a client handle and one request through the pull interface.

use std::ffi::{c_char, CStr, CString};
use ylokh::ffi::client::{ylokh_client, ylokh_client_free, ylokh_client_new};
use ylokh::ffi::options::{
    ylokh_options_free, ylokh_options_new_compatible, ylokh_options_set_max_retries,
    ylokh_options_set_proxy,
};
use ylokh::ffi::request::{
    ylokh_chat_start, ylokh_request_cancel, ylokh_request_free, ylokh_request_next,
};
use ylokh::ffi::status::*;
use ylokh::ffi::types::{ylokh_event, ylokh_message, YLOKH_EVENT_DONE, YLOKH_EVENT_TOKEN};

pub struct Client(*mut ylokh_client);
unsafe impl Send for Client {}
unsafe impl Sync for Client {}

impl Client {
    /// A client for `base_url`, through `proxy` if given; no retries.
    pub fn new(base_url: &str, proxy: Option<&str>) -> Client {
        Client::make(base_url, proxy, 0)
    }

    /// A client for `base_url` that retries up to `max_retries` times.
    #[allow(dead_code)]
    pub fn with_retries(base_url: &str, max_retries: u32) -> Client {
        Client::make(base_url, None, max_retries)
    }

    fn make(base_url: &str, proxy: Option<&str>, max_retries: u32) -> Client {
        let url = CString::new(base_url).unwrap();
        unsafe {
            let opts = ylokh_options_new_compatible(url.as_ptr());
            assert!(!opts.is_null());
            assert_eq!(ylokh_options_set_max_retries(opts, max_retries), YLOKH_OK);
            if let Some(proxy) = proxy {
                let proxy = CString::new(proxy).unwrap();
                assert_eq!(ylokh_options_set_proxy(opts, proxy.as_ptr()), YLOKH_OK);
            }
            let mut client = std::ptr::null_mut();
            assert_eq!(ylokh_client_new(opts, &mut client), YLOKH_OK);
            ylokh_options_free(opts);
            Client(client)
        }
    }
}

impl Client {
    /// Takes ownership of a client made elsewhere (freed on drop).
    ///
    /// # Safety
    /// `client` comes from `ylokh_client_new` and is not freed by anyone else.
    pub unsafe fn from_raw(client: *mut ylokh_client) -> Client {
        Client(client)
    }
}

impl Client {
    /// A client for `base_url` that speaks `api` (YLOKH_API_*), with an API key; no retries.
    #[allow(dead_code)]
    pub fn with_api(base_url: &str, api: u32, key: Option<&str>) -> Client {
        let url = CString::new(base_url).unwrap();
        unsafe {
            let opts = ylokh_options_new_compatible(url.as_ptr());
            assert!(!opts.is_null());
            assert_eq!(ylokh_options_set_max_retries(opts, 0), YLOKH_OK);
            assert_eq!(
                ylokh::ffi::options::ylokh_options_set_api(opts, api),
                YLOKH_OK
            );
            if let Some(key) = key {
                let key = CString::new(key).unwrap();
                assert_eq!(
                    ylokh::ffi::options::ylokh_options_set_api_key(opts, key.as_ptr()),
                    YLOKH_OK
                );
            }
            let mut client = std::ptr::null_mut();
            assert_eq!(ylokh_client_new(opts, &mut client), YLOKH_OK);
            ylokh_options_free(opts);
            Client(client)
        }
    }

    /// The handle, for calls this module does not wrap.
    #[allow(dead_code)]
    pub fn raw(&self) -> *mut ylokh_client {
        self.0
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        unsafe { ylokh_client_free(self.0) }
    }
}

#[derive(Debug, Default)]
pub struct Answer {
    pub status: u32,
    pub http_status: u16,
    pub message: String,
    pub text: String,
    pub tokens: usize,
    pub usage: (i64, i64, i64),
    /// For the caller's own use (the local-server tests note the server's busy slots).
    pub busy_at_cancel: usize,
}

fn c_text(ptr: *const c_char) -> String {
    if ptr.is_null() {
        String::new()
    } else {
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }
}

pub const PROMPT: &str = "Say hello in three languages.";

/// Runs one request through the pull interface; calls `before_cancel` and cancels the request
/// after `cancel_after` tokens.
pub fn chat_with(
    client: &Client,
    params: &str,
    stream: bool,
    cancel_after: Option<usize>,
    mut before_cancel: impl FnMut(),
) -> Answer {
    let (role, content) = (CString::new("user").unwrap(), CString::new(PROMPT).unwrap());
    let messages = [ylokh_message {
        role: role.as_ptr(),
        content: content.as_ptr(),
    }];
    let params = CString::new(params).unwrap();
    let mut answer = Answer::default();
    unsafe {
        let mut req = std::ptr::null_mut();
        let s = ylokh_chat_start(
            client.0,
            std::ptr::null(),
            messages.as_ptr(),
            1,
            params.as_ptr(),
            stream,
            std::ptr::null(),
            &mut req,
        );
        assert_eq!(s, YLOKH_OK);
        loop {
            let mut event: ylokh_event = std::mem::zeroed();
            assert_eq!(ylokh_request_next(req, u64::MAX, &mut event), YLOKH_OK);
            if event.kind == YLOKH_EVENT_DONE {
                let r = &*event.result;
                answer.status = r.status;
                answer.http_status = r.http_status;
                answer.message = c_text(r.message);
                answer.usage = (r.prompt_tokens, r.completion_tokens, r.total_tokens);
                break;
            }
            if event.kind == YLOKH_EVENT_TOKEN {
                answer.tokens += 1;
                answer.text.push_str(
                    std::str::from_utf8(std::slice::from_raw_parts(
                        event.text.cast::<u8>(),
                        event.len,
                    ))
                    .unwrap(),
                );
                if Some(answer.tokens) == cancel_after {
                    before_cancel();
                    ylokh_request_cancel(req);
                }
            }
        }
        ylokh_request_free(req);
    }
    answer
}

//! `ylokh_options`: an opaque builder of client settings. Not thread-safe: one thread at a time.

use super::status::ylokh_status;
use super::{
    optional_str, ptr_boundary, required_mut, required_str, status_boundary, void_boundary,
};
use crate::dialect::Api;
use crate::error::Error;
use crate::options::{millis, Options};
use std::ffi::c_char;

/// Client settings. Create with `ylokh_options_new` or `ylokh_options_new_compatible`, free
/// with `ylokh_options_free`; `ylokh_client_new` copies it, so it may be freed right after.
/// Not thread-safe: one thread at a time per options object (different objects: any threads).
/// Every setter copies the strings it is given. Every setter's contract: `opts` NULL
/// (YLOKH_INVALID_ARGUMENT) or a live options object no other thread uses during the call;
/// strings NULL or NUL-terminated UTF-8.
///
/// Methods: `ylokh_options_new`, `ylokh_options_new_compatible`, `ylokh_options_free`,
/// `ylokh_options_set_base_url`, `ylokh_options_set_api`, `ylokh_options_set_api_key`,
/// `ylokh_options_set_header`, `ylokh_options_set_secret_header`, `ylokh_options_set_proxy`,
/// `ylokh_options_add_ca_file`, `ylokh_options_set_timeout_ms`,
/// `ylokh_options_set_connect_timeout_ms`, `ylokh_options_set_read_timeout_ms`,
/// `ylokh_options_set_first_token_timeout_ms`, `ylokh_options_set_max_retries`,
/// `ylokh_options_set_resume`, `ylokh_options_set_default_model`,
/// `ylokh_options_set_default_params`, `ylokh_options_set_worker_threads`,
/// `ylokh_options_set_max_event_bytes`, `ylokh_options_set_max_message_bytes`,
/// `ylokh_options_set_max_tool_calls`, `ylokh_options_set_pull_chunks`,
/// `ylokh_options_set_stream_usage`.
pub struct ylokh_options {
    pub(crate) inner: Options,
}

/// The Ylokh preset: base URL https://chatapi.ylokh.xyz/v1, its Origin/Referer headers, model
/// "gpt-3.5-turbo", the service's default sampling parameters, 120 s timeout, 2 retries.
/// Returns NULL only when out of memory or on an internal error. The caller owns the result:
/// free it with `ylokh_options_free`.
#[no_mangle]
pub extern "C" fn ylokh_options_new() -> *mut ylokh_options {
    ptr_boundary(|| {
        Ok(Box::into_raw(Box::new(ylokh_options {
            inner: Options::ylokh(),
        })))
    })
}

/// A plain OpenAI-compatible server at `base_url` (e.g. "http://127.0.0.1:8080/v1"): no extra
/// headers, no default model or parameters. Returns NULL (see `ylokh_last_error`) when the URL
/// is NULL, not UTF-8 or not an http(s) URL. `base_url` is copied; the caller owns the result
/// (free it with `ylokh_options_free`).
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_new_compatible(
    base_url: *const c_char,
) -> *mut ylokh_options {
    ptr_boundary(|| {
        // SAFETY: NULL or a NUL-terminated string (the contract).
        let url = unsafe { required_str(base_url, "base_url")? };
        Ok(Box::into_raw(Box::new(ylokh_options {
            inner: Options::compatible(url)?,
        })))
    })
}

/// Frees options made by `ylokh_options_new*` (clients made from them are not affected). NULL
/// does nothing.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_free(opts: *mut ylokh_options) {
    void_boundary(|| {
        if !opts.is_null() {
            // SAFETY: options from ylokh_options_new*, freed once (the contract).
            drop(unsafe { Box::from_raw(opts) });
        }
    })
}

/// The contract every `ylokh_options_set_*` / `_add_*` function has (ylokh.h, on
/// `ylokh_options`): `opts` is NULL or a live options object that no other thread uses during
/// the call, and every string argument NULL or NUL-terminated and alive for the call. The
/// setters are written out (cbindgen reads each one with its documentation) and their bodies
/// go through [`with`], [`string`] and [`optional_string`], which carry the unsafety once.
///
/// Runs `set` on the options behind `opts`, after the NULL check, inside the panic boundary.
/// Only for the setters' own `opts` argument.
fn with(
    opts: *mut ylokh_options,
    set: impl FnOnce(&mut Options) -> Result<(), crate::error::Error>,
) -> ylokh_status {
    // SAFETY: `opts` comes from a setter's caller, who promises it is NULL or a live options
    // object that only this thread uses (the contract above); NULL is refused.
    status_boundary(|| set(&mut unsafe { required_mut(opts, "opts") }?.inner))
}

/// A setter's required string argument (only for the setters' own arguments).
fn string<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    // SAFETY: NULL (refused) or NUL-terminated and alive for the call (the contract above).
    unsafe { required_str(ptr, what) }
}

/// A setter's string argument that may be NULL (only for the setters' own arguments).
fn optional_string<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    // SAFETY: NULL or NUL-terminated and alive for the call (the contract above).
    unsafe { optional_str(ptr, what) }
}

/// Requests go to `{url}/chat/completions` (`{url}/responses` or `{url}/messages` with
/// `ylokh_options_set_api`). The string is copied. (0.3) A user name and
/// password in the URL (`http://user:pass@host/v1`) are sent as `Authorization: Basic` (unless
/// an API key or an Authorization header is set) and are never shown: no message or log record
/// carries them, in any encoding.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_base_url(
    opts: *mut ylokh_options,
    url: *const c_char,
) -> ylokh_status {
    with(opts, |o| o.set_base_url(string(url, "url")?))
}

/// Sends `Authorization: Bearer <key>`; NULL clears it. The key never appears in any message or
/// log record.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_api_key(
    opts: *mut ylokh_options,
    key: *const c_char,
) -> ylokh_status {
    with(opts, |o| o.set_api_key(optional_string(key, "key")?))
}

/// Sets or replaces a header sent with every request; a NULL value removes it. A name or value
/// with CR/LF is YLOKH_INVALID_ARGUMENT, and so (0.3) are the headers the library writes itself:
/// Content-Length, Transfer-Encoding, Host, Connection, Keep-Alive, Proxy-Connection, Upgrade,
/// TE, Trailer and Expect. (0.3) Credential headers — Authorization, Proxy-Authorization,
/// Cookie, api-key, x-api-key, x-goog-api-key, Ocp-Apim-Subscription-Key,
/// cf-aig-authorization, X-Auth-Token, any name ending in -key, -token, -secret or -password,
/// and names marked with `ylokh_options_set_secret_header` — are never shown in a message or
/// log record and are not sent to another origin on a redirect.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_header(
    opts: *mut ylokh_options,
    name: *const c_char,
    value: *const c_char,
) -> ylokh_status {
    with(opts, |o| {
        o.set_header(string(name, "name")?, optional_string(value, "value")?)
    })
}

/// (0.3) As `ylokh_options_set_header`, and marks the header name as a secret: its value is
/// scrubbed (as `[redacted]`) from every message, `ylokh_last_error`, log record and
/// `message_json`, and the header is not sent to another origin when a 307/308 redirect leads
/// there. The mark stays with the name for these options (a later `ylokh_options_set_header`
/// of the same name is secret too); a NULL value removes the header. For credential headers the
/// library does not know by name (see `ylokh_options_set_header`).
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_secret_header(
    opts: *mut ylokh_options,
    name: *const c_char,
    value: *const c_char,
) -> ylokh_status {
    with(opts, |o| {
        o.set_secret_header(string(name, "name")?, optional_string(value, "value")?)
    })
}

/// An http, https, socks5 or socks5h proxy URL, credentials in the URL if needed; NULL: direct.
/// Environment proxy variables are never used.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_proxy(
    opts: *mut ylokh_options,
    url: *const c_char,
) -> ylokh_status {
    with(opts, |o| o.set_proxy(optional_string(url, "url")?))
}

/// Deadline for the whole request, retries included; 0: none. Default 120000.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_timeout_ms(
    opts: *mut ylokh_options,
    ms: u64,
) -> ylokh_status {
    with(opts, |o| {
        o.timeout = millis(ms);
        Ok(())
    })
}

/// Deadline for each TCP (and proxy) connect; 0: none. Default 10000.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_connect_timeout_ms(
    opts: *mut ylokh_options,
    ms: u64,
) -> ylokh_status {
    with(opts, |o| {
        o.connect_timeout = millis(ms);
        Ok(())
    })
}

/// The longest silence allowed while waiting for headers or body bytes; 0: none (default).
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_read_timeout_ms(
    opts: *mut ylokh_options,
    ms: u64,
) -> ylokh_status {
    with(opts, |o| {
        o.read_timeout = millis(ms);
        Ok(())
    })
}

/// (0.2) The longest wait from sending a request to its first token (not streaming: to the
/// response headers), retries each starting it anew; 0: none (default). While it runs the read
/// timeout does not, since a long prompt is read before the first token comes (a slow prefill
/// is not an idle connection); from the first token on only the read timeout does (a stalled
/// generation is not a slow prefill). Either ends the request with YLOKH_TIMEOUT and a message
/// that names which timeout fired.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_first_token_timeout_ms(
    opts: *mut ylokh_options,
    ms: u64,
) -> ylokh_status {
    with(opts, |o| {
        o.first_token_timeout = millis(ms);
        Ok(())
    })
}

/// Retries on connect errors and HTTP 408, 409, 429 and 5xx, only before any body byte was
/// delivered; `retry-after-ms` / `Retry-After` are honoured up to 60 s. Default 2.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_max_retries(
    opts: *mut ylokh_options,
    n: u32,
) -> ylokh_status {
    with(opts, |o| {
        o.max_retries = n;
        Ok(())
    })
}

/// (0.2) Whether a broken stream is resumed where it broke. Default false. With it on, a
/// streaming request is made resumable: with YLOKH_API_CHAT_COMPLETIONS it carries
/// `X-Conversation-Id` with a fresh random id, so a server that keeps a copy of the stream
/// (llama.cpp's conversation streams) goes on generating when the connection drops; with
/// YLOKH_API_RESPONSES its body says `"background": true` (OpenAI's background mode; your
/// params_json may override it). When the connection breaks before the end (reset, end of the
/// body too early, read timeout) the library goes on from where it was: `GET
/// {base}/stream?conv_id=ID&from=N` from the byte where it broke, or `GET
/// {base}/responses/{id}?stream=true&starting_after=SEQ` after the last sequence number
/// delivered. No token is lost or repeated, callbacks stay in order, `on_done` runs once.
/// Resumes use the retry budget and backoff (ylokh_options_set_max_retries, counted per break)
/// and are counted in `ylokh_result.resumes`. A server without the feature ends the request
/// with YLOKH_INCOMPLETE and a message that says resume was tried and why it failed. Since
/// closing the connection no longer stops such a generation, a cancelled (or otherwise failed)
/// request stops it with `DELETE {base}/stream?conv_id=ID` or `POST
/// {base}/responses/{id}/cancel` (waiting at most 2 s) before `on_done`. YLOKH_API_MESSAGES
/// streams are not resumed.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_resume(
    opts: *mut ylokh_options,
    enabled: bool,
) -> ylokh_status {
    with(opts, |o| {
        o.resume = enabled;
        Ok(())
    })
}

/// Trusts the certificates in a PEM file in addition to the system and bundled roots. The file is
/// read now (the path is not kept). TLS is always verified; there is no switch to turn that off.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_add_ca_file(
    opts: *mut ylokh_options,
    pem_path: *const c_char,
) -> ylokh_status {
    with(opts, |o| o.add_ca_file(string(pem_path, "pem_path")?))
}

/// The model used when `ylokh_chat_start` gets NULL; NULL here: omit "model" from the body.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_default_model(
    opts: *mut ylokh_options,
    model: *const c_char,
) -> ylokh_status {
    with(opts, |o| {
        o.default_model = optional_string(model, "model")?.map(str::to_owned);
        Ok(())
    })
}

/// A JSON object whose keys start every request body (replaces the previous defaults).
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_default_params(
    opts: *mut ylokh_options,
    json_object: *const c_char,
) -> ylokh_status {
    with(opts, |o| {
        o.set_default_params(string(json_object, "json_object")?)
    })
}

/// Threads of the client's runtime, where callbacks run (1 to 1024). Default 1.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_worker_threads(
    opts: *mut ylokh_options,
    n: u32,
) -> ylokh_status {
    with(opts, |o| o.set_worker_threads(n))
}

/// Cap on one SSE event, or on a whole non-streamed body (at least 64). Default 16 MiB.
/// Going over it ends the request with YLOKH_PROTOCOL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_max_event_bytes(
    opts: *mut ylokh_options,
    n: usize,
) -> ylokh_status {
    with(opts, |o| o.set_max_event_bytes(n))
}

/// Whether `ylokh_request_next` also hands out YLOKH_EVENT_CHUNK events. Default false.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_pull_chunks(
    opts: *mut ylokh_options,
    enabled: bool,
) -> ylokh_status {
    with(opts, |o| {
        o.pull_chunks = enabled;
        Ok(())
    })
}

/// (0.2) Chat Completions: `POST {base}/chat/completions` (the default).
pub const YLOKH_API_CHAT_COMPLETIONS: u32 = 1;
/// (0.2) The OpenAI Responses API: `POST {base}/responses`.
pub const YLOKH_API_RESPONSES: u32 = 2;
/// (0.2) The Anthropic Messages API: `POST {base}/messages` (key in `x-api-key`, plus
/// `anthropic-version: 2023-06-01` unless you set that header).
pub const YLOKH_API_MESSAGES: u32 = 3;

/// `YLOKH_API_*` → the dialect (the one place the numbers are tied to the dialects); unknown
/// numbers: `None`.
fn api_from_c(api: u32) -> Option<Api> {
    match api {
        YLOKH_API_CHAT_COMPLETIONS => Some(Api::ChatCompletions),
        YLOKH_API_RESPONSES => Some(Api::Responses),
        YLOKH_API_MESSAGES => Some(Api::Messages),
        _ => None,
    }
}

/// (0.2) Which wire API the server speaks: YLOKH_API_CHAT_COMPLETIONS (default),
/// YLOKH_API_RESPONSES or YLOKH_API_MESSAGES. Nothing else changes for the caller: messages,
/// conversations, tools_json and the callbacks stay in the chat format, and `message_json` is
/// always a chat message. Unknown values: YLOKH_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_api(opts: *mut ylokh_options, api: u32) -> ylokh_status {
    with(opts, |o| {
        o.api = api_from_c(api).ok_or_else(|| {
                Error::invalid(format!(
                    "api {api} is not one of YLOKH_API_CHAT_COMPLETIONS (1), YLOKH_API_RESPONSES (2), YLOKH_API_MESSAGES (3)"
                ))
            })?;
        Ok(())
    })
}

/// (0.2) Whether a streaming chat-completions request asks for token usage with
/// `"stream_options":{"include_usage":true}` (unless the default params or `params_json` set
/// `stream_options`). Default: true with the compatible preset, false with the Ylokh preset.
/// Turn it off for servers that reject the key.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_stream_usage(
    opts: *mut ylokh_options,
    enabled: bool,
) -> ylokh_status {
    with(opts, |o| {
        o.stream_usage = enabled;
        Ok(())
    })
}

/// (0.3) The most bytes of an answer's text and reasoning text (together, UTF-8 as received)
/// kept for `ylokh_result.message_json`. Default 16 MiB; 0 keeps none. Text past it still
/// reaches `on_token` / `on_reasoning` and the pull queue, and the request's status does not
/// change; `message_json` then holds the text up to the cap (cut at a character boundary) and
/// the member `"truncated":true`. Memory kept for the message is about this many bytes.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_max_message_bytes(
    opts: *mut ylokh_options,
    n: usize,
) -> ylokh_status {
    with(opts, |o| {
        o.set_max_message_bytes(n);
        Ok(())
    })
}

/// (0.3) The most tool calls one answer may have (at least 1). Default 1024. An answer with
/// more ends with YLOKH_PROTOCOL, a message that names this cap, and no call handed out.
#[no_mangle]
pub unsafe extern "C" fn ylokh_options_set_max_tool_calls(
    opts: *mut ylokh_options,
    n: u32,
) -> ylokh_status {
    with(opts, |o| o.set_max_tool_calls(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_numbers_map_to_the_dialects() {
        assert_eq!(
            api_from_c(YLOKH_API_CHAT_COMPLETIONS),
            Some(Api::ChatCompletions)
        );
        assert_eq!(api_from_c(YLOKH_API_RESPONSES), Some(Api::Responses));
        assert_eq!(api_from_c(YLOKH_API_MESSAGES), Some(Api::Messages));
        assert_eq!(api_from_c(0), None);
        assert_eq!(api_from_c(4), None);
    }
}

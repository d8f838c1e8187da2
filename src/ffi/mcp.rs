//! (0.3) `ylokh_mcp_session`: an MCP server's tools, over stdio or Streamable HTTP (rmcp).

use super::client::ylokh_client;
use super::status::ylokh_status;
use super::{
    boundary, optional_str, read_versioned, required_ref, required_str, status_boundary,
    void_boundary, Out,
};
use crate::error::Error;
use crate::mcp::{http_client, Command, Session, ToolOutput, Transport};
use crate::status::Status;
use std::ffi::{c_char, CString};
use std::mem::offset_of;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long connecting may take when `connect_timeout_ms` is 0.
const DEFAULT_CONNECT_MS: u64 = 30_000;

/// Which MCP server to connect to: a program to start (stdio) or a URL (Streamable HTTP). The
/// caller allocates it, sets `struct_size` to `sizeof(ylokh_mcp_server)` and zeroes what it
/// does not use (`= {0}`). Read during `ylokh_mcp_connect` only.
#[repr(C)]
pub struct ylokh_mcp_server {
    /// `sizeof(ylokh_mcp_server)` as the caller's header has it.
    pub struct_size: usize,
    /// The session's name: `[A-Za-z0-9_-]`, others become `_`, at most 32 characters; the
    /// prefix of its tools' names where they collide in an agent run. NULL: the last argument
    /// that is not an option (its file name without .py/.js), or the URL's host.
    pub name: *const c_char,
    /// stdio: the program and its arguments (`argv[0]` is looked up on PATH); NULL for HTTP.
    pub argv: *const *const c_char,
    pub argc: usize,
    /// stdio: `"NAME=value"` strings set in the server's environment, on top of the caller's.
    pub env: *const *const c_char,
    pub n_env: usize,
    /// Streamable HTTP: the server's endpoint URL (e.g. `http://127.0.0.1:3001/mcp`); NULL for
    /// stdio. Exactly one of `argv` and `url`.
    pub url: *const c_char,
    /// Streamable HTTP: `"Name: value"` headers sent with every request (e.g. an
    /// `Authorization: Bearer …`). Their values never appear in a message or a log record.
    pub headers: *const *const c_char,
    pub n_headers: usize,
    /// How long starting the server and MCP's initialization may take; 0: 30000.
    pub connect_timeout_ms: u64,
}

/// An open MCP session.
///
/// Methods: `ylokh_mcp_connect` (makes it), `ylokh_mcp_session_tools`,
/// `ylokh_mcp_session_tools_changed`, `ylokh_mcp_session_accept_tools`,
/// `ylokh_mcp_session_call` (its result: `ylokh_tool_result_free`), `ylokh_mcp_session_free`.
/// One thread at a time; an agent run that uses it keeps it alive until the run's `on_done`.
pub struct ylokh_mcp_session {
    pub(crate) inner: Arc<Session>,
    tools_json: Mutex<Option<CString>>,
}

/// What a tool call gave. Library-allocated; free it with `ylokh_tool_result_free`.
#[repr(C)]
pub struct ylokh_tool_result {
    /// The text content (text blocks and text resources joined with newlines), UTF-8,
    /// NUL-terminated; "" when there was none.
    pub text: *const c_char,
    pub text_len: usize,
    /// The server marked the result an error (`isError`): the tool ran and failed.
    pub is_error: bool,
    /// Every content block as a chat content part, a JSON array in the server's order:
    /// `{"type":"text","text"}`, `{"type":"image_url","image_url":{"url":"data:…;base64,…"}}`,
    /// `{"type":"input_audio","input_audio":{"data","format"}}`, `{"type":"resource",
    /// "resource":{…}}`, `{"type":"resource_link",…}` (the last two as the server sent them).
    pub content_json: *const c_char,
    /// The server's `structuredContent` as JSON, or NULL.
    pub structured_json: *const c_char,
}

#[repr(C)]
struct ToolResult {
    raw: ylokh_tool_result,
    _text: CString,
    _content: CString,
    _structured: Option<CString>,
}

fn c_string(text: String) -> CString {
    CString::new(text.replace('\0', " ")).expect("NULs were removed")
}

/// The `struct_size` of an older header accepted: the struct without `connect_timeout_ms`.
const OLDER_SERVER_SIZES: [usize; 1] = [offset_of!(ylokh_mcp_server, connect_timeout_ms)];

/// # Safety
/// `list` is NULL or points to `n` NUL-terminated strings.
unsafe fn strings(list: *const *const c_char, n: usize, what: &str) -> Result<Vec<String>, Error> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(Error::invalid(format!(
            "{what} is NULL but its count is {n}"
        )));
    }
    // SAFETY: `n` pointers (the caller's promise).
    let slice = unsafe { std::slice::from_raw_parts(list, n) };
    slice
        .iter()
        .enumerate()
        // SAFETY: each a NUL-terminated string (the caller's promise).
        .map(|(i, &p)| unsafe { required_str(p, &format!("{what}[{i}]")) }.map(str::to_owned))
        .collect()
}

fn split_pairs(items: Vec<String>, sep: char, what: &str) -> Result<Vec<(String, String)>, Error> {
    items
        .into_iter()
        .map(|item| match item.split_once(sep) {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_owned(), v.trim_start().to_owned()))
            }
            // Never the value: it may be a secret.
            _ => Err(Error::invalid(format!(
                "an entry of {what} has no {sep:?}: write it as NAME{sep}value"
            ))),
        })
        .collect()
}

/// Blocking calls cannot run on the client's runtime threads (a request's callbacks).
fn not_on_runtime(what: &str) -> Result<(), Error> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::new(
            Status::RecursiveCall,
            format!("{what} blocks, so it cannot be called from a request's callback; call it from your own thread (or from an agent run's on_tool)"),
        ));
    }
    Ok(())
}

/// Connects to an MCP server and completes MCP's initialization, on the caller's thread
/// (blocking, at most `connect_timeout_ms`), and writes the session to `*out`.
///
/// stdio: the server starts as a child process in a process group of its own, its stderr goes
/// to the log (INFO records), and it is killed with all its children when the session is freed
/// (and on Linux also when the client's runtime ends: the caller exits or forgets to free).
/// Streamable HTTP: through the client's proxy, CA certificates and connect timeout, but with
/// none of its headers or its API key. Failures: YLOKH_CONNECT (could not start or reach the
/// server, or it closed during initialization), YLOKH_TIMEOUT, YLOKH_INVALID_ARGUMENT; `*out` is
/// then untouched. From a request's callback: YLOKH_RECURSIVE_CALL. Free every session before
/// its client.
#[no_mangle]
pub unsafe extern "C" fn ylokh_mcp_connect(
    client: *mut ylokh_client,
    server: *const ylokh_mcp_server,
    out: *mut *mut ylokh_mcp_session,
) -> ylokh_status {
    status_boundary(|| {
        not_on_runtime("ylokh_mcp_connect")?;
        // SAFETY: NULL or valid pointers (the contract).
        let (client, out) = unsafe {
            (
                &required_ref(client, "client")?.inner,
                Out::new(out, "out")?,
            )
        };
        // SAFETY: ylokh_mcp_server is repr(C), starts with `struct_size` and is valid all-zero;
        // `server` is NULL or has `struct_size` readable bytes (the contract).
        let s =
            unsafe { read_versioned(server, "server", "ylokh_mcp_server", &OLDER_SERVER_SIZES)? };
        let timeout_ms = if s.connect_timeout_ms > 0 {
            s.connect_timeout_ms
        } else {
            DEFAULT_CONNECT_MS
        };
        // SAFETY: NULL or valid strings and arrays (the contract).
        let (name, argv, env, url, headers) = unsafe {
            (
                optional_str(s.name, "server->name")?,
                strings(s.argv, s.argc, "server->argv")?,
                strings(s.env, s.n_env, "server->env")?,
                optional_str(s.url, "server->url")?,
                strings(s.headers, s.n_headers, "server->headers")?,
            )
        };
        let runtime = client.runtime_handle()?;
        let env = split_pairs(env, '=', "server->env")?;
        let headers = split_pairs(headers, ':', "server->headers")?;
        let transport =
            match (argv.is_empty(), url) {
                (false, None) => Transport::Stdio(Command {
                    argv: &argv,
                    env: &env,
                }),
                (true, Some(url)) => Transport::Http {
                    url,
                    headers: &headers,
                    http: http_client(client.options())?,
                },
                _ => return Err(Error::invalid(
                    "give exactly one of server->argv (stdio) and server->url (Streamable HTTP)",
                )),
            };
        let session =
            Session::connect(&runtime, transport, name, Duration::from_millis(timeout_ms))?;
        out.write(Box::into_raw(Box::new(ylokh_mcp_session {
            inner: Arc::new(session),
            tools_json: Mutex::new(None),
        })));
        Ok(())
    })
}

/// Writes the server's tools to `*tools_json` as a chat-format `tools` JSON array
/// (`[{"type":"function","function":{"name","description","parameters"}}]`, `parameters`
/// being the tool's input schema), each name prefixed with `prefix` and `_` when `prefix` is
/// not NULL. Lists them now (blocking, at most `timeout_ms`; 0: 30000). The first listing is
/// the session's accepted tool list; when a later one differs (or the server sent
/// `notifications/tools/list_changed`), `ylokh_mcp_session_tools_changed` says so. The string
/// is owned by the session: valid until the next call of this function on it or its free.
/// Failures as for `ylokh_mcp_session_call`; `*tools_json` is then untouched.
#[no_mangle]
pub unsafe extern "C" fn ylokh_mcp_session_tools(
    s: *mut ylokh_mcp_session,
    prefix: *const c_char,
    timeout_ms: u64,
    tools_json: *mut *const c_char,
) -> ylokh_status {
    status_boundary(|| {
        not_on_runtime("ylokh_mcp_session_tools")?;
        // SAFETY: NULL or a live session, a NULL or NUL-terminated string, and NULL or a
        // writable pointer (the contract).
        let (s, prefix, out) = unsafe {
            (
                required_ref(s, "session")?,
                optional_str(prefix, "prefix")?,
                Out::new(tools_json, "tools_json")?,
            )
        };
        let (tools, _) = s.inner.tools(prefix, timeout(timeout_ms))?;
        let text = c_string(tools.to_string());
        let mut slot = s.tools_json.lock().unwrap_or_else(|e| e.into_inner());
        out.write(slot.insert(text).as_ptr());
        Ok(())
    })
}

fn timeout(ms: u64) -> Duration {
    Duration::from_millis(if ms == 0 { DEFAULT_CONNECT_MS } else { ms })
}

/// Whether the server's tool list changed since it was accepted (the first listing): a
/// listing differed, or the server sent `notifications/tools/list_changed` and a new listing
/// (made here, blocking at most 30 s) differs; a WARN record names the tools added, removed
/// or changed. While true, `ylokh_mcp_session_call` fails with YLOKH_PROTOCOL and an agent run
/// gives the model an error result instead of calling: a changed tool is never used silently.
/// NULL, or a listing that failed: true (`ylokh_last_error` says why).
#[no_mangle]
pub unsafe extern "C" fn ylokh_mcp_session_tools_changed(s: *const ylokh_mcp_session) -> bool {
    boundary(
        |_| true,
        || {
            not_on_runtime("ylokh_mcp_session_tools_changed")?;
            // SAFETY: NULL or a live session (the contract).
            let s = unsafe { required_ref(s, "session")? };
            s.inner.tools_changed(timeout(0))
        },
    )
}

/// Lists the tools again and accepts that list as the session's (calls go through again).
#[no_mangle]
pub unsafe extern "C" fn ylokh_mcp_session_accept_tools(
    s: *mut ylokh_mcp_session,
    timeout_ms: u64,
) -> ylokh_status {
    status_boundary(|| {
        not_on_runtime("ylokh_mcp_session_accept_tools")?;
        // SAFETY: NULL or a live session (the contract).
        let s = unsafe { required_ref(s, "session")? };
        s.inner.accept_tools(timeout(timeout_ms))
    })
}

/// Calls `tool` (its name as the server knows it) with `arguments_json` (a JSON object; NULL or
/// "": none), blocking at most `timeout_ms` (0: 30000), and writes the result to `*out`.
/// YLOKH_OK whenever the server answered, even when it marked the result an error
/// (`is_error`). Else: YLOKH_TIMEOUT (no answer in time; the session stays usable),
/// YLOKH_CONNECT (the server is gone: it exited, crashed or closed the connection; open a new
/// session), YLOKH_SERVER_ERROR (a JSON-RPC error, e.g. an unknown tool), YLOKH_PROTOCOL (the
/// tool list changed, see `ylokh_mcp_session_tools_changed`), YLOKH_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn ylokh_mcp_session_call(
    s: *mut ylokh_mcp_session,
    tool: *const c_char,
    arguments_json: *const c_char,
    timeout_ms: u64,
    out: *mut *mut ylokh_tool_result,
) -> ylokh_status {
    status_boundary(|| {
        not_on_runtime("ylokh_mcp_session_call")?;
        // SAFETY: NULL or valid pointers (the contract).
        let (s, tool, arguments, out) = unsafe {
            (
                required_ref(s, "session")?,
                required_str(tool, "tool")?,
                optional_str(arguments_json, "arguments_json")?,
                Out::new(out, "out")?,
            )
        };
        let output = s
            .inner
            .call(tool, arguments.unwrap_or(""), timeout(timeout_ms))?;
        out.write(tool_result(output));
        Ok(())
    })
}

fn tool_result(output: ToolOutput) -> *mut ylokh_tool_result {
    let text = c_string(output.text);
    let content = c_string(output.parts.to_string());
    let structured = output.structured.map(|v| c_string(v.to_string()));
    let boxed = Box::new(ToolResult {
        raw: ylokh_tool_result {
            text: text.as_ptr(),
            text_len: text.as_bytes().len(),
            is_error: output.is_error,
            content_json: content.as_ptr(),
            structured_json: structured.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
        },
        _text: text,
        _content: content,
        _structured: structured,
    });
    // `raw` is the first member of a #[repr(C)]-free struct: hand out a pointer to it and find
    // the box again from it in the free (see ylokh_tool_result_free).
    Box::into_raw(boxed).cast()
}

/// Frees a tool result. NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn ylokh_tool_result_free(r: *mut ylokh_tool_result) {
    void_boundary(|| {
        if !r.is_null() {
            // SAFETY: a pointer from tool_result (a `ToolResult` box, `raw` at offset 0 as
            // asserted below), freed once (the contract).
            drop(unsafe { Box::from_raw(r.cast::<ToolResult>()) });
        }
    })
}

const _: () = assert!(offset_of!(ToolResult, raw) == 0);

/// Ends the session: closes the connection (HTTP: deletes the server-side session) and kills a
/// stdio server with all its children; off the library's threads, returns once they are
/// reaped (at most about 7 s for a server that ignores everything). An agent run still using
/// it keeps it until the run ends. NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn ylokh_mcp_session_free(s: *mut ylokh_mcp_session) {
    void_boundary(|| {
        if !s.is_null() {
            // SAFETY: a pointer from ylokh_mcp_connect, freed once (the contract).
            drop(unsafe { Box::from_raw(s) });
        }
    })
}

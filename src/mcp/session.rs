//! One MCP session over rmcp: connect (stdio or Streamable HTTP), list the tools as chat-format
//! tool definitions, call one with a time limit, notice a tool list that changes under the
//! session, and end it (the server process with it). Blocking methods, for a caller's thread.

use super::content::{tool_output, ToolOutput};
use super::http::Http;
use super::stdio;
use crate::error::Error;
use crate::log::{log, DEBUG, WARN};
use crate::status::Status;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, Peer, RoleClient, ServiceError, ServiceExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// How long `free` waits for a stdio server's processes to be gone.
const REAP_WAIT: Duration = Duration::from_secs(5);
/// How long a session may take to close before its server is killed.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

/// Our side of the session: it notices `notifications/tools/list_changed`.
#[derive(Clone)]
struct Watch {
    name: Arc<str>,
    notified: Arc<AtomicBool>,
}

impl ClientHandler for Watch {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        log!(DEBUG, "MCP server {}: notifications/tools/list_changed: the list is compared before the next call", self.name);
        self.notified.store(true, Ordering::SeqCst);
    }
}

/// Where a session goes.
pub enum Transport<'a> {
    Stdio(stdio::Command<'a>),
    /// The URL, the headers to send with every request (name, value), the client's HTTP client.
    Http {
        url: &'a str,
        headers: &'a [(String, String)],
        http: reqwest::Client,
    },
}

#[derive(Default)]
struct Tools {
    /// The tool list the caller accepted (the first listing, or `accept_tools`).
    accepted: Option<Vec<Value>>,
}

pub struct Session {
    name: String,
    runtime: Handle,
    service: Option<RunningService<RoleClient, Watch>>,
    peer: Peer<RoleClient>,
    /// Set by `notifications/tools/list_changed`: list again before the next call.
    notified: Arc<AtomicBool>,
    /// Set when a listing differs from the accepted one.
    changed: AtomicBool,
    tools: Mutex<Tools>,
    /// The stdio server's process group, 0 for HTTP.
    pgid: i32,
}

/// A name made of `[A-Za-z0-9_-]` (a tool-name prefix must be valid in every API).
fn clean_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    if name.is_empty() {
        "mcp".to_owned()
    } else {
        name
    }
}

/// The default name: the last argument that is not an option (its file name), or the URL's host.
fn default_name(transport: &Transport<'_>) -> String {
    match transport {
        Transport::Stdio(c) => {
            let last = c.argv.iter().rev().find(|a| !a.starts_with('-'));
            let last = last.map_or("mcp", |a| a.rsplit('/').next().unwrap_or(a));
            clean_name(last.trim_end_matches(".py").trim_end_matches(".js"))
        }
        Transport::Http { url, .. } => clean_name(
            reqwest::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .as_deref()
                .unwrap_or("mcp"),
        ),
    }
}

/// A URL for messages: scheme, host, port and path only (no userinfo, no query).
fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        Err(_) => "(a URL that does not parse)".to_owned(),
    }
}

fn service_error(name: &str, what: &str, e: ServiceError) -> Error {
    match e {
        ServiceError::McpError(data) => Error::new(
            Status::ServerError,
            format!("MCP server {name}: {what} failed: the server answered error {}: {}", data.code.0, data.message),
        ),
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => Error::new(
            Status::Connect,
            format!("MCP server {name}: {what} failed: the server is gone (its process exited or the connection closed: {e}); its stderr is in the log; open a new session"),
        ),
        ServiceError::Timeout { .. } => Error::new(
            Status::Timeout,
            format!("MCP server {name}: {what} timed out ({e})"),
        ),
        other => Error::protocol(format!("MCP server {name}: {what} failed: {other}")),
    }
}

/// A tool as a chat-format tool definition, its name given `prefix` + "_" when there is one.
fn chat_tool(tool: &Value, prefix: Option<&str>) -> Value {
    let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
    let name = match prefix {
        Some(p) => format!("{p}_{name}"),
        None => name.to_owned(),
    };
    let mut function = json!({"name": name});
    if let Some(d) = tool.get("description") {
        function["description"] = d.clone();
    }
    function["parameters"] = tool
        .get("inputSchema")
        .cloned()
        .unwrap_or_else(|| json!({"type":"object","properties":{}}));
    json!({"type":"function","function":function})
}

/// What changed between two listings, for the log: added, removed and changed tool names.
fn difference(old: &[Value], new: &[Value]) -> String {
    let by_name = |list: &[Value]| -> HashMap<String, Value> {
        list.iter()
            .map(|t| {
                (
                    t.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    t.clone(),
                )
            })
            .collect()
    };
    let (old, new) = (by_name(old), by_name(new));
    let mut parts = Vec::new();
    let mut added: Vec<_> = new
        .keys()
        .filter(|k| !old.contains_key(*k))
        .cloned()
        .collect();
    let mut removed: Vec<_> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    let mut changed: Vec<_> = new
        .iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .map(|(k, _)| k.clone())
        .collect();
    for (what, list) in [
        ("added", &mut added),
        ("removed", &mut removed),
        ("changed", &mut changed),
    ] {
        list.sort();
        if !list.is_empty() {
            parts.push(format!("{what}: {}", list.join(", ")));
        }
    }
    parts.join("; ")
}

impl Session {
    /// Connects and completes MCP's initialization within `timeout`. Runs on the caller's
    /// thread, never a runtime thread.
    pub fn connect(
        runtime: &Handle,
        transport: Transport<'_>,
        name: Option<&str>,
        timeout: Duration,
    ) -> Result<Session, Error> {
        let name = name.map_or_else(|| default_name(&transport), clean_name);
        let notified = Arc::new(AtomicBool::new(false));
        let watch = Watch {
            name: name.clone().into(),
            notified: notified.clone(),
        };
        let limit = |e: tokio::time::error::Elapsed| {
            let _ = e;
            Error::new(
                Status::Timeout,
                format!(
                    "MCP server {name}: it did not complete MCP's initialization within {} ms",
                    timeout.as_millis()
                ),
            )
        };
        let init_error = |e: rmcp::service::ClientInitializeError| {
            Error::new(
                Status::Connect,
                format!("MCP server {name}: initialization failed: {e}"),
            )
        };
        let (service, pgid) = match transport {
            Transport::Stdio(command) => {
                let argv = command.argv.to_vec();
                let env = command.env.to_vec();
                let (task_name, task_watch) = (name.clone(), watch);
                let task = runtime.spawn(async move {
                    let command = stdio::Command {
                        argv: &argv,
                        env: &env,
                    };
                    let (process, pgid) = stdio::spawn(&task_name, &command)?;
                    let service = tokio::time::timeout(timeout, task_watch.serve(process)).await;
                    Ok::<_, Error>((service, pgid))
                });
                let (service, pgid) = runtime
                    .block_on(task)
                    .map_err(|e| Error::internal(format!("the connect task failed: {e}")))??;
                (service.map_err(limit)?.map_err(init_error)?, pgid)
            }
            Transport::Http { url, headers, http } => {
                let shown = shown_url(url);
                if reqwest::Url::parse(url).is_err() {
                    return Err(Error::invalid(format!(
                        "the MCP server URL {shown} is not a URL"
                    )));
                }
                let mut custom = HashMap::new();
                for (k, v) in headers {
                    let name =
                        reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                            Error::invalid(format!(
                                "the header name {k:?} is not a valid HTTP header name"
                            ))
                        })?;
                    let mut value = reqwest::header::HeaderValue::from_str(v)
                        .map_err(|_| Error::invalid(format!("the value of header {k} is not a valid HTTP header value (its text is not shown: it may be a secret)")))?;
                    value.set_sensitive(true);
                    custom.insert(name, value);
                }
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
                config.custom_headers = custom;
                let service = runtime
                    .block_on(async {
                        // Made inside the runtime: rmcp spawns its worker task here.
                        let transport =
                            StreamableHttpClientTransport::with_client(Http(http), config);
                        tokio::time::timeout(timeout, watch.serve(transport)).await
                    })
                    .map_err(limit)?
                    .map_err(|e| {
                        Error::new(
                            Status::Connect,
                            format!("MCP server {name} at {shown}: initialization failed: {e}"),
                        )
                    })?;
                (service, 0)
            }
        };
        log!(DEBUG, "MCP server {name}: session open");
        Ok(Session {
            peer: service.peer().clone(),
            service: Some(service),
            name,
            runtime: runtime.clone(),
            notified,
            changed: AtomicBool::new(false),
            tools: Mutex::default(),
            pgid,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Lists every tool (all pages), as the server describes them (MCP's shape).
    fn list(&self, timeout: Duration) -> Result<Vec<Value>, Error> {
        let peer = self.peer.clone();
        let listed = self
            .runtime
            .block_on(async move { tokio::time::timeout(timeout, peer.list_all_tools()).await })
            .map_err(|_| {
                Error::new(
                    Status::Timeout,
                    format!(
                        "MCP server {}: tools/list did not answer within {} ms",
                        self.name,
                        timeout.as_millis()
                    ),
                )
            })?
            .map_err(|e| service_error(&self.name, "tools/list", e))?;
        listed
            .iter()
            .map(|t| serde_json::to_value(t).map_err(|e| Error::internal(e.to_string())))
            .collect()
    }

    /// The server's tools as a chat-format `tools` array (names given `prefix` + "_" when
    /// `prefix` is set), and whether the list differs from the one accepted before (the first
    /// listing is accepted as it is). A change is logged (WARN, naming the tools) and makes
    /// `call` fail until [`accept_tools`](Self::accept_tools).
    pub fn tools(&self, prefix: Option<&str>, timeout: Duration) -> Result<(Value, bool), Error> {
        let listed = self.list(timeout)?;
        let mut tools = self.tools.lock().unwrap_or_else(|e| e.into_inner());
        let differs = match &tools.accepted {
            None => {
                tools.accepted = Some(listed.clone());
                self.notified.store(false, Ordering::SeqCst);
                false
            }
            Some(accepted) if *accepted == listed => false,
            Some(accepted) => {
                log!(WARN, "MCP server {}: its tool list changed under the session ({}); calls fail until the caller accepts the new list", self.name, difference(accepted, &listed));
                true
            }
        };
        if differs {
            self.changed.store(true, Ordering::SeqCst);
        }
        let array = listed.iter().map(|t| chat_tool(t, prefix)).collect();
        Ok((Value::Array(array), self.changed.load(Ordering::SeqCst)))
    }

    /// Whether the tool list changed since it was accepted. After a
    /// `notifications/tools/list_changed` this lists the tools again (within `timeout`) and
    /// compares: a server that says "changed" and lists the same tools has not changed them.
    pub fn tools_changed(&self, timeout: Duration) -> Result<bool, Error> {
        let accepted = self
            .tools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .accepted
            .is_some();
        if accepted && self.notified.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.tools(None, timeout) {
                self.notified.store(true, Ordering::SeqCst);
                return Err(e);
            }
        }
        Ok(self.changed.load(Ordering::SeqCst))
    }

    /// Accepts the server's current tool list (listing it again) and lets calls through.
    pub fn accept_tools(&self, timeout: Duration) -> Result<(), Error> {
        let listed = self.list(timeout)?;
        let mut tools = self.tools.lock().unwrap_or_else(|e| e.into_inner());
        tools.accepted = Some(listed);
        self.notified.store(false, Ordering::SeqCst);
        self.changed.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// The names of the accepted tools (listing them first when nothing was listed yet).
    pub fn tool_names(&self, timeout: Duration) -> Result<Vec<String>, Error> {
        if self
            .tools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .accepted
            .is_none()
        {
            self.tools(None, timeout)?;
        }
        let tools = self.tools.lock().unwrap_or_else(|e| e.into_inner());
        Ok(tools
            .accepted
            .iter()
            .flatten()
            .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// The accepted tools as chat-format definitions (see [`tools`](Self::tools)).
    pub fn accepted_tools(
        &self,
        prefix: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<Value>, Error> {
        self.tool_names(timeout)?;
        let tools = self.tools.lock().unwrap_or_else(|e| e.into_inner());
        Ok(tools
            .accepted
            .iter()
            .flatten()
            .map(|t| chat_tool(t, prefix))
            .collect())
    }

    /// Calls `tool` with `arguments` (a JSON object's text; empty: none) within `timeout`.
    /// A result the server marks an error is `Ok` with `is_error`; a failure to get a result
    /// at all (server gone, timeout, JSON-RPC error, a changed tool list) is `Err`.
    pub fn call(
        &self,
        tool: &str,
        arguments: &str,
        timeout: Duration,
    ) -> Result<ToolOutput, Error> {
        self.call_until(tool, arguments, timeout, std::future::pending())
    }

    /// [`call`](Self::call) that gives up with `Status::Cancelled` once `cancel` completes.
    pub fn call_until(
        &self,
        tool: &str,
        arguments: &str,
        timeout: Duration,
        cancel: impl std::future::Future<Output = ()> + Send,
    ) -> Result<ToolOutput, Error> {
        if self.tools_changed(timeout)? {
            return Err(Error::protocol(format!(
                "MCP server {}: its tool list changed since it was accepted, so {tool} was not called; look at the new list (ylokh_mcp_session_tools) and accept it (ylokh_mcp_session_accept_tools) if you trust it",
                self.name
            )));
        }
        let arguments = match arguments.trim() {
            "" => None,
            text => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Some(map),
                Ok(_) => {
                    return Err(Error::invalid(format!(
                        "the arguments of {tool} must be a JSON object"
                    )))
                }
                Err(e) => {
                    return Err(Error::invalid(format!(
                        "the arguments of {tool} are not valid JSON: {e}"
                    )))
                }
            },
        };
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = arguments;
        let peer = self.peer.clone();
        let started = Instant::now();
        let result = self
            .runtime
            .block_on(async move {
                tokio::select! {
                    result = tokio::time::timeout(timeout, peer.call_tool(params)) => Ok(result),
                    () = cancel => Err(Error::new(Status::Cancelled, "the tool call was cancelled")),
                }
            })?
            .map_err(|_| {
                Error::new(Status::Timeout, format!("MCP server {}: the tool {tool} did not answer within {} ms", self.name, timeout.as_millis()))
            })?
            .map_err(|e| service_error(&self.name, &format!("calling {tool}"), e))?;
        log!(
            DEBUG,
            "MCP server {}: {tool} answered in {} ms",
            self.name,
            started.elapsed().as_millis()
        );
        let json = serde_json::to_value(&result).map_err(|e| Error::internal(e.to_string()))?;
        Ok(tool_output(&json))
    }
}

impl Drop for Session {
    /// Ends the session: closes the connection (HTTP: rmcp deletes its session), kills a stdio
    /// server's process group and, off the library's threads, waits until it is reaped.
    fn drop(&mut self) {
        let Some(service) = self.service.take() else {
            return;
        };
        let (name, pgid) = (self.name.clone(), self.pgid);
        let end = async move {
            // A server that does not end when its input closes is killed (SIGKILL to its
            // group); rmcp's transport then reaps it.
            if tokio::time::timeout(CLOSE_WAIT, service.cancel())
                .await
                .is_err()
            {
                log!(
                    DEBUG,
                    "MCP server {name}: not closed within {} ms: killed",
                    CLOSE_WAIT.as_millis()
                );
                if pgid > 0 {
                    // SAFETY: a signal to the server's own process group.
                    unsafe { libc::kill(-pgid, libc::SIGKILL) };
                }
            }
        };
        if crate::thread::on_library_thread() {
            self.runtime.spawn(end);
            return;
        }
        let _ = self.runtime.block_on(async { tokio::spawn(end).await });
        let deadline = Instant::now() + REAP_WAIT;
        while stdio::group_alive(self.pgid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if stdio::group_alive(self.pgid) {
            log!(
                WARN,
                "MCP server {}: its processes were still there {} s after the session ended",
                self.name,
                REAP_WAIT.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_defaulted() {
        assert_eq!(clean_name("my server!"), "my_server_");
        assert_eq!(clean_name(""), "mcp");
        let argv = [
            "npx".to_owned(),
            "-y".to_owned(),
            "@modelcontextprotocol/server-everything".to_owned(),
            "stdio".to_owned(),
        ];
        let t = Transport::Stdio(stdio::Command {
            argv: &argv,
            env: &[],
        });
        assert_eq!(default_name(&t), "stdio");
        let argv = ["python3".to_owned(), "tests/mcp/fake.py".to_owned()];
        let t = Transport::Stdio(stdio::Command {
            argv: &argv,
            env: &[],
        });
        assert_eq!(default_name(&t), "fake");
    }

    #[test]
    fn shown_urls_lose_userinfo_and_query() {
        assert_eq!(
            shown_url("http://u:secret@127.0.0.1:9/mcp?token=abc"),
            "http://127.0.0.1:9/mcp"
        );
    }

    #[test]
    fn tools_become_chat_definitions_with_an_optional_prefix() {
        let tool = json!({"name":"get_time","description":"d","inputSchema":{"type":"object"}});
        assert_eq!(
            chat_tool(&tool, Some("time")),
            json!({"type":"function","function":{"name":"time_get_time","description":"d","parameters":{"type":"object"}}})
        );
        assert_eq!(chat_tool(&tool, None)["function"]["name"], "get_time");
    }

    #[test]
    fn a_changed_list_is_described_by_name() {
        let old = [json!({"name":"a"}), json!({"name":"b","description":"x"})];
        let new = [json!({"name":"b","description":"y"}), json!({"name":"c"})];
        assert_eq!(difference(&old, &new), "added: c; removed: a; changed: b");
    }
}

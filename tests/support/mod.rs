//! Test support: a scripted OpenAI-compatible server on 127.0.0.1 (port 0), and helpers that
//! build C and C++ programs against the freshly built library. The HTTP machinery under the
//! scenarios is `server.rs` and the build helpers are `build.rs`; the benchmark reuses both.
//!
//! The base URL `http://127.0.0.1:PORT/<scenario>/v1` selects what the server does; the
//! scenarios are listed in `respond`; `replay3-DIR.NAME` replays `tests/fixtures/DIR/NAME.sse`
//! (or `.json`) 3 bytes at a time.
#![allow(dead_code)]

mod agentloop;
mod build;
pub mod capi;
mod embeddings;
mod limits;
pub mod local;
pub mod providers;
mod server;
pub mod transcript;

// Each test program uses some of them.
#[allow(unused_imports)]
pub use build::{compile, lib_dir, link_soname, tmp_path};
use server::{accept_loop, chunk, end, head, read_request, whole, Request};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A connection the test server talks over: plain TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {
    /// The TCP socket itself (plain TCP only), for the scenarios that end connections on their own.
    fn tcp(&self) -> Option<&TcpStream> {
        None
    }
}
impl Io for TcpStream {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self)
    }
}
impl Io for tokio_rustls::server::TlsStream<TcpStream> {}
type Sock = dyn Io;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

pub struct Server {
    pub port: u16,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Requests that arrived for `scenario` (the whole first path segment).
    pub fn hits(&self, scenario: &str) -> u32 {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(scenario)
            .copied()
            .unwrap_or(0)
    }

    /// Kept-alive connections the `closeafter`/`resetafter` scenarios ended while the client's
    /// next request on them was waiting, unanswered: each is a reused connection that died.
    pub fn killed_with_request(&self) -> u64 {
        self.state.killed_with_request.load(Ordering::SeqCst)
    }

    /// What the resumable scenarios saw, in order: "POST id", "GET id from", "DELETE id".
    pub fn stream_log(&self) -> Vec<String> {
        self.state.stream_log.lock().unwrap().clone()
    }
}

#[derive(Default)]
struct State {
    connections: AtomicU64,
    hits: Mutex<HashMap<String, u32>>,
    killed_with_request: AtomicU64,
    /// The resumable scenarios' copies of their streams, by conversation id.
    streams: Mutex<HashMap<String, Vec<u8>>>,
    stream_log: Mutex<Vec<String>>,
}

pub fn start_server() -> Server {
    start(None)
}

/// The same server over TLS, with `config`'s certificate.
pub fn start_tls_server(config: tokio_rustls::rustls::ServerConfig) -> Server {
    start(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

fn start(tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = Arc::new(State::default());
    let server_state = state.clone();
    runtime.spawn(accept_loop(listener, move |socket| {
        let conn = state.connections.fetch_add(1, Ordering::SeqCst) + 1;
        let (state, tls) = (state.clone(), tls.clone());
        async move {
            let _ = match tls {
                None => serve(Box::new(socket), port, conn, state).await,
                Some(tls) => match tls.accept(socket).await {
                    Ok(stream) => serve(Box::new(stream), port, conn, state).await,
                    Err(_) => Ok(()), // the client refused our certificate
                },
            };
        }
    }));
    Server {
        port,
        state: server_state,
        _runtime: runtime,
    }
}

async fn serve(
    mut socket: Box<Sock>,
    port: u16,
    conn: u64,
    state: Arc<State>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut nth = 0;
    while let Some(mut request) = read_request(&mut *socket, &mut buf).await? {
        request.port = port;
        nth += 1;
        request.nth_on_connection = nth;
        let scenario = request
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let hit = {
            let mut hits = state.hits.lock().unwrap();
            let n = hits.entry(scenario.clone()).or_default();
            *n += 1;
            *n
        };
        if !respond(&mut *socket, &scenario, hit, conn, &request, &state).await? {
            return Ok(()); // the response closed the connection
        }
        if matches!(
            scenario.split('-').next(),
            Some("closeafter" | "resetafter")
        ) {
            let tcp = socket.tcp().expect("closeafter/resetafter need plain TCP");
            end_after_answer(tcp, scenario.starts_with("reset"), conn, &state).await?;
            return Ok(());
        }
    }
    Ok(())
}

/// The idle timer of a server that ends kept-alive connections early, after a complete answer
/// (sent with keep-alive): `closeafter` closes the connection 0 to 4 ms later, whatever the
/// client does meanwhile (a FIN, or a reset when the client's next request is there unread);
/// `resetafter` resets it (SO_LINGER 0) as soon as the client's next request begins to arrive,
/// or after 20 ms. Neither reads or answers a second request; the ones that were waiting are
/// counted in `killed_with_request`.
async fn end_after_answer(
    tcp: &TcpStream,
    reset: bool,
    conn: u64,
    state: &State,
) -> std::io::Result<()> {
    let mut probe = [0u8; 1];
    let waiting = if reset {
        tcp.set_zero_linger()?;
        let next = tokio::time::timeout(Duration::from_millis(20), tcp.peek(&mut probe)).await;
        matches!(next, Ok(Ok(n)) if n > 0)
    } else {
        tokio::time::sleep(Duration::from_millis(conn % 5)).await;
        let next = tokio::time::timeout(Duration::from_millis(1), tcp.peek(&mut probe)).await;
        matches!(next, Ok(Ok(n)) if n > 0)
    };
    if waiting {
        state.killed_with_request.fetch_add(1, Ordering::SeqCst);
    }
    Ok(()) // the caller drops the socket
}

fn chunk_event(content: &str) -> String {
    format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}},\"finish_reason\":null}}],\"object\":\"chat.completion.chunk\"}}\n\n",
        serde_json::Value::from(content)
    )
}

const FINISH: &str =
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
const DONE: &str = "data: [DONE]\n\n";

/// Replays a captured fixture: its own headers, the body as chunks of one event each when
/// the headers say chunked.
async fn fixture(socket: &mut Sock, name: &str, body_file: &str) -> std::io::Result<bool> {
    let headers = std::fs::read(format!("{FIXTURES}/{name}.headers"))?;
    let body = std::fs::read(format!("{FIXTURES}/{body_file}"))?;
    socket.write_all(&headers).await?;
    if String::from_utf8_lossy(&headers).contains("chunked") {
        for event in body.split_inclusive(|&b| b == b'\n') {
            chunk(socket, event).await?;
        }
        end(socket).await?;
    } else {
        socket.write_all(&body).await?;
        socket.flush().await?;
    }
    Ok(!String::from_utf8_lossy(&headers).contains("Connection: close"))
}

/// Writes the response for `scenario`; returns whether the connection stays open.
async fn respond(
    s: &mut Sock,
    scenario: &str,
    hit: u32,
    conn: u64,
    req: &Request,
    state: &State,
) -> std::io::Result<bool> {
    let sse = "text/event-stream";
    let base = scenario.split('-').next().unwrap_or("");
    match base {
        "resume" | "resumestall" | "noresume" | "lostresume" => {
            return resumable(s, scenario, req, state).await;
        }
        "bgresume" | "bgstall" => return background(s, scenario, req, state).await,
        "longanswer" | "pings" | "hosted" | "lengthcut" | "oddusage" | "manycalls" => {
            return limits::respond(s, scenario).await;
        }
        "agentloop" => return agentloop::respond(s, req).await,
        "emb" => return embeddings::respond(s, scenario, req).await,
        "stream" => return fixture(s, "llama-stream", "llama-stream.sse").await,
        "streamcl" => {
            let body = std::fs::read(format!("{FIXTURES}/llama-stream.sse"))?;
            whole(s, "200 OK", sse, "", &body).await?;
        }
        "nonstream" => return fixture(s, "llama-nonstream", "llama-nonstream.json").await,
        "usageru" => return fixture(s, "llama-stream", "llama-stream-usage-ru.sse").await,
        "badjson" => return fixture(s, "llama-badjson", "llama-badjson.json").await,
        "nomessages" => return fixture(s, "llama-nomessages", "llama-nomessages.json").await,
        "weird" => return fixture(s, "llama-weird", "llama-weird.sse").await,
        "replay3" => {
            // `replay3-DIR.NAME`: tests/fixtures/DIR/NAME.sse as an event stream, or NAME.json
            // as a whole body, written 3 bytes at a time.
            let (dir, name) = scenario["replay3-".len()..]
                .split_once('.')
                .expect("replay3-DIR.NAME");
            let sse_file = format!("{FIXTURES}/{dir}/{name}.sse");
            let (body, content_type) = match std::fs::read(&sse_file) {
                Ok(body) => (body, sse),
                Err(_) => (
                    std::fs::read(format!("{FIXTURES}/{dir}/{name}.json"))?,
                    "application/json",
                ),
            };
            head(s, "200 OK", content_type, "").await?;
            for piece in body.chunks(3) {
                chunk(s, piece).await?;
            }
            end(s).await?;
        }
        "rules" => {
            // Every decoder rule, written a few bytes at a time.
            let mut body = b"\xEF\xBB\xBF: ping\r\n\r\n".to_vec();
            body.extend_from_slice(b"data:{\"choices\":[{\"delta\":{\"content\":\"one \"}}]}\r\r");
            body.extend_from_slice(b"event: message\nid: 7\nretry: 1000\ndata: {\"choices\":\ndata: [{\"delta\":{\"content\":\"two \"}}]}\n\n");
            body.extend_from_slice(b": comment\ndata: {\"choices\":[{\"delta\":{\"content\":\"\xD1\x82\xD1\x80\xD0\xB8 \"}}]}\r\n\r\n");
            body.extend_from_slice(b"data: {\"choices\":[{\"delta\":{\"content\":null}}]}\n\ndata: {\"choices\":[]}\n\n");
            body.extend_from_slice(
                b"data: {\"choices\":[{\"delta\":{\"content\":\"\\u00e9\\n\"}}]}\n\n",
            );
            body.extend_from_slice(FINISH.as_bytes());
            body.extend_from_slice(DONE.as_bytes());
            head(s, "200 OK", "text/event-stream; charset=utf-8", "").await?;
            for piece in body.chunks(3) {
                chunk(s, piece).await?;
                s.flush().await?;
            }
            end(s).await?;
        }
        "reasoning" => {
            head(s, "200 OK", sse, "").await?;
            chunk(
                s,
                b"data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"think\"}}]}\n\n",
            )
            .await?;
            chunk(
                s,
                b"data: {\"choices\":[{\"delta\":{\"reasoning\":\"more\"}}]}\n\n",
            )
            .await?;
            chunk(s, chunk_event("answer").as_bytes()).await?;
            chunk(s, FINISH.as_bytes()).await?;
            chunk(s, b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n").await?;
            chunk(s, DONE.as_bytes()).await?;
            end(s).await?;
        }
        "errorinstream" => {
            head(s, "200 OK", sse, "").await?;
            chunk(s, chunk_event("partial").as_bytes()).await?;
            chunk(
                s,
                b"data: {\"error\":{\"message\":\"model crashed\",\"code\":500}}\n\n",
            )
            .await?;
            end(s).await?;
        }
        "errorevent" => {
            head(s, "200 OK", sse, "").await?;
            chunk(
                s,
                b"event: error\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n",
            )
            .await?;
            end(s).await?;
        }
        "truncated" => {
            head(s, "200 OK", sse, "").await?;
            chunk(s, chunk_event("a").as_bytes()).await?;
            chunk(s, chunk_event("b").as_bytes()).await?;
            chunk(s, b"data: {\"choices\":[{\"delta\":{\"content\":\"c").await?;
            end(s).await?;
        }
        "finishnodone" => {
            let body = format!("{}{}", chunk_event("fine"), FINISH);
            whole(s, "200 OK", sse, "Connection: close\r\n", body.as_bytes()).await?;
            return Ok(false);
        }
        "badevent" => {
            head(s, "200 OK", sse, "").await?;
            chunk(s, b"data: {not json}\n\n").await?;
            end(s).await?;
        }
        "html" => {
            whole(
                s,
                "200 OK",
                "text/html",
                "",
                b"<html><body>Welcome to nginx!</body></html>",
            )
            .await?
        }
        "jsonerror" => {
            whole(
                s,
                "200 OK",
                "application/json",
                "",
                b"{\"error\":{\"message\":\"quota exceeded\"}}",
            )
            .await?
        }
        "bigevent" => {
            head(s, "200 OK", sse, "").await?;
            chunk(s, chunk_event(&"x".repeat(2000)).as_bytes()).await?;
            chunk(s, DONE.as_bytes()).await?;
            end(s).await?;
        }
        "stall" => {
            head(s, "200 OK", sse, "").await?;
            chunk(s, chunk_event("first").as_bytes()).await?;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Ok(false);
        }
        "stallfirst" => {
            // The headers and a keep-alive comment, then nothing: a prefill that never ends.
            head(s, "200 OK", sse, "").await?;
            chunk(s, b": ping\n\n").await?;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Ok(false);
        }
        "slowprefill" => {
            // The headers at once, the first token 800 ms later, then the rest promptly.
            head(s, "200 OK", sse, "").await?;
            tokio::time::sleep(Duration::from_millis(800)).await;
            for word in ["slow ", "prefill ", "done"] {
                chunk(s, chunk_event(word).as_bytes()).await?;
            }
            chunk(s, FINISH.as_bytes()).await?;
            chunk(s, DONE.as_bytes()).await?;
            end(s).await?;
        }
        "slowstart" => {
            // Nothing for 2 s: the pull interface has no event to hand out before then.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let body = format!("{}{}{}", chunk_event("late"), FINISH, DONE);
            whole(s, "200 OK", sse, "", body.as_bytes()).await?;
        }
        "million" => {
            // 1,000,000 tokens as fast as the client takes them, 100 events to an HTTP chunk:
            // for the pull queue's backpressure.
            head(s, "200 OK", sse, "").await?;
            let mut batch = String::new();
            for i in 0..1_000_000u32 {
                batch.push_str(&chunk_event(&format!("w{} ", i % 1000)));
                if i % 100 == 99 {
                    chunk(s, batch.as_bytes()).await?;
                    batch.clear();
                }
            }
            chunk(s, FINISH.as_bytes()).await?;
            chunk(s, DONE.as_bytes()).await?;
            end(s).await?;
        }
        "trickle" => {
            // A token every 20 ms, for a long time: for timeouts and cancellation.
            head(s, "200 OK", sse, "").await?;
            for i in 0..3000 {
                chunk(s, chunk_event(&format!("t{i} ")).as_bytes()).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            chunk(s, FINISH.as_bytes()).await?;
            chunk(s, DONE.as_bytes()).await?;
            end(s).await?;
        }
        "endlessline" => {
            // One 1 GiB line: the client must give up at its cap, not buffer it.
            head(s, "200 OK", sse, "").await?;
            chunk(s, b"data: ").await?;
            let block = vec![b'x'; 64 * 1024];
            for _ in 0..(1 << 30) / block.len() {
                chunk(s, &block).await?; // fails once the client has closed the connection
            }
            end(s).await?;
        }
        "bytepersecond" => {
            head(s, "200 OK", sse, "").await?;
            for _ in 0..600 {
                chunk(s, b":").await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            return Ok(false);
        }
        "silent" => {
            // Accepts and reads the request, then never answers.
            tokio::time::sleep(Duration::from_secs(600)).await;
            return Ok(false);
        }
        "redirect" => {
            // 307 to another origin (localhost instead of 127.0.0.1): the client must not carry
            // the Authorization header there.
            let location = format!("http://localhost:{}/echo/v1/chat/completions", req.port);
            whole(
                s,
                "307 Temporary Redirect",
                "text/plain",
                &format!("Location: {location}\r\n"),
                b"",
            )
            .await?;
        }
        "redirectloop" => {
            let location = format!(
                "http://127.0.0.1:{}/redirectloop/v1/chat/completions",
                req.port
            );
            whole(
                s,
                "307 Temporary Redirect",
                "text/plain",
                &format!("Location: {location}\r\n"),
                b"",
            )
            .await?;
        }
        // A kept-alive connection closed by the server just as the client reuses it: the second
        // request on a connection is read, then the connection closes without an answer.
        "dropsecond" | "dropall" if base == "dropall" || req.nth_on_connection > 1 => {
            return Ok(false)
        }
        "resetalways" => {
            // Resets every connection once the request is read, before any answer.
            if let Some(tcp) = s.tcp() {
                tcp.set_zero_linger()?;
            }
            return Ok(false);
        }
        "closeafter" | "resetafter" => {
            // A complete streamed answer on a kept-alive connection; `serve` then ends it.
            head(s, "200 OK", sse, "Connection: keep-alive\r\n").await?;
            for event in [chunk_event("alive"), FINISH.to_string(), DONE.to_string()] {
                chunk(s, event.as_bytes()).await?;
            }
            end(s).await?;
        }
        "dropsecond" => {
            let body = format!("{}{}{}", chunk_event("fresh"), FINISH, DONE);
            whole(s, "200 OK", sse, "", body.as_bytes()).await?;
        }
        "429once" if hit == 1 => {
            whole(
                s,
                "429 Too Many Requests",
                "application/json",
                "retry-after-ms: 20\r\n",
                b"{\"error\":{\"message\":\"slow down\"}}",
            )
            .await?
        }
        "429once" => {
            let body = format!("{}{}{}", chunk_event("after retry"), FINISH, DONE);
            whole(s, "200 OK", sse, "", body.as_bytes()).await?;
        }
        "503always" => {
            let body = format!("{{\"error\":{{\"message\":\"busy, attempt {hit}\"}}}}");
            whole(
                s,
                "503 Service Unavailable",
                "application/json",
                "retry-after: 0\r\n",
                body.as_bytes(),
            )
            .await?;
        }
        "unauthorized" => {
            // A hostile server that echoes the credentials back in its error text.
            let auth = req
                .headers
                .iter()
                .find(|(n, _)| n == "authorization")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let body = serde_json::json!({"error": {"message": format!("invalid key: {auth}")}})
                .to_string();
            whole(
                s,
                "401 Unauthorized",
                "application/json",
                "",
                body.as_bytes(),
            )
            .await?;
        }
        "mcploop" | "mcpcrash" => {
            // The agent runner with an MCP tool: without a tool result, a call of the MCP tool
            // (`echo` {"text":"hi"}, or `crash`) that must be among the request's tools (else
            // 400); with one, an answer that quotes it: "The tool said: RESULT".
            let tool = if base == "mcploop" { "echo" } else { "crash" };
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let messages = body["messages"].as_array().cloned().unwrap_or_default();
            let offered = body["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["function"]["name"] == tool));
            let events = match messages.iter().find(|m| m["role"] == "tool") {
                _ if !offered => None,
                None => {
                    let call = serde_json::json!({"choices":[{"index":0,"delta":{"role":"assistant","content":null,
                        "tool_calls":[{"index":0,"id":"call_mcp_1","type":"function",
                        "function":{"name":tool,"arguments":if tool == "echo" {"{\"text\":\"hi\"}"} else {"{}"}}}]}}]});
                    let finish = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n";
                    Some(format!("data: {call}\n\n{finish}{DONE}"))
                }
                Some(m) => Some(format!(
                    "{}{FINISH}{DONE}",
                    chunk_event(&format!(
                        "The tool said: {}",
                        m["content"].as_str().unwrap_or("?")
                    ))
                )),
            };
            match events {
                Some(events) => whole(s, "200 OK", sse, "", events.as_bytes()).await?,
                None => {
                    let body = serde_json::json!({"error": {"message": format!("no {tool} tool in the request's tools"), "type": "invalid_request_error"}});
                    whole(
                        s,
                        "400 Bad Request",
                        "application/json",
                        "",
                        body.to_string().as_bytes(),
                    )
                    .await?;
                }
            }
        }
        "toolloop" => {
            // A recorded two-step tool exchange. Without a tool result in the conversation the
            // answer is a streamed call of `calc` (17 * 23); with one, the result must answer
            // that call (its tool_call_id) and the assistant turn before it must carry the
            // call, else 400; then a final answer that quotes the result.
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let messages = body["messages"].as_array().cloned().unwrap_or_default();
            let tools_sent = body["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["function"]["name"] == "calc"));
            let result = messages.iter().find(|m| m["role"] == "tool");
            let answer = match result {
                _ if !tools_sent => Err("no calc tool in the request's tools".to_string()),
                None => Ok(std::fs::read_to_string(format!(
                    "{FIXTURES}/tools/loop-step1.sse"
                ))?),
                Some(m) if m["tool_call_id"] != "call_calc_1" => Err(format!(
                    "tool_call_id {} answers no call",
                    m["tool_call_id"]
                )),
                Some(_)
                    if !messages.iter().any(|m| {
                        m["role"] == "assistant" && m["tool_calls"][0]["id"] == "call_calc_1"
                    }) =>
                {
                    Err("the assistant turn with the call is missing".to_string())
                }
                Some(m) => {
                    let text = format!("17 times 23 is {}.", m["content"].as_str().unwrap_or("?"));
                    Ok(format!(
                        "{}{}{FINISH}{DONE}",
                        chunk_event("The answer: "),
                        chunk_event(&text)
                    ))
                }
            };
            match answer {
                Ok(events) => {
                    head(s, "200 OK", sse, "").await?;
                    for piece in events.as_bytes().chunks(7) {
                        chunk(s, piece).await?;
                    }
                    end(s).await?;
                }
                Err(why) => {
                    let body = serde_json::json!({"error": {"message": why, "type": "invalid_request_error"}});
                    whole(
                        s,
                        "400 Bad Request",
                        "application/json",
                        "",
                        body.to_string().as_bytes(),
                    )
                    .await?;
                }
            }
        }
        "echomsg" => {
            // `echo` as an Anthropic Messages response: the request dump is the text.
            let mut text = String::new();
            for (n, v) in &req.headers {
                text.push_str(&format!("{n}: {v}\n"));
            }
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&req.body));
            let body = serde_json::json!({
                "id": "msg_echo", "type": "message", "role": "assistant", "model": "echo",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 4}
            });
            whole(
                s,
                "200 OK",
                "application/json",
                "",
                body.to_string().as_bytes(),
            )
            .await?;
        }
        "overloaded529" => {
            // Anthropic's error body shape, with its 529 status.
            let body =
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
            whole(
                s,
                "529 Site Overloaded",
                "application/json",
                "",
                body.as_bytes(),
            )
            .await?;
        }
        "toolcall" => {
            // One tool call in OpenAI's format: streamed in fragments, or whole when the body
            // says "stream":false (for the Python and Node.js packages' tool-call tests).
            let streamed = !String::from_utf8_lossy(&req.body).contains("\"stream\":false");
            if streamed {
                let body = concat!(
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Oslo\\\"}\"}}]}}]}\n\n",
                    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
                    "data: [DONE]\n\n",
                );
                whole(s, "200 OK", sse, "", body.as_bytes()).await?;
            } else {
                let body = serde_json::json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]}}]});
                whole(
                    s,
                    "200 OK",
                    "application/json",
                    "",
                    body.to_string().as_bytes(),
                )
                .await?;
            }
        }
        "echo" => {
            // The request as the answer: `conn N`, the headers, a blank line, the body.
            let mut text = format!("conn {conn}\n");
            for (n, v) in &req.headers {
                text.push_str(&format!("{n}: {v}\n"));
            }
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&req.body));
            let body = serde_json::json!({
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
            });
            whole(
                s,
                "200 OK",
                "application/json",
                "",
                body.to_string().as_bytes(),
            )
            .await?;
        }
        _ => {
            whole(
                s,
                "404 Not Found",
                "text/plain",
                "",
                format!("no scenario '{scenario}'").as_bytes(),
            )
            .await?
        }
    }
    Ok(true)
}

/// The stream of the resumable scenarios: words with 2-, 3- and 4-byte characters, then the
/// finish chunk with llama.cpp's timings, then `[DONE]`.
pub fn resume_body() -> Vec<u8> {
    let mut body = String::new();
    for i in 0..40 {
        let word = [" wörld", " 日本語", " 😀", " naïve", " plain"][i % 5];
        body.push_str(&chunk_event(&format!("{word}{i}")));
    }
    body.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"timings\":{\"predicted_n\":40,\"predicted_per_second\":50.5}}\n\n");
    body.push_str(DONE);
    body.into_bytes()
}

/// The text of [`resume_body`].
pub fn resume_text() -> String {
    (0..40)
        .map(|i| {
            format!(
                "{}{i}",
                [" wörld", " 日本語", " 😀", " naïve", " plain"][i % 5]
            )
        })
        .collect()
}

/// llama.cpp's conversation streams, as scenarios `resume-N`, `resumestall-N`, `noresume-N`
/// and `lostresume-N` (an optional `-TAG` after N is ignored): a POST with `X-Conversation-Id` keeps a
/// copy of [`resume_body`] and sends only its first N bytes, then closes the connection
/// (`resumestall`: goes silent); `GET .../stream?conv_id=ID&from=M` sends the copy from byte M
/// (`noresume`: 404 as a server without the feature; `lostresume`: 400 "Stream offset lost");
/// `DELETE` forgets it (204).
async fn resumable(
    s: &mut Sock,
    scenario: &str,
    req: &Request,
    state: &State,
) -> std::io::Result<bool> {
    let mut parts = scenario.split('-');
    let kind = parts.next().unwrap_or("");
    let cut: usize = parts
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    let query = |name: &str| {
        req.path
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    let log = |line: String| state.stream_log.lock().unwrap().push(line);
    match req.method.as_str() {
        "POST" => {
            let id = req
                .headers
                .iter()
                .find(|(n, _)| n == "x-conversation-id")
                .map(|(_, v)| v.clone());
            log(format!("POST {}", id.as_deref().unwrap_or("-")));
            let body = resume_body();
            if let Some(id) = id {
                state.streams.lock().unwrap().insert(id, body.clone());
            }
            head(s, "200 OK", "text/event-stream", "").await?;
            let sent = &body[..cut.min(body.len())];
            for piece in sent.chunks(61) {
                chunk(s, piece).await?;
            }
            if sent.len() == body.len() {
                end(s).await?;
                return Ok(true);
            }
            if kind == "resumestall" {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Ok(false) // cut: no end chunk, the connection closes
        }
        "GET" => {
            let id = query("conv_id").unwrap_or_default();
            let from: usize = query("from").and_then(|f| f.parse().ok()).unwrap_or(0);
            log(format!("GET {id} {from}"));
            let copy = state.streams.lock().unwrap().get(&id).cloned();
            match copy {
                Some(_) if kind == "lostresume" => {
                    whole(
                        s,
                        "400 Bad Request",
                        "application/json; charset=utf-8",
                        "",
                        br#"{"error":{"code":400,"message":"Stream offset lost, please restart","type":"invalid_request_error"}}"#,
                    )
                    .await?
                }
                Some(copy) if kind != "noresume" => {
                    head(s, "200 OK", "text/event-stream", "").await?;
                    for piece in copy[from.min(copy.len())..].chunks(61) {
                        chunk(s, piece).await?;
                    }
                    end(s).await?;
                }
                _ => {
                    whole(
                        s,
                        "404 Not Found",
                        "application/json; charset=utf-8",
                        "",
                        br#"{"error":{"message":"File Not Found","type":"not_found_error","code":404}}"#,
                    )
                    .await?
                }
            }
            Ok(true)
        }
        "DELETE" => {
            let id = query("conv_id").unwrap_or_default();
            log(format!("DELETE {id}"));
            state.streams.lock().unwrap().remove(&id);
            whole(s, "204 No Content", "text/plain", "", b"").await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The words of [`background_events`], as the caller's text.
pub fn background_text() -> String {
    (0..30)
        .map(|i| format!("{}{i}", [" wörld", " 日本語", " 😀", " plain"][i % 4]))
        .collect()
}

/// A background response's stream, as OpenAI sends it: each event with its sequence number
/// (`response.created` 0, a text delta each, `response.completed` last).
pub fn background_events() -> Vec<String> {
    let event = |n: usize, kind: &str, mut data: serde_json::Value| {
        data["type"] = kind.into();
        data["sequence_number"] = n.into();
        format!("event: {kind}\ndata: {data}\n\n")
    };
    let mut events = vec![event(
        0,
        "response.created",
        serde_json::json!({"response": {"id": "resp_bg1", "status": "queued", "background": true}}),
    )];
    for i in 0..30 {
        let word = [" wörld", " 日本語", " 😀", " plain"][i % 4];
        events.push(event(
            i + 1,
            "response.output_text.delta",
            serde_json::json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": format!("{word}{i}")}),
        ));
    }
    events.push(event(
        31,
        "response.completed",
        serde_json::json!({"response": {"id": "resp_bg1", "status": "completed", "background": true,
            "usage": {"input_tokens": 5, "output_tokens": 30, "total_tokens": 35}}}),
    ));
    events
}

/// OpenAI's background responses, as scenarios `bgresume-N` and `bgstall-N`: a POST to
/// `/responses` whose body has `"background": true` streams [`background_events`] but only its
/// first N bytes, then closes the connection (`bgstall`: goes silent);
/// `GET /responses/resp_bg1?stream=true&starting_after=SEQ` streams the events after SEQ;
/// `POST /responses/resp_bg1/cancel` is logged. A POST without background mode is 400.
async fn background(
    s: &mut Sock,
    scenario: &str,
    req: &Request,
    state: &State,
) -> std::io::Result<bool> {
    let mut parts = scenario.split('-');
    let kind = parts.next().unwrap_or("");
    let cut: usize = parts
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    let log = |line: String| state.stream_log.lock().unwrap().push(line);
    let path = req
        .path
        .split_once('?')
        .map_or(req.path.as_str(), |(p, _)| p);
    let events = background_events();
    match req.method.as_str() {
        "POST" if path.ends_with("/cancel") => {
            log(format!("CANCEL {path}"));
            whole(
                s,
                "200 OK",
                "application/json",
                "",
                br#"{"id":"resp_bg1","status":"cancelled"}"#,
            )
            .await?;
            Ok(true)
        }
        "POST" => {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            log(format!("POST background={}", body["background"]));
            if body["background"] != true {
                whole(
                    s,
                    "400 Bad Request",
                    "application/json",
                    "",
                    br#"{"error":{"message":"not in background mode"}}"#,
                )
                .await?;
                return Ok(true);
            }
            let all = events.concat().into_bytes();
            head(s, "200 OK", "text/event-stream", "").await?;
            let sent = &all[..cut.min(all.len())];
            for piece in sent.chunks(61) {
                chunk(s, piece).await?;
            }
            if sent.len() == all.len() {
                end(s).await?;
                return Ok(true);
            }
            if kind == "bgstall" {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Ok(false)
        }
        "GET" => {
            let after: usize = req
                .path
                .split_once("starting_after=")
                .and_then(|(_, n)| n.split('&').next()?.parse().ok())
                .unwrap_or(0);
            log(format!("GET {path} after {after}"));
            head(s, "200 OK", "text/event-stream", "").await?;
            for event in &events[after + 1..] {
                chunk(s, event.as_bytes()).await?;
            }
            end(s).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The non-streamed fixture's `message.content`: the text every replayed stream must give.
pub fn expected_text() -> String {
    let body: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{FIXTURES}/llama-nonstream.json")).unwrap())
            .unwrap();
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The code block that follows `<!-- readme: NAME -->` in README.md: what a new user copies.
pub fn readme_block(name: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let marker = format!("<!-- readme: {name} -->");
    let at = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker} in README.md"));
    let rest = &readme[at..];
    let fence = rest.find("```").unwrap();
    let start = fence + rest[fence..].find('\n').unwrap() + 1;
    let end = rest[start..].find("```").unwrap();
    rest[start..start + end].to_string()
}

//! The benchmark's loopback server, run as a process of its own so that its CPU time and memory
//! are not counted as the client's. HTTP/1.1 with keep-alive; the first path segment picks
//! the answer:
//! - `big`: a pre-rendered stream of `TOKENS` OpenAI-shaped chunks (about 230 bytes each), one
//!   HTTP chunk per event as llama.cpp and vLLM send them, written in large writes;
//! - `bigbatched`: the same events, 64 to an HTTP chunk (about 15 KiB), as a buffering proxy
//!   or a server's larger writes deliver them;
//! - `first`: a one-token stream, answered at once (time-to-first-token);
//! - `trickle`: 100 tokens, one every `TRICKLE_MS` (many concurrent streams).
//!
//! The HTTP machinery (accepting, reading requests, chunk framing) is the tests' own
//! (`tests/support/server.rs`); what is here is the benchmark's answers.

// The benchmark uses the accept loop, the request reader and the chunk framing, not the rest.
#[allow(dead_code)]
#[path = "../tests/support/server.rs"]
mod http;

use http::{accept_loop, frame_chunk, read_request};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

pub const TRICKLE_TOKENS: usize = 100;
const TRICKLE_MS: u64 = 20;

const HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";

/// Real text has words, spaces, punctuation, newlines (escaped in JSON) and non-ASCII.
const WORDS: [&str; 16] = [
    " the",
    " sky",
    " is",
    " blue",
    " because",
    " of",
    " Rayleigh",
    " scattering",
    ",",
    " which",
    "\\n\\n",
    " affects",
    " shorter",
    " wavelengths",
    " more",
    " \u{e9}t\u{e9}",
];

fn event(content: &str, finish: Option<&str>) -> String {
    let finish = finish.map_or("null".to_owned(), |f| format!("\"{f}\""));
    format!(
        "data: {{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1732445400,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n"
    )
}

/// The whole `big` response after the head: (chunked body, bytes of the decoded body).
/// `per_chunk`: events in one HTTP chunk (1 as llama.cpp and vLLM send them; more as a
/// buffering proxy or a busy server's writes deliver them).
fn render_big(tokens: usize, per_chunk: usize) -> (Vec<u8>, usize) {
    let mut events: Vec<String> = (0..tokens)
        .map(|i| event(WORDS[i % WORDS.len()], None))
        .collect();
    events.push(event("", Some("stop")));
    events.push("data: [DONE]\n\n".to_owned());
    let mut out = Vec::with_capacity(tokens * 250);
    let mut body = 0;
    for group in events.chunks(per_chunk) {
        let data = group.concat();
        body += data.len();
        frame_chunk(&mut out, data.as_bytes());
    }
    out.extend_from_slice(b"0\r\n\r\n");
    (out, body)
}

fn render_first() -> Vec<u8> {
    let mut out = HEAD.as_bytes().to_vec();
    for e in [
        event("Hello", None),
        event("", Some("stop")),
        "data: [DONE]\n\n".to_owned(),
    ] {
        frame_chunk(&mut out, e.as_bytes());
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

async fn trickle(socket: &mut TcpStream) -> std::io::Result<()> {
    socket.write_all(HEAD.as_bytes()).await?;
    let mut tick = tokio::time::interval(Duration::from_millis(TRICKLE_MS));
    let mut out = Vec::new();
    for i in 0..TRICKLE_TOKENS {
        tick.tick().await;
        out.clear();
        frame_chunk(&mut out, event(WORDS[i % WORDS.len()], None).as_bytes());
        socket.write_all(&out).await?;
    }
    out.clear();
    frame_chunk(&mut out, event("", Some("stop")).as_bytes());
    frame_chunk(&mut out, b"data: [DONE]\n\n");
    out.extend_from_slice(b"0\r\n\r\n");
    socket.write_all(&out).await
}

struct Bodies {
    big: Vec<u8>,
    batched: Vec<u8>,
    first: Vec<u8>,
}

async fn connection(mut socket: TcpStream, bodies: Arc<Bodies>) {
    let mut buf = Vec::new();
    while let Ok(Some(request)) = read_request(&mut socket, &mut buf).await {
        let sent = match request.path.split('/').nth(1).unwrap_or("") {
            which @ ("big" | "bigbatched") => match socket.write_all(HEAD.as_bytes()).await {
                Ok(()) if which == "big" => socket.write_all(&bodies.big).await,
                Ok(()) => socket.write_all(&bodies.batched).await,
                Err(e) => Err(e),
            },
            "first" => socket.write_all(&bodies.first).await,
            "trickle" => trickle(&mut socket).await,
            _ => {
                socket
                    .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Serves until killed; prints `port=P body_bytes=B` once listening.
pub fn serve(tokens: usize) {
    crate::raise_fd_limit();
    let (big, body_bytes) = render_big(tokens, 1);
    let bodies = Arc::new(Bodies {
        big,
        batched: render_big(tokens, 64).0,
        first: render_first(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    runtime.block_on(async move {
        // A deep accept queue: thousands of clients connect at once.
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind");
        let listener = socket.listen(16384).expect("listen");
        let port = listener.local_addr().expect("address").port();
        println!("port={port} body_bytes={body_bytes}");
        accept_loop(listener, |socket| connection(socket, bodies.clone())).await;
    });
}

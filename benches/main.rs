//! `cargo bench`: libylokh's benchmark suite (see benches/README.md).
//!
//! This program builds the C client (`client.c`) against the library cargo just built, starts
//! the loopback server (`server.rs`, this same program run as `serve`) in a process of its
//! own, runs every measurement `BENCH_RUNS` times (default 5) in a fresh client process, and
//! prints the medians as a table and as JSON (`target/ylokh-bench/results.json`). The same
//! stream is drained by curl and by the official openai Python SDK (installed into a venv
//! under `target/ylokh-bench/`), and our figures are given as ratios of theirs.

// The tests' helpers for building C programs (`tests/support/build.rs`); the benchmark uses
// `compile` and what it needs.
#[allow(dead_code)]
#[path = "../tests/support/build.rs"]
mod build;
mod server;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const TOKENS: usize = 1_000_000;
const TTFT_REQUESTS: usize = 1_000;
const NEWFREE_ROUNDS: usize = 200;

pub fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        server::serve(TOKENS);
        return;
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let exe = std::env::current_exe().expect("current exe");
    let lib_dir = exe.parent().expect("deps dir").to_path_buf();
    let out_dir = lib_dir.join("../../ylokh-bench");
    std::fs::create_dir_all(&out_dir).expect("output dir");
    let out_dir = out_dir.canonicalize().expect("output dir");
    let client = build_client(&out_dir);

    let mut server = Server::start(&exe);
    let base = format!("http://127.0.0.1:{}", server.port);
    let mut results = BTreeMap::<&str, Value>::new();
    eprintln!(
        "libylokh benchmarks: {runs} runs each; the server's stream is {TOKENS} tokens, {} bytes",
        server.body_bytes
    );

    // The issue's stream, framed two ways: one HTTP chunk per event, and 64 per chunk.
    let mut streams = Vec::new();
    for (path, label) in [
        ("big", "1 event per HTTP chunk"),
        ("bigbatched", "64 events per HTTP chunk"),
    ] {
        let r = median_of(runs, &format!("throughput, {label}"), || {
            let r = run(&client, &["throughput", &format!("{base}/{path}/v1")]);
            assert_eq!(r["tokens"], TOKENS as f64, "every token delivered");
            r
        });
        streams.push(Stream {
            label,
            tokens_per_s: TOKENS as f64 / (r["wall_ns"] / 1e9),
            cpu_per_token: r["cpu_ns"] / TOKENS as f64,
            bytes_per_s: server.body_bytes as f64 / (r["wall_ns"] / 1e9),
            raw: r,
        });
    }
    let tokens_per_s = streams[0].tokens_per_s;
    let our_bytes_per_s = streams[0].bytes_per_s;

    let ttft = median_of(runs, "ttft", || {
        run(
            &client,
            &[
                "ttft",
                &format!("{base}/first/v1"),
                &TTFT_REQUESTS.to_string(),
            ],
        )
    });

    // BENCH_ONLY=eventloop: only the event-loop comparison (callbacks against pull requests on
    // one epoll thread, 1,000 and 10,000 streams) and Python's astream threads and memory.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("eventloop") {
        event_loop(&client, &base, runs, &out_dir, &lib_dir);
        server.stop();
        return;
    }

    // BENCH_ONLY=tokens: only the per-token figures (the two throughputs and TTFT), for a quick
    // before/after of a change to the per-token path.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("tokens") {
        server.stop();
        for st in &streams {
            println!(
                "{:<40} {:>12.0} tokens/s {:>8.0} ns CPU/token",
                st.label, st.tokens_per_s, st.cpu_per_token
            );
        }
        println!(
            "{:<40} p50 {:.0} us, p99 {:.0} us",
            "TTFT overhead",
            ttft["p50_ns"] / 1e3,
            ttft["p99_ns"] / 1e3
        );
        return;
    }

    let mut concurrency = Vec::new();
    for n in [1_000usize, 10_000] {
        let r = median_of(runs.min(3), &format!("concurrent {n}"), || {
            let r = run(
                &client,
                &["concurrent", &format!("{base}/trickle/v1"), &n.to_string()],
            );
            assert_eq!(
                r["tokens"],
                (n * server::TRICKLE_TOKENS) as f64,
                "every stream complete"
            );
            r
        });
        concurrency.push((n, r));
    }

    let newfree = median_of(runs, "newfree", || {
        run(&client, &["newfree", &NEWFREE_ROUNDS.to_string()])
    });

    let curl = median_of(runs, "curl", || curl(&format!("{base}/big/v1")));
    let curl_bytes_per_s = curl["bytes"] / (curl["wall_ns"] / 1e9);

    let sdk = match python_sdk(&out_dir) {
        Ok(python) => {
            let r = median_of(runs.min(3), "openai SDK", || {
                let r = run_cmd(
                    Command::new(&python)
                        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/openai_sdk.py"))
                        .arg(format!("{base}/big/v1")),
                );
                assert_eq!(r["tokens"], TOKENS as f64, "the SDK got every token");
                r
            });
            Some(TOKENS as f64 / (r["wall_ns"] / 1e9))
        }
        Err(why) => {
            eprintln!("openai SDK: skipped the comparison: {why}");
            None
        }
    };
    server.stop();

    // The table.
    let mut rows: Vec<(String, String, String, Option<bool>)> = Vec::new();
    let mut row = |name: &str, value: String, target: &str, met: Option<bool>| {
        rows.push((name.to_owned(), value, target.to_owned(), met));
    };
    for st in &streams {
        row(
            &format!("tokens/s, {}", st.label),
            format!("{:.0}", st.tokens_per_s),
            ">= 3,000,000",
            Some(st.tokens_per_s >= 3e6),
        );
        row(
            &format!("CPU/token, {}", st.label),
            format!("{:.0} ns", st.cpu_per_token),
            "<= 300 ns",
            Some(st.cpu_per_token <= 300.0),
        );
    }
    row(
        "wire bytes/s, 1 event per chunk",
        format!("{:.0} MB/s", our_bytes_per_s / 1e6),
        "",
        None,
    );
    row(
        "curl, wire bytes/s",
        format!("{:.0} MB/s", curl_bytes_per_s / 1e6),
        "",
        None,
    );
    row(
        "ratio to curl (bytes/s)",
        format!("{:.2}", our_bytes_per_s / curl_bytes_per_s),
        ">= 0.8",
        Some(our_bytes_per_s / curl_bytes_per_s >= 0.8),
    );
    if let Some(sdk) = sdk {
        row("openai SDK, tokens/s", format!("{:.0}", sdk), "", None);
        row(
            "ratio to openai SDK (tokens/s)",
            format!("{:.1}", tokens_per_s / sdk),
            "",
            None,
        );
    }
    row(
        "TTFT overhead p50",
        format!("{:.0} us", ttft["p50_ns"] / 1e3),
        "<= 150 us",
        Some(ttft["p50_ns"] <= 150e3),
    );
    row(
        "TTFT overhead p99",
        format!("{:.0} us", ttft["p99_ns"] / 1e3),
        "<= 1000 us",
        Some(ttft["p99_ns"] <= 1e6),
    );
    for (n, r) in &concurrency {
        let peak_mb = r["peak_kib"] / 1024.0;
        let per_stream = (r["peak_kib"] - r["base_kib"]) / *n as f64;
        row(
            &format!("{n} streams: wall"),
            format!("{:.2} s", r["wall_ns"] / 1e9),
            "",
            None,
        );
        let (target, met) = if *n == 10_000 {
            ("<= 150 MB", Some(peak_mb <= 150.0))
        } else {
            ("", None)
        };
        row(
            &format!("{n} streams: peak RSS"),
            format!("{peak_mb:.1} MB"),
            target,
            met,
        );
        row(
            &format!("{n} streams: memory per stream"),
            format!("{per_stream:.1} KiB"),
            "",
            None,
        );
    }
    row(
        "client new+free p50",
        format!("{:.0} us", newfree["p50_ns"] / 1e3),
        "<= 5000 us",
        Some(newfree["p50_ns"] <= 5e6),
    );

    println!();
    println!("{:<40} {:>14}  target", "measure (median)", "value");
    for (name, value, target, met) in &rows {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        println!("{name:<40} {value:>14}  {target:<12} {verdict}");
    }

    results.insert("runs", json!(runs));
    results.insert("tokens", json!(TOKENS));
    results.insert("body_bytes", json!(server.body_bytes));
    for (st, key) in streams
        .iter()
        .zip(["stream_1_event_per_chunk", "stream_64_events_per_chunk"])
    {
        results.insert(
            key,
            json!({
                "tokens_per_s": st.tokens_per_s,
                "cpu_ns_per_token": st.cpu_per_token,
                "wire_bytes_per_s": st.bytes_per_s,
                "raw": st.raw,
            }),
        );
    }
    results.insert("curl", json!(curl));
    results.insert("curl_bytes_per_s", json!(curl_bytes_per_s));
    results.insert("ratio_to_curl", json!(our_bytes_per_s / curl_bytes_per_s));
    results.insert("openai_sdk_tokens_per_s", json!(sdk));
    results.insert("ratio_to_openai_sdk", json!(sdk.map(|s| tokens_per_s / s)));
    results.insert("ttft", json!(ttft));
    for (n, r) in &concurrency {
        results.insert(
            if *n == 1_000 {
                "concurrent_1000"
            } else {
                "concurrent_10000"
            },
            json!(r),
        );
    }
    results.insert("client_new_free", json!(newfree));
    results.insert(
        "targets_met",
        json!(rows.iter().all(|(_, _, _, met)| met.unwrap_or(true))),
    );
    let path = out_dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results).unwrap()).expect("write JSON");
    println!("\nJSON: {}", path.display());
}

/// benches/client.c, optimised, against the library cargo just built (in this program's
/// directory); `CC` picks the compiler (default `cc`).
fn build_client(out_dir: &Path) -> PathBuf {
    let out = out_dir.join("client");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    build::compile(&cc, &["benches/client.c"], &out, &["-O2", "-D_GNU_SOURCE"]);
    out
}

/// One single-stream throughput figure.
struct Stream {
    label: &'static str,
    tokens_per_s: f64,
    cpu_per_token: f64,
    bytes_per_s: f64,
    raw: BTreeMap<String, f64>,
}

struct Server {
    child: Child,
    port: u16,
    body_bytes: usize,
}

impl Server {
    fn start(exe: &Path) -> Server {
        let mut child = Command::new(exe)
            .arg("serve")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("server's first line");
        let r = parse(&line);
        Server {
            child,
            port: r["port"] as u16,
            body_bytes: r["body_bytes"] as usize,
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `key=value key=value` -> a map of numbers.
fn parse(line: &str) -> BTreeMap<String, f64> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.parse().expect("a number")))
        .collect()
}

fn run_cmd(cmd: &mut Command) -> BTreeMap<String, f64> {
    let out = cmd.stderr(Stdio::inherit()).output().expect("run");
    assert!(out.status.success(), "{cmd:?} failed");
    parse(&String::from_utf8_lossy(&out.stdout))
}

fn run(client: &Path, args: &[&str]) -> BTreeMap<String, f64> {
    run_cmd(Command::new(client).args(args))
}

/// Runs `f` `runs` times; the median of every field.
fn median_of(
    runs: usize,
    name: &str,
    mut f: impl FnMut() -> BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    let samples: Vec<_> = (0..runs)
        .map(|i| {
            let r = f();
            eprintln!("  {name} #{}: {r:?}", i + 1);
            r
        })
        .collect();
    samples[0]
        .keys()
        .map(|k| {
            let mut v: Vec<f64> = samples.iter().map(|s| s[k]).collect();
            v.sort_by(f64::total_cmp);
            (k.clone(), v[v.len() / 2])
        })
        .collect()
}

fn curl(url: &str) -> BTreeMap<String, f64> {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-N",
            "-o",
            "/dev/null",
            "-w",
            "bytes=%{size_download} seconds=%{time_total}",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"model":"bench","messages":[{"role":"user","content":"Why is the sky blue?"}],"stream":true}"#,
        ])
        .arg(format!("{url}/chat/completions"))
        .output()
        .expect("run curl (apt-get install curl)");
    assert!(out.status.success(), "curl failed");
    let mut r = parse(&String::from_utf8_lossy(&out.stdout));
    r.insert("wall_ns".into(), r["seconds"] * 1e9);
    r
}

/// A venv with the openai SDK under the output directory, made on first use.
fn python_sdk(out_dir: &Path) -> Result<PathBuf, String> {
    let venv = out_dir.join("venv");
    let python = venv.join("bin/python");
    let has_sdk = |python: &Path| {
        Command::new(python)
            .args(["-c", "import openai"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && has_sdk(&python) {
        return Ok(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("python3: {e}"))?;
    if !made.success() {
        return Err("python3 -m venv failed (apt-get install python3-venv)".into());
    }
    let pip = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "openai"])
        .status()
        .map_err(|e| format!("pip: {e}"))?;
    if !pip.success() || !has_sdk(&python) {
        return Err("pip install openai failed".into());
    }
    Ok(python)
}

/// The same streams taken two ways: callbacks on the library's thread, and pull requests whose
/// descriptors (`ylokh_request_fd`) sit in one epoll set on the program's thread; then Python's
/// `astream()` waiting on the descriptor against waiting in a thread per stream.
fn event_loop(client: &Path, base: &str, runs: usize, out_dir: &Path, lib_dir: &Path) {
    let mut results = BTreeMap::<String, Value>::new();
    println!(
        "{:<34} {:>8} {:>10} {:>8} {:>12}",
        "form (median)", "wall s", "peak MB", "threads", "CPU/token"
    );
    for n in [1_000usize, 10_000] {
        for form in ["callbacks", "epoll"] {
            let r = median_of(runs.min(3), &format!("{form} {n}"), || {
                let r = run(
                    client,
                    &[form, &format!("{base}/trickle/v1"), &n.to_string()],
                );
                // `streams`: fewer than asked when the open-files limit allows no more.
                assert_eq!(r["tokens"], r["streams"] * server::TRICKLE_TOKENS as f64);
                r
            });
            println!(
                "{:<34} {:>8.2} {:>10.1} {:>8.0} {:>9.0} ns",
                format!("{} streams, {form}", r["streams"]),
                r["wall_ns"] / 1e9,
                r["peak_kib"] / 1024.0,
                r["threads"],
                r["cpu_ns"] / r["tokens"]
            );
            results.insert(format!("{form}_{n}"), json!(r));
        }
    }
    let python = std::env::var("BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/astream.py");
    for n in [1_000usize, 10_000] {
        for mode in ["thread", "fd"] {
            let r = run_cmd(
                Command::new(&python)
                    .args([script, &format!("{base}/trickle/v1"), &n.to_string(), mode])
                    .env(
                        "PYTHONPATH",
                        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python"),
                    )
                    .env("YLOKH_LIB", lib_dir.join("libylokh.so")),
            );
            println!(
                "{:<34} {:>8.2} {:>10.1} {:>8.0}",
                format!("Python {} astreams, {mode}", r["streams"]),
                r["wall_ns"] / 1e9,
                r["peak_kib"] / 1024.0,
                r["threads"]
            );
            results.insert(format!("python_{mode}_{n}"), json!(r));
        }
    }
    let path = out_dir.join("event_loop.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results).unwrap()).expect("write JSON");
    eprintln!("wrote {}", path.display());
}

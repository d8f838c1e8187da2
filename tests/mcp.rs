//! MCP sessions and the agent runner from C: against a tiny fake server (tests/mcp/fake_server.c:
//! crashes, hangs, garbage, a changing tool list), 100 sessions with the process count back to
//! baseline, a caller that exits without freeing, the runner against the loopback LLM server,
//! and the real reference servers (mcp-server-time from PyPI, server-everything from npm over
//! stdio and Streamable HTTP), installed by tests/run.sh.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::{compile, start_server, tmp_path};

/// Compiled once per test process (the tests run in parallel).
fn built(name: &str, source: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _once = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let exe = tmp_path(name);
    if !exe.exists() {
        compile("gcc", &[source], &exe, &[]);
    }
    exe
}

fn fake_server() -> PathBuf {
    built("fake_mcp_server", "tests/mcp/fake_server.c")
}

fn mcp_test() -> PathBuf {
    built("mcp_test", "tests/c/mcp_test.c")
}

/// Runs the C test program (under YLOKH_TEST_WRAPPER, e.g. valgrind, when set).
fn run(args: &[&str]) -> Output {
    let exe = mcp_test();
    let mut command = match std::env::var("YLOKH_TEST_WRAPPER") {
        Ok(w) if !w.trim().is_empty() => {
            let mut words = w.split_whitespace();
            let mut c = Command::new(words.next().unwrap());
            c.args(words).arg(&exe);
            c
        }
        _ => Command::new(&exe),
    };
    let output = command
        .args(args)
        .env("MCP_TEST_LOG", "1")
        .output()
        .unwrap();
    eprintln!("--- stdout:\n{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("--- stderr:\n{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn passed(output: &Output) -> bool {
    output.status.success() && String::from_utf8_lossy(&output.stdout).contains(" 0 failed")
}

#[test]
fn sessions_list_call_and_survive_a_misbehaving_server() {
    let fake = fake_server();
    let output = run(&["fake", fake.to_str().unwrap()]);
    assert!(passed(&output), "see the C program's output above");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("MCP server fake_mcp_server (stderr): fake MCP server starting"),
        "the server's stderr goes to the log"
    );
    assert!(
        log.contains("its tool list changed") || log.contains("list_changed"),
        "the change is logged"
    );
    assert!(
        !log.contains("sk-secret-token"),
        "the bearer token reached the log"
    );
}

#[test]
fn a_hundred_sessions_leave_no_process_behind() {
    let fake = fake_server();
    let output = run(&["many", fake.to_str().unwrap()]);
    assert!(passed(&output), "see the C program's output above");
}

#[test]
fn a_caller_that_exits_without_freeing_leaves_no_orphan() {
    let fake = fake_server();
    let pid_file = tmp_path("orphan.pid");
    let _ = std::fs::remove_file(&pid_file);
    let output = run(&["orphan", fake.to_str().unwrap(), pid_file.to_str().unwrap()]);
    assert!(output.status.success(), "see the C program's output above");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    // Gone, or a zombie of a parent that is gone (init reaps it).
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(),
        "the server {pid} outlived the program that started it"
    );
}

#[test]
fn the_agent_runner_runs_tools_from_c_and_mcp_against_the_loopback_server() {
    let server = start_server();
    let fake = fake_server();
    let output = run(&["agent", &server.url(), fake.to_str().unwrap()]);
    assert!(passed(&output), "see the C program's output above");
}

/// Where tests/run.sh installs the reference servers (a venv for mcp-server-time, an npm
/// prefix for server-everything); YLOKH_MCP_VENV / YLOKH_MCP_NPM override.
fn cache(var: &str, dir: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/ylokh")
            .join(dir)
    })
}

fn mcp_server_time() -> String {
    let exe = cache("YLOKH_MCP_VENV", "mcp-venv").join("bin/mcp-server-time");
    assert!(
        exe.exists(),
        "{} is missing: run tests/run.sh",
        exe.display()
    );
    exe.display().to_string()
}

fn server_everything() -> String {
    let js = cache("YLOKH_MCP_NPM", "mcp-npm")
        .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(js.exists(), "{} is missing: run tests/run.sh", js.display());
    js.display().to_string()
}

#[test]
#[ignore = "needs mcp-server-time (PyPI): run tests/run.sh"]
fn mcp_server_time_over_stdio_from_c() {
    let time = mcp_server_time();
    let output = run(&[
        "stdio",
        "convert_time",
        r#"{"source_timezone":"UTC","time":"12:00","target_timezone":"Asia/Tokyo"}"#,
        "T21:00:00+09:00",
        "--",
        &time,
        "--local-timezone",
        "Europe/Oslo",
    ]);
    assert!(passed(&output), "see the C program's output above");
}

#[test]
#[ignore = "needs @modelcontextprotocol/server-everything (npm) and node: run tests/run.sh"]
fn server_everything_over_stdio_from_c() {
    let js = server_everything();
    let output = run(&[
        "stdio",
        "echo",
        r#"{"message":"round trip"}"#,
        "round trip",
        "--",
        "node",
        &js,
        "stdio",
    ]);
    assert!(passed(&output), "see the C program's output above");
}

#[test]
#[ignore = "needs @modelcontextprotocol/server-everything (npm) and node: run tests/run.sh"]
fn server_everything_over_streamable_http_from_c() {
    let js = server_everything();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("node")
        .args([&js, "streamableHttp"])
        .env("PORT", port.to_string())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("http://127.0.0.1:{port}/mcp");
    let output = run(&["http", &url, "get-sum", r#"{"a":17,"b":25}"#, "42"]);
    let _ = server.kill();
    let _ = server.wait();
    assert!(passed(&output), "see the C program's output above");
}

/// examples/mcp_agent.c, its MCP server given on the command line (the fake one) and the
/// loopback model that calls `echo`: the answer quotes what the MCP tool returned.
#[test]
fn example_mcp_agent_answers_through_an_mcp_tool() {
    let server = start_server();
    let fake = fake_server();
    let exe = built("mcp_agent_example", "examples/mcp_agent.c");
    let output = Command::new(&exe)
        .arg(&fake)
        .env("YLOKH_BASE_URL", format!("{}/mcploop/v1", server.url()))
        .env("FAKE_MCP_GREETING", "from MCP: ")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success());
    assert_eq!(
        stdout.trim(),
        "[echo {\"text\":\"hi\"}]\nThe tool said: from MCP: hi"
    );
}

/// README.md's "MCP servers" program, against the fake server.
#[test]
fn readme_mcp_tools_program_lists_and_calls() {
    let source = tmp_path("readme_mcp_tools.c");
    std::fs::write(&source, support::readme_block("mcp_tools.c")).unwrap();
    let exe = built("readme_mcp_tools", source.to_str().unwrap());
    let output = Command::new(&exe).arg(fake_server()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success());
    assert!(stdout.starts_with("tools: [{\"type\":\"function\",\"function\":{\"name\":\"echo\""));
    assert!(stdout.ends_with("\nhi\n"), "{stdout}");
}

/// README.md's "Agent runner" program, against the recorded two-step exchange.
#[test]
fn readme_agent_runner_program_runs_the_loop() {
    let server = start_server();
    let source = tmp_path("readme_agent_runner.c");
    std::fs::write(&source, support::readme_block("agent_runner.c")).unwrap();
    let exe = built("readme_agent_runner", source.to_str().unwrap());
    let output = Command::new(&exe)
        .arg(format!("{}/toolloop/v1", server.url()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success());
    assert!(
        stdout.contains("[calc {\"a\": 17, \"op\": \"*\", \"b\": 23}]\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("The answer: 17 times 23 is 391.\n[YLOKH_OK"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("3 messages in the conversation\n"),
        "{stdout}"
    );
}

fn run_under(tool: &[&str], exe: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = if tool.is_empty() {
        Command::new(exe)
    } else {
        let mut c = Command::new(tool[0]);
        c.args(&tool[1..]).arg(exe);
        c
    };
    let output = command
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    eprintln!("--- stdout:\n{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("--- stderr:\n{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// The sessions, the misbehaving server, 100 sessions and the runner under valgrind memcheck:
/// no errors, no definitely-lost bytes, and the process count back to baseline.
#[test]
#[ignore = "needs valgrind: run tests/run.sh"]
fn sessions_are_clean_under_valgrind() {
    let server = start_server();
    let fake = fake_server();
    let exe = mcp_test();
    let valgrind = [
        "valgrind",
        "--error-exitcode=1",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--quiet",
    ];
    let fake = fake.to_str().unwrap();
    for args in [
        vec!["fake", fake],
        vec!["many", fake],
        vec!["agent", &server.url(), fake],
    ] {
        let output = run_under(&valgrind, &exe, &args, &[]);
        assert!(passed(&output), "valgrind: {args:?} (see the output above)");
    }
}

/// The same under AddressSanitizer (leaks included) and UBSan.
#[test]
#[ignore = "needs the sanitizer runtimes: run tests/run.sh"]
fn sessions_are_clean_under_address_and_undefined_behaviour_sanitizers() {
    let server = start_server();
    let fake = fake_server();
    let exe = tmp_path("mcp_test_asan");
    compile(
        "gcc",
        &["tests/c/mcp_test.c"],
        &exe,
        &[
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ],
    );
    let env = [
        ("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1"),
        ("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1"),
    ];
    let fake = fake.to_str().unwrap();
    for args in [
        vec!["fake", fake],
        vec!["many", fake],
        vec!["agent", &server.url(), fake],
    ] {
        let output = run_under(&[], &exe, &args, &env);
        assert!(passed(&output), "ASan: {args:?} (see the output above)");
    }
}

/// ylokh::McpSession (C++) against the fake server, under ASan/UBSan.
#[test]
#[ignore = "needs g++ with the sanitizer runtimes: run tests/run.sh"]
fn cpp_mcp_session_lists_and_calls() {
    let exe = tmp_path("mcp_test_cpp");
    compile(
        "g++",
        &["tests/cpp/mcp_test.cpp"],
        &exe,
        &["-fsanitize=address,undefined", "-fno-sanitize-recover=all"],
    );
    let fake = fake_server();
    let output = run_under(
        &[],
        &exe,
        &[fake.to_str().unwrap()],
        &[("ASAN_OPTIONS", "detect_leaks=1")],
    );
    assert!(passed(&output), "see the C++ program's output above");
}

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
    let output = command.args(args).env("MCP_TEST_LOG", "1").output().unwrap();
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
    assert!(!log.contains("sk-secret-token"), "the bearer token reached the log");
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
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
    };
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(), "the server {pid} outlived the program that started it");
}

#[test]
fn the_agent_runner_runs_tools_from_c_and_mcp_against_the_loopback_server() {
    let server = start_server();
    let fake = fake_server();
    let output = run(&["agent", &server.url(), fake.to_str().unwrap()]);
    assert!(passed(&output), "see the C program's output above");
}

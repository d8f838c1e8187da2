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

// ---------------------------------------------------------------------------------------------
// The local model calling mcp-server-time through the agent runner.

/// What a runner's callbacks saw.
#[derive(Debug, Default)]
struct Run {
    text: String,
    /// Complete calls, as (name, arguments).
    calls: Vec<(String, String)>,
    steps: Vec<u32>,
    done: bool,
    status: u32,
    message: Option<String>,
    message_json: Option<String>,
    n_tool_calls: u32,
}

fn c_text(ptr: *const std::ffi::c_char) -> Option<String> {
    (!ptr.is_null()).then(|| {
        unsafe { std::ffi::CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    })
}

unsafe extern "C" fn run_token(
    u: *mut std::ffi::c_void,
    t: *const std::ffi::c_char,
    len: usize,
) -> std::ffi::c_int {
    let run = unsafe { &mut *u.cast::<Run>() };
    let bytes = unsafe { std::slice::from_raw_parts(t.cast::<u8>(), len) };
    run.text.push_str(&String::from_utf8_lossy(bytes));
    0
}

unsafe extern "C" fn run_call(
    u: *mut std::ffi::c_void,
    c: *const ylokh::ffi::types::ylokh_tool_call,
) -> std::ffi::c_int {
    let (run, c) = unsafe { (&mut *u.cast::<Run>(), &*c) };
    let arguments =
        unsafe { std::slice::from_raw_parts(c.arguments.cast::<u8>(), c.arguments_len) };
    run.calls.push((
        c_text(c.name).unwrap_or_default(),
        String::from_utf8_lossy(arguments).into_owned(),
    ));
    0
}

unsafe extern "C" fn run_step(
    u: *mut std::ffi::c_void,
    step: u32,
    _result: *const ylokh::ffi::types::ylokh_result,
) -> std::ffi::c_int {
    let run = unsafe { &mut *u.cast::<Run>() };
    run.steps.push(step);
    // The text streamed so far was the turn with calls; the final answer's starts now.
    run.text.clear();
    0
}

unsafe extern "C" fn run_done(u: *mut std::ffi::c_void, r: *const ylokh::ffi::types::ylokh_result) {
    let (run, r) = unsafe { (&mut *u.cast::<Run>(), &*r) };
    run.done = true;
    run.status = r.status;
    run.message = c_text(r.message);
    run.message_json = c_text(r.message_json);
    run.n_tool_calls = r.n_tool_calls;
}

/// SmolLM2-135M on the Hermes-template llama-server (`support::local::ToolServer`) asked what
/// time it is in Tokyo, with mcp-server-time's tools (over stdio) through the agent runner,
/// through /v1/chat/completions, /v1/responses and /v1/messages. The first turn carries what
/// the tiny model needs to call a tool (`first_prefill` "<tool_call>\n", `first_params_json`
/// with the required tool choice in the dialect's spelling and room for the calls); the later
/// turns are free ("auto"). Asserted, per endpoint: the run ends YLOKH_OK; the model called
/// get_current_time (every call it made was to one of the server's tools) with arguments that
/// are a JSON object with a string `timezone`; the conversation then holds the assistant
/// message with those calls and, for each, a tool result from the real server (for a real
/// timezone, mcp-server-time's JSON naming it with a datetime, +09:00 for "Asia/Tokyo"; for a
/// timezone the model misspelled, mcp-server-time's "Invalid timezone" error, which the runner
/// sends to the model as the result); and the final answer is text without calls. Which
/// timezone the model wrote is printed, not asserted (a 135M model's choice).
#[test]
#[ignore = "needs the local llama.cpp server and mcp-server-time (PyPI): run tests/run.sh"]
fn the_local_model_calls_mcp_server_time_through_the_runner_in_every_endpoint() {
    use std::ffi::CString;
    use ylokh::ffi::agent::*;
    use ylokh::ffi::conversation::*;
    use ylokh::ffi::mcp::*;
    use ylokh::ffi::options::*;
    use ylokh::ffi::status::YLOKH_OK;

    let time = CString::new(mcp_server_time()).unwrap();
    let server = support::local::ToolServer::start();
    for (api, name, required) in [
        (YLOKH_API_CHAT_COMPLETIONS, "chat", r#""required""#),
        (YLOKH_API_RESPONSES, "responses", r#""required""#),
        (YLOKH_API_MESSAGES, "messages", r#"{"type":"any"}"#),
    ] {
        let started = Instant::now();
        let client = server.client(api);
        let argv = [time.as_ptr()];
        let mut spec: ylokh_mcp_server = unsafe { std::mem::zeroed() };
        spec.struct_size = std::mem::size_of::<ylokh_mcp_server>();
        spec.argv = argv.as_ptr();
        spec.argc = 1;
        spec.connect_timeout_ms = 120_000;
        let mut session = std::ptr::null_mut();
        assert_eq!(
            unsafe { ylokh_mcp_connect(client.raw(), &spec, &mut session) },
            YLOKH_OK,
            "{:?}",
            c_text(ylokh::ffi::misc::ylokh_last_error())
        );
        let conv = ylokh_conversation_new();
        let (role, question) = (
            CString::new("user").unwrap(),
            CString::new("What time is it in Tokyo (Asia/Tokyo) right now?").unwrap(),
        );
        assert_eq!(
            unsafe { ylokh_conversation_add(conv, role.as_ptr(), question.as_ptr()) },
            YLOKH_OK
        );
        let params = CString::new(r#"{"temperature":0,"max_tokens":64}"#).unwrap();
        let first =
            CString::new(format!(r#"{{"tool_choice":{required},"max_tokens":128}}"#)).unwrap();
        let prefill = CString::new("<tool_call>\n").unwrap();
        let mut run = Run::default();
        let sessions = [session];
        let mut req: ylokh_agent_request = unsafe { std::mem::zeroed() };
        req.struct_size = std::mem::size_of::<ylokh_agent_request>();
        req.conversation = conv;
        req.params_json = params.as_ptr();
        req.first_params_json = first.as_ptr();
        req.first_prefill = prefill.as_ptr();
        req.stream = true;
        req.sessions = sessions.as_ptr();
        req.n_sessions = 1;
        req.max_steps = 4;
        req.user_data = (&mut run as *mut Run).cast();
        req.on_token = Some(run_token);
        req.on_tool_call = Some(run_call);
        req.on_step = Some(run_step);
        req.on_done = Some(run_done);
        let mut agent = std::ptr::null_mut();
        assert_eq!(
            unsafe { ylokh_agent_run(client.raw(), &req, &mut agent) },
            YLOKH_OK,
            "{:?}",
            c_text(ylokh::ffi::misc::ylokh_last_error())
        );
        unsafe {
            ylokh_agent_wait(agent, u64::MAX);
            ylokh_agent_free(agent);
        }
        let history: serde_json::Value =
            serde_json::from_str(&c_text(unsafe { ylokh_conversation_json(conv) }).unwrap())
                .unwrap();
        unsafe {
            ylokh_conversation_free(conv);
            ylokh_mcp_session_free(session);
        }
        eprintln!(
            "--- {name}: {:.1} s, steps {:?}, calls {:?}\nconversation {history:#}\nfinal {:?}",
            started.elapsed().as_secs_f64(),
            run.steps,
            run.calls,
            run.text
        );
        let context = format!("{name} (see above; server log {})", server.log.display());
        assert!(run.done, "{context}");
        assert_eq!(run.status, YLOKH_OK, "{context}: {:?}", run.message);
        assert!(!run.steps.is_empty(), "{context}: no step ran a call");
        assert!(
            run.calls.iter().any(|(tool, _)| tool == "get_current_time"),
            "{context}: get_current_time was not called"
        );
        let mut results = 0;
        for message in history.as_array().unwrap() {
            for call in message["tool_calls"].as_array().into_iter().flatten() {
                let tool = call["function"]["name"].as_str().unwrap();
                assert!(
                    ["get_current_time", "convert_time"].contains(&tool),
                    "{context}: {call}"
                );
                let arguments: serde_json::Value =
                    serde_json::from_str(call["function"]["arguments"].as_str().unwrap())
                        .unwrap_or_else(|e| panic!("{context}: {e}: {call}"));
                if tool != "get_current_time" {
                    continue;
                }
                let timezone = arguments["timezone"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{context}: no timezone in {call}"));
                let id = call["id"].as_str().unwrap();
                let result = history
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["role"] == "tool" && m["tool_call_id"] == id)
                    .unwrap_or_else(|| panic!("{context}: no result for {call}"));
                let text = result["content"].as_str().unwrap();
                // mcp-server-time's answer: its time JSON for a real timezone, else its
                // "Invalid timezone" error (which the runner hands the model as the result).
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(time) => {
                        assert_eq!(time["timezone"], timezone, "{context}: {text}");
                        let datetime = time["datetime"].as_str().unwrap_or_default();
                        assert!(datetime.len() >= 19, "{context}: {text}");
                        if timezone == "Asia/Tokyo" {
                            assert!(datetime.ends_with("+09:00"), "{context}: {text}");
                        }
                    }
                    Err(_) => assert!(text.contains("Invalid timezone"), "{context}: {text}"),
                }
                results += 1;
            }
        }
        assert!(
            results > 0,
            "{context}: no get_current_time result came back"
        );
        assert_eq!(run.n_tool_calls, 0, "{context}: the final turn made calls");
        let last: serde_json::Value =
            serde_json::from_str(run.message_json.as_ref().unwrap()).unwrap();
        assert!(last.get("tool_calls").is_none(), "{context}: {last}");
        assert!(!run.text.trim().is_empty(), "{context}: no final answer");
    }
}

/// examples/mcp_agent.c with mcp-server-time and SmolLM2-135M on the Hermes-template
/// llama-server (`support::local::ToolServer`), the first turn's prefill and required tool
/// choice given through YLOKH_FIRST_PREFILL and YLOKH_FIRST_PARAMS, as the README says. Asserted:
/// exit status 0; the program printed a get_current_time call with a `timezone`; the library's
/// DEBUG records say the runner's step 1 ran calls and mcp-server-time answered
/// get_current_time; a non-empty answer followed. Not asserted: that the 135M model's answer
/// states the time (it does not reliably: one run answered "You can use the following to
/// create a custom time-based UI: ..." after the server's +09:00 time).
#[test]
#[ignore = "needs the local llama.cpp server and mcp-server-time (PyPI): run tests/run.sh"]
fn example_mcp_agent_answers_the_tokyo_question_with_the_local_model() {
    let time = mcp_server_time();
    let server = support::local::ToolServer::start();
    let exe = built("mcp_agent_example", "examples/mcp_agent.c");
    let started = Instant::now();
    let output = Command::new(&exe)
        .arg(&time)
        .env("YLOKH_BASE_URL", &server.url)
        .env("YLOKH_TIMEOUT_MS", "900000")
        .env("YLOKH_PARAMS", r#"{"temperature":0,"max_tokens":64}"#)
        .env(
            "YLOKH_FIRST_PARAMS",
            r#"{"tool_choice":"required","max_tokens":128}"#,
        )
        .env("YLOKH_FIRST_PREFILL", "<tool_call>\n")
        .env("YLOKH_LOG", "debug")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    eprintln!(
        "{stdout}\n{stderr}\n{:.1} s; server log {}",
        started.elapsed().as_secs_f64(),
        server.log.display()
    );
    assert!(output.status.success());
    let calls: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("[get_current_time "))
        .collect();
    assert!(!calls.is_empty(), "no get_current_time call printed");
    for call in &calls {
        let arguments: serde_json::Value =
            serde_json::from_str(call.strip_suffix(']').unwrap()).unwrap();
        assert!(arguments["timezone"].is_string(), "{call}");
    }
    assert!(stderr.contains("agent step 1: "), "the runner ran no calls");
    assert!(
        stderr.contains("MCP server mcp-server-time: get_current_time answered in "),
        "mcp-server-time did not answer"
    );
    let answer: String = stdout
        .lines()
        .filter(|l| !l.starts_with("[get_current_time ") && !l.starts_with("[convert_time "))
        .collect();
    assert!(!answer.trim().is_empty(), "no answer besides the calls");
}

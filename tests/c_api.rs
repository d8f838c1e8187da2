//! Builds the C test program and the examples against the freshly built library and header,
//! and runs them against the loopback test server.

mod support;

use std::process::Command;
use support::{compile, start_server, tmp_path};

fn run(program: &std::path::Path, args: &[&str], envs: &[(&str, String)]) -> std::process::Output {
    let output = Command::new(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    eprintln!(
        "--- {} stdout:\n{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout)
    );
    eprintln!(
        "--- {} stderr:\n{}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn c_test_program_passes_against_the_loopback_server() {
    let server = start_server();
    let exe = tmp_path("api_test");
    compile("gcc", &["tests/c/api_test.c"], &exe, &[]);
    // YLOKH_TEST_WRAPPER runs the program under a tool, e.g. "valgrind --error-exitcode=1".
    let output = match std::env::var("YLOKH_TEST_WRAPPER") {
        Ok(wrapper) if !wrapper.trim().is_empty() => {
            let mut words = wrapper.split_whitespace();
            let tool = std::path::PathBuf::from(words.next().unwrap());
            let mut args: Vec<String> = words.map(String::from).collect();
            args.push(exe.display().to_string());
            args.push(server.url());
            run(
                &tool,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                &[],
            )
        }
        _ => run(&exe, &[&server.url()], &[]),
    };
    assert!(
        output.status.success(),
        "the C test program failed (see its output above)"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(", 0 failed"));
}

#[test]
#[ignore = "needs g++ (chat.cpp under ASan/UBSan): run tests/run.sh"]
fn c_test_program_is_clean_under_address_and_undefined_behaviour_sanitizers() {
    let server = start_server();
    let exe = tmp_path("api_test_asan");
    let flags = [
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all",
        "-fno-omit-frame-pointer",
    ];
    compile("gcc", &["tests/c/api_test.c"], &exe, &flags);
    let env = [
        ("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1".to_string()),
        (
            "UBSAN_OPTIONS",
            "halt_on_error=1:print_stacktrace=1".to_string(),
        ),
    ];
    let output = run(&exe, &[&server.url()], &env);
    assert!(
        output.status.success(),
        "the C test program failed under ASan/UBSan (see the output above)"
    );
    for example in ["examples/chat.c", "examples/chat.cpp"] {
        let exe = tmp_path(&format!("{}_asan", example.replace(['/', '.'], "_")));
        compile(
            if example.ends_with("cpp") {
                "g++"
            } else {
                "gcc"
            },
            &[example],
            &exe,
            &flags,
        );
        let output = run(
            &exe,
            &["hi"],
            &[
                ("YLOKH_BASE_URL", format!("{}/stream/v1", server.url())),
                env[0].clone(),
                env[1].clone(),
            ],
        );
        assert!(output.status.success(), "{example} failed under ASan/UBSan");
    }
}

/// valgrind memcheck: no errors and no definitely-lost bytes (needs valgrind; .ci/run installs it).
#[test]
#[ignore = "needs valgrind: run tests/run.sh"]
fn c_test_program_is_clean_under_valgrind() {
    let server = start_server();
    let exe = tmp_path("api_test_valgrind");
    compile("gcc", &["tests/c/api_test.c"], &exe, &[]);
    let valgrind = std::path::Path::new("valgrind");
    let output = run(
        valgrind,
        &[
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--quiet",
            exe.to_str().unwrap(),
            &server.url(),
        ],
        &[],
    );
    assert!(
        output.status.success(),
        "valgrind found errors or definite leaks (see the output above)"
    );
}

/// 4 threads x 5,000 requests, two rounds (see tests/c/stress.c for the mix and the checks).
#[test]
fn stress_program_passes() {
    let server = start_server();
    let exe = tmp_path("stress");
    compile("gcc", &["tests/c/stress.c"], &exe, &[]);
    let per_thread = std::env::var("YLOKH_STRESS_REQUESTS").unwrap_or_else(|_| "5000".into());
    let rounds = std::env::var("YLOKH_STRESS_ROUNDS").unwrap_or_else(|_| "2".into());
    let output = run(&exe, &[&server.url(), &per_thread, "4", &rounds], &[]);
    assert!(
        output.status.success(),
        "the stress program failed (see its output above)"
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(" 0 other"),
        "a request ended in an unexpected status"
    );
}

#[test]
fn hostile_servers_are_survived_with_bounded_memory() {
    let server = start_server();
    let exe = tmp_path("api_test_hostile");
    compile("gcc", &["tests/c/api_test.c"], &exe, &[]);
    let output = run(&exe, &[&server.url(), "hostile"], &[]);
    assert!(
        output.status.success(),
        "the hostile-server tests failed (see the output above)"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 tests passed, 0 failed"));
}

fn check_example(compiler: &str, source: &str, name: &str) {
    let server = start_server();
    let exe = tmp_path(name);
    compile(compiler, &[source], &exe, &[]);
    let env = |scenario: &str| {
        vec![
            ("YLOKH_BASE_URL", format!("{}/{scenario}/v1", server.url())),
            ("YLOKH_API_KEY", "sk-x".to_string()),
        ]
    };

    let ok = run(&exe, &["Say hello in three languages."], &env("stream"));
    assert!(ok.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim_end_matches('\n'),
        support::expected_text()
    );
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert!(stderr.contains("finish_reason: length"), "{stderr}");

    let usage = run(&exe, &["Привет"], &env("usageru"));
    assert!(usage.status.success());
    assert!(String::from_utf8_lossy(&usage.stderr).contains("prompt 36, completion 40, total 76"));

    let failed = run(&exe, &["hi"], &env("nomessages"));
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("YLOKH_HTTP_STATUS") && stderr.contains("'messages' is required"),
        "{stderr}"
    );

    let usage_error = run(&exe, &[], &env("stream"));
    assert_eq!(usage_error.status.code(), Some(2), "no prompt: usage error");
}

#[test]
fn c_example_streams_and_reports() {
    check_example("gcc", "examples/chat.c", "chat_c");
}

#[test]
#[ignore = "needs g++: run tests/run.sh"]
fn cpp_example_streams_and_reports() {
    check_example("g++", "examples/chat.cpp", "chat_cpp");
}

/// A request on a kept-alive connection that the server closes without answering is sent again
/// once, at once, on a new connection (with retries off); a server that always does that still
/// ends in YLOKH_CONNECT, after that one extra try.
#[test]
fn a_stale_kept_alive_connection_is_retried_once_on_a_new_one() {
    use support::capi::{chat_with, Client};
    use ylokh::ffi::status::*;
    let server = start_server();
    let client = Client::new(&format!("{}/dropsecond/v1", server.url()), None);
    for round in 0..4 {
        let answer = chat_with(&client, "{}", true, None, || {});
        assert_eq!(answer.status, YLOKH_OK, "round {round}: {answer:?}");
        assert_eq!(answer.text, "fresh");
    }
    let always = Client::new(&format!("{}/dropall/v1", server.url()), None);
    let answer = chat_with(&always, "{}", true, None, || {});
    assert_eq!(answer.status, YLOKH_CONNECT, "{answer:?}");
    assert!(
        answer
            .message
            .contains("connection closed before message completed"),
        "{}",
        answer.message
    );
}

/// The pull interface under a slow consumer: 1,000,000 tokens sent as fast as the server can,
/// taken with a 1 ms nap every 250 tokens and one 2 s stop; resident memory stays flat because
/// the library stops reading the socket while the queue is full (without backpressure the rest
/// of the ~130 MB stream piles up in the queue during the stop: the test fails then).
#[test]
fn a_slow_pull_consumer_keeps_memory_flat_on_a_million_tokens() {
    let server = start_server();
    let exe = tmp_path("pull_memory");
    compile("gcc", &["tests/c/pull_memory.c"], &exe, &[]);
    let output = run(&exe, &[&format!("{}/million/v1", server.url())], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let field = |name: &str| -> i64 {
        stdout
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {stdout}"))
    };
    assert_eq!(field("tokens"), 1_000_000, "{stdout}");
    let growth = field("rss_max_kib") - field("rss_start_kib");
    // The library keeps one copy of the answer's text, for `message_json` (the stream's
    // "w0 w1 ... w999 " repeated: 4,890,000 bytes); beyond it, memory stays flat: without
    // backpressure the queue alone grows by 35 MB here.
    let answer_kib = (0..1_000_000u32)
        .map(|i| format!("w{} ", i % 1000).len() as i64)
        .sum::<i64>()
        / 1024;
    println!("pull consumer: {stdout}  growth {growth} KiB (answer {answer_kib} KiB)");
    assert!(
        growth < answer_kib + 4096,
        "resident memory grew by {growth} KiB, more than the answer's {answer_kib} KiB + 4 MiB: {stdout}"
    );
}

/// A log callback that calls into the library, which logs again, while another thread waits in
/// `ylokh_set_log_callback`: both finish (the callback runs with no lock held). Under a time
/// limit, since the failure is a deadlock.
#[test]
fn a_log_callback_that_calls_the_library_does_not_deadlock_a_concurrent_setter() {
    let exe = tmp_path("log_reentry");
    compile("gcc", &["tests/c/log_reentry.c"], &exe, &[]);
    let mut child = Command::new(&exe)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("log_reentry did not finish within 20 s: the log callback deadlocked");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && stdout.contains("ok"), "{stdout}");
}

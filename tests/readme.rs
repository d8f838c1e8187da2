//! The C program in README.md, compiled against the build tree and run as a new user would,
//! through its success and failure paths (tests/install.rs builds it against an installed
//! libylokh).

mod support;

use std::process::Command;

fn readme_program() -> String {
    support::readme_block("hello.c")
}

#[test]
fn readme_c_program_streams_and_reports_failures() {
    let server = support::start_server();
    let source = support::tmp_path("readme.c");
    std::fs::write(&source, readme_program()).unwrap();
    let exe = support::tmp_path("readme");
    support::compile("gcc", &[source.to_str().unwrap()], &exe, &[]);

    let ok = Command::new(&exe)
        .arg(format!("{}/stream/v1", server.url()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.starts_with("Say hello in three languages."),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&ok.stderr).contains("[length, -1 tokens]"));

    let failed = Command::new(&exe)
        .arg(format!("{}/nomessages/v1", server.url()))
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("YLOKH_HTTP_STATUS (HTTP 400)")
            && stderr.contains("'messages' is required"),
        "{stderr}"
    );
}

/// The README's agent, as a new user would copy it: against a server that plays a recorded
/// two-step tool exchange and answers 400 unless the program sends the call back in the
/// assistant turn and its result under the call's id.
#[test]
fn readme_agent_runs_a_two_step_tool_loop() {
    let server = support::start_server();
    let source = support::tmp_path("readme_agent.c");
    std::fs::write(&source, support::readme_block("agent.c")).unwrap();
    let exe = support::tmp_path("readme_agent");
    support::compile("gcc", &[source.to_str().unwrap()], &exe, &[]);
    let out = Command::new(&exe)
        .arg(format!("{}/toolloop/v1", server.url()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(r#"[calc({"a": 17, "op": "*", "b": 23}) = 391]"#),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .ends_with("The answer: 17 times 23 is 391."),
        "{stdout}"
    );
}

/// examples/agent.c: every step printed, the call with its id and arguments, the result, and
/// the final answer.
#[test]
fn example_agent_prints_each_step_and_the_final_answer() {
    let server = support::start_server();
    let exe = support::tmp_path("example_agent");
    support::compile("gcc", &["examples/agent.c"], &exe, &[]);
    let out = Command::new(&exe)
        .arg("What is 17 times 23?")
        .env("YLOKH_BASE_URL", format!("{}/toolloop/v1", server.url()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "--- step 1",
        "Let me compute that.",
        r#"[tool call call_calc_1] calc({"a": 17, "op": "*", "b": 23})"#,
        "[tool result call_calc_1] 391",
        "--- step 2",
        "The answer: 17 times 23 is 391.",
        "--- final answer after 2 steps",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    // A server that never stops calling tools: the step limit ends it, with exit status 1.
    let out = Command::new(&exe)
        .arg("loop")
        .env(
            "YLOKH_BASE_URL",
            format!("{}/replay3-tools.loop-step1/v1", server.url()),
        )
        .env("YLOKH_MAX_STEPS", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no final answer within 2 steps"));
}

/// The README's event-loop program (poll on ylokh_request_fd), through success and failure.
#[test]
fn readme_poll_program_streams_on_its_own_loop() {
    let server = support::start_server();
    let source = support::tmp_path("readme_poll.c");
    std::fs::write(&source, support::readme_block("poll.c")).unwrap();
    let exe = support::tmp_path("readme_poll");
    support::compile("gcc", &[source.to_str().unwrap()], &exe, &[]);
    let ok = Command::new(&exe)
        .arg(format!("{}/stream/v1", server.url()))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim_end_matches('\n'),
        support::expected_text()
    );
    let failed = Command::new(&exe)
        .arg(format!("{}/nomessages/v1", server.url()))
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("YLOKH_HTTP_STATUS") && stderr.contains("'messages' is required"),
        "{stderr}"
    );
}

/// The README's embeddings program, through success and a malformed answer.
#[test]
fn readme_embed_program_compares_two_vectors() {
    let server = support::start_server();
    let source = support::tmp_path("readme_embed.c");
    std::fs::write(&source, support::readme_block("embed.c")).unwrap();
    let exe = support::tmp_path("readme_embed");
    support::compile("gcc", &[source.to_str().unwrap()], &exe, &["-lm"]);
    let ok = Command::new(&exe)
        .arg(format!("{}/emb/v1", server.url()))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // The loopback vectors: [16, 84, 0.5, 0] and [15, 71, 0.5, -1.25].
    let cosine = (16.0 * 15.0 + 84.0 * 71.0 + 0.25)
        / ((16f64 * 16.0 + 84.0 * 84.0 + 0.25).sqrt()
            * (15f64 * 15.0 + 71.0 * 71.0 + 0.25 + 1.5625).sqrt());
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        format!("2 vectors of 4 dimensions; cosine similarity {cosine:.3}\n")
    );
    let failed = Command::new(&exe)
        .arg(format!("{}/emb-count/v1", server.url()))
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("YLOKH_PROTOCOL") && stderr.contains("1 vectors for 2 inputs"),
        "{stderr}"
    );
}

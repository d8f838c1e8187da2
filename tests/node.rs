//! The Node.js package (examples/node) as a user gets it: `npm install --install-links
//! <checkout>/examples/node` in a fresh directory, then the README's Node.js program, and
//! `node --test` over examples/node/test/*.test.mjs (copied into that directory, so that they
//! import the installed package) against the loopback server (runner.test.mjs also with the
//! fake MCP server, tests/mcp/fake_server.c, built here). The real-server tier runs
//! examples/node/test/real-server.mjs and the README program against the local llama.cpp server.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use support::{expected_text, lib_dir, readme_block, start_server, tmp_path, FIXTURES};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn run(what: &str, command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| {
        panic!("could not run {what}: {e} (node and npm are needed: apt-get install nodejs npm)")
    });
    println!(
        "--- {what}\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The library this test run built, which the package loads (YLOKH_LIB). (Without it, npm's
/// install script would run `cargo build --release` in this checkout, whose target directory
/// `cargo test` holds locked while tests run.)
fn library() -> PathBuf {
    lib_dir().join("libylokh.so")
}

/// A fresh directory with the package installed by npm, as the README says; made once.
fn app() -> &'static Path {
    static APP: OnceLock<PathBuf> = OnceLock::new();
    APP.get_or_init(|| {
        let node = run("node --version", Command::new("node").arg("--version"));
        assert!(
            node.status.success(),
            "node is needed (apt-get install nodejs npm)"
        );
        let app = tmp_path("node-app");
        let _ = std::fs::remove_dir_all(&app);
        std::fs::create_dir_all(&app).unwrap();
        let install = run(
            "npm install examples/node",
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--install-links"])
                .arg(format!("{ROOT}/examples/node"))
                .current_dir(&app)
                .env("YLOKH_LIB", library()),
        );
        assert!(
            install.status.success(),
            "npm install examples/node failed (npm must reach its registry for koffi)"
        );
        app
    })
}

fn node(what: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    run(
        what,
        Command::new("node")
            .args(args)
            .current_dir(app())
            .env_remove("YLOKH_BASE_URL")
            .env_remove("YLOKH_API_KEY")
            .env_remove("YLOKH_LOG")
            .env("YLOKH_LIB", library())
            .envs(env.iter().copied()),
    )
}

/// `node --test` over copies of examples/node/test's `files`, in the app's test/ directory;
/// asserts the TAP summary: some passed, none failed, cancelled, skipped or todo.
fn node_test(files: &[&str], env: &[(&str, &str)]) {
    let dir = app().join("test");
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = vec!["--test".to_string(), "--test-reporter=tap".to_string()];
    for file in files {
        let source = Path::new(ROOT).join("examples/node/test").join(file);
        std::fs::copy(&source, dir.join(file))
            .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        args.push(format!("test/{file}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = node("node --test", &args, env);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let count = |key: &str| -> u32 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {key} ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `# {key}` line in node --test's summary"))
    };
    assert!(output.status.success(), "node --test failed (see above)");
    assert!(count("pass") > 0, "{stdout}");
    assert_eq!(count("fail"), 0, "{stdout}");
    assert_eq!(count("cancelled"), 0, "{stdout}");
    assert_eq!(count("skipped"), 0, "{stdout}");
    assert_eq!(count("todo"), 0, "{stdout}");
}

#[test]
#[ignore = "needs node and npm: run tests/run.sh"]
fn node_package_passes_its_tests_against_the_loopback_server() {
    let server = start_server();
    let dir = Path::new(ROOT).join("examples/node/test");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tests in {}", dir.display());
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let fake_mcp = tmp_path("node_fake_mcp_server");
    support::compile("gcc", &["tests/mcp/fake_server.c"], &fake_mcp, &[]);
    node_test(
        &files,
        &[
            ("YLOKH_TEST_SERVER", &server.url()),
            ("YLOKH_TEST_FIXTURES", FIXTURES),
            ("YLOKH_FAKE_MCP", fake_mcp.to_str().unwrap()),
        ],
    );
}

#[test]
#[ignore = "needs node and npm: run tests/run.sh"]
fn readme_node_program_streams_from_the_loopback_server() {
    let server = start_server();
    std::fs::write(app().join("hello.mjs"), readme_block("hello.mjs")).unwrap();
    let url = format!("{}/stream/v1", server.url());
    let hello = node("hello.mjs", &["hello.mjs", &url], &[]);
    assert!(hello.status.success(), "hello.mjs failed");
    let stdout = String::from_utf8_lossy(&hello.stdout);
    assert!(stdout.starts_with(&expected_text()), "{stdout}");
    assert!(stdout.contains("[length"), "{stdout}");

    let url = format!("{}/503always/v1", server.url());
    let down = node("hello.mjs (a failing server)", &["hello.mjs", &url], &[]);
    assert_eq!(down.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("YLOKH_HTTP_STATUS (HTTP 503)"),
        "{down:?}"
    );

    // The "Agent runner" program: a JS tool and the fake MCP server's tools, one run.
    let fake_mcp = tmp_path("node_readme_fake_mcp_server");
    support::compile("gcc", &["tests/mcp/fake_server.c"], &fake_mcp, &[]);
    std::fs::write(
        app().join("agent_runner.mjs"),
        readme_block("agent_runner.mjs"),
    )
    .unwrap();
    let url = format!("{}/agentloop/v1", server.url());
    let agent = node(
        "agent_runner.mjs",
        &["agent_runner.mjs", &url, fake_mcp.to_str().unwrap()],
        &[],
    );
    assert!(agent.status.success(), "agent_runner.mjs failed");
    assert_eq!(
        String::from_utf8_lossy(&agent.stdout),
        "9 MCP tools\nLet me compute that.The answer: 17 times 23 is 391.\n[2 steps, answered: true, 3 messages]\n"
    );
}

/// tests/node/weather_loop.mjs, the tool loop written once in Node (Client.stream with tools,
/// result.message → Conversation.addResult), completes against every provider of issue 20's
/// table, and its second request is the one the C API's loop sends: signed thinking, encrypted
/// reasoning, thought signatures and reasoning_details went back (the servers answer 400
/// otherwise).
#[test]
#[ignore = "needs node and npm: run tests/run.sh"]
fn node_tool_loop_completes_against_every_provider() {
    let script = app().join("weather_loop.mjs");
    std::fs::copy(Path::new(ROOT).join("tests/node/weather_loop.mjs"), &script).unwrap();
    support::providers::every_row_completes("Node", |url, api, params| {
        node(
            "weather_loop.mjs",
            &["weather_loop.mjs", url, api],
            &[("YLOKH_PARAMS", params)],
        )
    });
}

#[test]
#[ignore = "needs the local llama.cpp server, node and npm: run tests/run.sh"]
fn node_package_against_the_local_llama_server() {
    let url = support::local::local_llm().to_string();
    std::fs::write(app().join("hello.mjs"), readme_block("hello.mjs")).unwrap();
    let hello = node("hello.mjs", &["hello.mjs", &url], &[]);
    assert!(hello.status.success(), "hello.mjs failed");
    let answer = String::from_utf8_lossy(&hello.stdout);
    assert!(
        answer.split_whitespace().count() >= 5,
        "the README program streamed no answer: {answer:?}"
    );
    node_test(&["real-server.mjs"], &[("YLOKH_LLM_URL", &url)]);
}

/// tests/node/real_tool_loop.mjs, the tool loop of tests/local_llm.rs's C++ and Python programs
/// written in Node (client.stream with tools, Conversation.addResult and addToolResult), through
/// /v1/chat/completions, /v1/responses and /v1/messages of the Hermes-template llama-server
/// (`support::local::ToolServer`): the model calls calc, the program runs it on the parsed
/// arguments, sends the assistant message and the results, and the next answer has no calls
/// (`support::local::assert_real_tool_loop` says what is checked).
#[test]
#[ignore = "needs the local llama.cpp server, node and npm: run tests/run.sh"]
fn node_tool_loop_completes_against_the_local_llama_server_through_all_three_endpoints() {
    let server = support::local::ToolServer::start();
    let script = app().join("real_tool_loop.mjs");
    std::fs::copy(
        Path::new(ROOT).join("tests/node/real_tool_loop.mjs"),
        &script,
    )
    .unwrap();
    for api in ["chat", "responses", "messages"] {
        let output = node(
            "real_tool_loop.mjs",
            &["real_tool_loop.mjs", &server.url, api],
            &[],
        );
        support::local::assert_real_tool_loop("Node", api, &output, &server.log);
    }
}

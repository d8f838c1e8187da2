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

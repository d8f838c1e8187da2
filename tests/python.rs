//! One pytest run, in a venv this test makes, against the loopback server: the Python binding
//! (examples/python/ylokh.py, tests/python/test_ylokh.py) and the terminal chat
//! (examples/repl.c driven through a pseudo-terminal, tests/python/test_repl.py).

mod support;

use std::path::Path;
use std::process::Command;
use support::{compile, lib_dir, start_server, tmp_path};

/// A venv with pytest under target/, made once.
fn venv() -> std::path::PathBuf {
    let venv = lib_dir().join("../../ylokh-pytest-venv");
    let python = venv.join("bin/python");
    let has_pytest = |python: &Path| {
        Command::new(python)
            .args(["-c", "import pytest"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !(python.exists() && has_pytest(&python)) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 (apt-get install python3 python3-venv)");
        assert!(
            made.success(),
            "python3 -m venv failed (apt-get install python3-venv)"
        );
        let pip = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "pytest"])
            .status()
            .expect("pip");
        assert!(
            pip.success() && has_pytest(&python),
            "pip install pytest failed"
        );
    }
    python
}

#[test]
#[ignore = "needs python3-venv and pytest from PyPI: run tests/run.sh"]
fn python_binding_and_repl_pass_their_pytest_suite() {
    let python = venv();
    let repl = tmp_path("repl");
    compile("gcc", &["examples/repl.c"], &repl, &[]);
    let server = start_server();
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new(python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/python",
        ])
        .current_dir(root)
        .env("PYTHONPATH", format!("{root}/examples/python"))
        .env("YLOKH_LIB", lib_dir().join("libylokh.so"))
        .env("YLOKH_TEST_SERVER", server.url())
        .env("YLOKH_REPL", &repl)
        .env_remove("YLOKH_BASE_URL")
        .env_remove("YLOKH_API_KEY")
        .env_remove("YLOKH_LOG")
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "pytest failed (see above)");
    assert!(
        stdout.contains(" passed") && !stdout.contains("skipped"),
        "{stdout}"
    );
}

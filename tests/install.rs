//! libylokh installed like a C library, and used from it as README.md tells a new user:
//! `cargo cinstall` (cargo-c) into a temporary prefix; SONAME and exported symbols; the README's
//! C program built with pkg-config, and linked statically with libylokh.a and the native
//! libraries rustc reports; the README's C++ program; the README's CMake project and
//! examples/cmake; the README's Python program on the installed library. Each one streams a
//! reply from the loopback server.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{readme_block, start_server, tmp_path};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn ok(what: &str, out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn sh(what: &str, script: &str, dir: &Path, envs: &[(&str, &str)]) -> String {
    let out = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    ok(what, out)
}

/// `cargo cinstall` into a fresh prefix (its own target dir: the outer cargo holds ours).
fn install() -> PathBuf {
    let prefix = tmp_path("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    let out = Command::new(env!("CARGO"))
        .args(["cinstall", "--release", "--prefix"])
        .arg(&prefix)
        .arg("--libdir")
        .arg(prefix.join("lib"))
        .current_dir(ROOT)
        .env("CARGO_TARGET_DIR", Path::new(ROOT).join("target/side")) // shared with abi.rs, python.rs
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .output()
        .expect("run cargo");
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no such command") {
        panic!("cargo-c is missing: `cargo install cargo-c --locked` (.ci/run does it)");
    }
    ok("cargo cinstall", out);
    prefix
}

/// `readelf -d`: the dynamic section (SONAME, needed libraries).
fn readelf(file: &Path) -> String {
    ok(
        "readelf",
        Command::new("readelf")
            .arg("-d")
            .arg(file)
            .output()
            .unwrap(),
    )
}

/// Runs a built program with `args`; its stdout, which must hold the streamed reply.
fn check_program(what: &str, program: &Path, args: &[&str], envs: &[(&str, &str)]) {
    let out = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    check_reply(what, &ok(what, out));
}

fn check_reply(what: &str, stdout: &str) {
    assert!(
        stdout.contains("Say hello in three languages."),
        "{what} did not stream the reply: {stdout}"
    );
}

#[test]
#[ignore = "needs cargo-c, cmake, pkg-config and g++: run tests/run.sh"]
fn installed_library_serves_c_cpp_cmake_and_python_projects() {
    let prefix = install();
    let lib = prefix.join("lib");
    for file in [
        "lib/libylokh.so",
        "lib/libylokh.so.0",
        "lib/libylokh.a",
        "lib/pkgconfig/ylokh.pc",
        "include/ylokh.h",
        "include/ylokh.hpp",
    ] {
        assert!(prefix.join(file).exists(), "{file} was not installed");
    }

    // SONAME, and only ylokh_* symbols exported.
    let dynamic = readelf(&lib.join("libylokh.so"));
    assert!(
        dynamic.contains("Library soname: [libylokh.so.0]"),
        "{dynamic}"
    );
    let symbols = ok(
        "nm",
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(lib.join("libylokh.so"))
            .output()
            .unwrap(),
    );
    let names: Vec<&str> = symbols
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert!(names.len() >= 30, "{symbols}");
    assert!(names.iter().all(|n| n.starts_with("ylokh_")), "{symbols}");

    let server = start_server();
    let url = format!("{}/stream/v1", server.url());
    let work = tmp_path("install-projects");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("hello.c"), readme_block("hello.c")).unwrap();
    std::fs::write(work.join("hello.cpp"), readme_block("hello.cpp")).unwrap();
    std::fs::write(work.join("hello.py"), readme_block("hello.py")).unwrap();
    let pc_path = lib.join("pkgconfig");
    let pc = pc_path.to_str().unwrap();
    let env = [("PKG_CONFIG_PATH", pc)];

    // C through pkg-config, as README.md says (the rpath because the prefix is not a system one).
    sh(
        "README C build",
        "cc -Wall -Wextra -Werror hello.c $(pkg-config --cflags --libs ylokh) \
         -Wl,-rpath,$(pkg-config --variable=libdir ylokh) -o hello",
        &work,
        &env,
    );
    let needed = readelf(&work.join("hello"));
    assert!(
        needed.contains("Shared library: [libylokh.so.0]"),
        "{needed}"
    );
    check_program("the C program", &work.join("hello"), &[&url], &[]);

    // C, statically: libylokh.a and the native libraries rustc reported (ylokh.pc's
    // Libs.private, which cargo-c takes from `rustc --print native-static-libs`).
    sh(
        "README static C build",
        "cc hello.c $(pkg-config --cflags ylokh) $(pkg-config --variable=libdir ylokh)/libylokh.a \
         $(pkg-config --static --libs-only-l ylokh | sed 's/-lylokh//') -o hello-static",
        &work,
        &env,
    );
    let needed = readelf(&work.join("hello-static"));
    assert!(
        !needed.contains("libylokh"),
        "the static build still needs libylokh.so: {needed}"
    );
    check_program(
        "the static C program",
        &work.join("hello-static"),
        &[&url],
        &[],
    );

    // C++ through pkg-config.
    sh(
        "README C++ build",
        "c++ -std=c++17 -Wall -Wextra -Werror hello.cpp $(pkg-config --cflags --libs ylokh) \
         -Wl,-rpath,$(pkg-config --variable=libdir ylokh) -o hello-cpp",
        &work,
        &env,
    );
    check_program("the C++ program", &work.join("hello-cpp"), &[&url], &[]);

    // CMake: the README's project, and examples/cmake (chat.c).
    let cmake_project = work.join("cmake-hello");
    std::fs::create_dir_all(&cmake_project).unwrap();
    std::fs::write(
        cmake_project.join("CMakeLists.txt"),
        readme_block("CMakeLists.txt"),
    )
    .unwrap();
    std::fs::copy(work.join("hello.c"), cmake_project.join("hello.c")).unwrap();
    for (source, build) in [
        (cmake_project.clone(), work.join("build-hello")),
        (
            Path::new(ROOT).join("examples/cmake"),
            work.join("build-chat"),
        ),
    ] {
        sh(
            "cmake",
            &format!(
                "cmake -S '{}' -B '{}' >/dev/null && cmake --build '{}' >/dev/null",
                source.display(),
                build.display(),
                build.display()
            ),
            &work,
            &env,
        );
    }
    check_program(
        "the README's CMake project",
        &work.join("build-hello/hello"),
        &[&url],
        &[],
    );
    check_program(
        "examples/cmake's chat",
        &work.join("build-chat/chat"),
        &["hi"],
        &[("YLOKH_BASE_URL", &url)],
    );

    // Python: the README's program on the installed library.
    let python = Command::new("python3")
        .arg("hello.py")
        .current_dir(&work)
        .env("PYTHONPATH", Path::new(ROOT).join("examples/python"))
        .env("YLOKH_LIB", lib.join("libylokh.so.0"))
        .env("YLOKH_BASE_URL", &url)
        .env_remove("YLOKH_API_KEY")
        .output()
        .unwrap();
    check_reply(
        "the README's Python program",
        &ok("python3 hello.py", python),
    );
}

//! Building C and C++ programs against the library cargo just built, for the tests and the
//! benchmark (`benches/main.rs` includes this file).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the library built for this test run: `target/<profile>/deps`, where
/// the test binary is too. (`cargo test` refreshes the library there; the copy one level up
/// is only refreshed by `cargo build`, so it may be stale or missing.)
pub fn lib_dir() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The library's SONAME is libylokh.so.0, which is what a linked program asks for at run time:
/// in the build tree, as in an installed prefix, it is a link to libylokh.so.
pub fn link_soname(lib: &Path) {
    match std::os::unix::fs::symlink("libylokh.so", lib.join("libylokh.so.0")) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("could not link libylokh.so.0 in {}: {e}", lib.display()),
    }
}

/// Compiles C or C++ `sources` into `out` against include/ and the built shared library.
pub fn compile(compiler: &str, sources: &[&str], out: &Path, extra: &[&str]) {
    let root = env!("CARGO_MANIFEST_DIR");
    let lib = lib_dir();
    assert!(
        lib.join("libylokh.so").exists(),
        "libylokh.so not found in {}",
        lib.display()
    );
    link_soname(&lib);
    let std = if compiler.ends_with("++") {
        "-std=c++17"
    } else {
        "-std=c11"
    };
    let status = Command::new(compiler)
        .args([std, "-Wall", "-Wextra", "-Werror", "-g", "-O1", "-pthread"])
        .arg(format!("-I{root}/include"))
        .args(sources.iter().map(|s| {
            if s.starts_with('/') {
                s.to_string()
            } else {
                format!("{root}/{s}")
            }
        }))
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lylokh")
        .status()
        .unwrap_or_else(|e| panic!("could not run {compiler}: {e}"));
    assert!(status.success(), "{compiler} failed on {sources:?}");
}

/// A path for a built program or a scratch file, in a directory of this process's own.
pub fn tmp_path(name: &str) -> PathBuf {
    // Per process, so two test runs at once never overwrite each other's programs.
    let dir = lib_dir().join(format!("ylokh-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

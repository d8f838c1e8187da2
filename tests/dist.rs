//! The release artefacts as a user without Rust gets them: `dist/build.sh` (run twice: the
//! second run must give the same bytes), then, with no cargo, rustc or cargo-c on PATH and a
//! fresh HOME: the C tarball unpacked into a temporary prefix, the README's hello.c built through
//! pkg-config and through the README's CMake project (find_package(ylokh 0.3 REQUIRED)), shared
//! and static; the wheel installed into a fresh venv, the README's Python programs; the npm
//! tarball installed into a fresh directory, the README's Node.js program. Each streams from the
//! loopback server. And the wheel's manylinux tag against the glibc symbol versions the library
//! really needs.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use support::{expected_text, readme_block, start_server, tmp_path};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn run(what: &str, command: &mut Command) -> String {
    let out: Output = command
        .output()
        .unwrap_or_else(|e| panic!("could not run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The cargo target directory the tests' release builds share (abi.rs, install.rs, python.rs).
fn side() -> PathBuf {
    Path::new(ROOT).join("target/side")
}

/// dist/, built by `dist/build.sh` twice; the artefacts' SHA256SUMS must be the same both times
/// but for the sdist, whose dates setuptools writes.
fn dist() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let build = || {
            let started = std::time::Instant::now();
            run(
                "dist/build.sh",
                Command::new(Path::new(ROOT).join("dist/build.sh"))
                    .env("CARGO_TARGET_DIR", side())
                    .env_remove("CARGO_MAKEFLAGS")
                    .env_remove("MAKEFLAGS")
                    .env_remove("MFLAGS")
                    .env_remove("SOURCE_DATE_EPOCH")
                    .stderr(std::process::Stdio::inherit()),
            );
            println!("dist/build.sh took {:?}", started.elapsed());
            let sums = std::fs::read_to_string(Path::new(ROOT).join("dist/SHA256SUMS")).unwrap();
            sums.lines()
                .filter(|l| !l.ends_with(&format!(" ylokh-{VERSION}.tar.gz")))
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let first = build();
        assert_eq!(
            first.len(),
            3,
            "three artefacts besides the sdist: {first:?}"
        );
        assert_eq!(first, build(), "a second dist/build.sh gave other bytes");
        Path::new(ROOT).join("dist")
    })
}

/// The one file in dist/ whose name starts with `prefix` and ends with `suffix`.
fn artefact(prefix: &str, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dist())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
        .collect();
    assert_eq!(found.len(), 1, "{prefix}*{suffix} in dist/: {found:?}");
    found.into_iter().next().unwrap()
}

/// An environment without Rust: PATH without the directories holding cargo, rustc, rustup or
/// cargo-cinstall, a fresh HOME, nothing else inherited.
struct Plain {
    path: String,
    home: PathBuf,
}

fn plain() -> &'static Plain {
    static PLAIN: OnceLock<Plain> = OnceLock::new();
    PLAIN.get_or_init(|| {
        let rust = ["cargo", "rustc", "rustup", "cargo-cinstall"];
        let path = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .filter(|dir| !rust.iter().any(|tool| dir.join(tool).exists()))
            .collect::<Vec<_>>();
        let path = std::env::join_paths(path).unwrap().into_string().unwrap();
        let home = tmp_path("dist-home");
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        let plain = Plain { path, home };
        let found = plain
            .command("sh")
            .args(["-c", "command -v cargo rustc rustup cargo-cinstall"])
            .output()
            .unwrap();
        assert!(
            found.stdout.is_empty(),
            "Rust is still on PATH: {}",
            String::from_utf8_lossy(&found.stdout)
        );
        plain
    })
}

impl Plain {
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8");
        command
    }

    fn sh(&self, what: &str, script: &str, dir: &Path, envs: &[(&str, &str)]) -> String {
        run(
            what,
            self.command("sh")
                .args(["-ec", script])
                .current_dir(dir)
                .envs(envs.iter().copied()),
        )
    }
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = tmp_path(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn readelf(file: &Path) -> String {
    run("readelf -d", Command::new("readelf").arg("-d").arg(file))
}

fn check_reply(what: &str, stdout: &str) {
    assert!(
        stdout.starts_with(&expected_text()),
        "{what} did not stream the reply: {stdout}"
    );
}

#[test]
#[ignore = "needs python3-venv, node, npm, cmake, pkg-config and PyPI (auditwheel): run tests/run.sh"]
fn the_c_tarball_serves_pkg_config_and_cmake_projects_shared_and_static() {
    let tarball = artefact(&format!("libylokh-{VERSION}-"), "-unknown-linux-gnu.tar.gz");
    let plain = plain();
    let prefix = fresh_dir("dist-prefix");
    plain.sh(
        "tar -xzf",
        &format!("tar -xzf '{}'", tarball.display()),
        &prefix,
        &[],
    );
    for file in [
        format!("lib/libylokh.so.{VERSION}"),
        "lib/libylokh.so.0".into(),
        "lib/libylokh.so".into(),
        "lib/libylokh.a".into(),
        "include/ylokh.h".into(),
        "include/ylokh.hpp".into(),
        "lib/pkgconfig/ylokh.pc".into(),
        "lib/cmake/ylokh/ylokhConfig.cmake".into(),
        "lib/cmake/ylokh/ylokhConfigVersion.cmake".into(),
        "share/doc/ylokh/LICENSE-MIT".into(),
        "share/doc/ylokh/LICENSE-APACHE".into(),
    ] {
        assert!(prefix.join(&file).exists(), "{file} is not in the tarball");
    }
    assert_eq!(
        std::fs::read_link(prefix.join("lib/libylokh.so.0")).unwrap(),
        Path::new(&format!("libylokh.so.{VERSION}"))
    );
    let dynamic = readelf(&prefix.join("lib/libylokh.so"));
    assert!(
        dynamic.contains("Library soname: [libylokh.so.0]"),
        "{dynamic}"
    );

    let server = start_server();
    let url = format!("{}/stream/v1", server.url());
    let work = fresh_dir("dist-c");
    std::fs::write(work.join("hello.c"), readme_block("hello.c")).unwrap();
    let pc = prefix.join("lib/pkgconfig");
    let env = [("PKG_CONFIG_PATH", pc.to_str().unwrap())];

    // ylokh.pc is relocatable: its libdir is where the tarball was unpacked.
    let libdir = plain.sh(
        "pkg-config --variable=libdir",
        "pkg-config --variable=libdir ylokh",
        &work,
        &env,
    );
    assert_eq!(
        Path::new(libdir.trim()).canonicalize().unwrap(),
        prefix.join("lib").canonicalize().unwrap(),
        "ylokh.pc's libdir"
    );

    // The README's commands: shared with an rpath, then static with Libs.private.
    plain.sh(
        "README C build",
        "cc -Wall -Wextra -Werror hello.c $(pkg-config --cflags --libs ylokh) \
         -Wl,-rpath,$(pkg-config --variable=libdir ylokh) -o hello",
        &work,
        &env,
    );
    assert!(readelf(&work.join("hello")).contains("Shared library: [libylokh.so.0]"));
    check_reply(
        "hello (pkg-config)",
        &run("hello", plain.command(work.join("hello")).arg(&url)),
    );
    plain.sh(
        "README static C build",
        "cc hello.c $(pkg-config --cflags ylokh) $(pkg-config --variable=libdir ylokh)/libylokh.a \
         $(pkg-config --static --libs-only-l ylokh | sed 's/-lylokh//') -o hello-static",
        &work,
        &env,
    );
    assert!(!readelf(&work.join("hello-static")).contains("libylokh"));
    check_reply(
        "hello-static (pkg-config)",
        &run(
            "hello-static",
            plain.command(work.join("hello-static")).arg(&url),
        ),
    );

    // The README's CMake project: find_package(ylokh 0.3 REQUIRED), ylokh::ylokh, and the same
    // with ylokh::ylokh_static.
    let project = readme_block("CMakeLists-find_package.txt");
    assert!(
        project.contains("find_package(ylokh 0.3 REQUIRED)"),
        "{project}"
    );
    let cmake = |name: &str, source: &str| -> Result<PathBuf, String> {
        let dir = fresh_dir(name);
        std::fs::write(dir.join("CMakeLists.txt"), source).unwrap();
        std::fs::copy(work.join("hello.c"), dir.join("hello.c")).unwrap();
        let out = plain
            .command("sh")
            .args([
                "-ec",
                "cmake -S . -B build -DCMAKE_PREFIX_PATH=\"$PREFIX\" && cmake --build build",
            ])
            .current_dir(&dir)
            .env("PREFIX", &prefix)
            .output()
            .unwrap();
        match out.status.success() {
            true => Ok(dir.join("build/hello")),
            false => Err(format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    };
    let shared = cmake("dist-cmake-shared", &project).unwrap_or_else(|e| panic!("cmake: {e}"));
    assert!(readelf(&shared).contains("Shared library: [libylokh.so.0]"));
    check_reply(
        "hello (CMake, ylokh::ylokh)",
        &run("hello", plain.command(&shared).arg(&url)),
    );
    let static_project = project.replace("ylokh::ylokh)", "ylokh::ylokh_static)");
    assert_ne!(static_project, project);
    let linked = cmake("dist-cmake-static", &static_project)
        .unwrap_or_else(|e| panic!("cmake (static): {e}"));
    assert!(!readelf(&linked).contains("libylokh"));
    check_reply(
        "hello (CMake, ylokh::ylokh_static)",
        &run("hello", plain.command(&linked).arg(&url)),
    );

    // The version file: 0.2 (same major, older) is served, 0.4 is not.
    let older = project.replace("ylokh 0.3 REQUIRED", "ylokh 0.2 REQUIRED");
    cmake("dist-cmake-0.2", &older).unwrap_or_else(|e| panic!("cmake (0.2): {e}"));
    let newer = project.replace("ylokh 0.3 REQUIRED", "ylokh 0.4 REQUIRED");
    let refused = cmake("dist-cmake-0.4", &newer).expect_err("find_package(ylokh 0.4) succeeded");
    assert!(
        refused.contains(&format!("version: {VERSION}")),
        "{refused}"
    );
}

/// The real interpreter behind `python3` (pyenv's shims need their own HOME).
fn python3() -> PathBuf {
    let exe = run(
        "python3",
        Command::new("python3").args(["-c", "import sys; print(sys.executable)"]),
    );
    PathBuf::from(exe.trim())
}

#[test]
#[ignore = "needs python3-venv, node, npm, cmake, pkg-config and PyPI (auditwheel): run tests/run.sh"]
fn the_wheel_installs_without_a_compiler_and_runs_the_readme_programs() {
    let wheel = artefact(&format!("ylokh-{VERSION}-py3-none-manylinux_"), ".whl");
    let plain = plain();
    let venv = fresh_dir("dist-venv");
    run(
        "python3 -m venv",
        plain.command(python3()).args(["-m", "venv"]).arg(&venv),
    );
    let python = venv.join("bin/python");
    // --no-index: nothing to fetch, nothing to build.
    run(
        "pip install the wheel",
        plain
            .command(&python)
            .args(["-m", "pip", "install", "--no-index", "--quiet"])
            .arg(&wheel),
    );
    let work = fresh_dir("dist-python");
    let loaded = run(
        "ylokh.library_path",
        plain
            .command(&python)
            .args(["-c", "import ylokh; print(ylokh.library_path)"])
            .current_dir(&work),
    );
    assert!(
        Path::new(loaded.trim()).starts_with(&venv),
        "the package did not load its own library: {loaded}"
    );

    let server = start_server();
    let url = format!("{}/stream/v1", server.url());
    std::fs::write(work.join("hello.py"), readme_block("hello.py")).unwrap();
    std::fs::write(work.join("client.py"), readme_block("client.py")).unwrap();
    let hello = run(
        "hello.py",
        plain
            .command(&python)
            .arg("hello.py")
            .current_dir(&work)
            .env("YLOKH_BASE_URL", &url),
    );
    assert_eq!(hello, format!("{}\n", expected_text()));
    let client = run(
        "client.py",
        plain
            .command(&python)
            .arg("client.py")
            .arg(&url)
            .current_dir(&work),
    );
    check_reply("client.py", &client);
}

#[test]
#[ignore = "needs python3-venv, node, npm, cmake, pkg-config and PyPI (auditwheel): run tests/run.sh"]
fn the_npm_tarball_installs_without_scripts_and_runs_the_readme_program() {
    let tgz = artefact(&format!("ylokh-{VERSION}"), ".tgz");
    let plain = plain();
    // A project outside the checkout, the tarball copied beside it, as a user downloads it.
    let app = fresh_dir("dist-node");
    let name = tgz.file_name().unwrap().to_str().unwrap();
    std::fs::copy(&tgz, app.join(name)).unwrap();
    run(
        "npm install the tarball",
        plain
            .command("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .arg(format!("./{name}"))
            .current_dir(&app)
            // The registry's koffi is kept between runs (not in HOME, which is fresh).
            .env("npm_config_cache", side().join("npm-cache")),
    );
    let installed = app.join("node_modules/ylokh");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(installed.join("package.json")).unwrap()).unwrap();
    for script in ["preinstall", "install", "postinstall", "prepare"] {
        assert!(
            manifest["scripts"].get(script).is_none(),
            "the package has a {script} script: {manifest}"
        );
    }
    assert!(installed.join("prebuilt/linux-x64/libylokh.so").exists());
    assert!(!installed.join("install.js").exists());

    let loaded = run(
        "libraryPath",
        plain
            .command("node")
            .args([
                "--input-type=module",
                "-e",
                "import { libraryPath } from 'ylokh'; console.log(libraryPath)",
            ])
            .current_dir(&app),
    );
    assert_eq!(
        Path::new(loaded.trim()),
        installed.join("prebuilt/linux-x64/libylokh.so"),
        "the package did not load its own library"
    );

    let server = start_server();
    let url = format!("{}/stream/v1", server.url());
    std::fs::write(app.join("hello.mjs"), readme_block("hello.mjs")).unwrap();
    let hello = run(
        "hello.mjs",
        plain
            .command("node")
            .arg("hello.mjs")
            .arg(&url)
            .current_dir(&app),
    );
    check_reply("hello.mjs", &hello);
    assert!(hello.contains("[length"), "{hello}");
}

/// `GLIBC_2.N` versions the library's symbols require (objdump's "Version References").
fn glibc_needs(library: &Path) -> Vec<u32> {
    let dump = run("objdump -p", Command::new("objdump").arg("-p").arg(library));
    let mut minors: Vec<u32> = dump
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("GLIBC_2."))
        .map(|minor| minor.split('.').next().unwrap().parse().unwrap())
        .collect();
    minors.sort();
    minors.dedup();
    minors
}

#[test]
#[ignore = "needs python3-venv, node, npm, cmake, pkg-config and PyPI (auditwheel): run tests/run.sh"]
fn the_wheel_is_tagged_for_the_oldest_glibc_its_library_needs() {
    let wheel = artefact(&format!("ylokh-{VERSION}-py3-none-manylinux_"), ".whl");
    let name = wheel.file_name().unwrap().to_str().unwrap();
    // The platform tags, e.g. manylinux_2_34_x86_64 (auditwheel may add aliases after a dot).
    let platforms = name.trim_end_matches(".whl").rsplit('-').next().unwrap();
    let tagged: Vec<u32> = platforms
        .split('.')
        .filter_map(|tag| tag.strip_prefix("manylinux_2_"))
        .map(|rest| rest.split('_').next().unwrap().parse().unwrap())
        .collect();
    assert!(!tagged.is_empty(), "no manylinux_2_N tag in {name}");

    // The library in the wheel is the one in the tarball and the npm package.
    let dir = fresh_dir("dist-wheel");
    run(
        "unzip the wheel",
        Command::new(python3())
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&dir),
    );
    let library = dir.join("ylokh/libylokh.so");
    let c = fresh_dir("dist-lib");
    run(
        "tar -xzf",
        Command::new("tar")
            .arg("-xzf")
            .arg(artefact(&format!("libylokh-{VERSION}-"), ".tar.gz"))
            .arg("-C")
            .arg(&c),
    );
    assert!(
        std::fs::read(&library).unwrap()
            == std::fs::read(c.join(format!("lib/libylokh.so.{VERSION}"))).unwrap(),
        "the wheel's library differs from the tarball's"
    );

    let needs = glibc_needs(&library);
    let newest = *needs.last().expect("the library needs some GLIBC_2.N");
    let oldest_tag = *tagged.iter().min().unwrap();
    assert!(
        oldest_tag >= newest,
        "{name} claims glibc 2.{oldest_tag}, the library needs 2.{newest} ({needs:?})"
    );
    // auditwheel's manylinux policies are glibc versions (2.17, 2.24, 2.26, ...): the tag must be
    // the oldest policy that covers what the library needs, and auditwheel must agree.
    let auditwheel_python = side().join("dist-venv/bin/python");
    let policies = run(
        "auditwheel's policies",
        Command::new(&auditwheel_python).args([
            "-c",
            "import json, importlib.resources as r; print(' '.join(p['name'] for p in \
             json.loads(r.files('auditwheel.policy').joinpath('manylinux-policy.json').read_text())))",
        ]),
    );
    let oldest_policy = policies
        .split_whitespace()
        .filter_map(|p| p.strip_prefix("manylinux_2_")?.parse::<u32>().ok())
        .filter(|&minor| minor >= newest)
        .min()
        .unwrap_or_else(|| panic!("no manylinux policy covers glibc 2.{newest}: {policies}"));
    assert_eq!(
        oldest_tag, oldest_policy,
        "{name}: the library needs glibc 2.{newest} ({needs:?}), so manylinux_2_{oldest_policy}"
    );
    let show = run(
        "auditwheel show",
        Command::new(side().join("dist-venv/bin/auditwheel"))
            .arg("show")
            .arg(&wheel),
    );
    let show = show.split_whitespace().collect::<Vec<_>>().join(" ");
    let arch = std::env::consts::ARCH;
    assert!(
        show.contains(&format!("\"manylinux_2_{oldest_tag}_{arch}\"")),
        "{show}"
    );
}

#[test]
#[ignore = "needs python3-venv, node, npm, cmake, pkg-config and PyPI (auditwheel): run tests/run.sh"]
fn the_sdist_carries_the_crate_and_builds_a_wheel() {
    let sdist = artefact(&format!("ylokh-{VERSION}"), ".tar.gz");
    let listing = run("tar -tzf", Command::new("tar").arg("-tzf").arg(&sdist));
    let top = format!("ylokh-{VERSION}/");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src/lib.rs",
        "include/ylokh.h",
        "include/ylokh.hpp",
        "setup.py",
        "pyproject.toml",
        "ylokh/_ffi.py",
        "LICENSE-MIT",
        "LICENSE-APACHE",
    ] {
        assert!(
            listing.lines().any(|l| l == format!("{top}{file}")),
            "{file} is not in the sdist:\n{listing}"
        );
    }
    // Built as pip builds it (with Rust: compiling is what an sdist is for), with the packaging
    // tools dist/build.sh installed, in the tests' shared release target directory.
    let out = fresh_dir("dist-sdist-wheel");
    run(
        "pip wheel the sdist",
        Command::new(side().join("dist-venv/bin/python"))
            .args([
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--wheel-dir",
            ])
            .arg(&out)
            .arg(&sdist)
            .env("CARGO_TARGET_DIR", side())
            .env_remove("CARGO_MAKEFLAGS")
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS"),
    );
    let wheel = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("pip wheel made no wheel");
    let names = run(
        "the wheel's files",
        Command::new(python3())
            .args(["-m", "zipfile", "-l"])
            .arg(&wheel),
    );
    assert!(
        names.contains("ylokh/libylokh.") && names.contains(".so "),
        "no library in the wheel built from the sdist:\n{names}"
    );
}

//! The 0.1 ABI stays: programs built against 0.1 keep working (see tests/abi/README.md).

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `#define YLOKH_* value` lines of a header, but the version numbers (which change).
fn defines(header: &str) -> Vec<(String, String)> {
    header
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("#define ")?.splitn(2, ' ');
            let name = words.next()?;
            let value = words.next()?.trim();
            (name.starts_with("YLOKH_") && !name.starts_with("YLOKH_VERSION_"))
                .then(|| (name.to_string(), value.to_string()))
        })
        .collect()
}

/// Every constant of the 0.1 header is still defined, with the same value.
#[test]
fn the_0_1_header_constants_keep_their_values() {
    let read = |path: &str| std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap();
    let old = defines(&read("tests/abi/ylokh-0.1.h"));
    let new = defines(&read("include/ylokh.h"));
    assert!(old.len() > 20, "the 0.1 header has its constants: {old:?}");
    for (name, value) in &old {
        let now = new.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        assert_eq!(now, Some(value), "{name} was {value} in 0.1");
    }
}

fn tool(name: &str) -> String {
    let found = Command::new(name).arg("--version").output();
    match found {
        Ok(out) if out.status.success() => name.to_string(),
        _ => panic!(
            "{name} is missing: install abigail-tools (Debian/Ubuntu: apt-get install abigail-tools), or run tests/run.sh"
        ),
    }
}

/// abidiff of a fresh release build against the stored 0.1 ABI: additions pass; a removed or
/// changed function, struct layout or variable fails with abidiff's report.
#[test]
#[ignore = "needs abigail-tools: run tests/run.sh"]
fn the_0_1_abi_is_kept() {
    let (abidw, abidiff) = (tool("abidw"), tool("abidiff"));
    // The one target dir of every release build the tests make (ABI, cargo-c, pip): the
    // dependencies are built once for all three.
    let target = Path::new(ROOT).join("target/side");
    let built = Command::new(env!("CARGO"))
        .current_dir(ROOT)
        .args(["build", "--release", "--lib"])
        .args(["--config", "profile.release.package.ylokh.debug=2"])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("CARGO_MAKEFLAGS")
        .status()
        .unwrap();
    assert!(built.success(), "the release build failed");
    let lib = target.join("release/libylokh.so");
    let current = target.join("ylokh-current.abi");
    let dumped = Command::new(abidw)
        .args(["--no-corpus-path", "--no-comp-dir-path", "--out-file"])
        .arg(&current)
        .arg(&lib)
        .status()
        .unwrap();
    assert!(dumped.success(), "abidw failed on {}", lib.display());
    let diff = Command::new(abidiff)
        .arg("--suppressions")
        .arg(Path::new(ROOT).join("tests/abi/opaque.suppr"))
        .arg(Path::new(ROOT).join("tests/abi/ylokh-0.1.abi"))
        .arg(&current)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&diff.stdout);
    let code = diff.status.code().unwrap_or(-1);
    // abidiff's exit status: bit 1 error, bit 2 usage, bit 4 an ABI change (additions too),
    // bit 8 an incompatible change.
    assert!(
        code >= 0 && code & (1 | 2 | 8) == 0,
        "abidiff exit {code}:\n{report}{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    // "Functions changes summary: 0 Removed, 1 Changed (2 filtered out), 3 Added functions"
    let removed_or_changed = report.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.windows(2).any(|w| {
            (w[1].starts_with("Removed") || w[1].starts_with("Changed"))
                && w[0].parse::<u64>().is_ok_and(|n| n > 0)
        })
    });
    assert!(
        !removed_or_changed,
        "a 0.1 function, struct layout or variable was removed or changed:\n{report}"
    );
    println!("{report}");
}

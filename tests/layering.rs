//! `src/README.md` says of `src/request/`: "no cycle; each file uses only files listed before
//! it". This reads the order from that sentence and every `super::x` a file names outside its
//! test module and comments, and fails on a file that uses one listed after it (or not listed).

use std::collections::HashMap;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The `name.rs` files of the README's `request/` sentence, in its order.
fn listed_order() -> Vec<String> {
    let readme = std::fs::read_to_string(format!("{ROOT}/src/README.md")).unwrap();
    let start = readme
        .find("each file uses only files listed before it")
        .expect("src/README.md states the request/ order");
    let rest = &readme[start..];
    let end = rest.find("\n- ").unwrap_or(rest.len());
    rest[..end]
        .split('`')
        .filter_map(|s| s.strip_suffix(".rs"))
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// The sibling modules a file's code (not its tests, not its comments) names as `super::x`.
fn uses(source: &str) -> Vec<String> {
    let code = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or(source);
    let mut out = Vec::new();
    for line in code.lines().map(str::trim_start) {
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("super::") {
            rest = &rest[at + "super::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                None => vec![rest],
            };
            for name in names {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                    .collect();
                if !name.is_empty() && name != "self" {
                    out.push(name);
                }
            }
        }
    }
    out
}

#[test]
fn request_files_use_only_files_listed_before_them() {
    let order = listed_order();
    let position: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(format!("{ROOT}/src/request")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let Some(&mine) = position.get(name.as_str()) else {
            wrong.push(format!("{name}.rs is not in src/README.md's request/ list"));
            continue;
        };
        for used in uses(&std::fs::read_to_string(&path).unwrap()) {
            match position.get(used.as_str()) {
                Some(&theirs) if theirs < mine => {}
                Some(_) => wrong.push(format!("{name}.rs uses {used}.rs, listed after it")),
                None if name == "mod" => {}
                None => wrong.push(format!("{name}.rs uses {used}, not in the list")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(order.len() > 10, "the list was not found: {order:?}");
}

//! Replays the fuzz corpus kept in tests/fuzz/regressions/ (inputs AFL++ found interesting, and
//! any that once failed) through the same check the fuzz target runs.

#[test]
fn fuzz_regressions_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz/regressions");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let input = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| ylokh::fuzzing::check(&input));
        assert!(result.is_ok(), "{} fails the fuzz check", path.display());
        count += 1;
    }
    assert!(count > 0, "no regression inputs in {dir}");
}

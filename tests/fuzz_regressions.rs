//! Replays the fuzz corpus kept in tests/fuzz/regressions/ (inputs AFL++ found interesting,
//! minimised by edge coverage with tests/fuzz/cmin/run.sh, and any that once failed) through the
//! same check the fuzz target runs.

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

/// Replays the kept inputs of the `response` fuzz target (whole raw HTTP responses: heads,
/// chunked framing, bodies) through its check.
#[test]
fn response_fuzz_inputs_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz/responses");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let input = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| ylokh::fuzzing::check_response(&input));
        assert!(
            result.is_ok(),
            "{} fails the response check",
            path.display()
        );
        count += 1;
    }
    assert!(count > 0, "no response inputs in {dir}");
}

//! The committed header must be exactly what build.rs generates from the sources (with the
//! `header` feature, which `cargo test` turns on through the dev-dependency on this package).

#[test]
fn committed_header_is_current() {
    let generated = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/ylokh.h"))
        .expect("build.rs writes $OUT_DIR/ylokh.h with the `header` feature (on in cargo test)");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/ylokh.h"))
            .unwrap_or_default();
    assert!(
        generated == committed,
        "include/ylokh.h is out of date with the Rust sources; refresh it with `YLOKH_UPDATE_HEADER=1 cargo build --features header` and commit it"
    );
    for required in [
        "#ifndef YLOKH_H",
        "extern \"C\"",
        "Do not edit",
        "YLOKH_VERSION_MAJOR",
        "ylokh_chat_start",
        "ylokh_request_next",
    ] {
        assert!(committed.contains(required), "the header lacks {required}");
    }
}

#!/usr/bin/env bash
# Minimises tests/fuzz/regressions by edge coverage, as afl-cmin and libFuzzer's -merge do but on
# stable Rust: builds ylokh with SanitizerCoverage edge counters (instrument.sh), runs every input
# through ylokh::fuzzing::check (what the fuzz target and tests/fuzz_regressions.rs run), and
# keeps a smallest-first greedy set cover of the edges: every edge any input reaches is reached
# by a kept one. Inputs whose name does not start with "cov-" (hand-made seeds, inputs that
# once failed) are always kept.
#   tests/fuzz/cmin/run.sh          prints what it would keep
#   tests/fuzz/cmin/run.sh --apply  deletes the other inputs (git rm)
# CARGO_TARGET_DIR: where to build (default tests/fuzz/cmin/target); with the library's own
# Cargo.lock and release profile, a target dir that holds a release build of the library
# reuses its dependencies (only ylokh is instrumented, and it is always rebuilt: its features
# differ from every other build's, and the program refuses to run uninstrumented).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
target=${CARGO_TARGET_DIR:-$here/target}
cp ../../../Cargo.lock Cargo.lock
RUSTC_WRAPPER="$here/instrument.sh" CARGO_TARGET_DIR="$target" cargo build --release --quiet
keep=$(mktemp)
"$target/release/ylokh-cmin" ../regressions >"$keep"
if [ "${1:-}" = --apply ]; then
  cd ../regressions
  for f in *; do
    grep -qxF "$f" "$keep" || git rm --quiet "$f"
  done
  echo "kept $(ls | wc -l) inputs"
else
  cat "$keep"
fi
rm -f "$keep"

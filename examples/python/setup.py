"""How the library gets into the package (the metadata is in pyproject.toml). Three ways:

- from a libylokh checkout, `pip install ./examples/python`: setuptools-rust compiles the crate at
  ../../Cargo.toml (needs Rust);
- from the sdist dist/build.sh makes: it carries the crate (Cargo.toml, Cargo.lock, build.rs,
  src/, include/) beside this file, and setuptools-rust compiles that (needs Rust);
- dist/build.sh's wheel: YLOKH_PREBUILT_LIBRARY names the library it built; it is copied into the
  package as it is, and the wheel is tagged py3-none-<platform> (the library does not depend on
  the Python version; auditwheel then gives it its manylinux tag).

Either way the package holds ylokh/libylokh*.so, which ylokh/_ffi.py loads with ctypes.
"""

import os
import shutil
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PREBUILT = os.environ.get("YLOKH_PREBUILT_LIBRARY")

if PREBUILT:
    from setuptools.command.bdist_wheel import bdist_wheel

    class BuildPyWithLibrary(build_py):
        def run(self) -> None:
            super().run()
            target = Path(self.build_lib) / "ylokh" / "libylokh.so"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PREBUILT, target)

    class WithLibrary(Distribution):
        """A binary package (platlib, a platform tag) though setuptools builds no extension."""

        def has_ext_modules(self) -> bool:
            return True

    class PlatformWheel(bdist_wheel):
        def get_tag(self) -> "tuple[str, str, str]":
            return ("py3", "none", super().get_tag()[2])

    setup(
        distclass=WithLibrary,
        cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
    )
else:
    from setuptools_rust import Binding, RustExtension, Strip

    # The sdist's own copy of the crate, else the checkout's.
    manifest = "Cargo.toml" if (HERE / "Cargo.toml").exists() else "../../Cargo.toml"
    setup(
        rust_extensions=[
            # libylokh as a plain shared library (no Python binding code in it), copied into the
            # package as ylokh/libylokh.<python tag>.so.
            RustExtension(
                "ylokh.libylokh",
                path=manifest,
                binding=Binding.NoBinding,
                py_limited_api=False,
                strip=Strip.Debug,
                args=["--locked"],
            )
        ]
    )

"""Compiling and loading the C++ sweeps (csrc/) once per process, with a clear reason on failure.

``load()`` JIT-builds the extension with ``torch.utils.cpp_extension.load`` (needs ``ninja`` and a
C++ compiler) into torch's extensions cache, keyed by the CPU capability torch detected, so a
cache moved to a machine without AVX2 is never reused there. Any failure becomes
``NotImplementedError`` (warned once per process), so the dispatcher falls back to the Python
fused engine. ``RNNKIT_NATIVE=0`` in the environment turns the native path off (no build);
``RNNKIT_NATIVE_SANITIZE=address`` builds a separate AddressSanitizer variant (run Python with
``LD_PRELOAD=$(c++ -print-file-name=libasan.so)``) to check the C++ for memory errors.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import sysconfig
import warnings
from pathlib import Path
from types import ModuleType

import torch

__all__ = ["compiler_available", "load"]

_CSRC = Path(__file__).parent / "csrc"
_SOURCES = ("forward.cpp", "backward.cpp", "infer.cpp", "bind.cpp")
_HEADERS = (
    "activations.h",
    "blas.h",
    "cells.h",
    "cells_norm.h",
    "forward.h",
    "products.h",
    "sweeps.h",
    "team.h",
)

_module: ModuleType | None = None
_error: str | None = None


def compiler_available() -> bool:
    """True when a C++ compiler that torch's JIT build would use is on the PATH."""
    cxx = (sysconfig.get_config_var("CXX") or "c++").split()[0]
    return any(shutil.which(c) for c in (cxx, "c++", "g++", "clang++"))


def _capability_flags() -> tuple[str, list[str]]:
    """The build's name suffix and SIMD flags, from the capability torch itself dispatches on.

    AVX2+FMA is the widest set we build for: ATen's Vectorized<float/double> then runs 8/4 lanes
    with SLEEF's exp/tanh from libtorch. Anything else builds the portable scalar fallback.
    """
    capability = torch.backends.cpu.get_cpu_capability()
    if capability in ("AVX2", "AVX512"):
        return "avx2", ["-mavx2", "-mfma", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"]
    return "default", ["-DCPU_CAPABILITY=DEFAULT"]


def _build() -> ModuleType:
    from torch.utils.cpp_extension import get_default_build_root
    from torch.utils.cpp_extension import load as jit_load

    if not compiler_available():
        raise RuntimeError("no C++ compiler found on PATH (c++, g++ or clang++)")
    suffix, simd = _capability_flags()
    # The sources' digest is part of the module name, so each version of csrc/ builds into its
    # own directory: a process never loads a library another process is relinking in place
    # (torch's JIT versioning would rebuild the same directory, and it does not hash headers).
    digest = hashlib.sha1(b"".join((_CSRC / f).read_bytes() for f in _SOURCES + _HEADERS))
    sanitize = os.environ.get("RNNKIT_NATIVE_SANITIZE", "")  # e.g. "address": for tests only
    flags = [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g"] if sanitize else []
    name = f"rnnkit_native_{suffix}_{digest.hexdigest()[:12]}" + (f"_{sanitize}" * bool(sanitize))
    # our own directory per torch version (the C++ ABI) and source version
    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root())
    directory = root / f"rnnkit-torch{torch.__version__}" / name
    if not (directory / f"{name}.so").exists():
        print(
            f"rnnkit: compiling the native RNN loops once (about a minute) into {directory}",
            file=sys.stderr,
            flush=True,
        )
    directory.mkdir(parents=True, exist_ok=True)
    return jit_load(
        name=name,
        build_directory=str(directory),
        sources=[str(_CSRC / s) for s in _SOURCES],
        # -fopenmp: the sweeps' thread team is torch's OpenMP pool (csrc/team.h); the library
        # needs libgomp.so.1, which torch has already loaded (the same soname: one pool)
        extra_cflags=["-O3", "-fopenmp", *simd, *flags],
        extra_ldflags=["-fopenmp", *([f"-fsanitize={sanitize}"] if sanitize else [])],
        extra_include_paths=[str(_CSRC)],
        verbose=False,
    )


def _short(exc: Exception, limit: int = 2000) -> str:
    """The exception as one message, a compiler log cut to its start and its end."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= limit else f"{text[:500]} [...] {text[-(limit - 500) :]}"


def load() -> ModuleType:
    """The compiled extension (built on first use); ``NotImplementedError`` if it cannot be."""
    global _module, _error
    if os.environ.get("RNNKIT_NATIVE", "1") == "0":
        raise NotImplementedError("rnnkit native scan is turned off by RNNKIT_NATIVE=0")
    if _module is not None:
        return _module
    if _error is None:
        try:
            _module = _build()
            return _module
        except Exception as exc:  # compiler, ninja, linker or import failure
            _error = _short(exc)
            warnings.warn(
                f"rnnkit native scan unavailable, using the Python fused engine: {_error}",
                RuntimeWarning,
                stacklevel=3,
            )
    raise NotImplementedError(f"rnnkit native extension could not be built: {_error}")

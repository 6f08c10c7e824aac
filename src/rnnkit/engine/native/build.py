"""Compiling and loading the C++ sweeps (csrc/) once per process, with a clear reason on failure.

``load()`` JIT-builds the extension with ``torch.utils.cpp_extension.load`` (needs ``ninja`` and a
C++ compiler) into torch's extensions cache, keyed by the CPU capability torch detected, so a
cache moved to a machine without AVX2 is never reused there. Any failure becomes
``NotImplementedError`` (warned once per process; without a C++ compiler, one line on stderr
instead of a warning), so the dispatcher falls back to the Python fused engine.
``RNNKIT_NATIVE=0`` in the environment turns the native path off (no build);
``RNNKIT_NATIVE_SANITIZE=address`` builds a separate AddressSanitizer variant (run Python with
``LD_PRELOAD=$(c++ -print-file-name=libasan.so)``) to check the C++ for memory errors.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path
from types import ModuleType

import torch

from . import heap

__all__ = [
    "CAPABILITIES",
    "build_cell",
    "capability",
    "compile_library",
    "compiler_available",
    "load",
    "native_build_name",
]

_CSRC = Path(__file__).parent / "csrc"
_SOURCES = ("forward.cpp", "backward.cpp", "infer.cpp", "custom.cpp", "bind.cpp")
_HEADERS = (
    "activations.h",
    "bf16.h",
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


CAPABILITIES = ("DEFAULT", "AVX2", "AVX512")  # lowest first
_FLAGS = {
    "AVX512": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma",
               "-DCPU_CAPABILITY=AVX512", "-DCPU_CAPABILITY_AVX512"],
    "AVX2": ["-mavx2", "-mfma", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"],
    "DEFAULT": ["-DCPU_CAPABILITY=DEFAULT"],
}  # fmt: skip


def capability() -> str:
    """The SIMD capability the native code is built for: the one torch detects (AVX512, AVX2,
    else DEFAULT, portable), as torch dispatches its own kernels. The AVX-512 build's blocking
    uses its 32 registers (6 x 4 accumulator blocks) and narrower blocks for a gate block's last
    vectors; on the AMD Zen 4 we measured (512-bit ops as 2 x 256) it is equal to or up to 10%
    faster than the AVX2 build per product, one thread; Intel cores with two 512-bit FMA units
    have twice AVX2's peak. The environment variable RNNKIT_CPU_CAPABILITY asks for any
    capability up to the CPU's (AVX512, AVX2, DEFAULT): the lower ones test them on any
    machine, or stand in where one measures faster."""
    detected = torch.backends.cpu.get_cpu_capability()
    detected = detected if detected in CAPABILITIES else "DEFAULT"
    asked = os.environ.get("RNNKIT_CPU_CAPABILITY", "").upper()
    if not asked:
        return detected
    if asked not in CAPABILITIES:
        raise ValueError(
            f"RNNKIT_CPU_CAPABILITY must be one of {', '.join(CAPABILITIES)}; got {asked!r}"
        )
    if CAPABILITIES.index(asked) > CAPABILITIES.index(detected):
        raise ValueError(
            f"RNNKIT_CPU_CAPABILITY={asked} is above this CPU's capability, {detected}"
        )
    return asked


def _capability_flags() -> tuple[str, list[str]]:
    """The build's name suffix and SIMD flags for ``capability()``: ATen's Vectorized<float /
    double> then runs 16 / 8 lanes (AVX512), 8 / 4 (AVX2) or scalar code (DEFAULT), with SLEEF's
    exp/tanh from libtorch."""
    cap = capability()
    return cap.lower(), _FLAGS[cap]


def _root() -> Path:
    """Our own directory per torch version (the C++ ABI) in torch's extensions cache."""
    from torch.utils.cpp_extension import get_default_build_root

    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root())
    return root / f"rnnkit-torch{torch.__version__}"


def _sanitizer() -> tuple[str, list[str]]:
    """RNNKIT_NATIVE_SANITIZE (e.g. "address", for tests only) and its compiler flags."""
    sanitize = os.environ.get("RNNKIT_NATIVE_SANITIZE", "")
    flags = [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g"] if sanitize else []
    return sanitize, flags


def _target() -> tuple[str, Path, list[str], str]:
    """(module name, build directory, compiler flags, sanitizer) of this process's build.

    The digest of the sources, headers and flags is part of the module name, so each version
    builds into its own directory, and a process never loads a library another process is
    relinking in place. A finished build is marked (BUILT) and then imported directly by every
    copy of rnnkit with the same sources: torch's JIT loader would also key on the sources'
    paths, so two checkouts or virtual environments took turns rebuilding it (about 22 s each).
    """
    suffix, simd = _capability_flags()
    sanitize, flags = _sanitizer()
    cflags = ["-O3", "-fopenmp", *simd, *flags]
    content = b"".join((_CSRC / f).read_bytes() for f in _SOURCES + _HEADERS)
    digest = hashlib.sha1(content + " ".join(cflags).encode()).hexdigest()[:12]
    name = f"rnnkit_native_{suffix}_{digest}" + (f"_{sanitize}" * bool(sanitize))
    return name, _root() / name, cflags, sanitize


def native_build_name() -> str:
    """The name of this process's native build: its capability and a digest of the sources and
    flags (what a speed measured with it depends on)."""
    return _target()[0]


def _finished(target: tuple[str, Path, list[str], str] | None = None) -> Path | None:
    """The library of a finished build of ``target`` (default: this process's), or None."""
    name, directory, _, _ = target or _target()
    library = directory / f"{name}.so"
    return library if (directory / BUILT).exists() and library.exists() else None


def _build() -> ModuleType:
    target = _target()
    name, directory, cflags, sanitize = target
    library = _finished(target)
    if library is not None:
        return _import_library(name, library)
    if not compiler_available():
        raise RuntimeError("no C++ compiler found on PATH (c++, g++ or clang++)")
    print(
        f"rnnkit: compiling the native RNN loops once (about a minute) into {directory}",
        file=sys.stderr,
        flush=True,
    )
    directory.mkdir(parents=True, exist_ok=True)
    # a sanitizer runtime preloaded into this Python (tools/sanitize.py) is not the compiler's:
    # GCC's cc1plus crashed (SIGSEGV) with libtsan preloaded
    preload = os.environ.pop("LD_PRELOAD", None)
    try:
        module = _jit_build(name, directory, cflags, sanitize)
    finally:
        if preload is not None:
            os.environ["LD_PRELOAD"] = preload
    tmp = directory / f"{BUILT}.{os.getpid()}.tmp"
    tmp.write_text(f"{name}\n{' '.join(cflags)}\n")
    os.replace(tmp, directory / BUILT)  # the mark appears whole, after the library
    return module


def _jit_build(name: str, directory: Path, cflags: list[str], sanitize: str) -> ModuleType:
    """torch's JIT build of the extension ``name`` into ``directory``; the module it loads."""
    from torch.utils.cpp_extension import load as jit_load

    return jit_load(
        name=name,
        build_directory=str(directory),
        sources=[str(_CSRC / s) for s in _SOURCES],
        # -fopenmp: the sweeps' thread team is torch's OpenMP pool (csrc/team.h); the library
        # needs libgomp.so.1, which torch has already loaded (the same soname: one pool)
        extra_cflags=cflags,
        extra_ldflags=["-fopenmp", *([f"-fsanitize={sanitize}"] if sanitize else [])],
        extra_include_paths=[str(_CSRC)],
        verbose=False,
    )


BUILT = "BUILT"  # the mark of a finished build in its directory


def _import_library(name: str, library: Path) -> ModuleType:
    """The extension module of a finished build, imported from its file (no build step)."""
    spec = importlib.util.spec_from_file_location(name, library)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {library}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_cell(source: str, label: str) -> Path:
    """The shared library of one compiled cell's row kernels (codegen.py), built once per source.

    A plain C++ library (no Python binding: a few seconds to build), linked against libtorch for
    the vectorized math. Raises ``NotImplementedError`` on any failure.
    """
    suffix, _ = _capability_flags()
    sanitize, _ = _sanitizer()
    abi = f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"
    digest = hashlib.sha1("\n".join((source, suffix, sanitize, abi)).encode()).hexdigest()[:16]
    directory = _root() / "cells"
    target = directory / f"cell_{digest}.so"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"cell_{digest}.cpp").write_text(source)  # kept beside the library, to read
    print(f"rnnkit: compiling the cell {label!r} for the native engine", file=sys.stderr)
    sys.stderr.flush()
    compile_library([directory / f"cell_{digest}.cpp"], target, f"native cell: {label!r}")
    return target


def compile_library(
    sources: list[Path], target: Path, what: str, includes: tuple[str, ...] = (), openmp=False
) -> None:
    """Compile C++ ``sources`` into the plain shared library ``target`` (no Python binding),
    linked against libtorch, with this process's capability (and sanitizer) flags: one
    compiler per source, as many at once as there are CPUs, then the link; written under a
    temporary name and renamed, so concurrent processes (torchrun) never load a half-written
    file. ``NotImplementedError`` naming ``what`` on any failure."""
    from torch.utils.cpp_extension import include_paths

    cxx = (sysconfig.get_config_var("CXX") or "c++").split()[0]
    cxx = next((c for c in (cxx, "c++", "g++", "clang++") if shutil.which(c)), None)
    if cxx is None:
        raise NotImplementedError(f"{what}: no C++ compiler found on PATH")
    _, simd = _capability_flags()
    _, flags = _sanitizer()
    abi = f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"
    omp = ["-fopenmp"] * openmp
    common = [cxx, "-O3", "-std=c++17", "-fPIC", abi, *omp, *simd, *flags,
              *(f"-I{p}" for p in (*include_paths(), str(_CSRC), *includes))]  # fmt: skip
    tmp = target.with_name(f"{target.stem}.{os.getpid()}.tmp")
    objects = [tmp.with_suffix(f".{k}.o") for k in range(len(sources))]
    try:
        pending = list(zip(sources, objects))
        while pending:
            batch, pending = pending[: os.cpu_count() or 1], pending[os.cpu_count() or 1 :]
            running = [subprocess.Popen([*common, "-c", str(src), "-o", str(obj)],
                                        stderr=subprocess.PIPE, text=True)
                       for src, obj in batch]  # fmt: skip
            for (src, _), proc in zip(batch, running):
                _, err = proc.communicate()
                if proc.returncode != 0:
                    raise NotImplementedError(f"{what}: compiling {src.name} failed: {err[-2000:]}")
        lib = Path(torch.__file__).parent / "lib"
        link = [cxx, "-shared", *omp, *flags, *map(str, objects), "-o", str(tmp),
                f"-L{lib}", "-ltorch_cpu", "-lc10", f"-Wl,-rpath,{lib}"]  # fmt: skip
        done = subprocess.run(link, capture_output=True, text=True)
        if done.returncode != 0:
            raise NotImplementedError(f"{what}: linking failed: {done.stderr[-2000:]}")
        os.replace(tmp, target)
    finally:
        for path in (*objects, tmp):
            path.unlink(missing_ok=True)


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
    if _error is None and not compiler_available() and _finished() is None:
        _error = "no C++ compiler found on PATH (c++, g++ or clang++)"
        print(f"rnnkit: {_error}; using the Python engine (slower)", file=sys.stderr, flush=True)
    if _error is None:
        try:
            _module = _build()
            heap.pin()  # the steps' tensors stop faulting in fresh pages (heap.py)
            return _module
        except Exception as exc:  # compiler, ninja, linker or import failure
            _error = _short(exc)
            warnings.warn(
                f"rnnkit native scan unavailable, using the Python fused engine: {_error}",
                RuntimeWarning,
                stacklevel=3,
            )
    raise NotImplementedError(f"rnnkit native extension could not be built: {_error}")

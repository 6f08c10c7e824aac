"""A library that runs rnnkit's operators without Python: for AOTInductor packages.

An exported model holds rnnkit's operators: under ``torch.no_grad()`` one per recurrent stack,
``rnnkit::infer_stack`` (infer_op.py); with lengths, a PackedSequence or autograd on, the
forward sweeps ``rnnkit::projected_sweep`` / ``rnnkit::forward_sweep`` (ops.py). In a Python
process that imported rnnkit their kernels are Python calling the extension; a C++ program
(``torch::inductor::AOTIModelPackageLoader``), or a Python process that never imports rnnkit,
has no such kernels. ``runtime_library()`` builds (once per sources, capability, compiler
flags and torch) a plain shared library of the same C++ sweeps with C++ kernels of those
operators under the same schemas (csrc/runtime.cpp): load it (``dlopen`` from C++,
``torch.ops.load_library`` from Python) and the package runs.

The library and rnnkit's Python package each define the operators: loaded into a process that
imported rnnkit, the library registers nothing (the Python kernels run the same loops);
``import rnnkit`` after the library fails to define them a second time. It links against the
libtorch of the torch that built it, which the package's runtime must be. The built-in cells'
traits are written into ``cells.inc`` beside the library from their Python specs, the one
place they are described.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import torch

from . import build
from .infer_op import infer_stack
from .ops import forward_sweep, projected_sweep

__all__ = ["runtime_library"]

_SOURCES = ("forward.cpp", "backward.cpp", "infer.cpp", "runtime.cpp")


def _cells_inc() -> str:
    """cells.inc: each built-in cell's traits (native_cell's), the operators' schemas, eps."""
    from ...cells.layernorm import EPS
    from . import _SPECS_BY_NAME

    rows = []
    for name, (cell, spec) in _SPECS_BY_NAME.items():
        taken = [cell.params[k] for k in spec.step_params]
        units = ", ".join(str(p.size) for p in taken)
        optional = ", ".join("true" if p.is_bias else "false" for p in taken)
        flags = (cell.extra_states == 1, cell.split_hidden, cell.diagonal_hidden, spec.relu)
        tail = (spec.fold_b_hh, spec.input_norm, spec.gates_saved)
        rows.append(
            f'    {{"{name}", {spec.kernel}, {cell.gates}, {_bools(flags)}, {{{units}}}, '
            f"{{{optional}}}, {_bools(tail)}}},"
        )
    schemas = {
        name: str(op._opoverload._schema).split("::", 1)[1]
        for name, op in (("Infer", infer_stack), ("Forward", forward_sweep),
                         ("Projected", projected_sweep))
    }  # fmt: skip
    lines = [
        "// written by rnnkit/engine/native/runtime.py from the cells' Python specs",
        "const std::vector<BuiltinCell> kCells = {",
        *rows,
        "};",
        *(f'constexpr const char* k{name}Schema = "{text}";' for name, text in schemas.items()),
        f"constexpr double kEps = {EPS!r};",
    ]
    return "\n".join(lines) + "\n"


def _bools(values) -> str:
    return ", ".join("true" if v else "false" for v in values)


def runtime_library() -> Path:
    """The path of the operators' C++ library for this CPU capability and torch,
    built on the first call (a minute or two; needs a C++ compiler). ``NotImplementedError``
    saying why when it cannot be built."""
    table = _cells_inc()
    suffix, simd = build._capability_flags()
    content = b"".join((build._CSRC / f).read_bytes() for f in _SOURCES + build._HEADERS)
    key = content + table.encode() + " ".join(simd).encode() + torch.__version__.encode()
    digest = hashlib.sha1(key).hexdigest()[:12]
    directory = build._root() / f"runtime_{suffix}_{digest}"
    target = directory / f"librnnkit_runtime_{suffix}.so"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    inc = directory / "cells.inc"
    tmp = inc.with_name(f"cells.inc.{os.getpid()}.tmp")
    tmp.write_text(table)
    os.replace(tmp, inc)
    print(f"rnnkit: compiling the inference runtime library into {directory}", file=sys.stderr)
    sys.stderr.flush()
    sources = [build._CSRC / f for f in _SOURCES]
    build.compile_library(sources, target, "rnnkit runtime library", (str(directory),), True)
    return target

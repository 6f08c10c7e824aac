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
``import rnnkit`` after the library fails (an ImportError saying to import rnnkit first). It
links against the libtorch of the torch that built it, which the package's runtime must be.
The built-in cells' traits are written into ``cells.inc`` beside the library from their Python
specs, the one place they are described. Cells of one's own a model holds
(``rnnkit::cell_sweep``, by key: cell_ops.py) are compiled in where ``runtime_library(cells)``
names them: their generated row kernels, each under a symbol of its own, and
``own_cells.inc``, their keys and traits.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ...cells.base import CellMath
from . import build
from .cell_ops import cell_key, cell_of, cell_sweep
from .codegen import cell_source
from .compiled import compiled_cell
from .infer_op import infer_stack
from .ops import forward_sweep, projected_sweep

__all__ = ["runtime_library"]

_SOURCES = ("forward.cpp", "backward.cpp", "infer.cpp", "custom.cpp", "runtime.cpp")


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
                         ("Projected", projected_sweep), ("Cell", cell_sweep))
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


def _own_cells(cells: Sequence[CellMath]) -> list[tuple[str, str, str]]:
    """(key, symbol, C++ source) of each cell of one's own, for every combination of its
    optional (bias) parameters: the keys the operators of an exported model name it by
    (cell_ops.py), the sources under a symbol of their own. ``NotImplementedError`` with the
    reason for a step the native engine does not compile."""
    for cell in cells:
        if not isinstance(cell, CellMath):
            raise TypeError(
                f"expected cells made by rnnkit.define_cell; got a {type(cell).__name__}"
            )
    out: dict[str, tuple[str, str, str]] = {}
    for cell in cells:
        choices = [(True, False) if spec.is_bias else (True,) for spec in cell.params]
        for present in itertools.product(*choices):
            compiled = compiled_cell(cell, present)  # raises with the reason
            key = cell_key(cell, present)
            symbol = f"rnnkit_own_{hashlib.sha1(key.encode()).hexdigest()[:12]}"
            out[key] = (key, symbol, cell_source(compiled.graph, cell.name, symbol))
    return list(out.values())


def _own_cells_inc(own: list[tuple[str, str, str]]) -> str:
    """own_cells.inc: the kernels' declarations and kOwnCells, the key of each with its
    traits and kernel addresses (custom.cpp's calling convention)."""
    lines = ["// written by rnnkit/engine/native/runtime.py for the cells of one's own"]
    rows = []
    for key, symbol, _ in own:
        cell, compiled = cell_of(key)
        for T, S in (("float", "f32"), ("double", "f64")):
            lines.append(
                f'extern "C" void {symbol}_fwd_{S}(int64_t, const {T}*, const {T}*, '
                f"const {T}*, const {T}*, const {T}* const*, {T}*, {T}*);"
            )
            lines.append(
                f'extern "C" void {symbol}_bwd_{S}(int64_t, {T}*, const {T}*, {T}*, const {T}*, '
                f"const {T}*, const {T}*, const {T}*, const {T}* const*, {T}*, {T}*, {T}*);"
            )
        graph = compiled.graph
        units = ", ".join(str(u) for u in graph.param_units)
        fns = ", ".join(
            f"address({symbol}_{d}_{S})" for d in ("fwd", "bwd") for S in ("f32", "f64")
        )
        rows.append(
            f'    {{"{key}", {graph.gates}, {cell.extra_states}, {_bools([graph.split])}, '
            f"{{{units}}}, {{{fns}}}}},"
        )
    lines += ["const std::vector<OwnCell> kOwnCells = {", *rows, "};"]
    return "\n".join(lines) + "\n"


def runtime_library(cells: Sequence[CellMath] = ()) -> Path:
    """The path of the operators' C++ library for this CPU capability and torch, built on the
    first call (a minute or two; needs a C++ compiler), with the kernels of ``cells``, cells of
    one's own (``rnnkit.define_cell``) whose step the native engine compiles, where a model
    holds them. ``NotImplementedError`` saying why when it cannot be built (a step that does
    not compile too), ``TypeError`` for a ``cells`` entry that is not a cell."""
    table = _cells_inc()
    own = _own_cells(cells)
    own_table = _own_cells_inc(own)
    suffix, simd = build._capability_flags()
    content = b"".join((build._CSRC / f).read_bytes() for f in _SOURCES + build._HEADERS)
    sources_own = "".join(source for _, _, source in own)
    key = (content + table.encode() + own_table.encode() + sources_own.encode()
           + " ".join(simd).encode() + torch.__version__.encode())  # fmt: skip
    digest = hashlib.sha1(key).hexdigest()[:12]
    directory = build._root() / f"runtime_{suffix}_{digest}"
    target = directory / f"librnnkit_runtime_{suffix}.so"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    written = [("cells.inc", table), ("own_cells.inc", own_table)]
    written += [(f"{symbol}.cpp", source) for _, symbol, source in own]
    for name, text in written:
        tmp = directory / f"{name}.{os.getpid()}.tmp"
        tmp.write_text(text)
        os.replace(tmp, directory / name)
    print(f"rnnkit: compiling the inference runtime library into {directory}", file=sys.stderr)
    sys.stderr.flush()
    sources = [build._CSRC / f for f in _SOURCES]
    sources += [directory / f"{symbol}.cpp" for _, symbol, _ in own]
    build.compile_library(sources, target, "rnnkit runtime library", (str(directory),), True)
    return target

"""Cells compiled from their Python step (``rnnkit.define_cell``) as ``torch.library`` operators:
what torch.compile and torch.export see of a cell of one's own.

- ``rnnkit::cell_sweep``: one layer-direction's training forward on packed rows x (N, I): the
  input projection x·W_ihᵀ + b_in (all steps in one GEMM), then the compiled cell's C++ time
  loop. Returns y (N, H), h_n (B, H), the extra states' final values side by side (B, E·H), and
  what the backward reads: the pre-activations (N, G), the extra states of every row (N, E·H)
  and, for a cell that keeps h·W_hhᵀ apart (``split_hidden``), gh (N, G); an absent one empty.
- ``rnnkit::cell_sweep_backward``: the reverse time loop: dL/dG (N, G), dL/dgh (N, G; split
  cells, else empty), the rows' h_{t-1} (N, H), dh_0 (B, H), the extra states' dL at step 0
  (B, E·H) and the cell parameters' per-row-slot gradients (B, Σ units·H).

The cell is named in the call by its key, ``name-digest/present``: the digest of the C++ that
its step compiles to (equal steps share a key; one key names one cell in any process) and which
optional cell parameters are present. ``cell_key`` compiles a cell and registers its key while
a model is traced; a process that runs a saved program finds the cell among those
``define_cell`` made in it (so it defines the cell first, e.g. imports the module that does).
Each operator has a fake kernel (shapes from the inputs', T and B symbolic) and the forward's
autograd is registered. Rows past Σ batch_sizes
(a padded batch with lengths, see ops.py) are zeros in every per-row output.
"""

from __future__ import annotations

import contextlib
import hashlib

import torch
from torch import Tensor
from torch._guards import tracing
from torch.utils._python_dispatch import _disable_current_modes

from ...cells.base import CellMath
from ...cells.custom import defined_cells
from ..precision import addmm, gemm_of, mm
from . import ops  # noqa: F401  (first: ops.py refuses operators a library defined before rnnkit)
from .build import load
from .codegen import cell_source
from .compiled import CompiledCell, compiled_cell, layer_grads, param_grads
from .rows import packed_steps, pad_rows

__all__ = ["cell_key", "cell_of", "cell_scan", "cell_sweep", "cell_sweep_backward", "why_not"]

_BY_KEY: dict[str, tuple[CellMath, CompiledCell]] = {}


@contextlib.contextmanager
def _outside_the_trace():
    """No trace around: its modes (fake, proxy tensors) off and its tracing context unset, so
    that the step's own trace (stepgraph.py's make_fx) takes concrete sizes, not the outer
    trace's symbols."""
    with _disable_current_modes(), tracing(None):
        yield


def _key(cell: CellMath, present: tuple[bool, ...], compiled: CompiledCell) -> str:
    source = cell_source(compiled.graph, cell.name)
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    return f"{cell.name}-{digest}/{''.join('1' if p else '0' for p in present)}"


@torch.compiler.assume_constant_result
def cell_key(cell: CellMath, present: tuple[bool, ...]) -> str:
    """The key of ``cell`` with the cell parameters ``present`` (compiled and registered here;
    "" where its step does not compile: ``why_not`` says why). A constant to torch.compile and
    torch.export: they call it once while tracing, outside the trace."""
    with _outside_the_trace():
        try:
            compiled = compiled_cell(cell, present)
        except NotImplementedError:
            return ""
    key = _key(cell, present, compiled)
    _BY_KEY[key] = (cell, compiled)
    return key


@torch.compiler.assume_constant_result
def why_not(cell: CellMath, present: tuple[bool, ...]) -> str:
    """Why ``cell`` does not compile (its ``NotImplementedError``'s words), "" where it does."""
    with _outside_the_trace():
        try:
            compiled_cell(cell, present)
        except NotImplementedError as exc:
            return str(exc)
    return ""


def cell_of(key: str) -> tuple[CellMath, CompiledCell]:
    """The cell of ``key``: one a trace registered (cell_key), else the one of that name and
    step that ``define_cell`` made in this process (compiled on first use); ``RuntimeError``
    naming the key where there is none."""
    found = _BY_KEY.get(key)
    if found is None:
        name, flags = key.rpartition("-")[0], tuple(c == "1" for c in key.rpartition("/")[2])
        with _outside_the_trace():
            for cell in defined_cells(name):
                try:
                    compiled = compiled_cell(cell, flags)
                except NotImplementedError:
                    continue
                _BY_KEY.setdefault(_key(cell, flags, compiled), (cell, compiled))
        found = _BY_KEY.get(key)
    if found is None:
        raise RuntimeError(
            f"rnnkit::cell_sweep: no cell {key!r} in this process: a program saved with a cell "
            f"of your own runs where rnnkit.define_cell made that cell (with the same step) "
            f"first, e.g. by importing the module that defines it"
        )
    return found


def _rows(t: Tensor | None, N: int, like: Tensor) -> Tensor:
    """A per-row output of the n packed rows, zero rows up to N; empty where absent."""
    return like.new_empty(0) if t is None else pad_rows(t, N)


def _params(params: list[Tensor], compiled: CompiledCell) -> list[Tensor]:
    """The cell parameters as the kernels take them: absent ones empty (units 0: skipped),
    cell_scan's placeholder of a cell without any dropped."""
    return list(params[: len(compiled.graph.param_units)])


@torch.library.custom_op("rnnkit::cell_sweep", mutates_args=())
def cell_sweep(
    key: str,
    x: Tensor,
    W_ih: Tensor,
    b_in: Tensor | None,
    W_hh: Tensor,
    b_hh: Tensor | None,
    h0: Tensor,
    xs0: Tensor,
    params: list[Tensor],
    batch_sizes: Tensor,
    reverse: bool,
    bf16: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(y, h_n, xs_n, pre, S, gh): see the module docstring; ``bf16``: the input projection
    in bfloat16 (autocast's lowering, as the eager compiled scan runs it)."""
    cell, compiled = cell_of(key)
    graph, E = compiled.graph, cell.extra_states
    sizes, n = packed_steps(batch_sizes, h0.shape[0])
    N = x.shape[0]
    gemm = gemm_of(bf16)
    rows, W = x[:n], W_ih.t()
    gx = mm(rows, W, gemm, W_ih.dtype) if b_in is None else addmm(b_in, rows, W, gemm)
    gx = gx.contiguous()  # the sweep turns it into the pre-activations
    y, h_n, xs_n, S, gh = load().custom_forward_sweep(
        list(compiled.fns), graph.gates, E, graph.split, gx, W_hh, b_hh, h0, xs0 if E else None,
        _params(params, compiled), list(graph.param_units), sizes, reverse,
    )  # fmt: skip
    return (_rows(y, N, x), h_n, h0.new_empty(0) if xs_n is None else xs_n, _rows(gx, N, x),
            _rows(S, N, x), _rows(gh, N, x))  # fmt: skip


@cell_sweep.register_fake
def _(key, x, W_ih, b_in, W_hh, b_hh, h0, xs0, params, batch_sizes, reverse, bf16):
    cell, compiled = cell_of(key)
    N, (B, H), G, E = x.shape[0], h0.shape, W_ih.shape[0], cell.extra_states
    split = compiled.graph.split
    return (x.new_empty(N, H), x.new_empty(B, H), x.new_empty(B, E * H) if E else x.new_empty(0),
            x.new_empty(N, G), x.new_empty(N, E * H) if E else x.new_empty(0),
            x.new_empty(N, G) if split else x.new_empty(0))  # fmt: skip


@torch.library.custom_op("rnnkit::cell_sweep_backward", mutates_args=())
def cell_sweep_backward(
    key: str,
    pre: Tensor,
    gh: Tensor,
    S: Tensor,
    y: Tensor,
    h0: Tensor,
    xs0: Tensor,
    W_hh: Tensor,
    params: list[Tensor],
    dy: Tensor,
    dh_n: Tensor,
    dxs_n: Tensor,
    batch_sizes: Tensor,
    reverse: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(dG, dG_h, H_prev, dh_0, dxs_0, dP): see the module docstring."""
    cell, compiled = cell_of(key)
    graph, E = compiled.graph, cell.extra_states
    sizes, n = packed_steps(batch_sizes, h0.shape[0])
    N = y.shape[0]
    pre, gh, S, y, dy = (t[:n] if t.numel() else None for t in (pre, gh, S, y, dy))
    dG, dG_h, H_prev, dh0, dxs0, dP = load().custom_backward_sweep(
        list(compiled.fns), graph.gates, E, graph.split, pre.contiguous(), gh, S, y, h0,
        xs0 if E else None, W_hh, _params(params, compiled), list(graph.param_units),
        dy.contiguous(),
        dh_n.contiguous(), dxs_n.contiguous() if E else None, sizes, reverse,
    )  # fmt: skip
    dG_h = None if not graph.split else dG_h
    return (_rows(dG, N, y), _rows(dG_h, N, y), _rows(H_prev, N, y), dh0,
            h0.new_empty(0) if dxs0 is None else dxs0,
            h0.new_empty(0) if dP is None else dP)  # fmt: skip


@cell_sweep_backward.register_fake
def _(key, pre, gh, S, y, h0, xs0, W_hh, params, dy, dh_n, dxs_n, batch_sizes, reverse):
    cell, compiled = cell_of(key)
    (N, G), (B, H), E = pre.shape, h0.shape, cell.extra_states
    KP = sum(compiled.graph.param_units) * H
    none = lambda: y.new_empty(0)  # noqa: E731  (an output of its own: none alias)
    return (y.new_empty(N, G), y.new_empty(N, G) if compiled.graph.split else none(),
            y.new_empty(N, H), y.new_empty(B, H), y.new_empty(B, E * H) if E else none(),
            y.new_empty(B, KP) if KP else none())  # fmt: skip


def _setup(ctx, inputs, output) -> None:
    key, x, W_ih, b_in, W_hh, b_hh, h0, xs0, params, batch_sizes, reverse, bf16 = inputs
    y, _, _, pre, S, gh = output
    ctx.key, ctx.reverse, ctx.has = key, reverse, (b_in is not None, b_hh is not None)
    ctx.gemm = gemm_of(bf16)
    ctx.n_params = len(params)
    ctx.save_for_backward(x, W_ih, W_hh, h0, xs0, y, pre, S, gh, batch_sizes, *params)


def _backward(ctx, dy, dh_n, dxs_n, *_saved_grads):
    x, W_ih, W_hh, h0, xs0, y, pre, S, gh, batch_sizes, *params = ctx.saved_tensors
    dy = torch.zeros_like(y) if dy is None else dy
    dh_n = torch.zeros_like(h0) if dh_n is None else dh_n
    if dxs_n is None or dxs_n.numel() != xs0.numel():
        dxs_n = torch.zeros_like(xs0)
    dG, dG_h, H_prev, dh0, dxs0, dP = cell_sweep_backward(
        ctx.key, pre, gh, S, y, h0, xs0, W_hh, params, dy, dh_n, dxs_n, batch_sizes, ctx.reverse
    )
    # (key, x, W_ih, b_in, W_hh, b_hh, h0, xs0, params, batch_sizes, reverse, bf16)
    need = ctx.needs_input_grad
    need = (need[1], need[2], need[4], ctx.has[0] and need[3], ctx.has[1] and need[5])
    dx, dW_ih, dW_hh, db_in, db_hh = layer_grads(need, x, W_ih, W_hh, dG, dG_h, H_prev, ctx.gemm)
    units = cell_of(ctx.key)[1].graph.param_units
    dparams = param_grads(dP, units, h0.shape[1], len(params))  # (cell_scan's placeholder: None)
    return (None, dx, dW_ih, db_in, dW_hh, db_hh, dh0, dxs0 if xs0.numel() else None, dparams,
            None, None, None)  # fmt: skip


cell_sweep.register_autograd(_backward, setup_context=_setup)


def cell_scan(
    key: str,
    cell: CellMath,
    x: Tensor,
    weights: tuple,
    params: tuple,
    start: tuple[Tensor, ...],
    batch_sizes: Tensor,
    reverse: bool,
    bf16: bool = False,
) -> tuple[Tensor, ...]:
    """One layer-direction of a compiled cell on packed rows x (N, I) through the operators:
    (y (N, H), h_n (B, H), *the extra states' final values (B, H) each). ``weights`` = (W_ih,
    W_hh, b_ih, b_hh, W_hr), ``start`` = (h_0, *extra states at step 0); ``bf16``: the GEMMs
    in bfloat16 (autocast's lowering, StackCall.gemm)."""
    W_ih, W_hh, b_ih, b_hh, _ = weights
    split = cell.split_hidden  # (the compiled graph's split; no table read while traced)
    # the input bias: b_ih, plus b_hh where the step adds h·W_hhᵀ into gx (not split)
    b_in = b_ih if split or b_ih is None or b_hh is None else b_ih + b_hh
    h0, extra0 = start[0], start[1:]
    xs0 = torch.cat(extra0, 1) if extra0 else h0.new_empty(0)
    step_params = [h0.new_empty(0) if p is None else p for p in params] or [h0.new_empty(0)]
    y, h_n, xs_n, *_ = cell_sweep(key, x, W_ih, b_in, W_hh, b_hh if split else None, h0, xs0,
                                  step_params, batch_sizes, reverse, bf16)  # fmt: skip
    return (y, h_n, *(xs_n.chunk(len(extra0), 1) if extra0 else ()))

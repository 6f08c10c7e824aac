"""Cells the native engine compiles from their Python step: ``define_cell`` cells in C++.

A cell outside the built-in native set is traced once per set of present parameters
(stepgraph.py), written out as C++ row kernels with a derived backward (codegen.py), compiled
into a small library of its own (build.build_cell, a few seconds, cached on disk) and run by the
C++ time loops of csrc/custom.cpp. The cell's ``step_backward`` is not used here: the backward
is the exact derivative of ``step``, which tests hold equal to the reference loop's autograd.

Saved for backward, per row: the pre-activations (G), gh (G, split cells), the extra states
(E·H) and the output (H); the step is recomputed from them. Declined (``NotImplementedError``,
the dispatcher then runs the fused engine): steps with ops outside the element-wise set, cells
with ``prepare_input`` / a diagonal W_hh / a projection, dtypes other than float32 / float64,
devices other than CPU, and any failure to compile.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import torch
from torch import Tensor

from ...cells.base import CellMath
from ..fused import once_differentiable_grads
from ..layout import TimeLayout
from ..precision import addmm, gemm_dtype, low, mm
from ..weights import LayerWeights
from .build import build_cell, load
from .codegen import cell_source
from .stepgraph import StepGraph, trace_step

__all__ = [
    "CompiledCell",
    "check_tensors",
    "compiled_cell",
    "compiled_scan",
    "layer_grads",
    "layer_needs",
    "param_grads",
]

_DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class CompiledCell:
    """A cell's row kernels, loaded: addresses (fwd f32, fwd f64, bwd f32, bwd f64)."""

    graph: StepGraph
    fns: tuple[int, int, int, int]
    library: ctypes.CDLL  # kept alive with the addresses


# (cell, which parameters are present) -> the compiled cell, or why it cannot be
_compiled: dict[tuple[CellMath, tuple[bool, ...]], CompiledCell | str] = {}


def compiled_cell(cell: CellMath, present: tuple[bool, ...]) -> CompiledCell:
    """The compiled kernels of ``cell`` (traced and built on first use, then cached in the
    process and on disk); ``NotImplementedError`` with the reason where it cannot be."""
    key = (cell, present)
    found = _compiled.get(key)
    if found is None:
        try:
            graph = trace_step(cell, present)
            path = build_cell(cell_source(graph, cell.name), cell.name)
            library = ctypes.CDLL(str(path))
            names = ("fwd_f32", "fwd_f64", "bwd_f32", "bwd_f64")
            fns = tuple(
                ctypes.cast(getattr(library, f"rnnkit_cell_{n}"), ctypes.c_void_p).value
                for n in names
            )
            found = CompiledCell(graph, fns, library)
        except NotImplementedError as exc:
            found = str(exc)
        except OSError as exc:  # the library would not load
            found = f"native cell: loading {cell.name}'s kernels failed: {exc}"
        _compiled[key] = found
    if isinstance(found, str):
        raise NotImplementedError(found)
    return found


def check_tensors(x: Tensor, tensors) -> None:
    """``NotImplementedError`` unless every tensor is on the CPU in x's dtype, float32 / float64."""
    if x.dtype not in _DTYPES:
        raise NotImplementedError(f"native scan supports float32 and float64; got {x.dtype}")
    for t in tensors:
        if t.device.type != "cpu":
            raise NotImplementedError(f"native scan runs on CPU only; got a tensor on {t.device}")
        if t.dtype != x.dtype:
            raise NotImplementedError(f"native scan needs one dtype; got {x.dtype} and {t.dtype}")


def param_grads(
    dP: Tensor | None, units: tuple[int, ...], H: int, n: int, wanted=None
) -> list[Tensor | None]:
    """The cell parameters' gradients from a sweep's dP (B, Σ units·H: each parameter's
    units·H columns, per batch slot), summed over the slots; None for an absent parameter (0
    units), one not ``wanted``, and past the cell's own up to ``n`` (a placeholder)."""
    grads: list[Tensor | None] = [None] * n
    start = 0
    for k, u in enumerate(units):
        if u and (wanted is None or wanted[k]):
            grads[k] = dP[:, start : start + u * H].sum(0)
        start += u * H
    return grads


def layer_grads(need, x, W_ih, W_hh, dG, dG_h, H_prev, gemm=None, kept=None) -> tuple:
    """dX, dW_ih, dW_hh, db_ih, db_hh from the sweep's dG (N, G), dG_h (N, G; dG itself, or
    empty / None, where the cell does not keep gh apart) and H_prev, each one GEMM or sum over
    all N rows; None where ``need`` (five flags in that order, False for an absent tensor)
    says so. With ``gemm`` (precision.py: bfloat16 under autocast) the GEMMs' operands are
    cast to it once (x may come in it already), the results come in the weights' dtype.
    ``kept``: the sweep's (dG, dG_h) in ``gemm`` already and their rows' sums per batch slot
    (B, G) each (csrc backward_sweep's low_grads), used instead of casting and summing dG /
    dG_h here. The one home of the layer gradients of every native path (autograd Functions
    and operators)."""
    need_x, need_W_ih, need_W_hh, need_b_ih, need_b_hh = need
    out = W_hh.dtype
    if dG_h is None or dG_h.numel() == 0:
        dG_h = dG
    if kept is None:
        dG_low = low(dG, gemm) if need_x or need_W_ih else None
        dG_h_low = dG_low if dG_h is dG and dG_low is not None else dG_h
        sums, sums_h = dG, dG_h  # the biases' gradients: the rows summed here
    else:
        dG_low, dG_h_low, sums, sums_h = kept  # the slots' sums
    dx = mm(dG_low, W_ih, gemm, out) if need_x else None  # (N, I) dL/dX
    dW_ih = mm(dG_low.t(), x, gemm, out) if need_W_ih else None  # (G, I) dL/dW_ih
    dW_hh = None
    if need_W_hh and W_hh.dim() == 1:  # (H,) Σ_rows dG ⊙ H_prev (IndRNN)
        dW_hh = (dG_h * H_prev).sum(0)
    elif need_W_hh:  # (G, P) dL/dW_hh = dG_hᵀ·H_prev
        dW_hh = mm(dG_h_low.t(), H_prev, gemm, out)
    db_ih = sums.sum(0) if need_b_ih else None  # (G,) dL/db_ih
    db_hh = None
    if need_b_hh:  # (G,) dL/db_hh; its own tensor even where dG_h is dG
        db_hh = sums_h.sum(0) if sums_h is not sums or db_ih is None else db_ih.clone()
    return dx, dW_ih, dW_hh, db_ih, db_hh


def layer_needs(need, has_bias: bool) -> tuple[bool, ...]:
    """layer_grads' five flags from a Function's needs_input_grad whose inputs 4-8 are (x,
    W_ih, W_hh, b_ih, b_hh), the biases present or absent together (``has_bias``)."""
    return (need[4], need[5], need[6], has_bias and need[7], has_bias and need[8])


class _CompiledScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, compiled, layout, reverse, n_extra, x, W_ih, W_hh, b_ih, b_hh, h0, *rest):
        graph: StepGraph = compiled.graph
        extra0, params = rest[:n_extra], rest[n_extra:]
        x = x.contiguous()
        bias = b_ih if graph.split or b_ih is None or b_hh is None else b_ih + b_hh
        ctx.gemm = gemm = gemm_dtype()
        x = low(x, gemm)  # cast once: the projection's operand, kept for dW_ih
        gx = mm(x, W_ih.t(), gemm, W_ih.dtype) if bias is None else addmm(bias, x, W_ih.t(), gemm)
        xs0 = torch.cat(extra0, 1) if n_extra else None  # (B, E·H)
        y, h_n, xs_n, S, aux = load().custom_forward_sweep(
            list(compiled.fns), graph.gates, n_extra, graph.split, gx, W_hh,
            b_hh if graph.split else None, h0, xs0, list(params), list(graph.param_units),
            layout.batch_sizes, reverse,
        )  # fmt: skip
        ctx.compiled, ctx.layout, ctx.reverse = compiled, layout, reverse
        ctx.has_bias, ctx.n_extra = b_ih is not None, n_extra
        ctx.save_for_backward(x, W_ih, W_hh, h0, xs0, y, gx, S, aux, *params)
        return (y, h_n, *(xs_n.chunk(n_extra, 1) if n_extra else ()))

    @staticmethod
    def backward(ctx, dy, dh_n, *dextra_n):
        return once_differentiable_grads(_CompiledScan._grads, ctx, dy, dh_n, *dextra_n)

    @staticmethod
    def _grads(ctx, dy, dh_n, *dextra_n):
        x, W_ih, W_hh, h0, xs0, y, gx, S, aux, *params = ctx.saved_tensors
        graph: StepGraph = ctx.compiled.graph
        dxs_n = torch.cat(dextra_n, 1) if ctx.n_extra else None
        dG, dG_h, H_prev, dh0, dxs0, dP = load().custom_backward_sweep(
            list(ctx.compiled.fns), graph.gates, ctx.n_extra, graph.split, gx, aux, S, y, h0, xs0,
            W_hh, list(params), list(graph.param_units), dy, dh_n, dxs_n,
            ctx.layout.batch_sizes, ctx.reverse,
        )  # fmt: skip
        # (compiled, layout, reverse, n_extra, x, W_ih, W_hh, b_ih, b_hh, h0, *extra0, *params)
        need = ctx.needs_input_grad
        grads = layer_grads(
            layer_needs(need, ctx.has_bias), x, W_ih, W_hh, dG, dG_h, H_prev, ctx.gemm
        )
        dextra = dxs0.chunk(ctx.n_extra, 1) if ctx.n_extra else ()
        wanted = need[10 + ctx.n_extra :]
        dparams = param_grads(dP, graph.param_units, h0.shape[1], len(params), wanted)
        return (None, None, None, None, *grads, dh0, *dextra, *dparams)


def compiled_scan(
    cell: CellMath,
    layout: TimeLayout,
    reverse: bool,
    x: Tensor,
    w: LayerWeights,
    h0: Tensor,
    extra0: tuple[Tensor, ...],
    params: tuple[Tensor | None, ...] = (),
) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """``native_scan`` for a cell compiled from its step; ``NotImplementedError`` (before any
    work) where it declines."""
    if w.W_hr is not None or w.W_hh.dim() != 2:
        raise NotImplementedError(f"native cell: {cell.name} with a projection or diagonal W_hh")
    if len(params) != len(cell.params):
        raise NotImplementedError(
            f"native scan: {cell.name} takes {len(cell.params)} cell parameters, got {len(params)}"
        )
    check_tensors(x, [x, h0, *extra0, *(t for t in (*w, *params) if t is not None)])
    load()  # build (or fail) before anything is traced or recorded
    compiled = compiled_cell(cell, tuple(p is not None for p in params))
    y, h_n, *extra_n = _CompiledScan.apply(
        compiled, layout, reverse, len(extra0), x, w.W_ih, w.W_hh, w.b_ih, w.b_hh, h0, *extra0,
        *params,
    )  # fmt: skip
    return y, h_n, tuple(extra_n)

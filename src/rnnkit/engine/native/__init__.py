"""The native (C++) scan: the fused BPTT engine with its per-step time loop compiled.

``native_scan`` has exactly the contract of :func:`rnnkit.engine.fused.fused_scan`. Python does
the work that is one big operation over all N packed rows (the input projection
gx = X·W_ihᵀ + b, and for the layer-norm cells its layer norm; the weight gradients
dW_ih = dGᵀ·X, dW_hh = dG_hᵀ·H_prev, the biases, dX = dG·W_ih, and the cell parameters'
gradients as one sum over the B batch slots of what the sweep summed over each slot's steps);
the C++ sweeps in csrc/ run the T-step loops forward and backward.

Saved for backward, per row: the post-activation gates (G), plus c (LSTM family) or gh_n (GRU)
(H), plus h_raw (H) with a projection; the layer-norm cells also save LN(h_{t-1}·W_hhᵀ) (G), its
moments, and x·W_ihᵀ before its layer norm (G), as the fused engine does. It declines
(``NotImplementedError``) cells other than those in ``_SPECS`` (RNN, LSTM, GRU, LayerNormLSTM,
LayerNormGRU, PeepholeLSTM, IndRNN), dtypes other than float32 / float64, devices other than
CPU, and any failure to build the extension (see build.py). Recurrent dropout and zoneout are
declined by the dispatcher (backends.py), which never passes them here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

import torch
from torch import Tensor

from ...cells import (
    GRU,
    INDRNN_RELU,
    INDRNN_TANH,
    LAYERNORM_GRU,
    LAYERNORM_LSTM,
    LSTM,
    PEEPHOLE_LSTM,
    RNN_RELU,
    RNN_TANH,
)
from ...cells.base import CellMath
from ...cells.layernorm import EPS
from ..fused import once_differentiable_grads
from ..layout import TimeLayout
from ..precision import addmm, gemm_dtype, low, mm
from ..weights import LayerWeights
from . import build
from .build import compiler_available, load
from .compiled import check_tensors, compiled_scan, layer_grads, layer_needs

__all__ = [
    "StackWeights",
    "compiler_available",
    "load",
    "native_cells",
    "native_infer",
    "native_scan",
    "release_workspace",
    "team_cap",
]


@dataclass(frozen=True)
class _Spec:
    """How the native scan runs one built-in cell: the hand-written kernel, and what the Python
    side does around it. The cell's traits (gates, c, split hidden projection, diagonal W_hh,
    its parameters) come from its CellMath, stated once there (``native_cell``)."""

    kernel: int  # the C++ row kernel (csrc/sweeps.h Kernel): 0 Elman, 1 LSTM, 2 GRU, 3 LN-LSTM,
    # 4 LN-GRU, 5 peephole LSTM
    relu: bool = False  # the Elman kernel's activation (else tanh)
    gates_saved: bool = True  # the backward reads the saved gates (not RNN / IndRNN: only y)
    fold_b_hh: bool = True  # b_hh is added into gx (the GRU adds it inside the step)
    input_norm: bool = False  # gx = LN(x·W_ihᵀ; params[0], params[1]) over all rows
    step_params: tuple[int, ...] = ()  # the params the C++ step takes, in its order
    row_grads: tuple[tuple[int, int], ...] = ()  # (param, width in H): the columns of dP (B, .)


_SPECS = {
    RNN_TANH: _Spec(0, gates_saved=False),
    RNN_RELU: _Spec(0, relu=True, gates_saved=False),
    LSTM: _Spec(1),
    GRU: _Spec(2, fold_b_hh=False),
    # params (γ_ih, β_ih, γ_hh, γ_c, β_c); dP = (dγ_hh 4H, dγ_c H, dβ_c H) per batch slot
    LAYERNORM_LSTM: _Spec(3, input_norm=True, step_params=(2, 3, 4),
                          row_grads=((2, 4), (3, 1), (4, 1))),
    # params (γ_ih, β_ih, γ_hh, β_hh); dP = (dγ_hh 3H, dβ_hh 3H) per batch slot
    LAYERNORM_GRU: _Spec(4, input_norm=True, step_params=(2, 3), row_grads=((2, 3), (3, 3))),
    PEEPHOLE_LSTM: _Spec(5, step_params=(0,), row_grads=((0, 3),)),  # params (p,), 3H
    INDRNN_TANH: _Spec(0, gates_saved=False),
    INDRNN_RELU: _Spec(0, relu=True, gates_saved=False),
}  # fmt: skip
_SPECS_BY_ID = {id(cell): spec for cell, spec in _SPECS.items()}  # the cells are singletons
# by name, for the operators (ops.py): under torch.compile a lookup here guards on one entry,
# where a walk over _SPECS guarded on every field of every cell (185 of a GRU model's 590
# guards, evaluated on every compiled call)
_SPECS_BY_NAME = {cell.name: (cell, spec) for cell, spec in _SPECS.items()}
_NAMES = tuple(_SPECS_BY_NAME)
_NATIVE_CELLS: dict[int, object] = {}  # id(cell) -> the extension's Cell, made once
_DTYPES = (torch.float32, torch.float64)


def native_cells() -> tuple[str, ...]:
    """The names of the built-in cells the native scan runs with hand-written kernels (other
    cells it compiles from their step where it can: compiled.py)."""
    return _NAMES


def native_cell(cell: CellMath, spec: _Spec, ext) -> object:
    """The extension's description of ``cell``: its traits from the CellMath, the kernel from
    its spec (the C++ checks that the kernel can run a cell of those traits)."""
    made = _NATIVE_CELLS.get(id(cell))
    if made is None:
        taken = [cell.params[k] for k in spec.step_params]
        made = ext.Cell(
            kernel=spec.kernel, gates=cell.gates, has_c=cell.extra_states == 1,
            split=cell.split_hidden, diagonal=cell.diagonal_hidden, relu=spec.relu,
            param_units=[p.size for p in taken], param_optional=[p.is_bias for p in taken],
        )  # fmt: skip
        _NATIVE_CELLS[id(cell)] = made
    return made


def _check_supported(cell: CellMath, x: Tensor, w: LayerWeights, h0, extra0, params) -> _Spec:
    """The cell's spec; ``NotImplementedError`` saying why when the native path declines."""
    spec = _SPECS_BY_ID[id(cell)]
    if len(params) != len(cell.params):
        raise NotImplementedError(
            f"native scan: {cell.name} takes {len(cell.params)} cell parameters, got {len(params)}"
        )
    if spec.input_norm and (w.b_ih is not None or w.b_hh is not None):
        raise NotImplementedError(f"native scan: {cell.name} takes no bias_ih / bias_hh")
    check_tensors(x, [x, h0, *extra0, *(t for t in (*w, *params) if t is not None)])
    return spec


def _input_projection(spec: _Spec, x, W_ih, b_ih, b_hh, params, gemm):
    """(gx, gx before its layer norm or None, (mean, rstd) or None), all N rows in one GEMM (in
    ``gemm``'s dtype where one is given: precision.py)."""
    if b_ih is None:
        gx = mm(x, W_ih.t(), gemm, W_ih.dtype)  # (N, G)
    else:
        in_bias = b_ih + b_hh if spec.fold_b_hh else b_ih  # the GRU adds b_hh inside the step
        gx = addmm(in_bias, x, W_ih.t(), gemm)  # (N, G) all steps in one GEMM
    if not spec.input_norm:
        return gx, None, None
    normed, mean, rstd = torch.native_layer_norm(gx, [gx.shape[1]], params[0], params[1], EPS)
    return normed, gx, (mean, rstd)


@contextmanager
def _sweep_settings(ext: ModuleType, gemm: torch.dtype | None, cap: int) -> Iterator[None]:
    """Around a sweep on this thread: the per-step products h·W_hhᵀ (and dG·W_hh) in bfloat16
    with float32 sums where ``gemm`` is bfloat16 (autocast, precision.py) and the CPU has
    AVX512-BF16, else float32; at most ``cap`` threads in its team (0: no cap)."""
    if gemm is not torch.bfloat16 and not cap:
        yield
        return
    bf16 = gemm is torch.bfloat16
    if bf16:
        ext.set_bf16_products(True)
    previous = ext.set_team_cap(cap) if cap else 0
    try:
        yield
    finally:
        if bf16:
            ext.set_bf16_products(False)
        if cap:
            ext.set_team_cap(previous)


_cap = 0  # team_cap's value: the plan's cap on the sweeps' teams for the call now running


@contextmanager
def team_cap(cap: int) -> Iterator[None]:
    """The native sweeps of the calls made inside run with at most ``cap`` threads per team
    (0: no cap, as the C++ plans it; 1: each on its calling thread): the measured plan's choice
    for the call's bucket (paths.py). A training call's backward keeps its forward's cap."""
    global _cap
    previous, _cap = _cap, cap
    try:
        yield
    finally:
        _cap = previous


class _NativeScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cell, layout, reverse, n_extra, x, W_ih, W_hh, b_ih, b_hh, W_hr, h0, *rest):
        ext, spec = load(), _SPECS_BY_ID[id(cell)]
        extra0, params = rest[:n_extra], rest[n_extra:]
        x = x.contiguous()
        ctx.gemm = gemm_dtype()  # bfloat16 under autocast, for the backward's GEMMs too
        ctx.cap = _cap  # the plan's team cap, for the backward's sweep too
        x = low(x, ctx.gemm)  # cast once: the projection's operand, kept for dW_ih
        gx, gx_raw, moments = _input_projection(spec, x, W_ih, b_ih, b_hh, params, ctx.gemm)
        c0 = extra0[0] if extra0 else None
        step_params = [params[k] for k in spec.step_params]
        # gx becomes the post-activation gates; S is c (LSTM family) or gh_n (GRU) per row
        with _sweep_settings(ext, ctx.gemm, ctx.cap):
            y, h_n, c_n, S, raw, aux, stats = ext.forward_sweep(
                native_cell(cell, spec, ext), gx, W_hh, b_hh if not spec.fold_b_hh else None,
                W_hr, h0, c0, step_params, layout.batch_sizes, reverse,
            )  # fmt: skip
        ctx.cell, ctx.spec, ctx.layout, ctx.reverse = cell, spec, layout, reverse
        ctx.has_bias, ctx.n_extra = b_ih is not None, n_extra
        act = gx if spec.gates_saved else None  # RNN: the saved output y is all it needs
        mean, rstd = moments if moments else (None, None)
        ctx.save_for_backward(
            x, W_ih, W_hh, W_hr, h0, c0, y, act, S, raw, aux, stats, gx_raw, mean, rstd, *params
        )
        return (y, h_n) if c_n is None else (y, h_n, c_n)

    @staticmethod
    def backward(ctx, dy, dh_n, *dextra_n):
        return once_differentiable_grads(_NativeScan._grads, ctx, dy, dh_n, *dextra_n)

    @staticmethod
    def _grads(ctx, dy, dh_n, *dextra_n):
        x, W_ih, W_hh, W_hr, h0, c0, y, act, S, raw, aux, stats, *rest = ctx.saved_tensors
        gx_raw, mean, rstd, *params = rest
        spec = ctx.spec
        dc_n = dextra_n[0] if dextra_n else None
        ext = load()
        with _sweep_settings(ext, ctx.gemm, ctx.cap):
            dG, dG_h, H_prev, dH_out, dh0, dc0, dP, *low_grads = ext.backward_sweep(
                native_cell(ctx.cell, spec, ext), act, S, aux, stats, y, h0, c0, W_hh, W_hr,
                [params[k] for k in spec.step_params], dy, dh_n, dc_n,
                ctx.layout.batch_sizes, ctx.reverse, ctx.gemm is torch.bfloat16,
            )  # fmt: skip
        # (cell, layout, reverse, n_extra, x, W_ih, W_hh, b_ih, b_hh, W_hr, h0, *extra0, *params)
        need = ctx.needs_input_grad
        need_params = need[11 + ctx.n_extra :]
        dparams: list[Tensor | None] = [None] * len(params)
        if spec.input_norm:  # dG is dL/d LN(x·W_ihᵀ): back through the layer norm
            mask = [need[4] or need[5], need_params[0], need_params[1] and params[1] is not None]
            dG, dparams[0], dparams[1] = torch.ops.aten.native_layer_norm_backward(
                dG, gx_raw, [gx_raw.shape[1]], mean, rstd, params[0], params[1], mask
            )
        dx, dW_ih, dW_hh, db_ih, db_hh = layer_grads(
            layer_needs(need, ctx.has_bias), x, W_ih, W_hh, dG, dG_h, H_prev, ctx.gemm,
            low_grads if low_grads[0] is not None else None,
        )  # fmt: skip
        dW_hr = dH_out.t() @ raw if W_hr is not None and need[9] else None  # (P, H) dL/dW_hr
        if dP is not None and any(need_params[k] for k, _ in spec.row_grads):
            _sum_row_grads(spec, dP, params, need_params, dparams)
        dextra = (dc0,) if ctx.n_extra else ()
        return (None, None, None, None, dx, dW_ih, dW_hh, db_ih, db_hh, dW_hr, dh0, *dextra,
                *dparams)  # fmt: skip


def _sum_row_grads(spec: _Spec, dP: Tensor, params, need, dparams: list) -> None:
    """The cell parameters' gradients: the B rows of dP (B, Σ widths·H) summed, one parameter's
    columns at a time (so that each gradient is a tensor of its own, not a view of another)."""
    H = dP.shape[1] // sum(width for _, width in spec.row_grads)
    start = 0
    for k, width in spec.row_grads:
        if need[k] and params[k] is not None:
            dparams[k] = dP[:, start : start + width * H].sum(0)
        start += width * H


def native_scan(
    cell: CellMath,
    layout: TimeLayout,
    reverse: bool,
    x: Tensor,
    w: LayerWeights,
    h0: Tensor,
    extra0: tuple[Tensor, ...],
    params: tuple[Tensor | None, ...] = (),
) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """Same contract as :func:`rnnkit.engine.fused.fused_scan` without noise, with the time
    loops in C++. ``params`` are the cell's own parameters, in ``cell.params`` order.

    Raises ``NotImplementedError`` (before doing any work) when it declines the call.
    """
    if id(cell) not in _SPECS_BY_ID:  # a cell of its own: compiled from its step
        return compiled_scan(cell, layout, reverse, x, w, h0, extra0, params)
    _check_supported(cell, x, w, h0, extra0, params)
    load()  # build (or fail) before autograd records anything
    y, h_n, *extra_n = _NativeScan.apply(
        cell, layout, reverse, len(extra0), x, *w, h0, *extra0, *params
    )
    return y, h_n, tuple(extra_n)


class StackWeights(list):
    """(weights, cell params) of every layer-direction, as a layer keeps them between calls;
    ``native_infer`` keeps its argument lists for the C++ call on it (``native_args``)."""

    __slots__ = ("native_args",)


def native_infer(
    cell: CellMath,
    x: Tensor,
    T: int,
    layers: list[tuple[LayerWeights, tuple[Tensor | None, ...]]],
    num_directions: int,
    h0: Tensor | None,
    c0: Tensor | None,
    both_directions: bool = False,
) -> tuple[Tensor, Tensor, Tensor | None] | None:
    """The no-grad forward of a whole stack in one C++ call, nothing saved; None where the native
    path declines (another cell, dtype or device, no extension): the caller runs its general path.
    ``both_directions``: a bidirectional layer's two directions run at once, a thread each.

    x: (T, B, I), a uniform batch. layers[layer·D + direction] = (weights, cell
    params). h0 (L·D, B, P), c0 (L·D, B, H) or None for zeros. Returns output (T, B, D·P),
    h_n (L·D, B, P), c_n (L·D, B, H) or None. The same math as ``native_scan`` layer by layer
    (tests/engine/test_native_infer.py holds them equal); call it only with autograd off.
    Under autocast (``gemm_dtype()`` bfloat16, precision.py) its GEMMs run in bfloat16 as the
    training scan's: the input projections, and the per-step products where the CPU has
    AVX512-BF16 (tests/engine/test_precision_infer.py holds it equal to the training path).
    """
    spec = _SPECS_BY_ID.get(id(cell))  # by identity: hashing a CellMath costs ~1 us per call
    if spec is None or x.dtype not in _DTYPES or not x.is_cpu:
        return None
    try:  # the caller (backends.infer_stack) has checked RNNKIT_NATIVE already
        ext = build._module or load()
    except NotImplementedError:
        return None
    args = getattr(layers, "native_args", None)
    if args is None:
        args = [infer_args(spec, w, params) for w, params in layers]
        if isinstance(layers, StackWeights):
            layers.native_args = args
    bf16 = gemm_dtype() is torch.bfloat16 and x.dtype == torch.float32
    if not _cap:  # (a streaming call: no context manager's microseconds)
        return run_infer(cell, spec, ext, x, args, num_directions, h0, c0, T, both_directions,
                         bf16)  # fmt: skip
    with _sweep_settings(ext, None, _cap):
        return run_infer(cell, spec, ext, x, args, num_directions, h0, c0, T, both_directions,
                         bf16)  # fmt: skip


def infer_args(spec: _Spec, w, params) -> list[Tensor | None]:
    """One layer-direction's arguments of the C++ no-grad stack: W_ih, W_hh, b_ih, b_hh, W_hr,
    the input layer norm's weight and bias, the step parameters; None where absent."""
    norm = params[:2] if spec.input_norm else (None, None)
    return [*w, *norm, *(params[k] for k in spec.step_params)]


def run_infer(cell: CellMath, spec: _Spec, ext, x: Tensor, args, num_directions: int, h0, c0,
              T: int, both_directions: bool, bf16: bool) -> tuple:  # fmt: skip
    """The C++ no-grad stack on ``infer_args`` per layer-direction: (y, h_n, c_n or None)."""
    native = native_cell(cell, spec, ext)
    return ext.infer_stack(native, x, args, num_directions, h0, c0, T, spec.fold_b_hh,
                           spec.input_norm, EPS, both_directions, bf16)  # fmt: skip


def release_workspace() -> None:
    """Free the scratch the no-grad stack keeps between calls on the calling thread (gx, S and
    the like, up to 512 MB each: a fresh buffer of that size is paged in on every call)."""
    if build._module is not None:
        build._module.release_workspace()

"""The native (C++) scan: the fused BPTT engine with its per-step time loop compiled.

``native_scan`` has exactly the contract of :func:`rnnkit.engine.fused.fused_scan`. Python does
the work that is one big operation over all N packed rows (the input projection
gx = X·W_ihᵀ + b; the weight gradients dW_ih = dGᵀ·X, dW_hh = dG_hᵀ·H_prev, the biases and
dX = dG·W_ih); the C++ sweeps in csrc/ run the T-step loops forward and backward.

Saved for backward, per row: the post-activation gates (G), plus c (LSTM) or gh_n (GRU) (H), plus
h_raw (H) with a projection: the same as the fused engine. It declines (``NotImplementedError``)
cells other than rnn_tanh / rnn_relu / lstm / gru, dtypes other than float32 / float64, devices
other than CPU, and any failure to build the extension (see build.py).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...cells import GRU, LSTM, RNN_RELU, RNN_TANH
from ...cells.base import CellMath
from ..fused import _poison_double_backward
from ..layout import TimeLayout
from ..weights import LayerWeights
from .build import compiler_available, load

__all__ = ["compiler_available", "load", "native_scan"]

_KINDS = {RNN_TANH: 0, RNN_RELU: 1, LSTM: 2, GRU: 3}  # the C++ Kind enum
_DTYPES = (torch.float32, torch.float64)


def _check_supported(cell: CellMath, x: Tensor, w: LayerWeights, h0: Tensor, extra0) -> int:
    """The cell's C++ kind; ``NotImplementedError`` saying why when the native path declines."""
    kind = _KINDS.get(cell)
    if kind is None:
        raise NotImplementedError(
            f"native scan supports rnn_tanh, rnn_relu, lstm, gru; got {cell.name}"
        )
    tensors = [x, h0, *extra0, *(t for t in w if t is not None)]
    if x.dtype not in _DTYPES:
        raise NotImplementedError(f"native scan supports float32 and float64; got {x.dtype}")
    for t in tensors:
        if t.device.type != "cpu":
            raise NotImplementedError(f"native scan runs on CPU only; got a tensor on {t.device}")
        if t.dtype != x.dtype:
            raise NotImplementedError(f"native scan needs one dtype; got {x.dtype} and {t.dtype}")
    return kind


class _NativeScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kind, layout, reverse, x, W_ih, W_hh, b_ih, b_hh, W_hr, h0, *extra0):
        ext = load()
        gru = kind == _KINDS[GRU]
        x = x.contiguous()
        if b_ih is None:
            gx = x @ W_ih.t()  # (N, G)
        else:
            in_bias = b_ih if gru else b_ih + b_hh  # the GRU adds b_hh inside the step
            gx = torch.addmm(in_bias, x, W_ih.t())  # (N, G) all steps in one GEMM
        c0 = extra0[0] if extra0 else None
        # gx becomes the post-activation gates; S is c (LSTM) or gh_n (GRU) per row
        y, h_n, c_n, S, raw = ext.forward_sweep(
            kind, gx, W_hh, b_hh if gru else None, W_hr, h0, c0, layout.batch_sizes, reverse
        )
        ctx.kind, ctx.layout, ctx.reverse = kind, layout, reverse
        ctx.has_bias, ctx.n_extra = b_ih is not None, len(extra0)
        act = None if S is None else gx  # RNN: the saved output y is all its backward needs
        ctx.save_for_backward(x, W_ih, W_hh, W_hr, h0, c0, y, act, S, raw)
        return (y, h_n) if c_n is None else (y, h_n, c_n)

    @staticmethod
    def backward(ctx, dy, dh_n, *dextra_n):
        if not torch.is_grad_enabled():
            return _NativeScan._grads(ctx, dy, dh_n, *dextra_n)
        with torch.no_grad():  # create_graph=True: the grads are right, but not differentiable
            grads = _NativeScan._grads(ctx, dy, dh_n, *dextra_n)
        return _poison_double_backward(grads)  # the fused engine's error on a double backward

    @staticmethod
    def _grads(ctx, dy, dh_n, *dextra_n):
        x, W_ih, W_hh, W_hr, h0, c0, y, act, S, raw = ctx.saved_tensors
        dc_n = dextra_n[0] if dextra_n else None
        dG, dG_h, H_prev, dH_out, dh0, dc0 = load().backward_sweep(
            ctx.kind, act, S, y, h0, c0, W_hh, W_hr, dy, dh_n, dc_n,
            ctx.layout.batch_sizes, ctx.reverse,
        )  # fmt: skip
        need = ctx.needs_input_grad  # (kind, layout, reverse, x, W_ih, W_hh, b_ih, b_hh, W_hr, ...)
        dx = dG @ W_ih if need[3] else None  # (N, I) dL/dX
        dW_ih = dG.t() @ x if need[4] else None  # (G, I) dL/dW_ih
        dW_hh = dG_h.t() @ H_prev if need[5] else None  # (G, P) dL/dW_hh
        db_ih = dG.sum(0) if ctx.has_bias and need[6] else None  # (G,) dL/db_ih
        db_hh = None
        if ctx.has_bias and need[7]:  # (G,) dL/db_hh; its own tensor even where dG_h is dG
            db_hh = dG_h.sum(0) if dG_h is not dG or db_ih is None else db_ih.clone()
        dW_hr = dH_out.t() @ raw if W_hr is not None and need[8] else None  # (P, H) dL/dW_hr
        dextra = (dc0,) if ctx.n_extra else ()
        return (None, None, None, dx, dW_ih, dW_hh, db_ih, db_hh, dW_hr, dh0, *dextra)


def native_scan(
    cell: CellMath,
    layout: TimeLayout,
    reverse: bool,
    x: Tensor,
    w: LayerWeights,
    h0: Tensor,
    extra0: tuple[Tensor, ...],
) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """Same contract as :func:`rnnkit.engine.fused.fused_scan`, with the time loops in C++.

    Raises ``NotImplementedError`` (before doing any work) when it declines the call.
    """
    kind = _check_supported(cell, x, w, h0, extra0)
    load()  # build (or fail) before autograd records anything
    y, h_n, *extra_n = _NativeScan.apply(kind, layout, reverse, x, *w, h0, *extra0)
    return y, h_n, tuple(extra_n)

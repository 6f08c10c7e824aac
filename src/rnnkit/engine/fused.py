"""The fused BPTT engine: one autograd Function per layer-direction with hand-written backward.

Forward:  gx = X·W_ihᵀ + b for all T steps in one GEMM (N, G); then per step one small GEMM
          h_{t-1}·W_hhᵀ (fused with the add into gx where the cell allows) and the cell's
          pointwise math, saving only what ``step_backward`` needs.
Backward: one reverse sweep over time producing dG (N, G) and dh_{t-1} (dc_{t-1}) per step;
          then dW_ih = dGᵀ·X, dW_hh = dG_hᵀ·H_prev, the bias grads and dX = dG·W_ih, each one
          GEMM or reduction over all N rows.

The per-step loop here is Python; the cell math is shared with the reference backend.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import Tensor

from ..cells.base import CellMath
from .layout import TimeLayout
from .weights import LayerWeights

__all__ = ["fused_scan"]


def _prev_rows(prev: Tensor | None, init: Tensor, n: int) -> Tensor:
    """Rows 0..n of the state before a step: the previous step's rows, topped up from ``init``.

    Going forward in time the batch only shrinks, so ``prev`` has at least n rows; going
    backward (reverse direction) it grows, and the sequences that start at this step take
    their rows from the initial state ``init``.
    """
    if prev is None:
        return init[:n]
    m = prev.shape[0]
    if m >= n:
        return prev[:n]
    return torch.cat((prev, init[m:n]))


def _merge(new: Tensor, full: Tensor) -> Tensor:
    """Rows 0..n replaced by ``new`` (n rows); the rows of finished / not started sequences kept."""
    n = new.shape[0]
    return new if n == full.shape[0] else torch.cat((new, full[n:]))


def _forward_sweep(cell, layout, reverse, gx, w, h0, extra0):
    """The time loop of the forward pass, run without autograd.

    Returns y (N, P), h_n, extra_n and, for backward, the per-step tensors concatenated in
    packed row order: the cell's saved activations, the extra states, and h_raw (projection).
    """
    T = layout.T
    W_hh_t = w.W_hh.t()
    W_hr_t = w.W_hr.t() if w.W_hr is not None else None
    h, extras = h0, extra0
    hs: list = [None] * T
    saved: list = [None] * T
    extra_steps: list = [None] * T
    raw_steps: list = [None] * T
    for t in layout.order(reverse):
        n, rows = layout.batch_sizes[t], layout.rows(t)
        h_prev = h[:n]
        extra_prev = tuple(e[:n] for e in extras)
        if cell.split_hidden:
            gh = h_prev @ W_hh_t if w.b_hh is None else torch.addmm(w.b_hh, h_prev, W_hh_t)
            g = gx[rows]
        else:
            gh, g = None, torch.addmm(gx[rows], h_prev, W_hh_t)  # (n, G) all pre-activations
        h_raw, extra_new, saved[t] = cell.step(g, gh, h_prev, extra_prev)
        raw_steps[t] = h_raw
        h_new = h_raw if W_hr_t is None else h_raw @ W_hr_t  # (n, P)
        hs[t], extra_steps[t] = h_new, extra_new
        h = _merge(h_new, h)
        extras = tuple(_merge(e_new, e) for e_new, e in zip(extra_new, extras))
    y = torch.cat(hs)
    saved_rows = tuple(
        y
        if all(sv[k] is hs[t] for t, sv in enumerate(saved))
        else torch.cat([sv[k] for sv in saved])
        for k in range(len(saved[0]))
    )  # a saved tensor that is the step's output is kept once, as y
    extra_rows = tuple(torch.cat([ex[k] for ex in extra_steps]) for k in range(len(extra0)))
    raw_rows = torch.cat(raw_steps) if W_hr_t is not None else None
    return y, h, extras, saved_rows, extra_rows, raw_rows


class _FusedScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cell, layout, reverse, x, W_ih, W_hh, b_ih, b_hh, W_hr, h0, *extra0):
        w = LayerWeights(W_ih, W_hh, b_ih, b_hh, W_hr)
        if b_ih is None:
            gx = x @ W_ih.t()  # (N, G)
        else:
            in_bias = b_ih if cell.split_hidden else b_ih + b_hh
            gx = torch.addmm(in_bias, x, W_ih.t())  # (N, G) all steps in one GEMM
        y, h_n, extra_n, saved_rows, extra_rows, raw_rows = _forward_sweep(
            cell, layout, reverse, gx, w, h0, extra0
        )
        ctx.cell, ctx.layout, ctx.reverse = cell, layout, reverse
        ctx.has_bias, ctx.n_saved, ctx.n_extra = b_ih is not None, len(saved_rows), len(extra0)
        ctx.save_for_backward(
            x, W_ih, W_hh, W_hr, raw_rows, h0, y, *extra0, *saved_rows, *extra_rows
        )
        return (y, h_n, *extra_n)

    @staticmethod
    def backward(ctx, dy, dh_n, *dextra_n):
        if not torch.is_grad_enabled():
            return _FusedScan._grads(ctx, dy, dh_n, *dextra_n)
        with torch.no_grad():  # create_graph=True: the grads are right, but not differentiable
            grads = _FusedScan._grads(ctx, dy, dh_n, *dextra_n)
        return _poison_double_backward(grads)

    @staticmethod
    def _grads(ctx, dy, dh_n, *dextra_n):
        x, W_ih, W_hh, W_hr, raw_rows, h0, y, *rest = ctx.saved_tensors
        E = ctx.n_extra
        extra0, saved_rows, extra_rows = rest[:E], rest[E : E + ctx.n_saved], rest[-E:] if E else ()
        dG, dG_h, H_prev, dH_out, dh, dextra = _backward_sweep(
            ctx.cell,
            ctx.layout,
            ctx.reverse,
            dy,
            dh_n,
            dextra_n,
            W_hh,
            W_hr,
            (h0, y),
            (extra0, extra_rows),
            saved_rows,
        )
        need = ctx.needs_input_grad  # (cell, layout, reverse, x, W_ih, W_hh, b_ih, b_hh, W_hr, ...)
        dx = dG @ W_ih if need[3] else None  # (N, I)
        dW_ih = dG.t() @ x if need[4] else None  # (G, I)
        dW_hh = dG_h.t() @ H_prev if need[5] else None  # (G, P)
        db_ih = dG.sum(0) if ctx.has_bias and need[6] else None
        db_hh = dG_h.sum(0) if ctx.has_bias and need[7] else None
        dW_hr = dH_out.t() @ raw_rows if W_hr is not None and need[8] else None  # (P, H)
        return (None, None, None, dx, dW_ih, dW_hh, db_ih, db_hh, dW_hr, dh, *dextra)


_DOUBLE_BACKWARD = (
    b"rnnkit's fused BPTT engine has a hand-written backward that is not itself "
    b"differentiable (no double backward); run under rnnkit.use_backend('reference') "
    b"for higher-order gradients"
)


def _poison_double_backward(grads: tuple) -> tuple:
    """Grads whose own backward raises a clear error (as torch's once_differentiable does)."""
    tensors = [g for g in grads if g is not None]
    err_fn = torch._C._functions.DelayedError(_DOUBLE_BACKWARD, len(tensors))
    poisoned = iter(err_fn(*[g.detach().requires_grad_(True) for g in tensors]))
    return tuple(None if g is None else next(poisoned) for g in grads)


def _backward_sweep(cell, layout, reverse, dy, dh_n, dextra_n, W_hh, W_hr, hs, extras, saved_rows):
    """The reverse-time loop: dG per step into one (N, G) buffer, and dh_0 / d(extra_0).

    ``hs`` = (h0, y) and ``extras`` = (extra0, extra_rows) give every step's previous state;
    ``saved_rows`` the cell's saved activations, all in packed row order.
    """
    (h0, y), (extra0, extra_rows) = hs, extras
    N, P = y.shape
    G = W_hh.shape[0]
    dG = y.new_empty(N, G)
    dG_h = y.new_empty(N, G) if cell.split_hidden else dG
    H_prev = y.new_empty(N, P)  # h_{t-1} of every row, for dW_hh = dG_hᵀ·H_prev
    dH_out = y.new_empty(N, P) if W_hr is not None else None
    dh, dextra = dh_n, tuple(dextra_n)
    order = layout.order(reverse)
    prev_of = {t: p for p, t in pairwise(order)}  # step processed just before t
    for t in reversed(order):
        n, rows = layout.batch_sizes[t], layout.rows(t)
        p = prev_of.get(t)
        prows = None if p is None else layout.rows(p)
        h_prev = _prev_rows(None if p is None else y[prows], h0, n)
        extra_prev = tuple(
            _prev_rows(None if p is None else e[prows], e0, n) for e, e0 in zip(extra_rows, extra0)
        )
        H_prev[rows] = h_prev
        dh_t = dh[:n] + dy[rows]  # dL/dh_t: from the next step and from the output
        if W_hr is not None:
            dH_out[rows] = dh_t
            dh_t = dh_t @ W_hr  # dL/dh_raw (n, H) through the projection
        dgx, dgh, dh_direct, dextra_prev = cell.step_backward(
            dh_t,
            tuple(e[:n] for e in dextra),
            tuple(s[rows] for s in saved_rows),
            h_prev,
            extra_prev,
        )
        dG[rows] = dgx
        if dgh is not None:
            dG_h[rows] = dgh
        dh_prev = (dgx if dgh is None else dgh) @ W_hh  # (n, P) dL/dh_{t-1} through W_hh
        if dh_direct is not None:
            dh_prev = dh_prev + dh_direct
        dh = _merge(dh_prev, dh)
        dextra = tuple(_merge(d_new, d) for d_new, d in zip(dextra_prev, dextra))
    return dG, dG_h, H_prev, dH_out, dh, dextra


def fused_scan(
    cell: CellMath,
    layout: TimeLayout,
    reverse: bool,
    x: Tensor,
    w: LayerWeights,
    h0: Tensor,
    extra0: tuple[Tensor, ...],
) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """Run one layer-direction over packed ``x`` (N, I) with the hand-derived BPTT engine.

    Returns ``y`` (N, P), ``h_n`` (B, P) and the final extra states (e.g. ``(c_n,)``, (B, H)).
    """
    y, h_n, *extra_n = _FusedScan.apply(cell, layout, reverse, x, *w, h0, *extra0)
    return y, h_n, tuple(extra_n)

"""The fused BPTT engine: one autograd Function per layer-direction with hand-written backward.

Forward:  gx = X·W_ihᵀ + b for all T steps in one GEMM (N, G), outside the Function, so that
          autograd turns it into dX = dG·W_ih and dW_ih = dGᵀ·X, each one GEMM over all rows;
          then per step one small GEMM h_{t-1}·W_hhᵀ (fused with the add into gx where the cell
          allows) and the cell's pointwise math, saving only what ``step_backward`` needs.
Backward: one reverse sweep over time producing dG (N, G) and dh_{t-1} (dc_{t-1}) per step;
          then dW_hh = dG_hᵀ·H_prev and the bias and cell-parameter grads, each one GEMM or
          reduction over all N rows.

The per-step loop here is Python; the cell math is shared with the reference backend.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cells.base import CellMath
from .layout import TimeLayout
from .noise import NO_NOISE, StepNoise, at_rows
from .weights import LayerWeights

__all__ = ["fused_scan", "input_projection", "once_differentiable_grads"]


def input_projection(cell: CellMath, x: Tensor, w: LayerWeights, params: tuple) -> Tensor:
    """gx (N, G) for all rows at once, under autograd; b_hh is folded in where the cell allows."""
    bias = w.b_ih
    if bias is not None and w.b_hh is not None and not cell.split_hidden:
        bias = bias + w.b_hh
    gx = F.linear(x, w.W_ih, bias)
    return gx if cell.prepare_input is None else cell.prepare_input(gx, params)


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


def _pre_activations(cell, gx_t, h_prev, W_hh, b_hh):
    """(g, gh) for one step: gh apart for split cells, else folded into g with one fused op."""
    if cell.diagonal_hidden:  # W_hh is a (G,) vector: gh = h_prev ⊙ w_hh
        if cell.split_hidden:
            gh = h_prev * W_hh if b_hh is None else torch.addcmul(b_hh, h_prev, W_hh)
            return gx_t, gh
        return torch.addcmul(gx_t, h_prev, W_hh), None
    if cell.split_hidden:
        gh = h_prev @ W_hh.t() if b_hh is None else torch.addmm(b_hh, h_prev, W_hh.t())
        return gx_t, gh
    return torch.addmm(gx_t, h_prev, W_hh.t()), None  # (n, G) all pre-activations


def _forward_sweep(cell, layout, reverse, gx, weights, h0, extra0, params, noise):
    """The time loop of the forward pass, run without autograd.

    Returns y (N, P), h_n, extra_n and, for backward, the per-step tensors concatenated in
    packed row order: the cell's saved activations, the extra states, and h_raw (projection).
    """
    W_hh, b_hh, W_hr = weights
    rec_mask, zone_h, zone_extra = noise
    T = layout.T
    h, extras = h0, extra0
    hs: list = [None] * T
    saved: list = [None] * T
    extra_steps: list = [None] * T
    raw_steps: list = [None] * T
    for t in layout.order(reverse):
        n, rows = layout.batch_sizes[t], layout.rows(t)
        h_prev = h[:n]
        extra_prev = tuple(e[:n] for e in extras)
        h_in = h_prev if rec_mask is None else h_prev * rec_mask[:n]  # recurrent dropout
        g, gh = _pre_activations(cell, gx[rows], h_in, W_hh, b_hh)
        h_raw, extra_new, saved[t] = cell.step(g, gh, h_prev, extra_prev, params)
        raw_steps[t] = h_raw
        h_new = h_raw if W_hr is None else h_raw @ W_hr.t()  # (n, P)
        if zone_h is not None:  # zoneout: keep the previous value where the mask says so
            h_new = torch.lerp(h_new, h_prev, at_rows(zone_h, rows))
            extra_new = tuple(
                torch.lerp(e, e_prev, at_rows(z, rows))
                for e, e_prev, z in zip(extra_new, extra_prev, zone_extra)
            )
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
    raw_rows = torch.cat(raw_steps) if W_hr is not None else None
    return y, h, extras, saved_rows, extra_rows, raw_rows


class _FusedScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cell, layout, reverse, noise, n_extra, gx, W_hh, b_hh, W_hr, h0, *rest):
        extra0, params = rest[:n_extra], rest[n_extra:]
        y, h_n, extra_n, saved_rows, extra_rows, raw_rows = _forward_sweep(
            cell, layout, reverse, gx, (W_hh, b_hh, W_hr), h0, extra0, params, noise
        )
        ctx.cell, ctx.layout, ctx.reverse, ctx.noise = cell, layout, reverse, noise
        ctx.n_extra, ctx.n_saved, ctx.n_params = n_extra, len(saved_rows), len(params)
        ctx.save_for_backward(
            W_hh, b_hh, W_hr, raw_rows, h0, y, *extra0, *extra_rows, *params, *saved_rows
        )
        return (y, h_n, *extra_n)

    @staticmethod
    def backward(ctx, dy, dh_n, *dextra_n):
        return once_differentiable_grads(_FusedScan._grads, ctx, dy, dh_n, *dextra_n)

    @staticmethod
    def _grads(ctx, dy, dh_n, *dextra_n):
        W_hh, b_hh, W_hr, raw_rows, h0, y, *rest = ctx.saved_tensors
        E, K = ctx.n_extra, ctx.n_params
        extra0, extra_rows = tuple(rest[:E]), tuple(rest[E : 2 * E])
        params, saved_rows = tuple(rest[2 * E : 2 * E + K]), tuple(rest[2 * E + K :])
        sweep = _backward_sweep(
            ctx.cell, ctx.layout, ctx.reverse, (dy, dh_n, dextra_n), (W_hh, W_hr, params),
            (h0, y), (extra0, extra_rows), saved_rows, ctx.noise,
        )  # fmt: skip
        dG, dG_h, H_prev, dH_out, dparams, dh, dextra = sweep
        need = ctx.needs_input_grad[1:]  # (layout, reverse, noise, n_extra, gx, W_hh, b_hh, W_hr,.)
        dW_hh = None
        if need[5]:  # dL/dW_hh: (G, P) = dG_hᵀ·H_prev, or (G,) = Σ dG_h ⊙ H_prev for diagonal
            dW_hh = (dG_h * H_prev).sum(0) if ctx.cell.diagonal_hidden else dG_h.t() @ H_prev
        db_hh = dG_h.sum(0) if b_hh is not None and need[6] else None
        dW_hr = dH_out.t() @ raw_rows if W_hr is not None and need[7] else None  # (P, H)
        return (None, None, None, None, None, dG, dW_hh, db_hh, dW_hr, dh, *dextra, *dparams)


_DOUBLE_BACKWARD = (
    b"rnnkit's fused BPTT engine has a hand-written backward that is not itself "
    b"differentiable (no double backward); run under rnnkit.use_backend('reference') "
    b"for higher-order gradients"
)


def once_differentiable_grads(grads_fn, ctx, *grad_outputs) -> tuple:
    """``grads_fn(ctx, *grad_outputs)`` as a Function's backward: computed without a graph,
    and under create_graph=True returned as grads whose own backward raises a clear error (the
    hand-derived engines are right once, not differentiable)."""
    if not torch.is_grad_enabled():
        return grads_fn(ctx, *grad_outputs)
    with torch.no_grad():
        grads = grads_fn(ctx, *grad_outputs)
    return _poison_double_backward(grads)


def _poison_double_backward(grads: tuple) -> tuple:
    """Grads whose own backward raises a clear error (as torch's once_differentiable does)."""
    tensors = [g for g in grads if g is not None]
    err_fn = torch._C._functions.DelayedError(_DOUBLE_BACKWARD, len(tensors))
    poisoned = iter(err_fn(*[g.detach().requires_grad_(True) for g in tensors]))
    return tuple(None if g is None else next(poisoned) for g in grads)


def _backward_sweep(cell, layout, reverse, grads_out, weights, hs, extras, saved_rows, noise):
    """The reverse-time loop: dG per step into one (N, G) buffer, and dh_0 / d(extra_0).

    ``grads_out`` = (dy, dh_n, dextra_n); ``weights`` = (W_hh, W_hr, params); ``hs`` =
    (h0, y) and ``extras`` = (extra0, extra_rows) give every step's previous state;
    ``saved_rows`` the cell's saved activations, all in packed row order.
    """
    (dy, dh, dextra), (W_hh, W_hr, params) = grads_out, weights
    (h0, y), (extra0, extra_rows) = hs, extras
    rec_mask, zone_h, zone_extra = noise
    N, P = y.shape
    G = W_hh.shape[0]
    dG = y.new_empty(N, G)
    dG_h = y.new_empty(N, G) if cell.split_hidden else dG
    H_prev = y.new_empty(N, P)  # h_{t-1} of every row, for dW_hh = dG_hᵀ·H_prev
    dH_out = y.new_empty(N, P) if W_hr is not None else None
    dparams: list = [None] * len(params)  # Σ over steps of the cell-parameter grads
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
        H_prev[rows] = h_prev if rec_mask is None else h_prev * rec_mask[:n]
        dh_t = dh[:n] + dy[rows]  # dL/dh_t: from the next step and from the output
        dextra_t = tuple(e[:n] for e in dextra)
        if zone_h is not None:  # zoneout h_t = lerp(h_cell, h_prev, z): split the gradient
            dh_kept = dh_t * at_rows(zone_h, rows)  # dL/dh_prev through the kept units
            dh_t = dh_t - dh_kept  # dL/dh_cell = (1 - z)·dL/dh_t
            kept = [d * at_rows(z, rows) for d, z in zip(dextra_t, zone_extra)]
            dextra_t = tuple(d - k for d, k in zip(dextra_t, kept))
        if W_hr is not None:
            dH_out[rows] = dh_t
            dh_t = dh_t @ W_hr  # dL/dh_raw (n, H) through the projection
        step_saved = tuple(s[rows] for s in saved_rows)
        dgx, dgh, dh_direct, dextra_prev, dp = cell.step_backward(
            dh_t, dextra_t, step_saved, h_prev, extra_prev, params
        )
        dG[rows] = dgx
        if dgh is not None:
            dG_h[rows] = dgh
        _accumulate(dparams, dp, params)
        dgh = dgx if dgh is None else dgh
        dh_prev = dgh * W_hh if cell.diagonal_hidden else dgh @ W_hh  # (n, P) through W_hh
        if rec_mask is not None:
            dh_prev = dh_prev * rec_mask[:n]
        if dh_direct is not None:
            dh_prev = dh_prev + dh_direct
        if zone_h is not None:
            dh_prev = dh_prev + dh_kept
            dextra_prev = tuple(d + k for d, k in zip(dextra_prev, kept))
        dh = _merge(dh_prev, dh)
        dextra = tuple(_merge(d_new, d) for d_new, d in zip(dextra_prev, dextra))
    return dG, dG_h, H_prev, dH_out, dparams, dh, dextra


def _accumulate(sums: list, contributions: tuple, params: tuple) -> None:
    """Add one step's cell-parameter grads: per row (n, *shape), or already summed (*shape)."""
    for k, c in enumerate(contributions):
        if c is None:
            continue
        total = c.sum(0) if c.dim() == params[k].dim() + 1 else c
        sums[k] = total if sums[k] is None else sums[k] + total


def fused_scan(
    cell: CellMath,
    layout: TimeLayout,
    reverse: bool,
    x: Tensor,
    w: LayerWeights,
    h0: Tensor,
    extra0: tuple[Tensor, ...],
    params: tuple[Tensor, ...] = (),
    noise: StepNoise = NO_NOISE,
) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """Run one layer-direction over packed ``x`` (N, I) with the hand-derived BPTT engine.

    ``params`` are the cell's own parameters (e.g. layer-norm gains), in ``cell.params`` order;
    ``noise`` the recurrent-dropout mask and zoneout masks (see :mod:`rnnkit.engine.noise`).
    Returns ``y`` (N, P), ``h_n`` (B, P) and the final extra states (e.g. ``(c_n,)``, (B, H)).
    """
    gx = input_projection(cell, x, w, params)
    b_hh = w.b_hh if cell.split_hidden else None
    y, h_n, *extra_n = _FusedScan.apply(
        cell, layout, reverse, noise, len(extra0), gx, w.W_hh, b_hh, w.W_hr, h0, *extra0, *params
    )
    return y, h_n, tuple(extra_n)

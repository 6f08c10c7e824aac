"""The reference backend: the same cell math in a plain autograd loop. Ground truth for tests.

Slow and simple on purpose: per step, ``F.linear`` for both projections, the cell's ``step``,
and autograd differentiates it all (including double backward).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cells.base import CellMath
from .layout import TimeLayout
from .noise import NO_NOISE, StepNoise, at_rows
from .weights import LayerWeights

__all__ = ["reference_scan"]


def reference_scan(
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
    """Same contract as :func:`rnnkit.engine.fused.fused_scan`, differentiated by autograd."""
    rec_mask, zone_h, zone_extra = noise
    xs = x.split(layout.batch_sizes)  # per-step views; one autograd node, not T slices
    h, extras = h0, extra0
    outs: list[Tensor | None] = [None] * layout.T
    for t in layout.order(reverse):
        n = layout.batch_sizes[t]
        h_prev, extra_prev = h[:n], tuple(e[:n] for e in extras)
        gx = F.linear(xs[t], w.W_ih, w.b_ih)
        if cell.prepare_input is not None:
            gx = cell.prepare_input(gx, params)
        h_in = h_prev if rec_mask is None else h_prev * rec_mask[:n]
        if cell.diagonal_hidden:
            gh = h_in * w.W_hh if w.b_hh is None else h_in * w.W_hh + w.b_hh
        else:
            gh = F.linear(h_in, w.W_hh, w.b_hh)
        if cell.split_hidden:
            h_raw, extra_new, _ = cell.step(gx, gh, h_prev, extra_prev, params)
        else:
            h_raw, extra_new, _ = cell.step(gx + gh, None, h_prev, extra_prev, params)
        h_new = h_raw if w.W_hr is None else F.linear(h_raw, w.W_hr)
        if zone_h is not None:
            rows = layout.rows(t)
            h_new = torch.lerp(h_new, h_prev, at_rows(zone_h, rows))
            extra_new = tuple(
                torch.lerp(e, e_prev, at_rows(z, rows))
                for e, e_prev, z in zip(extra_new, extra_prev, zone_extra)
            )
        outs[t] = h_new
        h = h_new if n == h.shape[0] else torch.cat((h_new, h[n:]))
        extras = tuple(
            e_new if n == e.shape[0] else torch.cat((e_new, e[n:]))
            for e_new, e in zip(extra_new, extras)
        )
    return torch.cat(outs), h, extras

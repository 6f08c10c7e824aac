"""The stack under torch.compile and torch.export: plain torch ops and registered operators only.

``Traced`` is the plan's first backend while dynamo traces (``torch.compiler.is_compiling()``):
a padded batch (any batch_first / unbatched form, initial states or none, dropout between
layers) runs layer by layer, each built-in cell's layer-direction through the native
operators of native/ops.py (their fake kernels keep T and B symbolic; their registered
autograd trains), the minimal cells through their parallel scan (torch ops). Nothing here
keeps caches, reads the clock or the environment, or writes a module global: what dynamo
would have to break the graph for. Calls it does not run (lengths, PackedSequence, noise
inside the recurrence, cells compiled from a Python step) decline to the eager backends (a
graph break).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cells.minimal import MinCell
from .native import native_cells
from .native.ops import op_scan
from .parallel_scan import log_linear_scan
from .stack import StackCall

__all__ = ["Traced"]


class Traced:
    """A padded batch while torch.compile / torch.export trace the model."""

    name = "traced"

    def accepts(self, call: StackCall) -> bool:
        return torch.compiler.is_compiling()

    def run(self, call: StackCall) -> tuple:
        spec, c, noise = call.spec, call.checked, call.noise
        cell = spec.cell
        if not c.plain or noise.per_sequence():
            raise NotImplementedError("traced: lengths, packed input and recurrent noise")
        if not isinstance(cell, MinCell) and cell.name not in native_cells():
            raise NotImplementedError(f"traced: no registered operator runs {cell.name}")
        x = c.x  # (T, B, I)
        T, B = x.shape[0], x.shape[1]
        widths = spec.state_widths
        if call.states is None:
            states0 = tuple(x.new_zeros(spec.LD, B, w) for w in widths)
        else:
            states0 = call.states
        batch_sizes = torch.full((T,), B, dtype=torch.int64)
        rows, D = x.reshape(T * B, x.shape[2]), spec.num_directions
        finals: list[list[Tensor]] = [[] for _ in widths]
        for layer in range(spec.num_layers):
            outs = []
            for direction in range(D):
                k = layer * D + direction
                w, params = call.weights.layer_weights(k)
                start = tuple(s[k] for s in states0)
                y, *ends = _layer(cell, rows, w, params, start, batch_sizes, direction == 1, spec)
                outs.append(y)
                for bucket, end in zip(finals, ends):
                    bucket.append(end)
            rows = outs[0] if D == 1 else torch.cat(outs, dim=1)
            if noise.between_layers(spec.num_layers) and layer < spec.num_layers - 1:
                rows = F.dropout(rows, noise.dropout, training=True)
        out = rows.view(T, B, rows.shape[1])
        states = tuple(torch.stack(b) for b in finals)
        if c.unbatched:
            out, states = out.squeeze(1), tuple(s.squeeze(1) for s in states)
        elif spec.batch_first:
            out = out.transpose(0, 1)
        return out, (states[0] if len(states) == 1 else states)


def _layer(cell, rows, w, params, start, batch_sizes, reverse, spec) -> tuple[Tensor, ...]:
    """One layer-direction on the packed rows (N, I_k) of a uniform batch: (y, h_n[, c_n])."""
    if isinstance(cell, MinCell):  # the log-space scan over all T at once: no loop to unroll
        T = batch_sizes.shape[0]
        log_a, log_b = cell.log_coefficients(F.linear(rows, w.W_ih, w.b_ih))  # (N, H) each
        B, H = rows.shape[0] // T, log_a.shape[1]
        log_a, log_b = log_a.view(T, B, H), log_b.view(T, B, H)
        if reverse:
            log_a, log_b = log_a.flip(0), log_b.flip(0)
        hs = log_linear_scan(log_a, log_b, start[0])  # (T, B, H)
        y = hs.flip(0) if reverse else hs
        return y.reshape(T * B, H), hs[-1]
    c0 = start[1] if len(start) > 1 else None
    y, h_n, c_n = op_scan(cell, rows, tuple(w), params, start[0], c0, batch_sizes, reverse)
    return (y, h_n) if c_n is None else (y, h_n, c_n)

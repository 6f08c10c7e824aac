"""The stack under torch.compile and torch.export: plain torch ops and registered operators only.

``Traced`` is the plan's first backend while dynamo traces (``torch.compiler.is_compiling()``):
a padded batch (any batch_first / unbatched form, initial states or none, dropout between
layers, ``lengths`` or none) runs layer by layer, each built-in cell's layer-direction through
the native operators of native/ops.py (their fake kernels keep T and B symbolic; their
registered autograd trains), the minimal cells through their parallel scan (torch ops).
A float32 LSTM whose buckets the measured plan mostly gave to torch's kernel runs each
layer-direction on it instead (onednn.py's operators; the plan is read once while tracing, in
a function whose answer dynamo takes as a constant). Nothing else here keeps caches, reads the
clock or the environment, reads a tensor's values in Python, or writes a module global: what
dynamo would have to break the graph for. A
PackedSequence runs too (``_packed``: its rows are the operators' order already). Calls it
does not run (a minimal cell on a PackedSequence, noise inside the recurrence, cells compiled
from a Python step) decline to the eager backends (a graph break).

Lengths, with every size static (T·B rows, whatever the lengths' values): ``Lengths`` holds
index tensors computed from the (B,) lengths by torch ops. The rows between layers stay in the
padded grid (row t·B + b), zeros past each sequence's end, as the output returns them. A
built-in cell's layer-direction gathers the rows into the packed order (sorted longest first,
time-major, the padding's rows after them) and runs the operator with per-step batch sizes, as
eager runs a packed batch: each sequence stops at its own length, and the reverse direction
starts at its last true step. A minimal cell scans the grid: the padding steps get the neutral
pair a = 1, b = 0, so the state is carried through them unchanged, and the reverse direction
first reverses each sequence within its own length (a gather).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from ..cells.minimal import MinCell
from ..errors import RnnkitError
from .native import native_cells
from .native.cell_ops import cell_key, cell_scan, why_not
from .native.infer_op import op_infer
from .native.ops import op_scan
from .onednn import compiled_hands_to_torch, onednn_lstm
from .parallel_scan import log_linear_scan
from .stack import StackCall, stack_output, stack_states, through_layers, whole_stack

__all__ = ["Lengths", "Traced"]


class Traced:
    """A padded batch or a PackedSequence while torch.compile / torch.export trace the model."""

    name = "traced"

    def accepts(self, call: StackCall) -> bool:
        return torch.compiler.is_compiling()

    def run(self, call: StackCall) -> tuple:
        spec, c, noise = call.spec, call.checked, call.noise
        cell = spec.cell
        if noise.per_sequence():
            raise NotImplementedError("traced: recurrent noise")
        key = _compiled_key(call)
        if c.x is None:
            return _packed(call, key)
        onednn = compiled_hands_to_torch(call)
        if not key and _inference(call) and not onednn:
            return _infer(call)
        x = c.x  # (T, B, I)
        T, B = x.shape[0], x.shape[1]
        lens = None if c.lengths is None else Lengths.of(c.lengths.to(x.device), T)

        def layer_direction(rows, w, params, start, reverse):
            if onednn:  # torch's LSTM kernel, where the plan measured it faster
                x3 = rows.view(T, B, rows.shape[1])
                y, h_n, c_n, _ = onednn_lstm(x3, *w[:4], *start, reverse, call.grad)
                return y.view(T * B, y.shape[2]), h_n, c_n
            return _layer(cell, key, rows, w, params, start, lens, reverse, T, B, bf16)

        bf16 = call.gemm is torch.bfloat16
        rows, states = _stack(call, x.reshape(T * B, x.shape[2]), B, layer_direction)
        out = rows.view(T, B, rows.shape[1])
        if c.unbatched:
            out, states = out.squeeze(1), tuple(s.squeeze(1) for s in states)
        elif spec.batch_first:
            out = out.transpose(0, 1)
        return out, (states[0] if len(states) == 1 else states)


def _compiled_key(call: StackCall) -> str:
    """The operators' key of a cell of one's own compiled from its step ("" for a built-in or
    minimal cell); ``NotImplementedError`` where its step does not compile (torch.compile then
    breaks the graph there), ``RnnkitError`` with the reason under torch.export."""
    cell = call.spec.cell
    if isinstance(cell, MinCell) or cell.name in native_cells():
        return ""
    _, params = call.weights.layer_weights(0)
    present = tuple(p is not None for p in params)
    key = cell_key(cell, present)
    if not key:
        reason = why_not(cell, present)
        if torch.compiler.is_exporting():
            raise RnnkitError(
                f"torch.export cannot trace the {cell.name} layer: its step does not compile "
                f"({reason}); rnnkit.export.to_onnx exports it as a Loop of its step"
            )
        raise NotImplementedError(f"traced: {reason}")
    return key


def _inference(call: StackCall) -> bool:
    """Whether the call is the eager native stack's (``whole_stack``: autograd off, no
    lengths, no noise; a built-in cell; no autocast): then one ``rnnkit::infer_stack`` runs it,
    nothing saved."""
    return (
        whole_stack(call)
        and not isinstance(call.spec.cell, MinCell)
        and not torch.is_autocast_enabled("cpu")
    )


def _infer(call: StackCall) -> tuple:
    spec = call.spec
    layers = [call.weights.layer_weights(k) for k in range(spec.LD)]
    h0, c0 = stack_states(call)
    bf16 = call.gemm is torch.bfloat16
    out = op_infer(spec.cell, call.checked.x, layers, spec.num_directions, h0, c0, bf16)
    return stack_output(call, *out)


def _packed(call: StackCall, key: str) -> tuple[PackedSequence, Tensor | tuple[Tensor, ...]]:
    """A PackedSequence: its rows are already in the operators' order (time-major, longest
    first), so each built-in cell's layer-direction runs on them with the sequence's own
    batch_sizes, nothing read from their values; states in and out through its indices."""
    cell, packed = call.spec.cell, call.checked.packed
    if isinstance(cell, MinCell):
        raise NotImplementedError("traced: a minimal cell on a PackedSequence")
    order, back = packed.sorted_indices, packed.unsorted_indices

    def layer_direction(rows, w, params, start, reverse):
        return _sweep(cell, key, w, params, reverse, bf16)(rows, start, packed.batch_sizes)

    bf16 = call.gemm is torch.bfloat16
    rows, states = _stack(call, packed.data, call.checked.B, layer_direction, order)
    if back is not None:
        states = tuple(s.index_select(1, back) for s in states)
    out = PackedSequence(rows, packed.batch_sizes, order, back)
    return out, (states[0] if len(states) == 1 else states)


def _stack(call: StackCall, rows: Tensor, B, layer_direction, order: Tensor | None = None):
    """(the last layer's rows, the final states (L·D, B, width) each): every layer-direction
    through ``layer_direction(rows, weights, cell params, its initial states, reverse)`` ->
    (y, *final states). The initial states are the call's (taken to ``order`` where given) or
    zeros."""
    spec = call.spec
    if call.states is None:
        states0 = tuple(rows.new_zeros(spec.LD, B, w) for w in spec.state_widths)
    elif order is None:
        states0 = call.states
    else:
        states0 = tuple(s.index_select(1, order) for s in call.states)

    def one(k: int, x: Tensor, reverse: bool):
        w, params = call.weights.layer_weights(k)
        return layer_direction(x, w, params, tuple(s[k] for s in states0), reverse)

    return through_layers(spec, call.noise, rows, len(states0), one)


class Lengths(NamedTuple):
    """Index tensors of a padded (T, B) batch with lengths, from torch ops on the lengths."""

    mask: Tensor  # (T, B) bool: step t is inside sequence b
    batch_sizes: Tensor  # (T,) int64: sequences still running at step t (trailing zeros)
    sorted_indices: Tensor  # (B,) sorted slot -> batch index, longest first
    unsorted_indices: Tensor  # (B,) batch index -> sorted slot
    packed: Tensor  # (T·B,) grid row of each packed row: the n packed rows, then the padding
    unpacked: Tensor  # (T·B,) packed row of each grid row (its inverse)
    flipped: Tensor  # (T, B) step of sequence b read at step t when it is reversed in place

    @classmethod
    def of(cls, lengths: Tensor, T: int) -> Lengths:
        """From (B,) int64 lengths, each in [1, T]."""
        B = lengths.shape[0]
        steps = torch.arange(T, device=lengths.device).unsqueeze(1)  # (T, 1)
        mask = steps < lengths  # (T, B)
        sorted_indices = torch.sort(lengths, descending=True, stable=True).indices
        unsorted_indices = torch.argsort(sorted_indices)
        # packed order: time-major over the sorted slots, the padding's positions after
        position = torch.arange(T * B, device=lengths.device).view(T, B)
        key = torch.where(mask[:, sorted_indices], position, position + T * B)
        grid_rows = steps * B + sorted_indices  # (T, B): grid row of step t, sorted slot j
        packed = grid_rows.flatten()[torch.argsort(key.flatten())]
        flipped = torch.where(mask, lengths - 1 - steps, steps)
        return cls(mask, mask.sum(1), sorted_indices, unsorted_indices, packed,
                   torch.argsort(packed), flipped)  # fmt: skip


def _sweep(cell, key: str, w, params, reverse: bool, bf16: bool):
    """One layer-direction's operator call: (packed rows, start states, batch_sizes) ->
    (y, *final states); a cell of one's own (``key``) through cell_ops, a built-in through ops
    (``bf16``: autocast's lowering, StackCall.gemm)."""

    def run(rows: Tensor, start: tuple[Tensor, ...], batch_sizes: Tensor) -> tuple:
        if key:
            return cell_scan(key, cell, rows, tuple(w), params, start, batch_sizes, reverse,
                             bf16)  # fmt: skip
        c0 = start[1] if len(start) > 1 else None
        y, h_n, c_n = op_scan(cell, rows, tuple(w), params, start[0], c0, batch_sizes, reverse,
                              bf16)  # fmt: skip
        return (y, h_n) if c_n is None else (y, h_n, c_n)

    return run


def _layer(cell, key, rows, w, params, start, lens, reverse, T, B, bf16) -> tuple[Tensor, ...]:
    """One layer-direction on the grid rows (T·B, I_k): (y (T·B, P), h_n, *other states)."""
    if isinstance(cell, MinCell):
        return _min_layer(cell, rows, w, start[0], lens, reverse, T, B)
    sweep = _sweep(cell, key, w, params, reverse, bf16)
    if lens is None:
        return sweep(rows, start, torch.full((T,), B, dtype=torch.int64))
    order, back = lens.sorted_indices, lens.unsorted_indices
    ordered = tuple(s.index_select(0, order) for s in start)
    y, *states = sweep(rows.index_select(0, lens.packed), ordered, lens.batch_sizes)
    # the padding's rows are zeros
    return (y.index_select(0, lens.unpacked), *(s.index_select(0, back) for s in states))


def _min_layer(cell, rows, w, h0, lens, reverse, T, B) -> tuple[Tensor, Tensor]:
    """A minimal cell's log-space scan over all T at once: no loop to unroll."""
    log_a, log_b = cell.log_coefficients(F.linear(rows, w.W_ih, w.b_ih))  # (T·B, H) each
    H = log_a.shape[1]
    log_a, log_b = log_a.view(T, B, H), log_b.view(T, B, H)
    if lens is None:
        if reverse:
            log_a, log_b = log_a.flip(0), log_b.flip(0)
        hs = log_linear_scan(log_a, log_b, h0)  # (T, B, H)
        y = hs.flip(0) if reverse else hs
        return y.reshape(T * B, H), hs[-1]
    index = lens.flipped.unsqueeze(2).expand(T, B, H)
    if reverse:  # each sequence reversed within its length (padding stays in place)
        log_a, log_b = log_a.gather(0, index), log_b.gather(0, index)
    mask = lens.mask.unsqueeze(2)  # (T, B, 1)
    log_a = torch.where(mask, log_a, 0.0)  # a = 1 on the padding: the state carried through
    log_b = torch.where(mask, log_b, torch.finfo(log_b.dtype).min)  # b = 0 (not -inf: NaN grads)
    hs = log_linear_scan(log_a, log_b, h0)  # (T, B, H)
    y = hs.gather(0, index) if reverse else hs
    return torch.where(mask, y, 0.0).reshape(T * B, H), hs[-1]

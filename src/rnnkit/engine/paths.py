"""The backends of a stack call (see stack.py), in the order the plan tries them.

Each says cheaply whether it ``accepts`` a checked call and ``run``s it; a run that finds it
cannot go on raises ``NotImplementedError`` before touching anything, and the next one takes the
call. ``LayerByLayer`` takes every call; inside it each layer-direction runs on the backend
``set_backend`` selects (``backends.scan``).
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cells import LSTM
from ..cells.base import CellMath
from ..cells.minimal import MinCell
from . import stack
from .backends import hands_lstm_to_torch, infer_stack, min_layer, scan, torch_lstm
from .native import StackWeights
from .noise import NO_STACK_NOISE, sequence_mask, step_noise
from .sequences import SeqBatch, prepare_sequences
from .stack import StackCall, StackWeightsSource

__all__ = ["PLAN", "LayerByLayer", "NativeStack", "TorchKernel"]


class TorchKernel:
    """torch's own LSTM kernel (oneDNN on CPU), where "auto" measured it faster than ours."""

    name = "torch"

    def accepts(self, call: StackCall) -> bool:
        c, spec = call.checked, call.spec
        if spec.cell is not LSTM or not c.plain or c.unbatched or c.B == 0:
            return False
        if call.noise.per_sequence():  # torch's kernel has inter-layer dropout only
            return False
        return hands_lstm_to_torch(spec.cell, c.B, spec.hidden_size, c.x, call.grad)

    def run(self, call: StackCall) -> tuple:
        spec, c = call.spec, call.checked
        if call.states is None:
            h0 = c.x.new_zeros(spec.LD, c.B, spec.out_size)
            c0 = c.x.new_zeros(spec.LD, c.B, spec.hidden_size)
        else:
            h0, c0 = call.states
        flat = call.weights._flat_weights
        y, h_n, c_n = torch_lstm(
            call.input, (h0, c0), flat, has_biases=spec.bias,
            dropout=call.noise.dropout if spec.num_layers > 1 else 0.0,
            num_layers=spec.num_layers, train=call.noise.training,
            bidirectional=spec.num_directions == 2, batch_first=spec.batch_first,
        )  # fmt: skip
        return y, (h_n, c_n)


# id(source) -> (weak reference to the source, its weights_key, the kept weights)
_native_weights: dict[int, tuple[weakref.ref, object, StackWeights]] = {}


def stack_weights(source: StackWeightsSource, LD: int) -> list:
    """``source.layer_weights(k)`` of every layer-direction, kept (with the native argument
    lists made from them) while ``source.weights_key()`` stays the same and the source lives."""
    key = source.weights_key()
    if key is None:
        return [source.layer_weights(k) for k in range(LD)]
    entry = _native_weights.get(id(source))
    if entry is not None and entry[0]() is source and entry[1] == key:
        return entry[2]
    ident = id(source)
    ref = weakref.ref(source, lambda _, ident=ident: _native_weights.pop(ident, None))
    kept = StackWeights(source.layer_weights(k) for k in range(LD))
    _native_weights[ident] = (ref, key, kept)
    return kept


class NativeStack:
    """Autograd off, a plain padded batch: the whole stack in one native call, nothing saved
    (the streaming path). Declines where the native engine does not run the cell."""

    name = "native"

    def accepts(self, call: StackCall) -> bool:
        c, spec, noise = call.checked, call.spec, call.noise
        return (
            not call.grad
            and c.lengths is None
            and c.x is not None
            and c.B > 0
            and c.x.is_cpu
            and isinstance(spec.cell, CellMath)
            and len(spec.state_widths) <= 2
            and (
                noise is NO_STACK_NOISE
                or not (noise.per_sequence() or noise.between_layers(spec.num_layers))
            )
        )

    def run(self, call: StackCall) -> tuple:
        spec, c = call.spec, call.checked
        h0, c0 = (*call.states, None)[:2] if call.states is not None else (None, None)
        layers = stack_weights(call.weights, spec.LD)
        out = infer_stack(spec.cell, c.x, c.T, layers, spec.num_directions, h0, c0)
        if out is None:
            raise NotImplementedError(f"the native stack does not run {spec.cell.name}")
        y, h_n, c_n = out  # y (T, B, D*P)
        if c.unbatched:
            y, h_n = y.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif spec.batch_first:
            y = y.transpose(0, 1)
        return y, (h_n if c_n is None else (h_n, c_n))


class LayerByLayer:
    """Every call: the packed layout, then one scan per layer-direction (training, lengths,
    PackedSequence, noise, every cell), each on the backend ``set_backend`` selects."""

    name = "layers"

    def accepts(self, call: StackCall) -> bool:
        return True

    def run(self, call: StackCall) -> tuple:
        spec, noise = call.spec, call.noise
        seq = prepare_sequences(call.checked)
        states0 = self._initial_states(call, seq)
        x, D = seq.data, spec.num_directions
        finals: list[list[Tensor]] = [[] for _ in states0]
        for layer in range(spec.num_layers):
            if noise.input_dropout and noise.training:  # one mask per sequence, all steps
                index = seq.layout.batch_index()
                x = x * sequence_mask(x, index, seq.B, noise.input_dropout)
            outs = []
            for direction in range(D):
                k = layer * D + direction
                y, states_n = _run_layer(call, seq, k, direction == 1, x, states0)
                outs.append(y)
                for bucket, state in zip(finals, states_n):
                    bucket.append(state)
            x = outs[0] if D == 1 else torch.cat(outs, dim=1)
            if noise.between_layers(spec.num_layers) and layer < spec.num_layers - 1:
                x = F.dropout(x, noise.dropout, training=True)
        output = seq.output(x)
        states = tuple(seq.unsort_state(torch.stack(b)) for b in finals)
        if seq.unbatched:
            states = tuple(s.squeeze(1) for s in states)
        return output, (states[0] if len(states) == 1 else states)

    @staticmethod
    def _initial_states(call: StackCall, seq: SeqBatch) -> tuple[Tensor, ...]:
        """(h_0, *extra_0) each (L*D, B, .) in sorted batch order; zeros where none came."""
        if call.states is None:
            LD, like = call.spec.LD, seq.data
            return tuple(like.new_zeros(LD, seq.B, w) for w in call.spec.state_widths)
        return tuple(seq.sort_state(s) for s in call.states)


def _run_layer(
    call: StackCall, seq: SeqBatch, k: int, reverse: bool, x: Tensor, states0: tuple
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Layer-direction k on the packed rows x (N, I_k): its output (N, P) and final states."""
    cell, spec = call.spec.cell, call.spec
    w, params = call.weights.layer_weights(k)
    if isinstance(cell, MinCell):
        gx = F.linear(x, w.W_ih, w.b_ih)  # (N, G) all steps in one GEMM
        y, h_n = min_layer(cell, seq.layout, reverse, gx, states0[0][k], spec.min_mode,
                           spec.scan_chunk)  # fmt: skip
        return y, (h_n,)
    extra0 = tuple(s[k] for s in states0[1:])
    noise = step_noise(call.noise, seq.layout.N, states0)
    y, h_n, extra_n = scan(cell, seq.layout, reverse, x, w, states0[0][k], extra0, params, noise)
    return y, (h_n, *extra_n)


PLAN = (TorchKernel(), NativeStack(), LayerByLayer())
stack._plan = PLAN

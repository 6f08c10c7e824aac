"""ONNX export of the rnnkit layers that have no ONNX operator: a ``Loop`` over time of the cell's
own step (``rnnkit.export.to_onnx`` uses it; see docs/deploy.md).

``LoopStack(name, layer)`` computes what ``layer`` computes in eval mode, in a form torch's
exporter (``torch.onnx.export(dynamo=False)``) writes with a dynamic time axis: per
layer-direction, the input projection of all steps at once (``x·W_ihᵀ + b_ih``, then the cell's
``prepare_input``), then one TorchScript function whose ``for t in range(T)`` becomes an ONNX
``Loop`` (traced, a Python loop would be unrolled to the example's T). Its body is the cell's
step (``rnnkit.cells``: the same math the engine runs) traced once, the weights its inputs
(so they are the file's initializers), with the hidden projection, LSTM ``proj_size`` and
zoneout's eval-mode mix ``h_t = lerp(h_cell, h_{t-1}, p)`` around it. The state of a step is
one tensor (B, S), h and the extra states (an LSTM's c) side by side, so every cell's loop
has the same signature.

Lengths: a mask (T, B, 1) of the true steps; where it is off the state is kept and the output
is zero, so each sequence's final state is its state at its last true step. The reverse
direction runs the flipped time axis: its state stays the initial one until each sequence's
last true step. Batch and time stay dynamic. Dropout, recurrent dropout and input dropout act
in training mode only and are left out (the export is of the eval-mode model).

A step is traced on one batch and checked against the Python step on a batch of another size
and other values; a step that reads a tensor's value in Python (a branch the trace would
freeze), or whose trace computes otherwise, is refused by name, as is a layer that overrides
``forward`` (its math is not the cell's step). Each export compiles TorchScript functions that
stay in the process (about 1 MB per export, whatever the weights).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence
from torch.onnx import symbolic_helper

from .cells import MinCell
from .cells.base import CellMath
from .errors import RnnkitError
from .layers import MinRNNBase, RNNBase

__all__ = ["LoopStack", "exportable_layer_norm", "step_function"]

_FORWARDS = (RNNBase.forward, MinRNNBase.forward)  # the layers whose math is the cell's step
_IN_ROLES = ("weight_ih", "bias_ih")  # what the input projection reads (and prepare_input)
_STEP_ROLES = ("weight_hh", "bias_hh", "weight_hr")  # what the step reads (and the cell's own)


def step_function(
    cell: CellMath, widths: tuple[int, ...], zoneout: tuple[float, float], present: tuple
) -> Callable[[Tensor, Tensor, list[Tensor]], tuple[Tensor, Tensor]]:
    """One step ``(gx_t (B, G), state (B, S), weights) -> (h_t (B, P), state')``: gx_t is the
    input projection of step t (after ``prepare_input``), the state h (B, P) and the extra
    states (B, H) side by side. ``weights``: W_ih (unused here: a traced list input must not be
    empty), then those of (W_hh, b_hh, W_hr, *the cell's parameters) that ``present`` marks."""
    zh, zc = zoneout

    def step(gx: Tensor, state: Tensor, weights: list[Tensor]) -> tuple[Tensor, Tensor]:
        given = iter(weights[1:])
        W_hh, b_hh, W_hr, *params = (next(given) if p else None for p in present)
        h_prev, *rest = state.split(list(widths), dim=1)
        extra_prev = tuple(rest)
        gh = None
        if W_hh is not None and cell.diagonal_hidden:  # IndRNN: gh = h_prev ⊙ w_hh + b_hh
            gh = h_prev * W_hh if b_hh is None else torch.addcmul(b_hh, h_prev, W_hh)
        elif W_hh is not None:
            gh = F.linear(h_prev, W_hh, b_hh)  # (B, G)
        if gh is not None and not cell.split_hidden:
            gx, gh = gx + gh, None  # the cell takes all pre-activations in gx
        h_raw, extra, _ = cell.step(gx, gh, h_prev, extra_prev, tuple(params))
        h = h_raw if W_hr is None else F.linear(h_raw, W_hr)  # (B, P)
        if zh:  # zoneout in eval mode: its expectation, a fixed mix with the old value
            h = torch.lerp(h, h_prev, zh)
        if zc:
            extra = tuple(torch.lerp(e, e_prev, zc) for e, e_prev in zip(extra, extra_prev))
        return h, torch.cat((h, *extra), dim=1)

    return step


def _traced(where: str, step: Callable, weights: list[Tensor], G: int, S: int):
    """``step`` traced (a TorchScript function) on one batch and checked against ``step`` on a
    batch of another size and other values; RnnkitError (``where``: the layer, for the
    message) where one trace cannot stand for all. (torch.jit.trace's own check keeps a copy
    of its inputs, the weights, for the life of the process.)"""
    seeded = torch.Generator().manual_seed(0)

    def example(B: int) -> tuple:
        x, state = (torch.randn(B, n, generator=seeded).to(weights[0]) for n in (G, S))
        return x, state, weights

    why, other = "", example(5)
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")  # the tracer's notes, kept (not shown)
        try:
            traced = torch.jit.trace(step, example(3), check_trace=False)
            same = all(torch.allclose(a, b) for a, b in zip(traced(*other), step(*other)))
            why = "" if same else "its trace computes otherwise on a batch of another size"
        except Exception as exc:  # an op or an argument the tracer cannot record
            why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    frozen = [n for n in notes if "Converting a tensor to a Python" in str(n.message)]
    if frozen:  # a Python branch, loop or size on a tensor's value: the trace freezes it
        why = "it reads a tensor's value in Python (a branch, a loop, a size), which a trace "
        why += f"freezes, at {Path(frozen[0].filename).name}:{frozen[0].lineno}"
    if not why:
        return traced
    raise RnnkitError(
        f"cannot export {where} to ONNX: its cell's step could not be traced for a Loop over "
        f"time ({why})"
    )


def _scripted_sweep(step):
    """A TorchScript loop over time around ``step`` (a traced step): its ``for`` becomes an ONNX
    ``Loop`` of dynamic trip count. A closure, so each layer-direction gets its own step."""

    def sweep(
        gx: Tensor, mask: Tensor, state: Tensor, weights: list[Tensor]
    ) -> tuple[Tensor, Tensor]:
        """gx (T, B, G), mask (T, B, 1) of the true steps, state (B, S) -> y (T, B, P) (0 where
        the mask is off), the state after the last true step."""
        ys: list[Tensor] = []
        for t in range(gx.shape[0]):
            h, new = step(gx[t], state, weights)
            on = mask[t]
            state = torch.where(on, new, state)
            ys.append(torch.where(on, h, torch.zeros_like(h)))
        return torch.stack(ys), state

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's notes on its own maintenance
        return torch.jit.script(sweep)


class LoopStack(nn.Module):
    """``layer`` (an rnnkit stack layer) as torch ops and one TorchScript time loop per
    layer-direction, for ONNX export; called as the layer is: ``(input, hx=None,
    lengths=None)`` -> ``(output, h_n)`` or ``(output, (h_n, *extra_n))``, eval-mode numbers.
    ``name`` is the layer's path in the model (for messages). It holds a copy of the layer's
    weights as buffers (``weight_ih_{k}``, ... for layer-direction k), no reference to it."""

    def __init__(self, name: str, layer: RNNBase):
        super().__init__()
        self.name, self.kind = name or "the model", type(layer).__name__
        where = f"{self.name} ({self.kind})"
        if type(layer).forward not in _FORWARDS:
            raise RnnkitError(
                f"cannot export {where} to ONNX: it overrides forward, so its math is not its "
                "cell's step"
            )
        cell = layer.cell.math if isinstance(layer.cell, MinCell) else layer.cell
        self.cell, self.batch_first = cell, layer.batch_first
        self.num_layers, self.num_directions = layer.num_layers, layer.num_directions
        self.widths = tuple(layer.stack_spec().state_widths)
        self._roles = _IN_ROLES + _STEP_ROLES + tuple(spec.name for spec in cell.params)
        self._names: list[tuple[str | None, ...]] = []
        sweeps = []
        for k in range(layer.num_layers * layer.num_directions):
            w, params = layer.layer_weights(k)
            self._keep(k, (w.W_ih, w.b_ih, w.W_hh, w.b_hh, w.W_hr, *params))
            present = tuple(n is not None for n in self._names[k][len(_IN_ROLES) :])
            step = step_function(cell, self.widths, layer.zoneout, present)
            G, S = cell.gates * layer.hidden_size, sum(self.widths)
            sweeps.append(_scripted_sweep(_traced(where, step, self._step_weights(k), G, S)))
        self._sweeps = _Shared(sweeps)

    def _keep(self, k: int, tensors: tuple) -> None:
        """Layer-direction ``k``'s weights, in ``_roles`` order, as buffers ``{role}_{k}``."""
        names = []
        for role, t in zip(self._roles, tensors):
            names.append(None if t is None else f"{role}_{k}")
            if t is not None:
                self.register_buffer(f"{role}_{k}", t.detach().clone())
        self._names.append(tuple(names))

    def _weights(self, k: int) -> list[Tensor | None]:
        """Layer-direction ``k``'s weights in ``_roles`` order (None: the layer has none)."""
        return [None if n is None else getattr(self, n) for n in self._names[k]]

    def _step_weights(self, k: int) -> list[Tensor]:
        """What the step of layer-direction ``k`` takes: W_ih, then its present weights."""
        W_ih, _, *rest = self._weights(k)
        return [W_ih, *(t for t in rest if t is not None)]

    def _states(self, hx, B: int, like: Tensor) -> list[Tensor]:
        """The (L·D, B, S) initial states, h and the extra states side by side (zeros where
        ``hx`` is None)."""
        LD = len(self._sweeps)
        if hx is None:
            return [like.new_zeros(B, sum(self.widths)) for _ in range(LD)]
        states = hx if isinstance(hx, (tuple, list)) else (hx,)
        if len(states) != len(self.widths):
            raise RnnkitError(
                f"{self.name} expected {len(self.widths)} initial states, got {len(states)}"
            )
        return [torch.cat([s[k] for s in states], dim=1) for k in range(LD)]

    def _projection(self, k: int, x: Tensor) -> Tensor:
        """gx (T, B, G) of layer-direction ``k`` for all steps: x·W_ihᵀ + b_ih, prepare_input."""
        weights = self._weights(k)
        W_ih, b_ih = weights[: len(_IN_ROLES)]
        params = tuple(weights[len(_IN_ROLES) + len(_STEP_ROLES) :])
        gx = F.linear(x, W_ih, b_ih)  # (T, B, G)
        if self.cell.prepare_input is None:
            return gx
        # (T·B, G) rows as ONNX's Flatten, whose G shape inference keeps static (a Reshape to
        # traced sizes would lose it, and a layer norm needs its normalized shape static)
        rows = self.cell.prepare_input(gx.flatten(0, 1), params)
        return rows.view(x.shape[0], x.shape[1], rows.shape[1])

    def forward(self, input: Tensor, hx=None, lengths: Tensor | None = None, mode=None):
        """``input`` (T, B, I), (B, T, I) with batch_first, or (T, I); ``hx`` as the layer takes
        it; ``lengths`` (B,). ``mode`` (MinGRU / MinLSTM's scan mode) is taken and ignored: the
        loop runs step by step, which gives the scan's numbers."""
        if isinstance(input, PackedSequence):
            raise RnnkitError(
                f"cannot export {self.name} ({self.kind}) to ONNX with a "
                "PackedSequence input: pass the padded batch and lengths= instead"
            )
        unbatched = input.dim() == 2
        if unbatched:
            input = input.unsqueeze(1)
            hx = None if hx is None else tuple(s.unsqueeze(1) for s in _as_tuple(hx))
        x = input.transpose(0, 1) if self.batch_first and not unbatched else input
        T, B = x.shape[0], x.shape[1]
        steps = torch.arange(T, device=x.device).unsqueeze(1)  # (T, 1)
        if lengths is None:
            mask = (steps >= 0).expand(T, B)
        else:
            mask = steps < torch.as_tensor(lengths).to(x.device).unsqueeze(0)  # (T, B)
        mask = mask.unsqueeze(2)  # (T, B, 1)
        states, finals = self._states(hx, B, x), []
        D = self.num_directions
        for layer in range(self.num_layers):
            ys = []
            for d in range(D):
                k = layer * D + d
                gx, weights = self._projection(k, x), self._step_weights(k)
                if d == 1:  # the reverse direction: the flipped time axis, flipped back
                    y, state = self._sweeps[k](gx.flip(0), mask.flip(0), states[k], weights)
                    y = y.flip(0)
                else:
                    y, state = self._sweeps[k](gx, mask, states[k], weights)
                ys.append(y)
                finals.append(state)
            x = ys[0] if D == 1 else torch.cat(ys, dim=2)  # (T, B, D·P)
        parts = [torch.stack(p) for p in zip(*(s.split(self.widths, 1) for s in finals))]
        output = x.transpose(0, 1) if self.batch_first and not unbatched else x
        if unbatched:
            output, parts = output.squeeze(1), [p.squeeze(1) for p in parts]
        return output, (parts[0] if len(parts) == 1 else tuple(parts))


class _Shared(list):
    """The scripted sweeps, shared by a deep copy (TorchScript functions cannot be copied; they
    take the weights as arguments, so a copy runs its own)."""

    def __deepcopy__(self, memo) -> _Shared:
        return self


def _as_tuple(hx) -> tuple:
    return tuple(hx) if isinstance(hx, (tuple, list)) else (hx,)


@symbolic_helper.parse_args("v", "v", "v", "v", "f", "none")
def _layer_norm(g, input, normalized_shape, weight, bias, eps: float, cudnn_enable):
    """aten::layer_norm as ONNX ``LayerNormalization``, also where ``normalized_shape`` holds
    traced sizes (``F.layer_norm(v, (v.shape[1],))``, as the layer-norm cells' ``prepare_input``
    writes it): ONNX needs only how many trailing dimensions are normalized, which torch's own
    symbolic reads from the values, refusing sizes the trace did not fold to constants."""
    node = normalized_shape.node()
    if node.kind() == "prim::ListConstruct":
        n = len(list(node.inputs()))
    else:
        n = len(symbolic_helper._maybe_get_const(normalized_shape, "is"))
    if symbolic_helper._is_none(weight):  # Scale is required: ones over the normalized dims
        dtype = symbolic_helper._type_utils.JitScalarType.from_value(input).dtype()
        one = torch.ones(1, dtype=dtype)
        weight = g.op("ConstantOfShape", g.op("Shape", input, start_i=-n), value_t=one)
    inputs = [input, weight] + ([] if symbolic_helper._is_none(bias) else [bias])
    return g.op("LayerNormalization", *inputs, epsilon_f=eps, axis_i=-n)


@contextlib.contextmanager
def exportable_layer_norm(opset: int) -> Iterator[None]:
    """``_layer_norm`` as torch's exporter's symbolic of aten::layer_norm at ``opset`` while
    the block runs (torch's own afterwards)."""
    torch.onnx.register_custom_op_symbolic("aten::layer_norm", _layer_norm, opset)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic("aten::layer_norm", opset)

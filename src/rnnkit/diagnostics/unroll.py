"""Running a recurrent module one step at a time, so that every hidden state h_t is a graph node.

Why not a forward hook on the module's output: the output tensor y (T, B, D*H) is *returned* by
the scan, and the recurrence inside the scan does not read it back, so dL/dy_t from autograd is
only the direct path y_t -> loss. With a loss at the last step that is zero for every t < T. The
quantity that shows vanishing gradients is the total derivative dL/dh_t, through all later
states; to get it, ``unrolled`` swaps the module's ``forward`` (for the duration of a ``with``)
for a loop that calls a one-layer, one-direction view of the module on one step at a time and
feeds each step's h_n both to the next step and to the output. Gradients of the loss with
respect to those h_n tensors are then exactly dL/dh_t, per layer and per direction.

Any module with torch.nn's recurrent API works: ``forward(input, hx) -> (output, h_n)`` or
``(output, (h_n, c_n, ...))``, parameters named ``{kind}_l{k}[_reverse]`` and listed in
``_flat_weights_names`` or ``_all_weights`` (``rnnkit.RNNBase``, ``torch.nn.RNNBase`` and
rnnkit's minimal cells have them). A stacked or bidirectional module that has neither raises
``NotImplementedError``.

Inter-layer dropout in training mode is applied with ``F.dropout``: same distribution, another
mask than the module's own forward would draw. Call ``model.eval()`` for a deterministic run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..layers import RNNBase

__all__ = [
    "RECURRENT_TYPES",
    "StepRecord",
    "is_recurrent_layer",
    "recurrent_modules",
    "single_layer_view",
    "unrolled",
]

RECURRENT_TYPES: tuple[type[nn.Module], ...] = (RNNBase, nn.RNNBase)
_PARAM = re.compile(r"^(?P<kind>.+)_l(?P<layer>\d+)(?P<reverse>_reverse)?$")


@dataclass
class StepRecord:
    """The per-step states of one layer-direction of one call of a recurrent module."""

    layer: int
    direction: int  # 0 forward in time, 1 reverse
    states: list[tuple[Tensor, ...]] = field(default_factory=list)  # [t] -> (h_t (B, P), c_t..)
    mask: Tensor | None = None  # (T, B) True where step t is within sequence b's length


_LAYER_ATTRS = ("_all_weights", "num_layers", "hidden_size", "bidirectional", "batch_first")


def is_recurrent_layer(m: nn.Module) -> bool:
    """An rnnkit / torch.nn recurrent layer, or any module shaped like one: torch.nn's
    attributes (num_layers, hidden_size, bidirectional, batch_first) and per-layer parameter
    name lists in ``_all_weights`` (e.g. rnnkit's MinGRU)."""
    return isinstance(m, RECURRENT_TYPES) or all(hasattr(m, a) for a in _LAYER_ATTRS)


def recurrent_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) of every recurrent layer inside ``model`` (is_recurrent_layer)."""
    found = [(name, m) for name, m in model.named_modules() if is_recurrent_layer(m)]
    return [(name or type(m).__name__, m) for name, m in found]


def _directions(module: nn.Module) -> int:
    return 2 if module.bidirectional else 1


def single_layer_view(module: nn.Module, layer: int, direction: int) -> nn.Module:
    """A one-layer, one-direction, time-major copy of ``module`` sharing its Parameters.

    The view's ``weight_hh_l0`` *is* ``module.weight_hh_l{layer}[_reverse]`` (same tensor), so
    gradients reach the original parameters. Hooks are not run: call ``type(v).forward(v, ...)``.
    """
    if module.num_layers == 1 and not module.bidirectional and not module.batch_first:
        return module
    names = getattr(module, "_flat_weights_names", None)
    if names is None and hasattr(module, "_all_weights"):
        names = [n for group in module._all_weights for n in group]
    if names is None:
        raise NotImplementedError(
            f"cannot split {type(module).__name__} into single layers: expected parameter "
            "names in _flat_weights_names or _all_weights, as torch.nn.RNNBase has"
        )
    params = {}
    for name in names:
        m = _PARAM.match(name)
        if m and int(m["layer"]) == layer and bool(m["reverse"]) == bool(direction):
            params[f"{m['kind']}_l0"] = module._parameters[name]
    view = object.__new__(type(module))
    view.__dict__ = dict(module.__dict__)
    view.__dict__.pop("forward", None)  # an unrolled() patch of the original, if any
    view._parameters = params
    if "_flat_weights_names" in module.__dict__:
        view._flat_weights_names = list(params)
    view._all_weights = [list(params)]
    view.num_layers, view.bidirectional, view.dropout, view.batch_first = 1, False, 0.0, False
    if layer > 0:
        view.input_size = _directions(module) * (
            getattr(module, "proj_size", 0) or module.hidden_size
        )
    if hasattr(view, "_init_flat_weights"):  # torch.nn keeps a list of the weight tensors
        view._init_flat_weights()
    return view


def _step(view: nn.Module, x_t: Tensor, state: tuple[Tensor, ...] | None) -> tuple[Tensor, ...]:
    """One step of a single-layer view: x_t (B, I), state (h (B, P), c..) -> new state."""
    x = x_t.unsqueeze(1 if view.batch_first else 0)  # (1, B, I) or (B, 1, I)
    hx = None
    if state is not None:
        hx = tuple(s.unsqueeze(0) for s in state)  # each (1, B, W)
        hx = hx[0] if len(hx) == 1 else hx
    _, h_n = type(view).forward(view, x, hx)
    return tuple(s[0] for s in (h_n if isinstance(h_n, tuple) else (h_n,)))


def _to_time_major(module, input, lengths):
    """input -> (x (T, B, I), lengths (B,) or None, restore(y) -> output like torch.nn's)."""
    if isinstance(input, PackedSequence):
        x, lens = pad_packed_sequence(input)  # (T, B, I) in the user's batch order
        return x, lens, lambda y: pack_padded_sequence(y, lens, enforce_sorted=False)
    if lengths is not None:
        lengths = torch.as_tensor(lengths, dtype=torch.int64, device="cpu")
    if input.dim() == 2:  # unbatched (T, I)
        return input.unsqueeze(1), lengths, lambda y: y.squeeze(1)
    if module.batch_first:
        return input.transpose(0, 1), lengths, lambda y: y.transpose(0, 1)
    return input, lengths, lambda y: y


def _split_hx(hx, unbatched: bool) -> list[tuple[Tensor, ...]] | None:
    """hx (L*D, B, W) or a tuple of such -> per layer-direction tuples of (B, W)."""
    if hx is None:
        return None
    parts = hx if isinstance(hx, tuple) else (hx,)
    if unbatched:
        parts = tuple(p.unsqueeze(1) for p in parts)
    return [tuple(p[k] for p in parts) for k in range(parts[0].shape[0])]


def _run_direction(view, x: Tensor, state, mask: Tensor | None, record: StepRecord):
    """Scan one layer-direction step by step; returns (y (T, B, P), final state)."""
    T = x.shape[0]
    record.states = [()] * T
    for t in range(T) if record.direction == 0 else reversed(range(T)):
        new = _step(view, x[t], state)
        if mask is not None:  # past a sequence's length its state is carried unchanged
            prev = state if state is not None else tuple(torch.zeros_like(n) for n in new)
            new = tuple(torch.where(mask[t, :, None], n, p) for n, p in zip(new, prev))
        record.states[t] = state = new
    y = torch.stack([s[0] for s in record.states])  # (T, B, P)
    return (y if mask is None else y * mask[..., None]), state


def _unrolled_forward(module, views, calls: list, input, hx=None, lengths=None):
    """Drop-in ``forward`` for ``module``: same output and final state, one step at a time."""
    D = _directions(module)
    unbatched = not isinstance(input, PackedSequence) and input.dim() == 2
    x, lengths, restore = _to_time_major(module, input, lengths)
    mask = None
    if lengths is not None:
        mask = torch.arange(x.shape[0])[:, None] < lengths[None, :]  # (T, B)
        mask = mask.to(x.device)
    init, finals, records = _split_hx(hx, unbatched), [], []
    for layer in range(module.num_layers):
        outs = []
        for d in range(D):
            record = StepRecord(layer, d, mask=mask)
            state0 = None if init is None else init[layer * D + d]
            y, final = _run_direction(views[layer, d], x, state0, mask, record)
            outs.append(y)
            finals.append(final)
            records.append(record)
        x = outs[0] if D == 1 else torch.cat(outs, dim=-1)  # (T, B, D*P)
        if module.dropout and module.training and layer < module.num_layers - 1:
            x = F.dropout(x, module.dropout, training=True)
    calls.append(records)
    h_n = tuple(torch.stack(s) for s in zip(*finals))  # each (L*D, B, W)
    if unbatched:
        h_n = tuple(s.squeeze(1) for s in h_n)
    return restore(x), (h_n[0] if len(h_n) == 1 else h_n)


@contextmanager
def unrolled(modules: list[tuple[str, nn.Module]]) -> Iterator[dict[str, list]]:
    """Within the block, ``modules`` run step by step; yields name -> list of calls' records."""
    calls: dict[str, list[list[StepRecord]]] = {name: [] for name, _ in modules}
    patched = []
    try:
        for name, module in modules:
            views = {
                (layer, d): single_layer_view(module, layer, d)
                for layer in range(module.num_layers)
                for d in range(_directions(module))
            }
            module.forward = partial(_unrolled_forward, module, views, calls[name])
            patched.append(module)
        yield calls
    finally:
        for module in patched:
            del module.forward

"""The no-grad stack as a ``torch.library`` operator: inference under torch.compile, torch.export
and AOTInductor runs the eager no-grad path's one C++ call.

``rnnkit::infer_stack`` is ``native_infer`` (native/__init__.py) behind a schema: every layer
and direction of a built-in cell's stack on a uniform padded batch x (T, B, I), nothing saved,
the per-thread scratch kept between calls (what it returns is never scratch). Without it a
compiled no-grad call ran the training operators (projected_sweep, which keeps its gates):
0.75x of eager at GRU B16 T100 H64, 1 thread. The traced path (engine/traced.py) takes it where
eager takes the native stack: autograd off, no lengths, no noise between layers.

The weights travel as one flat ``Tensor[]``, ``per_layer(cell)`` a layer-direction: W_ih, W_hh,
b_ih, b_hh, W_hr, the input layer norm's weight and bias, the step parameters; an absent one
as an empty tensor (an operator's list holds tensors only). Its fake kernel states the output
shapes from the input shapes alone (symbolic T and B). tests/engine/test_infer_op.py checks it
with ``torch.library.opcheck`` and against eager. runtime.py builds a C++ kernel of the same
schema into a library of its own, for processes without Python's rnnkit.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import infer_args, run_infer
from .ops import _cell, _native, _or_empty

__all__ = ["flat_weights", "infer_stack", "op_infer", "per_layer"]


def per_layer(cell: str) -> int:
    """Tensors per layer-direction in ``infer_stack``'s weight list."""
    return 7 + len(_cell(cell)[1].step_params)


@torch.library.custom_op("rnnkit::infer_stack", mutates_args=())
def infer_stack(
    cell: str,
    x: Tensor,
    weights: list[Tensor],
    num_directions: int,
    h0: Tensor | None,
    c0: Tensor | None,
    bf16: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """(y (T, B, D·P), h_n (L·D, B, P), c_n (L·D, B, H), empty without c); h0 / c0 None for
    zeros; ``bf16``: the GEMMs in bfloat16 as under autocast (precision.py)."""
    ext, _ = _native(cell)
    math, spec = _cell(cell)
    per = per_layer(cell)
    layers = [[None if t.numel() == 0 else t for t in weights[k : k + per]]
              for k in range(0, len(weights), per)]  # fmt: skip
    at_once = False  # the directions one after the other (no thread each)
    y, h_n, c_n = run_infer(math, spec, ext, x.contiguous(), layers, num_directions, h0, c0,
                            x.shape[0], at_once, bf16)  # fmt: skip
    return y, h_n, _or_empty(c_n, y)


@infer_stack.register_fake
def _(cell, x, weights, num_directions, h0, c0, bf16):
    T, B = x.shape[0], x.shape[1]
    per = per_layer(cell)
    LD = len(weights) // per
    W_hh, W_hr = weights[1], weights[4]
    if W_hr.numel():
        P, H = W_hr.shape
    else:  # (G, H), or IndRNN's diagonal (H,)
        P = H = W_hh.shape[-1] if W_hh.dim() == 2 else W_hh.shape[0]
    has_c = _cell(cell)[0].extra_states == 1
    return (x.new_empty(T, B, num_directions * P), x.new_empty(LD, B, P),
            x.new_empty(LD, B, H) if has_c else x.new_empty(0))  # fmt: skip


def op_infer(cell, x: Tensor, layers, num_directions: int, h0, c0, bf16: bool) -> tuple:
    """``infer_stack`` on (weights, cell params) per layer-direction, as ``native_infer`` takes
    them: (y, h_n, c_n or None)."""
    flat = flat_weights(cell.name, layers, x)
    y, h_n, c_n = infer_stack(cell.name, x, flat, num_directions, h0, c0, bf16)
    return y, h_n, (c_n if cell.extra_states == 1 else None)


def flat_weights(cell: str, layers, like: Tensor) -> list[Tensor]:
    """``infer_stack``'s weight list from (weights, cell params) per layer-direction."""
    _, spec = _cell(cell)
    return [_or_empty(t, like) for w, params in layers for t in infer_args(spec, w, params)]

"""The no-grad stack's scratch kept between calls (csrc/infer.cpp ``workspace``): a call whose
buffers another call of another cell and shape has just written (grown, shrunk, reused) returns
bit for bit what it returns on fresh buffers (the computation is deterministic), and equals the
reference loop; what a call returns is never scratch that a later call overwrites.

Run: python -m pytest tests/engine/test_infer_workspace.py -q
"""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import assert_close
from rnnkit.engine.native import compiler_available, load, release_workspace

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

# every buffer kind: S (LSTM, GRU), raw (proj_size), the layer norm's products and moments,
# gx, and a bidirectional layer's per-direction y; stacked and single layers
MAKERS = [
    lambda dt: rnnkit.GRU(6, 5, num_layers=2, bidirectional=True, dtype=dt),
    lambda dt: rnnkit.LSTM(6, 7, proj_size=3, dtype=dt),
    lambda dt: rnnkit.LayerNormGRU(6, 4, bidirectional=True, dtype=dt),
    lambda dt: rnnkit.RNN(6, 9, num_layers=3, dtype=dt),
]
SHAPES = [(3, 2), (40, 16), (5, 3), (40, 16), (60, 20), (2, 1)]  # grow, shrink, grow again


def _flat(result) -> list[torch.Tensor]:
    out, states = result
    return [out, *(states if isinstance(states, tuple) else (states,))]


def _native(layer, x) -> list[torch.Tensor]:
    with torch.no_grad(), rnnkit.use_backend("native"):  # the no-grad stack, not the plan's pick
        return _flat(layer(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_call_after_others_equals_the_same_call_on_fresh_buffers(dtype):
    load()
    torch.manual_seed(0)
    layers = [make(dtype) for make in MAKERS]
    kept: list[tuple[torch.Tensor, torch.Tensor]] = []
    for T, B in SHAPES:
        for k, layer in enumerate(layers):
            x = torch.randn(T, B, 6, dtype=dtype)
            release_workspace()
            fresh = _native(layer, x)
            other = layers[(k + 1) % len(layers)]  # writes the scratch with other values
            _native(other, torch.randn(*SHAPES[(k + 1) % len(SHAPES)], 6, dtype=dtype))
            again = _native(layer, x)
            kept.extend((t, t.clone()) for t in [*fresh, *again])
            _native(layer, torch.randn_like(x))  # the same buffers, written again
            for a, b in zip(again, fresh):
                assert torch.equal(a, b), f"{type(layer).__name__} {(T, B)}: reused scratch"
            if dtype == torch.float64:  # (float32: the layer-norm cells at H = 4 reach 1e-5)
                with torch.no_grad(), rnnkit.use_backend("reference"):
                    want = _flat(layer(x))
                for a, b in zip(again, want):
                    assert_close(a, b, f"{type(layer).__name__} {(T, B)}")
    for returned, copy in kept:  # nothing a call returned was overwritten by a later one
        assert torch.equal(returned, copy)

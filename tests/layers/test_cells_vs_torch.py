"""rnnkit.RNNCell / LSTMCell / GRUCell equal torch.nn's cells with copied weights."""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnkit
from helpers import assert_close, copy_weights, weighted_sum

I, H, B = 3, 5, 4
CELLS = {
    "rnn": (torch.nn.RNNCell, rnnkit.RNNCell, {}),
    "rnn_relu": (torch.nn.RNNCell, rnnkit.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (torch.nn.LSTMCell, rnnkit.LSTMCell, {}),
    "gru": (torch.nn.GRUCell, rnnkit.GRUCell, {}),
}
GRID = list(itertools.product(CELLS, [True, False], [True, False], [True, False], ["f64", "f32"]))


@pytest.mark.parametrize("cell,bias,batched,given_state,dt", GRID)
def test_cell_matches_torch(cell, bias, batched, given_state, dt):
    dtype = {"f64": torch.float64, "f32": torch.float32}[dt]
    torch_cls, our_cls, extra = CELLS[cell]
    torch.manual_seed(0)
    ref = torch_cls(I, H, bias=bias, dtype=dtype, **extra)
    ours = our_cls(I, H, bias=bias, dtype=dtype, **extra)
    copy_weights(ref, ours)
    lead = (B,) if batched else ()
    x = torch.randn(*lead, I, dtype=dtype)
    n_states = 2 if cell == "lstm" else 1
    states = [torch.randn(*lead, H, dtype=dtype) for _ in range(n_states)] if given_state else []
    results = []
    for module in (ref, ours):
        xi = x.clone().requires_grad_(True)
        si = [s.clone().requires_grad_(True) for s in states]
        hx = None if not si else (tuple(si) if n_states == 2 else si[0])
        out = module(xi, hx)
        outs = list(out) if isinstance(out, tuple) else [out]
        grads = torch.autograd.grad(weighted_sum(outs), [xi, *si, *module.parameters()])
        results.append((outs, grads))
    for a, b in zip(results[1][0], results[0][0], strict=True):
        assert_close(a, b, "cell output")
    for a, b in zip(results[1][1], results[0][1], strict=True):
        assert_close(a, b, "cell gradient")


@pytest.mark.parametrize("cell", CELLS)
def test_cell_same_seed_same_init_as_torch(cell):
    torch_cls, our_cls, extra = CELLS[cell]
    torch.manual_seed(3)
    ref = torch_cls(I, H, **extra)
    torch.manual_seed(3)
    ours = our_cls(I, H, **extra)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    for (name, a), b in zip(ours.named_parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b), name
    assert repr(ours).split("(", 1)[1] == repr(ref).split("(", 1)[1]

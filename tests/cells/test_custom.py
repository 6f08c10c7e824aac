"""Your own cell: the example of docs/custom_cells.md runs, its hand-written backward equals
the autograd fallback and the reference loop, and it trains."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import rnnkit
from helpers import assert_close, weighted_sum

DOC = Path(__file__).parents[2] / "docs" / "custom_cells.md"


@pytest.fixture(scope="module")
def example() -> dict:
    """The namespace left by running the documentation's Python block."""
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace


def test_documented_example_runs(example):
    layer = example["layer"]
    assert all(p.grad is not None for p in layer.parameters())
    assert example["out"].shape == (20, 4, 32)


@pytest.mark.parametrize("lengths", [None, torch.tensor([6, 3, 5])])
def test_hand_backward_equals_autograd_fallback_and_reference(example, lengths):
    hand = example["CIFG"]
    auto = rnnkit.define_cell("cifg_auto", 3, example["cifg_step"], extra_states=1)
    torch.manual_seed(0)
    kw = dict(num_layers=2, bidirectional=True, dtype=torch.float64)
    ref_layer = rnnkit.Recurrent(hand, 4, 5, **kw)
    x = torch.randn(6, 3, 4, dtype=torch.float64)
    results = []
    for cell, backend in ((hand, "reference"), (hand, "fused"), (auto, "fused")):
        layer = rnnkit.Recurrent(cell, 4, 5, **kw)
        layer.load_state_dict(ref_layer.state_dict())
        xi = x.clone().requires_grad_(True)
        with rnnkit.use_backend(backend):
            out, (h_n, c_n) = layer(xi, lengths=lengths)
        grads = torch.autograd.grad(weighted_sum([out, h_n, c_n]), [xi, *layer.parameters()])
        results.append([out, h_n, c_n, *grads])
    for other in results[1:]:
        for a, b in zip(other, results[0], strict=True):
            assert_close(a, b, "custom cell")


def test_autograd_fallback_handles_cell_parameters_and_split_hidden():
    """A GRU-like cell with its own gain parameter, written forward-only."""

    def step(gx, gh, h_prev, extra_prev, params):
        (gain,) = params
        H = h_prev.shape[1]
        z = torch.sigmoid(gx[:, :H] + gh[:, :H])
        n = torch.tanh(gain * (gx[:, H:] + gh[:, H:]))
        return (1 - z) * n + z * h_prev, (), ()

    cell = rnnkit.define_cell(
        "gained", 2, step, split_hidden=True, params=(rnnkit.ParamSpec("gain", 1, "ones"),)
    )
    layer = rnnkit.Recurrent(cell, 3, 4, dtype=torch.float64)
    with torch.no_grad():
        layer.gain_l0.mul_(1.5)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    params = list(layer.parameters())
    got = []
    for backend in ("fused", "reference"):
        with rnnkit.use_backend(backend):
            out, h_n = layer(x)
        got.append(torch.autograd.grad(weighted_sum([out, h_n]), [x, *params]))
    for a, b in zip(got[0], got[1], strict=True):
        assert_close(a, b, "forward-only custom cell")


def test_custom_cell_trains(example):
    """Sum of the inputs so far, for each step: the loss falls by a large factor."""
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(example["CIFG"], 1, 16)
    head = torch.nn.Linear(16, 1)
    opt = torch.optim.Adam([*layer.parameters(), *head.parameters()], lr=0.02)
    losses = []
    for _ in range(150):
        x = torch.rand(10, 16, 1) - 0.5
        target = x.cumsum(0)
        loss = torch.nn.functional.mse_loss(head(layer(x)[0]), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.1 * sum(losses[:10]) / 10


def test_define_cell_rejects_bad_sizes_and_recurrent_rejects_non_cells():
    with pytest.raises(ValueError, match="gates >= 1"):
        rnnkit.define_cell("bad", 0, lambda *a: a)
    with pytest.raises(TypeError, match="expected a CellMath"):
        rnnkit.Recurrent("lstm", 3, 4)

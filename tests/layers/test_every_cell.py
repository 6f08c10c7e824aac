"""Every cell of the registry (rnnkit.cells.CELLS), with no test written for it by name: its
layer on every backend equals the reference loop, outputs and gradients, and passes gradcheck.
A new cell registered in CELLS is held to this at once (docs/new_cell.md)."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.cells import CELLS
from rnnkit.layers.registry import make_layer

LENGTHS = torch.tensor([5, 3, 4])


def _run(layer, x, backend):
    with rnnkit.use_backend(backend):
        y, _ = layer(x, lengths=LENGTHS)
    (dx,) = torch.autograd.grad((y * y).sum(), x)
    return y.detach(), dx


@pytest.mark.parametrize("backend", ["fused", "auto"])
@pytest.mark.parametrize("name", list(CELLS))
def test_every_backend_equals_the_reference_loop(name, backend):
    torch.manual_seed(0)
    layer = make_layer(name, 3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    x = torch.randn(5, 3, 3, dtype=torch.float64, requires_grad=True)
    y_ref, dx_ref = _run(layer, x, "reference")
    y, dx = _run(layer, x, backend)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(dx, dx_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(CELLS))
def test_every_cell_passes_gradcheck(name):
    torch.manual_seed(0)
    layer = make_layer(name, 2, 3, dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    weights = list(layer.parameters())

    names = [n for n, _ in layer.named_parameters()]

    def f(x, *params):
        state = dict(zip(names, params))
        return torch.func.functional_call(layer, state, (x,), {"lengths": torch.tensor([4, 2])})[0]

    assert torch.autograd.gradcheck(f, (x, *weights), fast_mode=True)

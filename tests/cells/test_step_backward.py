"""Each cell's hand-written step backward equals autograd through its step forward."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cells import GRU, LSTM, RNN_RELU, RNN_TANH

n, H = 3, 5


@pytest.mark.parametrize("cell", [RNN_TANH, RNN_RELU, GRU, LSTM], ids=lambda c: c.name)
def test_step_backward_equals_autograd(cell):
    g = torch.Generator().manual_seed(0)

    def rnd(*shape):
        return torch.randn(shape, generator=g, dtype=torch.float64).requires_grad_(True)

    gx = rnd(n, cell.gates * H)
    gh = rnd(n, cell.gates * H) if cell.split_hidden else None
    h_prev = rnd(n, H)
    extra_prev = tuple(rnd(n, H) for _ in range(cell.extra_states))
    h, extra_new, saved = cell.step(gx, gh, h_prev, extra_prev, ())
    dh = torch.randn(n, H, generator=g, dtype=torch.float64)
    d_extra = tuple(torch.randn(n, H, generator=g, dtype=torch.float64) for _ in extra_new)
    inputs = [t for t in (gx, gh, h_prev, *extra_prev) if t is not None]
    auto = torch.autograd.grad((h, *extra_new), inputs, (dh, *d_extra), allow_unused=True)
    with torch.no_grad():
        dgx, dgh, dh_direct, d_extra_prev, _ = cell.step_backward(
            dh, d_extra, saved, h_prev, extra_prev, ()
        )
    expected = dict(zip(["gx", "gh", "h_prev", "extra"], [auto[0], None, None, None]))
    k = 1
    if gh is not None:
        expected["gh"], k = auto[1], 2
    torch.testing.assert_close(dgx, expected["gx"], rtol=0, atol=1e-12)
    if gh is not None:
        torch.testing.assert_close(dgh, expected["gh"], rtol=0, atol=1e-12)
    auto_h_prev = auto[k]
    if dh_direct is None:
        assert auto_h_prev is None or torch.count_nonzero(auto_h_prev) == 0
    else:
        torch.testing.assert_close(dh_direct, auto_h_prev, rtol=0, atol=1e-12)
    for got, want in zip(d_extra_prev, auto[k + 1 :], strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)

"""The log-space parallel scan equals its sequential twin (outputs and gradients), the
hand-written minimal-cell step backward equals autograd, and both equal hand formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import assert_close, weighted_sum
from rnnkit.cells.minimal import MIN_GRU, MIN_LSTM, log_positive, positive
from rnnkit.engine import LayerWeights, time_layout
from rnnkit.engine import parallel_scan as ps
from rnnkit.engine.fused import fused_scan

CELLS = {"min_gru": MIN_GRU, "min_lstm": MIN_LSTM}
B, H = 3, 4


def inputs(cell, layout, dtype=torch.float64, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    gx = scale * torch.randn(layout.N, cell.gates * H, generator=g, dtype=torch.float64)
    h0 = torch.randn(layout.B, H, generator=g, dtype=torch.float64)
    h0[0, 0] = 0.0  # the initial state may be zero or negative: no log is taken of it
    return gx.to(dtype).requires_grad_(True), h0.to(dtype).requires_grad_(True)


def run_both(cell, layout, reverse, gx, h0):
    """Outputs and gradients (of a random weighted sum) of both scans."""
    results = []
    for fn in (ps.parallel_scan, ps.sequential_scan):
        y, h_n = fn(cell, layout, reverse, gx, h0)
        grads = torch.autograd.grad(weighted_sum([y, h_n]), (gx, h0))
        results.append((y, h_n, *grads))
    return results


def batch_sizes_with_lengths(lengths: list[int]) -> tuple[int, ...]:
    return tuple(sum(1 for n in lengths if n > t) for t in range(max(lengths)))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("T, lengths", [(1, None), (7, None), (512, None), (512, [512, 300, 1])])
def test_parallel_scan_matches_sequential_float64(cell, reverse, T, lengths):
    layout = time_layout((B,) * T if lengths is None else batch_sizes_with_lengths(lengths))
    gx, h0 = inputs(CELLS[cell], layout)
    scan, seq = run_both(CELLS[cell], layout, reverse, gx, h0)
    for name, a, b in zip(("y", "h_n", "d gx", "d h0"), scan, seq):
        assert_close(a, b, f"{cell} T={T} reverse={reverse} {name}")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("chunk", [None, 1, 5, 64])
def test_chunks_give_the_same_result(cell, chunk):
    """Chunk boundaries inside padding (length 1 and 13 of 40) keep outputs and grads exact."""
    layout = time_layout(batch_sizes_with_lengths([40, 13, 1]))
    gx, h0 = inputs(CELLS[cell], layout)
    for reverse in (False, True):
        y, h_n = ps.parallel_scan(CELLS[cell], layout, reverse, gx, h0, chunk=chunk)
        grads = torch.autograd.grad(weighted_sum([y, h_n]), (gx, h0))
        y2, h2 = ps.sequential_scan(CELLS[cell], layout, reverse, gx, h0)
        grads2 = torch.autograd.grad(weighted_sum([y2, h2]), (gx, h0))
        for name, a, b in zip(("y", "h_n", "d gx", "d h0"), (y, h_n, *grads), (y2, h2, *grads2)):
            assert torch.isfinite(a).all(), name
            assert_close(a, b, f"chunk={chunk} reverse={reverse} {name}")


@pytest.mark.parametrize("cell", CELLS)
def test_parallel_scan_float32_is_accurate_at_long_T(cell):
    layout = time_layout(batch_sizes_with_lengths([2048, 1000, 3]))
    gx, h0 = inputs(CELLS[cell], layout)
    y64, h64 = ps.sequential_scan(CELLS[cell], layout, False, gx.detach(), h0.detach())
    y32, h32 = ps.parallel_scan(
        CELLS[cell], layout, False, gx.detach().float(), h0.float(), chunk=None
    )
    assert y32.dtype == torch.float32
    assert_close(y32, y64.float(), "y")
    assert_close(h32, h64.float(), "h_n")


@pytest.mark.parametrize("cell", CELLS)
def test_scan_is_finite_for_saturated_gates(cell):
    """|pre-activations| ~ 60: gates of exactly 0 or 1 in float64; the log form stays finite."""
    layout = time_layout(batch_sizes_with_lengths([64, 40, 2]))
    gx, h0 = inputs(CELLS[cell], layout, scale=60.0)
    scan, seq = run_both(CELLS[cell], layout, True, gx, h0)
    for a, b in zip(scan, seq):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("fn", ["parallel_scan", "sequential_scan"])
def test_gradcheck(cell, fn):
    layout = time_layout((3, 2, 2, 1))
    gx, h0 = inputs(CELLS[cell], layout)
    run = getattr(ps, fn)
    for reverse in (False, True):
        fn = lambda a, b, r=reverse: run(CELLS[cell], layout, r, a, b)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (gx, h0))


def test_log_linear_scan_matches_a_plain_loop():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(50, 2, 3, generator=g, dtype=torch.float64)
    b = torch.rand(50, 2, 3, generator=g, dtype=torch.float64)
    b[10:, 1] = 0.0  # b = 0: log b = -inf, as on padding
    h0 = torch.randn(2, 3, generator=g, dtype=torch.float64)
    h, expected = h0, []
    for t in range(50):
        h = a[t] * h + b[t]
        expected.append(h)
    assert_close(ps.log_linear_scan(a.log(), b.log(), h0), torch.stack(expected), "h")


def test_log_coefficients_match_the_linear_ones():
    g = torch.Generator().manual_seed(2)
    x = 8 * torch.randn(100, 3 * H, generator=g, dtype=torch.float64)
    assert_close(log_positive(x), positive(x).log(), "log g")
    f, i, _ = torch.sigmoid(x).chunk(3, dim=1)
    log_a, log_b = MIN_LSTM.log_coefficients(x)
    assert_close(log_a.exp(), f / (f + i), "f'")
    assert_close(log_b.exp(), i / (f + i) * positive(x[:, 2 * H :]), "i' g")
    log_a, log_b = MIN_GRU.log_coefficients(x[:, : 2 * H])
    assert_close(log_a.exp(), 1 - f, "1 - z")
    assert_close(log_b.exp(), f * positive(x[:, H : 2 * H]), "z g")


def test_hand_formulas_two_steps():
    """minGRU and minLSTM over T = 2 written out by hand, against both scans."""
    g = torch.Generator().manual_seed(3)
    h0 = torch.randn(1, 2, generator=g, dtype=torch.float64)
    gx = torch.randn(2, 6, generator=g, dtype=torch.float64)
    gfun = lambda v: v + 0.5 if v >= 0 else 1 / (1 + torch.exp(-v))  # noqa: E731
    sig = torch.sigmoid
    for name, cell in CELLS.items():
        expected = torch.empty(2, 2, dtype=torch.float64)
        for k in range(2):  # each hidden unit by hand
            h = h0[0, k]
            for t in range(2):
                if name == "min_gru":
                    z, cand = sig(gx[t, k]), gfun(gx[t, 2 + k])
                    h = (1 - z) * h + z * cand
                else:
                    f, i, cand = sig(gx[t, k]), sig(gx[t, 2 + k]), gfun(gx[t, 4 + k])
                    h = f / (f + i) * h + i / (f + i) * cand
                expected[t, k] = h
        cols = gx[:, : cell.gates * 2]
        for fn in (ps.parallel_scan, ps.sequential_scan):
            y, h_n = fn(cell, time_layout((1, 1)), False, cols, h0)
            assert_close(y, expected, f"{name} {fn.__name__}")
            assert_close(h_n, expected[1:], f"{name} {fn.__name__} h_n")


@pytest.mark.parametrize("cell", CELLS)
def test_step_backward_matches_autograd(cell):
    math = CELLS[cell].math
    g = torch.Generator().manual_seed(4)
    gx = (
        3 * torch.randn(6, CELLS[cell].gates * H, generator=g, dtype=torch.float64)
    ).requires_grad_()
    h_prev = torch.randn(6, H, generator=g, dtype=torch.float64).requires_grad_()
    dh = torch.randn(6, H, generator=g, dtype=torch.float64)
    h, _, saved = math.step(gx, None, h_prev)
    dgx_auto, dh_prev_auto = torch.autograd.grad(h, (gx, h_prev), dh)
    dgx, dgh, dh_direct, dextra, dparams = math.step_backward(dh, (), saved, h_prev.detach())
    assert dgh is None and dextra == () and dparams == ()
    assert_close(dgx, dgx_auto, "dgx")
    assert_close(dh_direct, dh_prev_auto, "dh_prev")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
def test_generic_fused_engine_with_zero_recurrence_equals_the_scan(cell, reverse):
    """The cell contract holds: the hand-written BPTT engine, W_hh = 0, gives the same grads."""
    c = CELLS[cell]
    layout = time_layout(batch_sizes_with_lengths([9, 5, 5, 1]))
    g = torch.Generator().manual_seed(5)
    x = torch.randn(layout.N, 3, generator=g, dtype=torch.float64).requires_grad_()
    W = torch.randn(c.gates * H, 3, generator=g, dtype=torch.float64).requires_grad_()
    h0 = torch.randn(4, H, generator=g, dtype=torch.float64).requires_grad_()
    zero = torch.zeros(c.gates * H, H, dtype=torch.float64)  # W_hh
    y1, h1, _ = fused_scan(c.math, layout, reverse, x, LayerWeights(W, zero), h0, ())
    y2, h2 = ps.parallel_scan(c, layout, reverse, F.linear(x, W), h0)
    g1 = torch.autograd.grad(weighted_sum([y1, h1]), (x, W, h0))
    g2 = torch.autograd.grad(weighted_sum([y2, h2]), (x, W, h0))
    for name, a, b in zip(("y", "h_n", "dx", "dW", "dh0"), (y1, h1, *g1), (y2, h2, *g2)):
        assert_close(a, b, name)


def test_auto_mode_takes_the_loop_on_cpu_and_for_one_step(monkeypatch):
    """On CPU the loop measured faster (benchmarks/min_scan.py); "scan" still forces the scan."""

    def refuse(*args):
        raise AssertionError("parallel_scan called")

    monkeypatch.setattr(ps, "parallel_scan", refuse)
    for sizes in ((B,), (B, B, B)):
        gx, h0 = inputs(MIN_GRU, time_layout(sizes))
        ps.min_scan(MIN_GRU, time_layout(sizes), False, gx, h0, "auto")
    with pytest.raises(AssertionError, match="parallel_scan called"):
        ps.min_scan(
            MIN_GRU, time_layout((B, B)), False, *inputs(MIN_GRU, time_layout((B, B))), "scan"
        )


def test_unknown_mode_is_named():
    gx, h0 = inputs(MIN_GRU, time_layout((B,)))
    with pytest.raises(
        ValueError, match=r"expected mode in \('auto', 'scan', 'sequential'\), got 'fast'"
    ):
        ps.min_scan(MIN_GRU, time_layout((B,)), False, gx, h0, "fast")


def test_float32_can_scan_in_its_own_dtype_at_short_T():
    """accumulate=None skips the float64 pass: fine at short T, error grows with T."""
    g = torch.Generator().manual_seed(6)
    log_a, log_b = -torch.rand(32, 2, 3, generator=g), torch.randn(32, 2, 3, generator=g)
    h0 = torch.randn(2, 3, generator=g)
    own = ps.log_linear_scan(log_a, log_b, h0, accumulate=None)
    wide = ps.log_linear_scan(log_a.double(), log_b.double(), h0.double())
    assert own.dtype == torch.float32
    assert_close(own, wide.float(), "h")

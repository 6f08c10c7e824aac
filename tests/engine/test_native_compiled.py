"""Cells compiled from their Python step (engine/native/compiled.py, stepgraph.py, codegen.py):
the native engine's result equals the reference loop's autograd, outputs and every gradient,
for each supported op and layer option; steps it cannot compile fall back to the fused engine.

Run: python -m pytest tests/engine/test_native_compiled.py -q
"""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import assert_close, cifg_step, elman_step, gained_gru_step, weighted_sum
from rnnkit.engine import backends
from rnnkit.engine.native import compiled, compiler_available
from rnnkit.engine.native.stepgraph import trace_step

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")


def many_ops_step(gx, gh, h_prev, extra_prev, params):
    """Every op the tracer compiles, on values where each is smooth: two extra states."""
    (scale,) = params
    a, b, c, d = gx.split(h_prev.shape[1], dim=1)
    m1, m2 = extra_prev
    pos = torch.sigmoid(a) + 0.5  # in (0.5, 1.5): safe for log, sqrt, rsqrt, 1/x, pow
    u = torch.log(pos) * torch.sqrt(pos) - torch.rsqrt(pos) / 3 + torch.reciprocal(pos) ** 3
    v = torch.relu(b) - torch.exp(-(c**2)) + torch.clamp(d, -0.5, 0.5) * 2
    w = torch.nn.functional.silu(c) * scale[: h_prev.shape[1]] - scale[h_prev.shape[1] :]
    m1_new = torch.tanh(u + 0.5 * m1 - v.detach() * 0.1) + torch.clamp_min(w, -1.0) * 0.2
    m2_new = m2 * torch.sigmoid(-v) + torch.ones_like(m2) * 0.1 + u / (2 + m1_new**2)
    h = torch.tanh(m1_new - m2_new).pow(3) + torch.clamp_max(-h_prev, 0.3)
    return h, (m1_new, m2_new), ()


def branchy_step(gx, gh, h_prev, extra_prev, params):
    """The rest of the ops: maximum / minimum, where on comparisons, abs, log1p, expm1,
    leaky_relu, softplus; one extra state."""
    (m,) = extra_prev
    a, b = gx.chunk(2, dim=1)
    gate = torch.where(a > b, torch.sigmoid(a), torch.sigmoid(b) * 0.5)
    bounded = torch.maximum(torch.minimum(b, 0.7 + 0 * b), torch.abs(a) - 1.5)
    soft = torch.nn.functional.softplus(a, beta=2.0) + torch.nn.functional.leaky_relu(b, 0.1)
    shaped = torch.log1p(torch.sigmoid(soft)) - torch.expm1(-torch.abs(bounded))
    m_new = torch.where(m <= 0.0, gate * m, torch.tanh(m)) + torch.where(a >= 0.2, shaped, 0.0)
    h = torch.where(h_prev < -0.5, -0.5, torch.tanh(m_new + shaped * 0.5))
    return h, (m_new,), ()


CELLS = {
    "cifg": rnnkit.define_cell("t_cifg", 3, cifg_step, extra_states=1),
    "gained_gru": rnnkit.define_cell(
        "t_gained_gru", 3, gained_gru_step, split_hidden=True,
        params=(rnnkit.ParamSpec("gain", 1, "uniform"),
                rnnkit.ParamSpec("shift", 1, "uniform", is_bias=True)),
    ),
    "many_ops": rnnkit.define_cell(
        "t_many_ops", 4, many_ops_step, extra_states=2,
        params=(rnnkit.ParamSpec("scale", 2, "uniform"),),
    ),
    "branchy": rnnkit.define_cell("t_branchy", 2, branchy_step, extra_states=1),
    "elman": rnnkit.define_cell("t_elman", 1, elman_step),
}  # fmt: skip


def _run(layer, x, backend, lengths=None):
    """Output, final states and the gradients of a weighted sum of them, on ``backend``."""
    xi = x.clone().requires_grad_(True)
    with rnnkit.use_backend(backend):
        out, state = layer(xi, lengths=lengths)
        path = backends.last_path
    states = list(state) if isinstance(state, tuple) else [state]
    grads = torch.autograd.grad(weighted_sum([out, *states]), [xi, *layer.parameters()])
    return path, [out, *states, *grads]


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize(
    "options, lengths",
    [
        ({}, None),
        ({"num_layers": 2, "bidirectional": True}, None),
        ({"bidirectional": True}, [7, 3, 5, 1]),
        ({"bias": False, "batch_first": True}, [2, 7, 6, 7]),
    ],
)
def test_compiled_cell_matches_reference_float64(name, options, lengths):
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(CELLS[name], 3, 6, dtype=torch.float64, **options)
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    if not options.get("batch_first"):
        x = x.transpose(0, 1).contiguous()
    lengths = None if lengths is None else torch.tensor(lengths)
    _, want = _run(layer, x, "reference", lengths)
    path, got = _run(layer, x, "native", lengths)
    assert path == "native"
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert_close(a, b, f"{name} tensor {k}")


@pytest.mark.parametrize("name", ["cifg", "gained_gru", "many_ops", "branchy"])
def test_compiled_cell_matches_reference_float32(name):
    torch.manual_seed(1)
    layer = rnnkit.Recurrent(CELLS[name], 5, 24, num_layers=2)  # H = 24: a partial vector
    x = torch.randn(9, 3, 5)
    _, want = _run(layer, x, "reference")
    path, got = _run(layer, x, "auto")
    assert path == "native"
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert_close(a, b, f"{name} float32 tensor {k}")


def test_compiled_scan_passes_gradcheck():
    torch.manual_seed(2)
    layer = rnnkit.Recurrent(CELLS["gained_gru"], 2, 3, dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 3, dtype=torch.float64, requires_grad=True)

    def f(x, h0, *params):
        with (
            rnnkit.use_backend("native"),
            torch.nn.utils.stateless._reparametrize_module(
                layer, dict(zip([n for n, _ in layer.named_parameters()], params, strict=True))
            ),
        ):
            out, h_n = layer(x, h0)
        return out, h_n

    params = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]
    assert torch.autograd.gradcheck(f, (x, h0, *params))


def test_hand_written_backward_is_not_needed_on_native():
    """The documented CIFG with its own step_backward: native (derived backward) == fused
    (the hand-written one)."""

    def hand_backward(dh, d_extra, saved, h_prev, extra_prev, params):
        raise AssertionError("the native engine derives the backward itself")

    cell = rnnkit.define_cell("t_cifg_hand", 3, cifg_step, hand_backward, extra_states=1)
    layer = rnnkit.Recurrent(cell, 3, 5, dtype=torch.float64)
    twin = rnnkit.Recurrent(CELLS["cifg"], 3, 5, dtype=torch.float64)
    twin.load_state_dict(layer.state_dict())
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    _, got = _run(layer, x, "native")
    _, want = _run(twin, x, "fused")
    for a, b in zip(got, want, strict=True):
        assert_close(a, b, "derived vs autograd backward")


def _layer_norm_step(gx, gh, h_prev, extra_prev, params):
    return torch.tanh(torch.nn.functional.layer_norm(gx, gx.shape[1:])), (), ()


def _width_step(gx, gh, h_prev, extra_prev, params):
    return torch.tanh(gx * (1.0 / h_prev.shape[1])), (), ()


def _branching_step(gx, gh, h_prev, extra_prev, params):
    return (torch.tanh(gx) if gx.sum() > 0 else torch.sigmoid(gx)), (), ()


def _row_mixing_step(gx, gh, h_prev, extra_prev, params):
    return torch.tanh(gx + gx.flip(0)), (), ()


@pytest.mark.parametrize(
    "step, reason",
    [
        (_layer_norm_step, "native_layer_norm"),
        (_width_step, "changes with H"),
        (_branching_step, "tracing"),
        (_row_mixing_step, "flip"),
    ],
)
def test_uncompilable_steps_fall_back_to_fused(step, reason):
    cell = rnnkit.define_cell(f"t_{step.__name__}", 1, step)
    with pytest.raises(NotImplementedError, match=reason):
        trace_step(cell, ())
    layer = rnnkit.Recurrent(cell, 2, 4, dtype=torch.float64)
    x = torch.randn(3, 2, 2, dtype=torch.float64)
    path, got = _run(layer, x, "auto")
    assert path == "fused"
    _, want = _run(layer, x, "reference")
    for a, b in zip(got, want, strict=True):
        assert_close(a, b, "fallback")
    with pytest.raises(NotImplementedError, match=reason):
        _run(layer, x, "native")


def test_cell_is_traced_and_built_once_per_parameter_set(monkeypatch):
    calls = []
    real = compiled.trace_step
    monkeypatch.setattr(compiled, "trace_step", lambda *a: calls.append(a) or real(*a))
    cell = rnnkit.define_cell("t_once", 3, cifg_step, extra_states=1)
    layer = rnnkit.Recurrent(cell, 2, 4, num_layers=2, bidirectional=True)
    for _ in range(3):
        _run(layer, torch.randn(3, 2, 2), "native")
    assert len(calls) == 1


def test_optional_parameter_absent_compiles_its_own_kernels():
    torch.manual_seed(3)
    layer = rnnkit.Recurrent(CELLS["gained_gru"], 2, 4, bias=False, dtype=torch.float64)
    assert getattr(layer, "shift_l0", None) is None  # the kernels without it
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    _, want = _run(layer, x, "reference")
    path, got = _run(layer, x, "native")
    assert path == "native"
    for a, b in zip(got, want, strict=True):
        assert_close(a, b, "no shift")

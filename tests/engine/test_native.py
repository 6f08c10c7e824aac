"""Tests for the native (C++) scan: it agrees with the reference backend and with torch.nn.

Run: python -m pytest tests/engine/test_native.py -q
The first run compiles the extension (about a minute); skipped only when no C++ compiler exists.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from rnnkit import cells
from rnnkit.engine import backends, time_layout
from rnnkit.engine.native import build, compiler_available, native_scan
from rnnkit.engine.reference import reference_scan
from rnnkit.engine.weights import LayerWeights

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

CELLS = {
    "rnn_tanh": (cells.RNN_TANH, False),
    "rnn_relu": (cells.RNN_RELU, False),
    "lstm": (cells.LSTM, False),
    "lstm_proj": (cells.LSTM, True),
    "gru": (cells.GRU, False),
}
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}  # abs (float64), relative (float32)


def _problem(cell, proj, batch_sizes, bias, dtype, I=5, H=6, P_proj=3, scale=0.5):
    """Random packed input, weights and initial states (normal, times `scale`), all requiring
    grad."""
    gen = torch.Generator().manual_seed(0)
    lay = time_layout(batch_sizes)
    P, G = (P_proj if proj else H), cell.gates * H

    def rand(*shape):
        return (torch.randn(*shape, generator=gen, dtype=dtype) * scale).requires_grad_()

    w = LayerWeights(
        rand(G, I), rand(G, P), rand(G) if bias else None, rand(G) if bias else None,
        rand(P, H) if proj else None,
    )  # fmt: skip
    x, h0 = rand(lay.N, I), rand(lay.B, P)
    extra0 = (rand(lay.B, H),) if cell.extra_states else ()
    return lay, x, w, h0, extra0


def _run(scan_fn, cell, lay, reverse, x, w, h0, extra0):
    """Outputs and the grads of a random linear loss wrt every input, weight and state."""
    y, h_n, extra_n = scan_fn(cell, lay, reverse, x, w, h0, extra0)
    outs = (y, h_n, *extra_n)
    gen = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outs)
    inputs = [x, h0, *extra0, *(t for t in w if t is not None)]
    return [o.detach() for o in outs] + list(torch.autograd.grad(loss, inputs))


def _assert_match(got, want, dtype):
    for k, (a, b) in enumerate(zip(got, want)):
        err = (a - b).abs().max().item()
        scale = 1.0 if dtype == torch.float64 else max(b.abs().max().item(), 1.0)
        assert err <= TOL[dtype] * scale, f"tensor {k}: max abs error {err:.3g}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize(
    "batch_sizes", [(5, 5, 5), (6, 4, 3, 1), (1, 1, 1)], ids=["uniform", "shrinking", "batch1"]
)
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("name", list(CELLS))
def test_native_matches_reference(name, reverse, batch_sizes, bias, dtype):
    cell, proj = CELLS[name]
    problem = _problem(cell, proj, batch_sizes, bias, dtype)
    got = _run(native_scan, cell, *problem[:1], reverse, *problem[1:])
    want = _run(reference_scan, cell, *problem[:1], reverse, *problem[1:])
    _assert_match(got, want, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(CELLS))
def test_native_matches_reference_wide_hidden(name, dtype):
    """H = 37: full vector blocks and a partial tail in every kernel."""
    cell, proj = CELLS[name]
    lay, x, w, h0, extra0 = _problem(cell, proj, (3, 2, 1), True, dtype, I=7, H=37)
    got = _run(native_scan, cell, lay, False, x, w, h0, extra0)
    want = _run(reference_scan, cell, lay, False, x, w, h0, extra0)
    _assert_match(got, want, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(CELLS))
def test_native_matches_reference_on_packed_weights(name, dtype):
    """13 steps (W_hh packed into panels: 4 steps or more) of 13 rows down to 1: every row
    block of the blocked kernel; H = 37, each gate block's panels end in a zero-padded vector.
    Weights of scale 1/sqrt(H), so that 13 steps do not amplify float32 rounding."""
    cell, proj = CELLS[name]
    batch_sizes = tuple(range(13, 0, -1))
    lay, x, w, h0, extra0 = _problem(
        cell, proj, batch_sizes, True, dtype, I=7, H=37, P_proj=19, scale=37**-0.5
    )
    for reverse in (False, True):
        got = _run(native_scan, cell, lay, reverse, x, w, h0, extra0)
        want = _run(reference_scan, cell, lay, reverse, x, w, h0, extra0)
        _assert_match(got, want, dtype)


@pytest.mark.parametrize("name", list(CELLS))
def test_native_matches_reference_with_blas_sized_steps(name):
    """3 steps (too few to pack W_hh): those of 64 and 40 rows go to BLAS (n·G·P >= 2^21), the
    3-row one to dot products on W_hh."""
    cell, proj = CELLS[name]
    H = 128 if cell.gates > 1 else 256
    problem = _problem(cell, proj, (64, 40, 3), True, torch.float64, I=8, H=H, P_proj=64)
    lay, x, w, h0, extra0 = problem
    for reverse in (False, True):
        got = _run(native_scan, cell, lay, reverse, x, w, h0, extra0)
        want = _run(reference_scan, cell, lay, reverse, x, w, h0, extra0)
        _assert_match(got, want, torch.float64)


@pytest.mark.parametrize("name", ["lstm_proj", "gru"])
def test_native_aten_gemm_fallback_matches_reference(name):
    """The per-step GEMMs routed through ATen (where libtorch exports no BLAS) agree too."""
    cell, proj = CELLS[name]
    lay, x, w, h0, extra0 = _problem(cell, proj, (4, 3, 3, 2), True, torch.float64)
    ext = build.load()
    ext.use_aten_gemm(True)
    try:
        got = _run(native_scan, cell, lay, True, x, w, h0, extra0)
    finally:
        ext.use_aten_gemm(False)
    want = _run(reference_scan, cell, lay, True, x, w, h0, extra0)
    _assert_match(got, want, torch.float64)


def _torch_twin(kind, **kw):
    """A torch.nn layer and an rnnkit layer with the same (copied) weights, float64."""
    ref = getattr(torch.nn, kind)(**kw, dtype=torch.float64)
    kit = getattr(rnnkit, kind)(**kw, dtype=torch.float64)
    kit.load_state_dict(ref.state_dict())
    return ref, kit


LAYERS = [
    ("RNN", {"nonlinearity": "tanh"}),
    ("RNN", {"nonlinearity": "relu", "bias": False}),
    ("LSTM", {}),
    ("LSTM", {"proj_size": 3}),
    ("GRU", {}),
]


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize(("kind", "options"), LAYERS)
def test_native_layer_matches_torch_bidirectional_two_layers(kind, options, packed):
    ref, kit = _torch_twin(kind, input_size=4, hidden_size=5, num_layers=2, bidirectional=True,
                           **options)  # fmt: skip
    x = torch.randn(6, 3, 4, dtype=torch.float64, requires_grad=True)
    results = []
    for module in (ref, kit):
        lengths = torch.tensor([6, 4, 2])
        inp = pack_padded_sequence(x, lengths, enforce_sorted=False) if packed else x
        with rnnkit.use_backend("native"):
            out, state = module(inp)
        out = out.data if packed else out
        states = state if isinstance(state, tuple) else (state,)
        loss = out.pow(2).sum() + sum(s.pow(3).sum() for s in states)
        grads = torch.autograd.grad(loss, [x, *module.parameters()])
        results.append([out.detach(), *(s.detach() for s in states), *grads])
    assert backends.last_path == "native"
    _assert_match(results[1], results[0], torch.float64)


def test_auto_runs_native_for_float32_and_falls_back_for_bfloat16(monkeypatch):
    monkeypatch.delenv("RNNKIT_NATIVE", raising=False)  # the default: auto takes native
    layer = rnnkit.GRU(4, 5)
    with rnnkit.use_backend("auto"):
        layer(torch.randn(3, 2, 4))
        assert backends.last_path == "native"
        layer.to(torch.bfloat16)(torch.randn(3, 2, 4, dtype=torch.bfloat16))
        assert backends.last_path == "fused"
    with rnnkit.use_backend("native"), pytest.raises(NotImplementedError, match="bfloat16"):
        layer(torch.randn(3, 2, 4, dtype=torch.bfloat16))


def test_auto_falls_back_with_one_warning_when_the_build_fails(monkeypatch):
    def broken_build():
        raise OSError("no compiler in this test")

    monkeypatch.delenv("RNNKIT_NATIVE", raising=False)
    monkeypatch.setattr(build, "_build", broken_build)
    monkeypatch.setattr(build, "_module", None)
    monkeypatch.setattr(build, "_error", None)
    layer, x = rnnkit.LSTM(4, 5), torch.randn(3, 2, 4)
    with rnnkit.use_backend("auto"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer(x)
        assert backends.last_path == "fused"
        layer(x)
    assert sum("native scan unavailable" in str(w.message) for w in caught) == 1
    with rnnkit.use_backend("native"), pytest.raises(NotImplementedError, match="no compiler"):
        layer(x)


def test_auto_takes_the_fused_engine_for_what_native_declines(monkeypatch):
    monkeypatch.delenv("RNNKIT_NATIVE", raising=False)

    def normed(gx, gh, h, e, p):  # a reduction in the step: not compiled
        return torch.tanh(torch.nn.functional.layer_norm(gx, gx.shape[1:])), (), ()

    user_cell = rnnkit.define_cell("my_normed_rnn", 1, normed)
    with rnnkit.use_backend("auto"):
        rnnkit.Recurrent(user_cell, 4, 5)(torch.randn(3, 2, 4))
        assert backends.last_path == "fused"
        rnnkit.GRU(4, 5, zoneout=0.1)(torch.randn(3, 2, 4))
        assert backends.last_path == "fused"
        rnnkit.GRU(4, 5)(torch.randn(3, 2, 4))
        assert backends.last_path == "native"


def test_environment_switch_turns_native_off(monkeypatch):
    monkeypatch.setenv("RNNKIT_NATIVE", "0")
    layer, x = rnnkit.RNN(4, 5), torch.randn(3, 2, 4)
    with rnnkit.use_backend("auto"):
        layer(x)
        assert backends.last_path == "fused"
    with rnnkit.use_backend("native"), pytest.raises(NotImplementedError, match="RNNKIT_NATIVE"):
        layer(x)


def test_native_grads_only_for_what_needs_them():
    cell, _ = CELLS["gru"]
    lay, x, w, h0, _ = _problem(cell, False, (3, 2), True, torch.float64)
    x = x.detach().requires_grad_()
    w = LayerWeights(*(None if t is None else t.detach() for t in w))
    y, _, _ = native_scan(cell, lay, False, x, w, h0.detach(), ())
    (dx,) = torch.autograd.grad(y.sum(), [x])
    x_ref = x.detach().requires_grad_()
    y_ref, _, _ = reference_scan(cell, lay, False, x_ref, w, h0.detach(), ())
    (dx_ref,) = torch.autograd.grad(y_ref.sum(), [x_ref])
    _assert_match([dx], [dx_ref], torch.float64)


def test_native_first_order_grads_under_create_graph_then_a_clear_double_backward_error():
    cell, _ = CELLS["lstm"]
    lay, x, w, h0, extra0 = _problem(cell, False, (2, 2), True, torch.float64)
    y, _, _ = native_scan(cell, lay, False, x, w, h0, extra0)
    (dx,) = torch.autograd.grad(y.pow(2).sum(), [x], create_graph=True)
    y, _, _ = native_scan(cell, lay, False, x, w, h0, extra0)
    (dx_plain,) = torch.autograd.grad(y.pow(2).sum(), [x])
    assert torch.equal(dx.detach(), dx_plain)
    with pytest.raises(RuntimeError, match="no double backward.*use_backend\\('reference'\\)"):
        dx.sum().backward()

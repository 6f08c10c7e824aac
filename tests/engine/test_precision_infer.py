"""bfloat16 autocast on the no-grad path (the native stack, csrc/infer.cpp): its input
projections run as the training scan's bfloat16 GEMMs, its per-step products in bfloat16 with
float32 sums where the CPU has AVX512-BF16, its state in float32 (engine/precision.py).

Held here: (1) equal, bit for bit, to the same layer's training path under autocast (both
round the same operands the same way); (2) within a derived bfloat16 bound of float32 (below);
(3) without native bfloat16, exactly float32; (4) outputs in torch.nn's autocast dtypes.
"""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.engine import autotune, backends, precision
from rnnkit.engine.native import compiler_available

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

LAYERS = {
    "rnn": lambda: rnnkit.RNN(5, 8),
    "lstm_2l": lambda: rnnkit.LSTM(5, 8, num_layers=2),
    "lstm_proj": lambda: rnnkit.LSTM(5, 8, proj_size=4),
    "gru_2l_bidir": lambda: rnnkit.GRU(5, 8, num_layers=2, bidirectional=True),
    "gru_nobias": lambda: rnnkit.GRU(5, 8, bias=False),
    "layernorm_lstm": lambda: rnnkit.LayerNormLSTM(5, 8),
    "layernorm_gru": lambda: rnnkit.LayerNormGRU(5, 8),
    "peephole_lstm": lambda: rnnkit.PeepholeLSTM(5, 8),
    "indrnn_tanh": lambda: rnnkit.IndRNN(5, 8, nonlinearity="tanh"),
}
U = 2.0**-8  # bfloat16's unit roundoff (8 significant bits, round to nearest)
EPS32 = 2.0**-24  # float32's


def _layer(name):
    torch.manual_seed(0)
    layer = LAYERS[name]()
    with torch.no_grad():  # move layer-norm gains and biases off their (1, 0) init
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return layer


def _flat(out) -> list[torch.Tensor]:
    y, state = out
    return [y, *(state if isinstance(state, tuple) else (state,))]


def _autocast(layer, x, grad: bool) -> tuple[list[torch.Tensor], str]:
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.set_grad_enabled(grad):
        out = _flat(layer(x))
        path = backends.last_path
    return [t.detach() for t in out], path


@pytest.fixture
def forced_bf16(monkeypatch):
    """bfloat16 GEMMs under autocast on any CPU (bfloat16 matmul runs everywhere, natively or
    not); the per-step products go bfloat16 only where the CPU has AVX512-BF16."""
    monkeypatch.setattr(precision, "lowers_to", lambda device, dtype: torch.bfloat16)


@pytest.mark.parametrize("T", [2, 9])  # below and above kPackSteps: dot products / panels
@pytest.mark.parametrize("name", list(LAYERS))
def test_no_grad_under_autocast_equals_the_training_path(forced_bf16, name, T):
    """The no-grad stack and the training scan under autocast round the same operands to
    bfloat16 at the same places: equal outputs and final states, bit for bit; both differ from
    float32 (the products did run in bfloat16), within bfloat16 rounding of it."""
    layer = _layer(name)
    x = torch.randn(T, 3, 5)
    with rnnkit.use_backend("native"):
        with torch.no_grad():
            want32 = _flat(layer(x))
        got, path = _autocast(layer, x, grad=False)
        trained, train_path = _autocast(layer, x, grad=True)
        with torch.no_grad():
            again32 = _flat(layer(x))
    assert path == train_path == "native"
    for a, b, ref, ref2 in zip(got, trained, want32, again32):
        assert a.dtype == b.dtype and torch.equal(a, b)
        assert torch.equal(ref, ref2), "a float32 call after autocast must be float32 again"
        assert (a.float() - ref).norm() <= 2e-2 * ref.norm()
    assert not torch.equal(got[0].float(), want32[0].to(got[0].dtype).float())


def _elman_bound(layer, x, h0, y32) -> torch.Tensor:
    """An elementwise bound on |y_bf16 - y_f32| of a one-layer tanh RNN, in float64.

    Per step, with u = 2^-8 and γ_K = K·2^-24: the projection p = x·W_ihᵀ rounds both
    operands (each product a·b becomes a(1+δ1)·b(1+δ2), |δ| ≤ u), sums in float32 and rounds
    its result to bfloat16, so |Δp| ≤ (2u + u² + γ_I)·|x|·|W_ih|ᵀ + u·|p|. The step's product
    h_{t-1}·W_hhᵀ rounds its operands too (where the CPU runs it in bfloat16; else it is exact
    to γ_H) and sums in float32: |Δ| ≤ (2u + u² + γ_H)·|h̃_{t-1}|·|W_hh|ᵀ + |e_{t-1}|·|W_hh|ᵀ,
    where h̃ is the bfloat16 run's state, |h̃| ≤ |h_{t-1}| + e_{t-1}, and e_{t-1} the bound of the
    step before (the error carried in). tanh is 1-Lipschitz: e_t = |Δp| + |Δ| + float32
    rounding of the sums (2^-24 of |pre|, twice). The output is rounded to bfloat16 once more
    (autocast's dtype for torch.nn.RNN): + u·|y|. First order in e, exact in u."""
    W_ih, W_hh = layer.weight_ih_l0.double(), layer.weight_hh_l0.double()
    b = (layer.bias_ih_l0 + layer.bias_hh_l0).double()
    I, H = W_ih.shape[1], W_hh.shape[1]
    x64, y64 = x.double(), y32.double()
    e, prev = torch.zeros_like(h0.double()), h0.double()
    bounds = []
    for t in range(x.shape[0]):
        p = x64[t] @ W_ih.t()
        d_proj = (2 * U + U * U + I * EPS32) * (x64[t].abs() @ W_ih.abs().t()) + U * p.abs()
        h_abs = prev.abs() + e
        d_step = (2 * U + U * U + H * EPS32) * (h_abs @ W_hh.abs().t()) + e @ W_hh.abs().t()
        pre = p + b + prev @ W_hh.t()
        e = d_proj + d_step + 2 * EPS32 * (pre.abs() + d_proj + d_step)
        bounds.append(e)
        prev = y64[t]
    return torch.stack(bounds) + U * (y64.abs() + torch.stack(bounds))


def test_no_grad_under_autocast_is_within_the_derived_bfloat16_bound(forced_bf16):
    torch.manual_seed(1)
    layer = rnnkit.RNN(24, 40)  # tanh
    with torch.no_grad():  # contractive: rows of |W_hh| sum below 1 (about 0.8), so that the
        layer.weight_hh_l0.mul_(0.25)  # 1-Lipschitz bound carried along 12 steps stays small
    x, h0 = torch.randn(12, 5, 24), 0.5 * torch.randn(1, 5, 40)
    with torch.no_grad(), rnnkit.use_backend("native"):
        y32, _ = layer(x, h0)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y16, _ = layer(x, h0)
    assert y16.dtype == torch.bfloat16  # torch.nn.RNN's under autocast
    err = (y16.double() - y32.double()).abs()
    bound = _elman_bound(layer, x, h0[0], y32)
    assert err.max() > 0 and bool((err <= bound).all()), f"{(err - bound).max():.3g} over"
    assert bound.max() < 0.1, "the bound should say something"


@pytest.mark.parametrize("name", list(LAYERS))
def test_without_native_bfloat16_no_grad_under_autocast_is_float32_exactly(monkeypatch, name):
    """A CPU without native bfloat16 (autotune.native_bf16 false: forced here) keeps every
    GEMM float32 under autocast: the float32 results, in autocast's output dtype."""
    monkeypatch.setattr(autotune, "_bf16", False)
    layer = _layer(name)
    x = torch.randn(9, 3, 5)
    with torch.no_grad():
        want = _flat(layer(x))
    got, path = _autocast(layer, x, grad=False)
    assert path == "native"
    for a, b in zip(got, want):
        assert torch.equal(a, b.to(a.dtype))


@pytest.mark.parametrize(
    ("name", "lowers"), [("rnn", True), ("lstm_2l", True), ("gru_2l_bidir", False)]
)
def test_no_grad_output_dtypes_are_torch_nn_s_under_autocast(forced_bf16, name, lowers):
    layer = _layer(name)
    ref = {"rnn": torch.nn.RNN, "lstm_2l": torch.nn.LSTM, "gru_2l_bidir": torch.nn.GRU}[name](
        5, 8, num_layers=layer.num_layers, bidirectional=layer.bidirectional
    )
    x = torch.randn(4, 3, 5)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        want = _flat(ref(x))
    got, _ = _autocast(layer, x, grad=False)
    assert [t.dtype for t in got] == [t.dtype for t in want]
    assert got[0].dtype == (torch.bfloat16 if lowers else torch.float32)


def test_float64_layers_are_not_lowered_under_autocast(forced_bf16):
    """autocast leaves float64 alone, and so do rnnkit's GEMMs: exactly the float64 results."""
    layer = _layer("gru_2l_bidir").double()
    x = torch.randn(9, 3, 5, dtype=torch.float64)
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            want = _flat(layer(x))
        got, _ = _autocast(layer, x, grad)
        assert all(a.dtype == torch.float64 and torch.equal(a, b) for a, b in zip(got, want))


def test_both_directions_at_once_round_like_in_turn(forced_bf16, monkeypatch):
    """A bidirectional layer's directions on a thread each (a team member's thread, where the
    caller's bfloat16 setting must be set again) give what they give in turn, bit for bit."""
    from rnnkit.engine import paths

    layer = _layer("gru_2l_bidir")
    x = torch.randn(9, 4, 5)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setenv(autotune.ENV, "1")
    try:
        outs = {}
        for order in ("in turn", "at once"):
            monkeypatch.setattr(
                paths, "_both_directions", lambda call, infer, o=order: o == "at once"
            )
            outs[order], _ = _autocast(layer, x, grad=False)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(outs["in turn"], outs["at once"]))


def test_under_autocast_the_fixed_default_keeps_a_large_lstm_on_ours(forced_bf16, monkeypatch):
    """With measuring off, "auto" hands a no-grad float32 LSTM from B 8, H 512 to torch's kernel
    (float32 there); under bfloat16 autocast ours runs bfloat16 GEMMs and keeps it."""
    monkeypatch.setenv(autotune.ENV, "0")
    layer = rnnkit.LSTM(4, 512)
    x = torch.randn(2, 8, 4)
    with torch.no_grad():
        layer(x)
        assert backends.last_path == "torch"
    _, path = _autocast(layer, x, grad=False)
    assert path == "native"

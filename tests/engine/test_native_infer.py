"""The no-grad fast path (one native call per forward, engine.backends.infer_stack) against the
reference loop, for every cell the native engine runs and the layer options it takes; streaming
(T = 1 calls with carried state) against one call on the whole sequence; and the calls it must
leave to the general path (grad on, lengths, packed input, zoneout, dropout in training,
another backend, malformed input), which then behave exactly as before.

Run: python -m pytest tests/engine/test_native_infer.py -q
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from helpers import assert_close
from rnnkit.engine import backends
from rnnkit.engine.native import compiler_available

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

LAYERS = {
    "rnn": lambda *a, **k: rnnkit.RNN(*a, **k),
    "rnn_relu": lambda *a, **k: rnnkit.RNN(*a, nonlinearity="relu", **k),
    "lstm": lambda *a, **k: rnnkit.LSTM(*a, **k),
    "lstm_proj": lambda *a, **k: rnnkit.LSTM(*a, proj_size=3, **k),
    "gru": lambda *a, **k: rnnkit.GRU(*a, **k),
    "layernorm_lstm": lambda *a, **k: rnnkit.LayerNormLSTM(*a, **k),
    "layernorm_gru": lambda *a, **k: rnnkit.LayerNormGRU(*a, **k),
    "peephole_lstm": lambda *a, **k: rnnkit.PeepholeLSTM(*a, **k),
    "indrnn": lambda *a, **k: rnnkit.IndRNN(*a, recurrent_max=0.9, **k),
    "indrnn_tanh": lambda *a, **k: rnnkit.IndRNN(*a, nonlinearity="tanh", **k),
}
I, H = 7, 5  # odd sizes: partial vectors and a gate count that is not a multiple of 4


@pytest.fixture
def infer_calls(monkeypatch):
    """Counts the native_infer calls (the fast path taken)."""
    calls = []
    real = backends.native_infer

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(backends, "native_infer", spy)
    return calls


def _layer(name, dtype, **options):
    torch.manual_seed(0)
    layer = LAYERS[name](I, H, dtype=dtype, **options)
    with torch.no_grad():  # move layer-norm gains and biases off their (1, 0) init
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return layer.eval()


def _states(layer, B, dtype, unbatched=False):
    LD = layer.num_layers * (2 if layer.bidirectional else 1)
    P = layer.proj_size or layer.hidden_size
    lead = (LD,) if unbatched else (LD, B)
    h0 = torch.randn(*lead, P, dtype=dtype)
    if isinstance(layer, (rnnkit.LSTM, rnnkit.LayerNormLSTM, rnnkit.PeepholeLSTM)):
        return h0, torch.randn(*lead, H, dtype=dtype)
    return h0


def _flat(out):
    y, state = out
    return [y, *(state if isinstance(state, tuple) else (state,))]


def _assert_equals_reference(layer, x, states, path: str) -> None:
    """No-grad ``layer(x, state)`` for each state runs on ``path`` and equals the reference."""
    for state in states:
        with torch.no_grad():
            got = _flat(layer(x, state))
            assert backends.last_path == path
            with rnnkit.use_backend("reference"):
                want = _flat(layer(x, state))
        for a, b in zip(got, want):
            assert_close(a, b)


GRID = list(
    itertools.product(LAYERS, [1, 2], [False, True], ["tbi", "batch_first", "unbatched"], [0, 1])
)


@pytest.mark.parametrize("name,num_layers,bidirectional,layout,T_small", GRID)
@pytest.mark.parametrize("dt", ["f64", "f32"])
def test_fast_path_equals_reference(
    infer_calls, name, num_layers, bidirectional, layout, T_small, dt
):
    dtype = {"f64": torch.float64, "f32": torch.float32}[dt]
    T, B = (2, 6) if T_small else (9, 3)  # T < 4: dot products on W_hh; else its transposed copy
    layer = _layer(
        name, dtype, num_layers=num_layers, bidirectional=bidirectional,
        batch_first=layout == "batch_first",
    )  # fmt: skip
    shape = {"tbi": (T, B, I), "batch_first": (B, T, I), "unbatched": (T, I)}[layout]
    x = torch.randn(shape, dtype=dtype)
    hx = _states(layer, B, dtype, unbatched=layout == "unbatched")
    for state in (None, hx):
        with torch.no_grad():
            got = _flat(layer(x, state))
            with rnnkit.use_backend("reference"):
                want = _flat(layer(x, state))
        if dtype == torch.float32:  # its twin: the native autograd path (the same C++ math;
            # tests/engine/test_native*.py hold that to the reference per layer-direction in
            # float32, where a stack of layer norms over 5 units can amplify rounding to 4e-5)
            want = [t.detach() for t in _flat(layer(x, state))]
        assert infer_calls and infer_calls[-1], "the fast path did not run"
        assert len(got) == len(want)
        for k, (a, b) in enumerate(zip(got, want)):
            assert_close(a, b, f"{name} tensor {k}")


@pytest.mark.parametrize("name", ["gru", "lstm", "rnn", "layernorm_lstm", "lstm_proj"])
def test_streaming_equals_whole_sequence(infer_calls, name):
    """T calls of one step, state carried, give the outputs of one call on all T steps."""
    layer = _layer(name, torch.float64, num_layers=2)
    x = torch.randn(12, 2, I, dtype=torch.float64)
    with torch.no_grad():
        whole, state_whole = layer(x)
        state, ys = None, []
        for t in range(x.shape[0]):
            y, state = layer(x[t : t + 1], state)
            ys.append(y)
    assert all(infer_calls) and len(infer_calls) == 1 + x.shape[0]
    assert_close(torch.cat(ys), whole, "outputs")
    for a, b in zip(_flat((None, state))[1:], _flat((None, state_whole))[1:]):
        assert_close(a, b, "final state")


def test_larger_products_equal_reference(infer_calls):
    """Sizes where the input projection and the step products go to BLAS."""
    torch.manual_seed(0)
    layer = rnnkit.GRU(96, 160, dtype=torch.float64).eval()
    x = torch.randn(6, 40, 96, dtype=torch.float64)
    with torch.no_grad():
        got = _flat(layer(x))
        with rnnkit.use_backend("reference"):
            want = _flat(layer(x))
    assert infer_calls == [True]
    for a, b in zip(got, want):
        assert_close(a, b)


def _declined(layer, x, infer_calls, **kwargs):
    """Runs layer(x) with no grad; true when the fast path was not taken."""
    before = len(infer_calls)
    with torch.no_grad():
        layer(x, **kwargs)
    return len(infer_calls) == before


def test_general_path_where_fast_path_does_not_apply(infer_calls):
    x = torch.randn(5, 3, I)
    lstm = _layer("lstm", torch.float32)
    assert _declined(lstm, x, infer_calls, lengths=torch.tensor([5, 2, 4]))
    assert _declined(lstm, pack_padded_sequence(x, [5, 4, 2]), infer_calls)
    assert _declined(_layer("lstm", torch.float32, zoneout=0.1), x, infer_calls)
    dropped = _layer("gru", torch.float32, num_layers=2, dropout=0.5).train()
    assert _declined(dropped, x, infer_calls)
    assert not _declined(dropped.eval(), x, infer_calls)  # eval: dropout is off
    assert _declined(_layer("gru", torch.float32, recurrent_dropout=0.2).train(), x, infer_calls)
    assert _declined(rnnkit.MinGRU(I, H), x, infer_calls)  # not a native cell
    with rnnkit.use_backend("fused"):
        assert _declined(lstm, x, infer_calls)
    lstm(x)  # grad enabled: the autograd path
    assert len(infer_calls) == 1


def test_malformed_input_gets_the_general_errors(infer_calls):
    """The fast path passes anything unusual on: the general checks then name the problem."""
    gru = _layer("gru", torch.float32)
    with torch.no_grad():
        with pytest.raises(ValueError, match="expected input feature size 7, got 4"):
            gru(torch.randn(5, 3, 4))
        with pytest.raises(ValueError, match="h_0"):
            gru(torch.randn(5, 3, I), torch.zeros(1, 2, H))
        with pytest.raises(TypeError, match="float64"):
            gru(torch.randn(5, 3, I, dtype=torch.float64))
        with pytest.raises(ValueError, match="at least one time step"):
            gru(torch.randn(0, 3, I))
    assert infer_calls == []


@pytest.mark.parametrize(
    "options",
    [{}, {"num_layers": 2, "bidirectional": True}, {"proj_size": 3}, {"bias": False}],
    ids=["plain", "2L-bi", "proj", "nobias"],
)
def test_float32_lstm_from_batch_8_runs_torch_kernel(monkeypatch, options):
    """The engine hands a no-grad float32 LSTM at B >= 8 and H >= TORCH_LSTM_INFER_MIN_HIDDEN
    (lowered here to the test's size) to torch's kernel: same results."""
    monkeypatch.setattr(backends, "TORCH_LSTM_INFER_MIN_HIDDEN", H)
    torch.manual_seed(0)
    layer = rnnkit.LSTM(I, H, **options).eval()
    B = backends.TORCH_LSTM_INFER_MIN_BATCH
    x = torch.randn(6, B, I)
    hx = _states(layer, B, torch.float32)
    _assert_equals_reference(layer, x, (None, hx), "torch")
    with torch.no_grad():  # smaller batches and hidden sizes, and float64, stay on our loop
        layer(x[:, : B - 1])
        assert backends.last_path == "native"
        monkeypatch.setattr(backends, "TORCH_LSTM_INFER_MIN_HIDDEN", H + 1)
        layer(x)
        assert backends.last_path == "native"
        layer.double()(x.double())
        assert backends.last_path == "native"


def test_fast_path_sees_new_and_changed_parameters(infer_calls):
    """The fast path keeps its per-layer weights between calls: an in-place update, a parameter
    replaced on the module, and a dtype conversion must all show in the next call."""
    gru = _layer("gru", torch.float64, num_layers=2)
    x = torch.randn(4, 2, I, dtype=torch.float64)

    def check():
        with torch.no_grad():
            got = _flat(gru(x))
            with rnnkit.use_backend("reference"):
                want = _flat(gru(x))
        for a, b in zip(got, want):
            assert_close(a, b)

    check()
    with torch.no_grad():
        gru.weight_hh_l1.mul_(-1.5)  # in place
    check()
    gru.weight_ih_l0 = torch.nn.Parameter(torch.randn_like(gru.weight_ih_l0))  # replaced
    check()
    gru.float()
    x = x.float()
    with torch.no_grad():
        assert gru(x)[0].dtype == torch.float32
    assert len(infer_calls) == 4 and all(infer_calls)  # one fast call per check, and the last


@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True, "dropout": 0.0}])
def test_float32_lstm_training_at_large_shapes_runs_torch_kernel(monkeypatch, options):
    """With grad, "auto" hands a float32 LSTM to torch's kernel from B·H = TORCH_LSTM_TRAIN_MIN_BH
    (lowered here to the test's size): outputs and gradients as the reference loop; "native"
    and lengths keep our loops."""
    monkeypatch.setattr(backends, "TORCH_LSTM_TRAIN_MIN_BH", 4 * H)
    torch.manual_seed(0)
    layer = rnnkit.LSTM(I, H, batch_first=True, **options)
    x = torch.randn(4, 6, I)

    def run(backend, **kwargs):
        layer.zero_grad()
        with rnnkit.use_backend(backend):
            out = layer(x, **kwargs)
            path = backends.last_path
        flat = _flat(out)
        grads = torch.autograd.grad(sum((t * t).sum() for t in flat), list(layer.parameters()))
        return [t.detach() for t in flat] + list(grads), path

    got, path = run("auto")
    assert path == "torch"
    want, _ = run("reference")
    for a, b in zip(got, want):
        assert_close(a, b)
    assert run("native")[1] == "native"
    assert run("auto", lengths=torch.tensor([6, 3, 5, 2]))[1] == "native"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(LAYERS))
def test_both_directions_at_once_equal_one_after_the_other(monkeypatch, name, threads):
    """A bidirectional stack's two directions on a thread each (where the measured plan picks
    it; forced here) give what running them in turn gives (float64 1e-10), from given states
    or zeros; with one thread they run in turn."""
    from rnnkit.engine import autotune, paths

    layer = _layer(name, torch.float64, num_layers=2, bidirectional=True)
    x = torch.randn(6, 3, I, dtype=torch.float64)
    chosen = []

    def choose(key, trials, default):
        chosen.append(key)
        return "at once"

    monkeypatch.setenv(autotune.ENV, "1")
    monkeypatch.setattr(autotune, "choose", lambda k, t, d: "rnnkit" if "|directions" not in k
                        else choose(k, t, d))  # fmt: skip
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _assert_equals_reference(layer, x, (None, _states(layer, 3, torch.float64)), "native")
    finally:
        torch.set_num_threads(previous)
    assert bool(chosen) == (threads == 2) and all(k.endswith("|directions") for k in chosen)
    assert paths.NativeStack.__name__ == "NativeStack"

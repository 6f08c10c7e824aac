"""Cells beyond torch.nn: fused engine == reference loop over the layer options; each cell's
math against an independent formula; IndRNN against torch.nn.RNN with a diagonal W_hh."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from helpers import assert_close, weighted_sum

T, B, I, H = 5, 3, 4, 6
CLASSES = {
    "layernorm_lstm": rnnkit.LayerNormLSTM,
    "layernorm_gru": rnnkit.LayerNormGRU,
    "peephole_lstm": rnnkit.PeepholeLSTM,
    "indrnn": rnnkit.IndRNN,
}
MODES = ["padded", "lengths", "packed", "unbatched"]
GRID = list(itertools.product(CLASSES, [1, 2], [False, True], [True, False], MODES, ["f64", "f32"]))


def _run(layer, mode, x, states):
    lengths = torch.tensor([2, 5, 4])
    hx = None if not states else (tuple(states) if len(states) == 2 else states[0])
    if mode == "lengths":
        return layer(x, hx, lengths=lengths)
    if mode == "packed":
        out, state = layer(pack_padded_sequence(x, lengths, enforce_sorted=False), hx)
        return out.data, state
    return layer(x, hx)


@pytest.mark.parametrize("name,num_layers,bidirectional,bias,mode,dt", GRID)
def test_fused_equals_reference(name, num_layers, bidirectional, bias, mode, dt):
    dtype = {"f64": torch.float64, "f32": torch.float32}[dt]
    torch.manual_seed(0)
    layer = CLASSES[name](
        I, H, num_layers=num_layers, bidirectional=bidirectional, bias=bias, dtype=dtype
    )
    with torch.no_grad():  # move the layer-norm gains / biases off their (1, 0) init
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    LD = num_layers * (2 if bidirectional else 1)
    n_states = 2 if "lstm" in name else 1
    x = torch.randn((T, I) if mode == "unbatched" else (T, B, I), dtype=dtype)
    state_shape = (LD, H) if mode == "unbatched" else (LD, B, H)
    states = [torch.randn(state_shape, dtype=dtype) for _ in range(n_states)]
    results = []
    for backend in ("reference", "fused"):
        xi = x.clone().requires_grad_(True)
        si = [s.clone().requires_grad_(True) for s in states]
        with rnnkit.use_backend(backend):
            out, state = _run(layer, mode, xi, si)
        finals = list(state) if isinstance(state, tuple) else [state]
        grads = torch.autograd.grad(weighted_sum([out, *finals]), [xi, *si, *layer.parameters()])
        results.append([out, *finals, *grads])
    for a, b in zip(results[1], results[0], strict=True):
        assert_close(a, b, f"{name} fused vs reference")


@pytest.mark.parametrize("name", CLASSES)
def test_layer_gradcheck(name):
    torch.manual_seed(0)
    layer = CLASSES[name](3, 4, bidirectional=True, dtype=torch.float64)
    params = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]
    names = [n for n, _ in layer.named_parameters()]
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)

    def f(x, *ps):
        out, state = torch.func.functional_call(layer, dict(zip(names, ps)), (x,), {})
        return (out, *(state if isinstance(state, tuple) else (state,)))

    assert torch.autograd.gradcheck(f, (x, *params), atol=1e-7)


def _ln(v, w, b):
    return F.layer_norm(v, (v.shape[-1],), w, b, 1e-5)


def test_layernorm_lstm_matches_its_formula():
    torch.manual_seed(1)
    layer = rnnkit.LayerNormLSTM(I, H, dtype=torch.float64)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(T, B, I, dtype=torch.float64)
    h = c = torch.zeros(B, H, dtype=torch.float64)
    L = layer
    outs = []
    for t in range(T):
        pre = _ln(x[t] @ L.weight_ih_l0.T, L.ln_ih_weight_l0, L.ln_ih_bias_l0)
        pre = pre + _ln(h @ L.weight_hh_l0.T, L.ln_hh_weight_l0, None)
        i, f, g, o = pre.chunk(4, 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * _ln(c, L.ln_cell_weight_l0, L.ln_cell_bias_l0).tanh()
        outs.append(h)
    out, (_, c_n) = layer(x)
    assert_close(out, torch.stack(outs), "LayerNormLSTM output")
    assert_close(c_n[0], c, "LayerNormLSTM c_n")


def test_layernorm_gru_matches_its_formula():
    torch.manual_seed(2)
    layer = rnnkit.LayerNormGRU(I, H, dtype=torch.float64)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(T, B, I, dtype=torch.float64)
    h = torch.zeros(B, H, dtype=torch.float64)
    L = layer
    for t in range(T):
        a = _ln(x[t] @ L.weight_ih_l0.T, L.ln_ih_weight_l0, L.ln_ih_bias_l0)
        b = _ln(h @ L.weight_hh_l0.T, L.ln_hh_weight_l0, L.ln_hh_bias_l0)
        r = (a[:, :H] + b[:, :H]).sigmoid()
        z = (a[:, H : 2 * H] + b[:, H : 2 * H]).sigmoid()
        n = (a[:, 2 * H :] + r * b[:, 2 * H :]).tanh()
        h = (1 - z) * n + z * h
    _, h_n = layer(x)
    assert_close(h_n[0], h, "LayerNormGRU h_n")


def test_peephole_lstm_matches_its_formula():
    torch.manual_seed(3)
    layer = rnnkit.PeepholeLSTM(I, H, dtype=torch.float64)
    x = torch.randn(T, B, I, dtype=torch.float64)
    h = c = torch.zeros(B, H, dtype=torch.float64)
    L = layer
    p_i, p_f, p_o = L.peephole_weight_l0.chunk(3)
    for t in range(T):
        pre = x[t] @ L.weight_ih_l0.T + L.bias_ih_l0 + h @ L.weight_hh_l0.T + L.bias_hh_l0
        i, f, g, o = pre.chunk(4, 1)
        i, f = (i + p_i * c).sigmoid(), (f + p_f * c).sigmoid()
        c = f * c + i * g.tanh()
        h = (o + p_o * c).sigmoid() * c.tanh()
    _, (h_n, c_n) = layer(x)
    assert_close(h_n[0], h, "PeepholeLSTM h_n")
    assert_close(c_n[0], c, "PeepholeLSTM c_n")


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_indrnn_equals_torch_rnn_with_diagonal_recurrence(nonlinearity):
    ours = rnnkit.IndRNN(I, H, num_layers=2, nonlinearity=nonlinearity, dtype=torch.float64)
    ref = torch.nn.RNN(I, H, num_layers=2, nonlinearity=nonlinearity, dtype=torch.float64)
    state = {
        k: (torch.diag(v) if k.startswith("weight_hh") else v) for k, v in ours.state_dict().items()
    }
    ref.load_state_dict(state)
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    (y_o, h_o), (y_r, h_r) = ours(x), ref(x)
    assert_close(y_o, y_r, "IndRNN output")
    g_o = torch.autograd.grad(weighted_sum([y_o, h_o]), [x, ours.weight_hh_l1])
    g_r = torch.autograd.grad(weighted_sum([y_r, h_r]), [x, ref.weight_hh_l1])
    assert_close(g_o[0], g_r[0], "IndRNN input grad")
    assert_close(g_o[1], torch.diagonal(g_r[1]), "IndRNN w_hh grad = diagonal of torch's")


def test_indrnn_recurrent_max_clips_the_recurrence():
    layer = rnnkit.IndRNN(2, 3, recurrent_max=0.5, dtype=torch.float64)
    with torch.no_grad():
        layer.weight_hh_l0.copy_(torch.tensor([2.0, -3.0, 0.25]))
    ref = rnnkit.IndRNN(2, 3, dtype=torch.float64)
    ref.load_state_dict(layer.state_dict())
    with torch.no_grad():
        ref.weight_hh_l0.copy_(torch.tensor([0.5, -0.5, 0.25]))
    x = torch.randn(6, 1, 2, dtype=torch.float64)
    assert_close(layer(x)[0], ref(x)[0], "clipped recurrence")
    layer(x)[0].sum().backward()
    assert layer.weight_hh_l0.grad[:2].abs().max() == 0  # clipped entries get no gradient


def test_forget_bias_and_recurrent_init_options():
    lstm = rnnkit.LSTM(3, 4, forget_bias=1.0, recurrent_init="orthogonal")
    assert torch.equal(lstm.bias_ih_l0[4:8], torch.ones(4))
    assert torch.equal(lstm.bias_hh_l0[4:8], torch.zeros(4))
    for block in lstm.weight_hh_l0.split(4):
        assert torch.allclose(block @ block.T, torch.eye(4), atol=1e-5)
    rnn = rnnkit.RNN(3, 4, recurrent_init="identity")
    assert torch.equal(rnn.weight_hh_l0, torch.eye(4))
    ln = rnnkit.LayerNormLSTM(3, 4)
    assert torch.equal(ln.ln_ih_bias_l0[4:8], torch.ones(4))  # default forget_bias=1.0
    assert torch.equal(rnnkit.PeepholeLSTM(3, 4).bias_ih_l0[4:8], torch.ones(4))


@pytest.mark.parametrize("cls", [rnnkit.LSTM, rnnkit.LayerNormLSTM, rnnkit.PeepholeLSTM])
def test_chrono_init_sets_forget_and_input_gate_biases(cls):
    """Tallec & Ollivier 2018: b_f ~ log U(1, T_max - 1), b_i = -b_f (in the summed biases)."""
    H, T_max = 200, 50
    torch.manual_seed(0)
    layer = cls(3, H, num_layers=2, bidirectional=True, chrono_init=T_max)
    for k in range(4):
        suffix = f"_l{k // 2}" + ("_reverse" if k % 2 else "")
        if cls is rnnkit.LayerNormLSTM:
            b = getattr(layer, "ln_ih_bias" + suffix)
        else:
            b = getattr(layer, "bias_ih" + suffix) + getattr(layer, "bias_hh" + suffix)
        b_i, b_f = b[:H].detach(), b[H : 2 * H].detach()
        assert b_f.min() >= 0.0 and b_f.max() <= math.log(T_max - 1)
        assert b_f.max() - b_f.min() > 2.0  # spread over the log-uniform range, not constant
        assert torch.equal(b_i, -b_f)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: rnnkit.LSTM(3, 4, chrono_init=2), "chrono_init \\(T_max\\) >= 3, got 2"),
        (lambda: rnnkit.LSTM(3, 4, chrono_init=9, forget_bias=1.0), "pass one of them"),
        (lambda: rnnkit.LSTM(3, 4, chrono_init=9, bias=False), "no gate biases"),
        (lambda: rnnkit.GRU(3, 4, chrono_init=9), "no forget gate; expected chrono_init=None"),
        (lambda: rnnkit.LSTM(3, 4, chrono_init=9.5), "chrono_init to be an int"),
        (lambda: rnnkit.RNN(3, 4, recurrent_init="xavier"), "recurrent_init in uniform, ortho"),
        (lambda: rnnkit.IndRNN(3, 4, recurrent_init="orthogonal"), "in uniform, identity, got"),
        (lambda: rnnkit.IndRNN(3, 4, nonlinearity="gelu"), "'relu' or 'tanh', got 'gelu'"),
        (lambda: rnnkit.IndRNN(3, 4, recurrent_max=0), "recurrent_max > 0 or None, got 0"),
        (lambda: rnnkit.LayerNormGRU(3, 4, proj_size=2), None),
    ],
)
def test_bad_options(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_forget_bias_on_a_cell_without_forget_gate():
    from rnnkit.cells import GRU

    with pytest.raises(ValueError, match="no forget gate; expected forget_bias=None, got 1.0"):
        rnnkit.Recurrent(GRU, 3, 4, forget_bias=1.0)

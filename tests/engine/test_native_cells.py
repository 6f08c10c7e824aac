"""The native (C++) scan for the cells torch.nn lacks: LayerNormLSTM, LayerNormGRU, PeepholeLSTM and
IndRNN agree with the reference backend, cell parameters included; dispatch takes them native.

Run: python -m pytest tests/engine/test_native_cells.py -q
The first run compiles the extension (about a minute); skipped only when no C++ compiler exists.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from helpers import assert_close
from rnnkit import cells
from rnnkit.engine import backends, time_layout
from rnnkit.engine.native import compiler_available, native_cells, native_scan
from rnnkit.engine.reference import reference_scan
from rnnkit.engine.weights import LayerWeights

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

CELLS = {
    "layernorm_lstm": cells.LAYERNORM_LSTM,
    "layernorm_gru": cells.LAYERNORM_GRU,
    "peephole_lstm": cells.PEEPHOLE_LSTM,
    "indrnn_relu": cells.INDRNN_RELU,
    "indrnn_tanh": cells.INDRNN_TANH,
}


def _problem(cell, batch_sizes, bias, dtype, I=5, H=6):
    """Random packed input, weights, initial states and cell parameters, all requiring grad.

    Layer-norm gains are drawn around 1, everything else around 0; a bias-like cell parameter
    (``ParamSpec.is_bias``) is None without ``bias``, as in a layer built with bias=False.
    """
    gen = torch.Generator().manual_seed(0)
    lay, G = time_layout(batch_sizes), cell.gates * H

    def rand(*shape, center=0.0):
        t = torch.randn(*shape, generator=gen, dtype=torch.float64) * 0.5 + center
        return t.to(dtype).requires_grad_()

    with_biases = bias and cell.weight_biases
    w = LayerWeights(
        rand(G, I), rand(G) if cell.diagonal_hidden else rand(G, H),
        rand(G) if with_biases else None, rand(G) if with_biases else None,
    )  # fmt: skip
    params = tuple(
        None
        if spec.is_bias and not bias
        else rand(spec.size * H, center=1.0 if spec.init == "ones" else 0.0)
        for spec in cell.params
    )
    x, h0 = rand(lay.N, I), rand(lay.B, H)
    extra0 = (rand(lay.B, H),) if cell.extra_states else ()
    return lay, x, w, h0, extra0, params


def _run(scan_fn, cell, lay, reverse, x, w, h0, extra0, params):
    """Outputs, and the grads of a random linear loss wrt every input, weight, state, parameter."""
    y, h_n, extra_n = scan_fn(cell, lay, reverse, x, w, h0, extra0, params)
    outs = (y, h_n, *extra_n)
    gen = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outs)
    inputs = [x, h0, *extra0, *(t for t in (*w, *params) if t is not None)]
    return [o.detach() for o in outs] + list(torch.autograd.grad(loss, inputs))


def _assert_native_matches_reference(cell, problem, reverse):
    lay, *rest = problem
    got = _run(native_scan, cell, lay, reverse, *rest)
    want = _run(reference_scan, cell, lay, reverse, *rest)
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want)):
        assert_close(a, b, f"tensor {k}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize(
    "batch_sizes", [(5, 5, 5), (6, 4, 3, 1), (1, 1, 1)], ids=["uniform", "shrinking", "batch1"]
)
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("name", list(CELLS))
def test_native_cell_matches_reference(name, reverse, batch_sizes, bias, dtype):
    cell = CELLS[name]
    _assert_native_matches_reference(cell, _problem(cell, batch_sizes, bias, dtype), reverse)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(CELLS))
def test_native_cell_matches_reference_wide_hidden(name, dtype):
    """H = 37: full vector blocks and a partial tail in every kernel and every row reduction."""
    cell = CELLS[name]
    problem = _problem(cell, (3, 2, 1), True, dtype, I=7, H=37)
    _assert_native_matches_reference(cell, problem, False)


@pytest.mark.parametrize("name", [n for n in CELLS if not CELLS[n].diagonal_hidden])
def test_native_cell_matches_reference_with_blas_sized_steps(name):
    """Steps of 64 rows go to BLAS (n·G·H >= 2^21), the later 40- and 3-row steps do not."""
    cell = CELLS[name]
    problem = _problem(cell, (64, 40, 3), True, torch.float64, I=8, H=128)
    for reverse in (False, True):
        _assert_native_matches_reference(cell, problem, reverse)


def test_native_grads_only_for_what_needs_them():
    """Frozen weights and a frozen input-side layer norm: the other grads are still right."""
    cell = cells.LAYERNORM_LSTM
    lay, x, w, h0, extra0, params = _problem(cell, (3, 2), True, torch.float64)
    w = LayerWeights(*(None if t is None else t.detach() for t in w))
    params = (params[0].detach(), params[1].detach(), *params[2:])
    wrt = [h0, params[2], params[4]]
    grads = []
    for scan_fn in (native_scan, reference_scan):
        y, _, _ = scan_fn(cell, lay, False, x.detach(), w, h0, extra0, params)
        grads.append(torch.autograd.grad(y.sum(), wrt))
    for a, b in zip(*grads, strict=True):
        assert_close(a, b, "grad")


LAYERS = {
    "LayerNormLSTM": (rnnkit.LayerNormLSTM, {}),
    "LayerNormGRU": (rnnkit.LayerNormGRU, {"bias": False}),
    "PeepholeLSTM": (rnnkit.PeepholeLSTM, {}),
    "IndRNN": (rnnkit.IndRNN, {"nonlinearity": "tanh", "recurrent_max": 0.9}),
}


@pytest.mark.parametrize("packed", [False, True], ids=["lengths", "packed"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_native_layer_matches_reference_bidirectional_two_layers(name, packed):
    cls, options = LAYERS[name]
    torch.manual_seed(0)
    layer = cls(4, 5, num_layers=2, bidirectional=True, dtype=torch.float64, **options)
    with torch.no_grad():  # move the layer-norm gains and zero biases off their init values
        for p in layer.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x = torch.randn(6, 3, 4, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 2, 4])
    results = []
    for backend in ("native", "reference"):
        with rnnkit.use_backend(backend):
            if packed:
                out, state = layer(pack_padded_sequence(x, lengths, enforce_sorted=False))
                out = out.data
            else:
                out, state = layer(x, lengths=lengths)
        assert backends.last_path == backend
        states = state if isinstance(state, tuple) else (state,)
        loss = out.pow(2).sum() + sum(s.pow(3).sum() for s in states)
        grads = torch.autograd.grad(loss, [x, *layer.parameters()])
        results.append([out.detach(), *(s.detach() for s in states), *grads])
    for k, (a, b) in enumerate(zip(*results, strict=True)):
        assert_close(a, b, f"tensor {k}")


def test_auto_takes_native_for_the_new_cells_and_a_compilable_user_cell(monkeypatch):
    monkeypatch.delenv("RNNKIT_NATIVE", raising=False)
    assert {"layernorm_lstm", "layernorm_gru", "peephole_lstm", "indrnn"} <= set(native_cells())
    x = torch.randn(3, 2, 4)
    with rnnkit.use_backend("auto"):
        for cls, options in LAYERS.values():
            cls(4, 5, **options)(x)[0].sum().backward()
            assert backends.last_path == "native", cls.__name__
        user = rnnkit.define_cell("my_rnn", 1, lambda gx, gh, h, e, p: (torch.tanh(gx), (), ()))
        rnnkit.Recurrent(user, 4, 5)(x)
        assert backends.last_path == "native"  # compiled from its step (compiled.py)


@pytest.mark.parametrize("options", [{"zoneout": 0.2}, {"recurrent_dropout": 0.3}])
def test_native_declines_zoneout_and_recurrent_dropout_and_auto_falls_back(options, monkeypatch):
    monkeypatch.delenv("RNNKIT_NATIVE", raising=False)
    layer, x = rnnkit.LayerNormLSTM(4, 5, **options), torch.randn(3, 2, 4)
    torch.manual_seed(0)
    with rnnkit.use_backend("auto"):
        out_auto = layer(x)[0]
        assert backends.last_path == "fused"
    torch.manual_seed(0)
    with rnnkit.use_backend("fused"):
        assert torch.equal(layer(x)[0], out_auto)
    with rnnkit.use_backend("native"), pytest.raises(NotImplementedError, match="zoneout"):
        layer(x)
    layer.eval()  # recurrent dropout is off in eval mode, and native runs again
    with rnnkit.use_backend("auto"):
        layer(x)
        assert backends.last_path == ("fused" if "zoneout" in options else "native")


def test_the_native_code_refuses_a_description_its_kernel_cannot_run():
    from rnnkit.engine.native import load

    ext = load()
    ok = ext.Cell(kernel=1, gates=4, has_c=True, split=False, diagonal=False, relu=False,
                  param_units=[], param_optional=[])  # fmt: skip
    assert ok is not None
    with pytest.raises(RuntimeError, match="kernel 1 runs cells of 4 gates"):
        ext.Cell(kernel=1, gates=3, has_c=True, split=False, diagonal=False, relu=False,
                 param_units=[], param_optional=[])  # fmt: skip

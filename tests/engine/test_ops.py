"""The native sweeps as torch.library operators (engine/native/ops.py): torch.library.opcheck
(schema, fake kernel, autograd registration, AOT dispatch with dynamic shapes) for every cell
with a native kernel, and the operator path equal to the eager path (float64, 1e-10)."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import TOL, max_rel_err
from rnnkit.engine import autotune, precision
from rnnkit.engine.native import _SPECS, compiler_available, ops

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

LAYERS = {
    "rnn": lambda **kw: rnnkit.RNN(4, 6, **kw),
    "rnn_relu": lambda **kw: rnnkit.RNN(4, 6, nonlinearity="relu", **kw),
    "lstm": lambda **kw: rnnkit.LSTM(4, 6, **kw),
    "lstm_proj": lambda **kw: rnnkit.LSTM(4, 6, proj_size=3, **kw),
    "gru": lambda **kw: rnnkit.GRU(4, 6, **kw),
    "layernorm_lstm": lambda **kw: rnnkit.LayerNormLSTM(4, 6, **kw),
    "layernorm_gru": lambda **kw: rnnkit.LayerNormGRU(4, 6, **kw),
    "peephole_lstm": lambda **kw: rnnkit.PeepholeLSTM(4, 6, **kw),
    "indrnn": lambda **kw: rnnkit.IndRNN(4, 6, **kw),
}
T, B = 5, 3


def _forward_args(layer, reverse: bool, grad: bool):
    """Arguments of rnnkit::forward_sweep for layer-direction 0 of ``layer`` (float64)."""
    cell, spec = layer.cell, _SPECS[layer.cell]
    w, params = layer.layer_weights(0)
    H, P = layer.hidden_size, layer.proj_size or layer.hidden_size

    def leaf(t):
        return None if t is None else t.detach().clone().requires_grad_(grad)

    gx = leaf(torch.randn(T * B, cell.gates * H, dtype=torch.float64))
    h0 = leaf(torch.randn(B, P, dtype=torch.float64))
    c0 = leaf(torch.randn(B, H, dtype=torch.float64)) if cell.extra_states else None
    b_hh = None if spec.fold_b_hh else leaf(w.b_hh)
    step = [leaf(params[k]) for k in spec.step_params]  # an absent optional one: empty
    step = [torch.empty(0, dtype=torch.float64) if p is None else p for p in step]
    batch_sizes = torch.full((T,), B, dtype=torch.int64)
    return (cell.name, gx, leaf(w.W_hh), b_hh, leaf(w.W_hr), h0, c0, step, batch_sizes, reverse,
            False)  # fmt: skip


@pytest.mark.parametrize(("reverse", "bias"), [(False, True), (True, False)])
@pytest.mark.parametrize("name", list(LAYERS))
def test_forward_and_backward_operators_pass_opcheck(name, reverse, bias):
    torch.manual_seed(0)
    layer = LAYERS[name](bias=bias).double()
    args = _forward_args(layer, reverse, grad=True)
    torch.library.opcheck(ops.forward_sweep, args)
    with torch.no_grad():
        y, h_n, c_n, act, S, _, aux = ops.forward_sweep(*args)
    cell, _, W_hh, _, W_hr, h0, c0, step, batch_sizes, _, _ = (
        t.detach() if isinstance(t, torch.Tensor) else t for t in args
    )
    c0 = None if c0 is None else c0.detach()
    dc_n = torch.randn_like(c_n) if c0 is not None else None
    backward_args = (
        cell, act, S, aux, y, h0, c0, W_hh, W_hr, [p.detach() for p in step],
        torch.randn_like(y), torch.randn_like(h_n), dc_n, batch_sizes, reverse, False,
    )  # fmt: skip
    torch.library.opcheck(ops.backward_sweep, backward_args)
    if not layer.cell.name.startswith("layernorm"):  # the projection inside the operator
        w, _ = layer.layer_weights(0)
        x = torch.randn(T * B, 4, dtype=torch.float64, requires_grad=True)
        W_ih = w.W_ih.detach().clone().requires_grad_(True)
        b_in = None if w.b_ih is None else w.b_ih.detach().clone().requires_grad_(True)
        torch.library.opcheck(ops.projected_sweep, (cell, x, W_ih, b_in, *args[2:]))


@pytest.mark.parametrize("name", list(LAYERS))
def test_operator_scan_equals_the_eager_native_scan(name):
    """Outputs, final states and every gradient (input, initial states, parameters)."""
    torch.manual_seed(0)
    layer = LAYERS[name](bidirectional=True).double()
    x = torch.randn(T, B, 4, dtype=torch.float64, requires_grad=True)
    shapes = [(2, B, w) for w in layer.stack_spec().state_widths]
    states = [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    hx = states[0] if len(states) == 1 else tuple(states)
    y_ref, st_ref = layer(x, hx)
    st_ref = list(st_ref) if isinstance(st_ref, tuple) else [st_ref]
    batch_sizes = torch.full((T,), B, dtype=torch.int64)
    outs, ends = [], [[] for _ in states]
    for k in range(2):  # the two directions of the one layer
        w, params = layer.layer_weights(k)
        c0 = states[1][k] if len(states) > 1 else None
        y, h_n, c_n = ops.op_scan(
            layer.cell, x.reshape(T * B, 4), tuple(w), params, states[0][k], c0, batch_sizes,
            k == 1,
        )  # fmt: skip
        outs.append(y)
        for bucket, end in zip(ends, (h_n, c_n)):
            bucket.append(end)
    got = [torch.cat(outs, 1).view(T, B, -1), *(torch.stack(e) for e in ends)]
    want = [y_ref, *st_ref]
    inputs = [x, *states, *layer.parameters()]
    grads = torch.autograd.grad(sum((g * g).sum() for g in got), inputs)
    grads_ref = torch.autograd.grad(sum((w * w).sum() for w in want), inputs)
    for a, b in zip([*got, *grads], [*want, *grads_ref]):
        assert max_rel_err(a, b) <= TOL[torch.float64]


@pytest.mark.parametrize(("name", "reverse"), [("lstm_proj", True), ("gru", False)])
def test_operators_run_the_packed_rows_of_a_padded_batch_and_zero_the_padding(name, reverse):
    """batch_sizes ending in zeros and T·B rows (the padding's after the packed ones), as the
    traced path passes a padded batch with lengths: the packed rows' results are those of the
    packed batch alone, the padding's rows are zeros, and opcheck passes."""
    torch.manual_seed(0)
    layer = LAYERS[name]().double()
    args = list(_forward_args(layer, reverse, grad=True))
    args[8] = torch.tensor([3, 3, 2, 1, 0])  # lengths 4, 3, 2: n = 9 packed rows of T·B = 15
    torch.library.opcheck(ops.forward_sweep, tuple(args))
    out = ops.forward_sweep(*args)
    alone = list(args)
    alone[1], alone[8] = args[1][:9], torch.tensor([3, 3, 2, 1])
    want = ops.forward_sweep(*alone)
    for got, ref in zip(out, want):
        if ref.numel() == 0:  # what the cell does not have
            assert got.numel() == 0
        elif got.shape[0] == T * B and ref.shape[0] == 9:  # per-row: the padding's rows zero
            assert max_rel_err(got[:9], ref) <= TOL[torch.float64] and not got[9:].any()
        else:
            assert max_rel_err(got, ref) <= TOL[torch.float64]
    grads = torch.autograd.grad(out[0].sum() + out[1].sum(), [args[1], args[5]])
    grads_alone = torch.autograd.grad(want[0].sum() + want[1].sum(), [alone[1], args[5]])
    assert not grads[0][9:].any()
    assert max_rel_err(grads[0][:9], grads_alone[0][:9]) <= TOL[torch.float64]
    assert max_rel_err(grads[1], grads_alone[1]) <= TOL[torch.float64]


@pytest.mark.parametrize("name", ["gru", "lstm_proj"])
def test_operators_under_autocasts_lowering_pass_opcheck_and_equal_the_eager_scan(name):
    """bf16=True (autocast's lowering, carried by the traced call): the float32 operators pass
    opcheck and give what the eager native scan gives with its GEMMs lowered (forced on any
    CPU), gradients to float32 summation order; where the CPU has bfloat16 step products,
    not the results of float32 ones."""
    torch.manual_seed(0)
    layer = LAYERS[name]()
    x = torch.randn(T, B, 4, requires_grad=True)
    w, params = layer.layer_weights(0)
    spec = _SPECS[layer.cell]
    in_bias = w.b_ih + w.b_hh if spec.fold_b_hh else w.b_ih
    b_hh = None if spec.fold_b_hh else w.b_hh
    h0 = torch.zeros(B, layer.proj_size or layer.hidden_size)
    c0 = torch.zeros(B, layer.hidden_size) if layer.cell.extra_states else None
    args = (
        layer.cell.name,
        x.detach().reshape(T * B, 4).requires_grad_(True),
        w.W_ih,
        in_bias,
        w.W_hh,
        b_hh,
        w.W_hr,
        h0,
        c0,
        [torch.empty(0)],
        torch.full((T,), B),
        False,
        True,
    )
    torch.library.opcheck(ops.projected_sweep, args)

    def run(lowered: bool):
        y, h_n, _ = ops.op_scan(layer.cell, x.reshape(T * B, 4), tuple(w), params, h0, c0,
                                  torch.full((T,), B), False, lowered)  # fmt: skip
        grads = torch.autograd.grad((y * y).sum(), [x, *layer.parameters()])
        return [y, h_n, *grads]

    with precision.lowered_gemms(torch.bfloat16), rnnkit.use_backend("native"):
        y_ref = layer(x)[0].reshape(T * B, -1)  # the eager scan as autocast runs it
    want = [y_ref, *torch.autograd.grad((y_ref**2).sum(), [x, *layer.parameters()])]
    got = run(True)
    assert max_rel_err(got[0], want[0]) <= 1e-6
    for a, b in zip(got[2:], want[1:]):
        assert max_rel_err(a, b) <= 1e-5
    if autotune.native_bf16():
        assert max_rel_err(run(False)[0], got[0]) > 1e-4

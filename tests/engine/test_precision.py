"""bfloat16 GEMMs under autocast (engine/precision.py): the products over all T·B rows in
bfloat16, the recurrence in float32. Forced here on any CPU (bfloat16 matmul runs everywhere,
natively or not), every native training path: hand-written cells, layer-norm input, IndRNN's
diagonal recurrence, cells compiled from their step; within bfloat16 rounding of float32."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import cifg_step, max_rel_err, weighted_sum
from rnnkit.engine import autotune, backends, precision
from rnnkit.engine.native import compiler_available, load

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")


CIFG = rnnkit.define_cell("t_precision_cifg", 3, cifg_step, extra_states=1)
LAYERS = {
    "gru": lambda: rnnkit.GRU(5, 8, num_layers=2, bidirectional=True),
    "lstm_proj": lambda: rnnkit.LSTM(5, 8, proj_size=4),
    "layernorm_lstm": lambda: rnnkit.LayerNormLSTM(5, 8),
    "indrnn_tanh": lambda: rnnkit.IndRNN(5, 8, nonlinearity="tanh"),  # ReLU units flip
    "compiled_cifg": lambda: rnnkit.Recurrent(CIFG, 5, 8),
}


def _run(layer, x, gemm):
    xi = x.clone().requires_grad_(True)
    with precision.lowered_gemms(gemm):
        out, state = layer(xi)
        path = backends.last_path
    states = list(state) if isinstance(state, tuple) else [state]
    grads = torch.autograd.grad(weighted_sum([out, *states]), [xi, *layer.parameters()])
    return path, [out, *states, *grads]


@pytest.mark.parametrize("name", list(LAYERS))
def test_bfloat16_gemms_stay_within_rounding_of_float32(name):
    torch.manual_seed(0)
    layer = LAYERS[name]()
    x = torch.randn(9, 4, 5)
    path32, want = _run(layer, x, None)
    path16, got = _run(layer, x, torch.bfloat16)
    assert path32 == path16 == "native"
    assert any(not torch.equal(a, b) for a, b in zip(got, want)), "no product ran in bfloat16"
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == torch.float32
        assert (a - b).norm() <= 2e-2 * b.norm()


def test_only_bfloat16_autocast_on_a_cpu_with_it_lowers():
    native = autotune.native_bf16()
    assert precision.lowers_to("cpu", torch.bfloat16) == (torch.bfloat16 if native else None)
    assert precision.lowers_to("cpu", torch.float16) is None
    assert precision.lowers_to("cuda", torch.bfloat16) is None


def test_gemm_dtype_is_scoped_to_the_block():
    assert precision.gemm_dtype() is None
    with precision.lowered_gemms(torch.bfloat16):
        assert precision.gemm_dtype() is torch.bfloat16
    assert precision.gemm_dtype() is None


def _bf16(t: torch.Tensor) -> torch.Tensor:
    """t rounded to bfloat16 (to nearest even), in float64."""
    return t.to(torch.bfloat16).double()


@pytest.mark.skipif(not autotune.native_bf16(), reason="the CPU has no native bfloat16")
@pytest.mark.parametrize("split", [0, 1, 2])  # alone, a units team, a row team
@pytest.mark.parametrize(("H", "B"), [(17, 3), (40, 7), (64, 13)])  # odd K, partial vectors
def test_bfloat16_step_products_equal_a_loop_of_rounded_operands(H, B, split, forced_team):
    """Under autocast the per-step products h·W_hhᵀ and dG·W_hh run in bfloat16 with float32
    sums (csrc/bf16.h): an Elman sweep equals a float64 loop whose operands are rounded to
    bfloat16 each step, forward and backward, to float32 summation."""
    from rnnkit.engine.native import ops

    torch.manual_seed(0)
    ext, cell = ops._native(rnnkit.RNN(4, H).cell.name)
    T = 6
    gx, W, h0 = torch.randn(T * B, H), torch.randn(H, H) / H**0.5, torch.randn(B, H)
    dy, dh_n = torch.randn(T * B, H), torch.randn(B, H)
    sizes = [B] * T
    if split:
        forced_team(2, split)
    if not ext.set_bf16_products(True):
        pytest.skip("the CPU has AMX but no AVX512-BF16")
    try:
        y, *_ = ext.forward_sweep(cell, gx.clone(), W, None, None, h0, None, [], sizes, False)
        args = (cell, None, None, None, None, y, h0, None, W, None, [], dy, dh_n, None, sizes)
        plain = ext.backward_sweep(*args, False, False)
        kept = ext.backward_sweep(*args, False, True)
    finally:
        ext.set_bf16_products(False)
    dG = plain[0]
    if H % 2:  # G odd: no whole bfloat16 pairs per row; the caller casts dG itself
        assert kept[7] is None and kept[9] is None and torch.equal(kept[0], dG)
    else:  # kept for the weight gradients: dG rounded, its rows summed per batch slot (float32
        # dG then one step's scratch, not returned)
        assert plain[7] is None and kept[0] is None
        assert kept[7].dtype == torch.bfloat16 and torch.equal(kept[7], dG.to(torch.bfloat16))
        assert max_rel_err(kept[9], dG.double().view(T, B, H).sum(0)) <= 1e-6
    assert torch.equal(kept[2], plain[2]) and torch.equal(kept[4], plain[4])  # H_prev, dh_0
    # each step from the sweep's own float32 state (so both round the same values to bfloat16)
    ys, dGs = y.double().split(B), dG.double().split(B)
    prev = [h0.double(), *ys[:-1]]
    want_y = [
        torch.tanh(gx[t * B : (t + 1) * B].double() + _bf16(prev[t]) @ _bf16(W).t())
        for t in range(T)
    ]  # h_t = tanh(gx_t + bf16(h_{t-1})·bf16(W)ᵀ)
    nxt = [*(_bf16(d) @ _bf16(W) for d in dGs[1:]), dh_n.double()]
    want_dG = [
        (dy[t * B : (t + 1) * B].double() + nxt[t]) * (1 - ys[t] ** 2) for t in range(T)
    ]  # dG_t = (dy_t + bf16(dG_{t+1})·bf16(W)) ⊙ (1 - h_t²)
    assert max_rel_err(y, torch.cat(want_y)) <= 1e-5
    assert max_rel_err(dG, torch.cat(want_dG)) <= 1e-5
    plain = ext.forward_sweep(cell, gx.clone(), W, None, None, h0, None, [], sizes, False)[0]
    assert (plain - y).abs().max() > 1e-4, "the products did not run in bfloat16"


def test_native_bfloat16_needs_the_cpu_flags_where_they_are_known(monkeypatch):
    """oneDNN calls an AVX-512 CPU without AVX512-BF16 / AMX bfloat16-capable (it converts,
    slower than float32): rnnkit keeps float32 GEMMs there."""
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    monkeypatch.setattr(autotune.platform, "machine", lambda: "x86_64")
    for flags, native in [
        (["avx2", "avx512f", "avx512bw"], False),
        (["avx512f", "avx512_bf16"], True),
        (["amx_tile", "amx_bf16"], True),
        ([], True),  # flags unknown (no /proc/cpuinfo): oneDNN's word
    ]:
        monkeypatch.setattr(autotune, "_cpu", lambda flags=flags: ("cpu", flags))
        monkeypatch.setattr(autotune, "_bf16", None)
        assert autotune.native_bf16() is native
        assert precision.lowers_to("cpu", torch.bfloat16) == (torch.bfloat16 if native else None)
    monkeypatch.setattr(autotune, "_bf16", None)


KEPT = {
    "gru": (lambda: rnnkit.GRU(6, 48, num_layers=2, bidirectional=True), None),
    "lstm_proj": (lambda: rnnkit.LSTM(6, 48, proj_size=20), None),
    "rnn_lengths": (lambda: rnnkit.RNN(6, 64), torch.tensor([7, 2, 5, 7, 1])),
}


@pytest.mark.skipif(not autotune.native_bf16(), reason="the CPU has no native bfloat16")
@pytest.mark.parametrize("split", [0, 1, 2])  # alone, a units team, a row team
@pytest.mark.parametrize("name", list(KEPT))
def test_kept_bfloat16_gradients_equal_casting_them_after_the_sweep(name, split, forced_team,
                                                                     monkeypatch):  # fmt: skip
    """Under autocast the backward sweep keeps dG rounded to bfloat16 and its per-slot sums
    (low_grads) for the weight-gradient GEMMs: the gradients equal those of casting and summing
    dG after the sweep, weights and inputs bit for bit, biases to float32 summation order."""
    torch.manual_seed(0)
    make, lengths = KEPT[name]
    layer, x = make(), torch.randn(7, 5, 6)
    if split:
        forced_team(2, split)

    def grads():
        xi = x.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16), rnnkit.use_backend("native"):
            out, state = layer(xi, lengths=lengths) if lengths is not None else layer(xi)
        states = list(state) if isinstance(state, tuple) else [state]
        names = ["x", *(n for n, _ in layer.named_parameters())]
        return dict(zip(names, torch.autograd.grad(
            weighted_sum([out.float(), *states]), [xi, *layer.parameters()])))  # fmt: skip

    kept = grads()
    ext = load()
    sweep = ext.backward_sweep
    monkeypatch.setattr(ext, "backward_sweep", lambda *args: sweep(*args[:-1], False))
    cast = grads()
    for name, want in cast.items():
        if "bias" in name:
            assert max_rel_err(kept[name], want) <= 1e-6, name
        else:
            assert torch.equal(kept[name], want), name

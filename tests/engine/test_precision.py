"""bfloat16 GEMMs under autocast (engine/precision.py): the products over all T·B rows in
bfloat16, the recurrence in float32. Forced here on any CPU (bfloat16 matmul runs everywhere,
natively or not), every native training path: hand-written cells, layer-norm input, IndRNN's
diagonal recurrence, cells compiled from their step; within bfloat16 rounding of float32."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import cifg_step, weighted_sum
from rnnkit.engine import backends, precision
from rnnkit.engine.native import compiler_available

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
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert precision.lowers_to("cpu", torch.bfloat16) == (torch.bfloat16 if native else None)
    assert precision.lowers_to("cpu", torch.float16) is None
    assert precision.lowers_to("cuda", torch.bfloat16) is None


def test_gemm_dtype_is_scoped_to_the_block():
    assert precision.gemm_dtype() is None
    with precision.lowered_gemms(torch.bfloat16):
        assert precision.gemm_dtype() is torch.bfloat16
    assert precision.gemm_dtype() is None

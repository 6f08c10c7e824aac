"""The float32 products' library (engine/gemm.py): oneDNN where the plan measured it faster
equals torch.mm within float32 rounding, for both layouts of the right operand, with a bias,
and through a whole training step; the plan measures a product once and keeps it; products it
must not take (autograd recording, float64, small, a transposed left operand) stay on MKL."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import max_rel_err
from rnnkit.engine import autotune, gemm

pytestmark = pytest.mark.skipif(not gemm.onednn_available(), reason="torch without oneDNN")

M, K, N = 300, 120, 160  # M·K·N above MIN_MACS


@pytest.fixture
def forced(monkeypatch):
    """forced(path): every product the plan is asked about runs on ``path``."""
    asked: list[str] = []

    def force(path: str) -> list[str]:
        def choose(key, trials, default):
            asked.append(key)
            return path if key.startswith("gemm|") else default

        monkeypatch.setattr(autotune, "choose", choose)
        return asked

    return force


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_onednn_product_equals_torch_mm(forced, transposed, with_bias):
    torch.manual_seed(0)
    a = torch.randn(M, K)
    b = torch.randn(N, K).t() if transposed else torch.randn(K, N)
    bias = torch.randn(N) if with_bias else None
    asked = forced("onednn")
    out = gemm.matmul(a, b, bias)
    ref = a.double() @ b.double() + (0 if bias is None else bias.double())
    assert asked and max_rel_err(out, ref.float()) < 1e-5
    assert max_rel_err(out, torch.mm(a, b) + (0 if bias is None else bias)) < 1e-5


def test_products_the_plan_does_not_take_stay_on_mkl(forced):
    asked = forced("onednn")
    a, b = torch.randn(M, K), torch.randn(K, N)
    gemm.matmul(a.double(), b.double())  # float64
    gemm.matmul(torch.randn(K, M).t(), b)  # a transposed left operand (dW's dGᵀ)
    gemm.matmul(a[:8], b[:, :8])  # below MIN_MACS
    gemm.matmul(a.requires_grad_(), b)  # autograd would record it
    with torch.no_grad():
        gemm.matmul(a, b)  # (the one it takes)
    assert len(asked) == 1


@pytest.mark.parametrize("cell", ["gru", "lstm", "layernorm_lstm"])
def test_a_training_step_on_onednn_products_equals_mkl(forced, cell):
    make = {"gru": rnnkit.GRU, "lstm": rnnkit.LSTM, "layernorm_lstm": rnnkit.LayerNormLSTM}
    torch.manual_seed(0)
    layer = make[cell](64, 96, num_layers=2, bidirectional=True)
    x = torch.randn(40, 16, 64, requires_grad=True)
    results = {}
    for path in ("mkl", "onednn"):
        asked = forced(path)
        asked.clear()
        y, _ = layer(x)
        grads = torch.autograd.grad(y.square().sum(), [x, *layer.parameters()])
        results[path] = (y, *grads)
        assert any(k.startswith("gemm|") for k in asked)  # the products asked the plan
    for a, b in zip(results["mkl"], results["onednn"]):
        assert max_rel_err(a, b) < 1e-5


def test_the_plan_measures_a_product_once_and_keeps_it(plan):
    a, b = torch.randn(M, K), torch.randn(K, N)
    with torch.no_grad():
        gemm.matmul(a, b)
        gemm.matmul(torch.randn(M + 5, K), b)  # the same bucket (rows rounded up to 512)
    threads = torch.get_num_threads()
    (key,) = [k for k in autotune.entries() if k.startswith("gemm|")]
    assert key == f"gemm|M512|K{K}|N{N}|b|float32|threads{threads}"
    assert set(autotune.entries()[key]["ms"]) == {"mkl", "onednn"}

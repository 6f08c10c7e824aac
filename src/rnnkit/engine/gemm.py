"""Which library multiplies the engine's big float32 products: MKL (torch.mm) or oneDNN.

torch runs a float32 ``torch.mm`` on MKL's sgemm on x86. On an AMD EPYC (Zen 4, 2 cores) MKL
reaches about 80 GFLOP/s a core there, while oneDNN's own float32 matmul (what torch.nn.LSTM's
kernel and inductor's fused linear layers run) reached 1.14x-1.41x that for X·Wᵀ and
dG·W at the shapes of a layer's input projection and input gradient (2 threads,
N = 2560-3200 rows, K, N = 128-4096), and 0.54x-0.82x for the weight gradients dGᵀ·X (its
linear op copies a transposed operand first): measured facts of one CPU, not a rule. So the
plan measures it: the first product of a new shape bucket (rows rounded up to a power of two,
the two widths, the right operand's layout, threads) races both on that call's own operands
(autotune.py) and keeps the faster, persisted with the rest of the plan; ``RNNKIT_AUTOTUNE=0``
keeps MKL. Only a product whose left operand is row-major (the weight gradients' is not),
float32 on CPU, with at least ``MIN_MACS`` multiply-adds and nothing for autograd to record
asks: the rest stays on ``torch.mm`` unmeasured. The two differ in float32 rounding only.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import autotune

__all__ = ["MIN_MACS", "matmul", "onednn_available"]

# fewer multiply-adds than this: ~0.1 ms or less on one core, where the two libraries' call
# overheads (a few us) are what differs; such products are not measured, MKL runs them
MIN_MACS = 1 << 22


def _linear():
    """torch's oneDNN linear operator (inductor's), where this torch has one that runs: a
    private operator, so it is tried once on a small product first (None where it fails)."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        op = torch.ops.mkldnn._linear_pointwise.default
        probe = torch.arange(6.0).view(2, 3)
        if not torch.equal(op(probe, probe, None, "none", [], ""), probe @ probe.t()):
            return None
    except (AttributeError, RuntimeError):
        return None
    return op


_ONEDNN = _linear()
# (M rounded, K, N, right operand transposed, threads) -> the plan's key: a few microseconds
# to build, which a product of MIN_MACS takes in ~0.1 ms
_keys: dict[tuple, str] = {}


def onednn_available() -> bool:
    """Whether this torch has oneDNN's linear operator (x86 and arm64 builds with oneDNN)."""
    return _ONEDNN is not None and torch.backends.mkldnn.enabled


def matmul(a: Tensor, b: Tensor, bias: Tensor | None = None) -> Tensor:
    """``a @ b`` (+ ``bias`` (N,) on each row) for a (M, K) and b (K, N): on oneDNN where the
    plan measured it faster for this shape, else ``torch.mm`` / ``torch.addmm``."""
    if _asks(a, b, bias):
        M, K, N = a.shape[0], a.shape[1], b.shape[1]
        memo = (M, K, N, b.t().is_contiguous(), torch.get_num_threads())
        key = _keys.get(memo) or _key(memo)
        trials = {"mkl": lambda: _mkl(a, b, bias), "onednn": lambda: _onednn(a, b, bias)}
        if autotune.choose(key, trials, "mkl") == "onednn":
            return _onednn(a, b, bias)
    return _mkl(a, b, bias)


def _asks(a: Tensor, b: Tensor, bias: Tensor | None) -> bool:
    if _ONEDNN is None or a.dtype != torch.float32 or b.dtype != torch.float32:
        return False
    if a.dim() != 2 or b.dim() != 2 or not a.is_cpu or not a.is_contiguous():
        return False
    if a.shape[0] * a.shape[1] * b.shape[1] < MIN_MACS or not torch.backends.mkldnn.enabled:
        return False
    if bias is not None and (bias.dim() != 1 or bias.dtype != torch.float32):
        return False
    tensors = (a, b) if bias is None else (a, b, bias)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return False  # (oneDNN's linear has no autograd formula)
    return not torch.compiler.is_compiling()


def _key(memo: tuple) -> str:
    M, K, N, transposed, threads = memo
    if len(_keys) > 4096:  # many shapes: start over
        _keys.clear()
    layout = "bT" if transposed else "b"
    key = f"gemm|M{autotune.pow2(M)}|K{K}|N{N}|{layout}|float32|threads{threads}"
    _keys[memo] = key
    return key


def _mkl(a: Tensor, b: Tensor, bias: Tensor | None) -> Tensor:
    return a @ b if bias is None else torch.addmm(bias, a, b)


def _onednn(a: Tensor, b: Tensor, bias: Tensor | None) -> Tensor:
    return _ONEDNN(a, b.t(), bias, "none", [], "")  # X·Wᵀ + bias with W = bᵀ (N, K)

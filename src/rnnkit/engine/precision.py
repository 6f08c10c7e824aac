"""Lower-precision GEMMs under autocast: the big products in bfloat16, the recurrence in float32.

Under ``torch.autocast("cpu", dtype=torch.bfloat16)`` on a CPU with native bfloat16 arithmetic
(AVX512-BF16 or AMX: autotune.native_bf16), the products of a training scan over all T·B rows
run in bfloat16: the input projection X·W_ihᵀ, and in the backward dX = dG·W_ih,
dW_ih = dGᵀ·X and dW_hh = dG_hᵀ·H_prev. Each accumulates in float32 inside the GEMM; its result
is rounded to bfloat16 and widened back, as autocast's own linear layers round theirs. Where the
CPU has AVX512-BF16, the native sweeps' per-step products h·W_hhᵀ and dG·W_hh run in bfloat16
too, with float32 sums (csrc/bf16.h: W_hh rounded once per sweep, the rows once per step). The
no-grad stack (csrc/infer.cpp) follows the same rule, operation for operation: its input
projections as these bfloat16 GEMMs, its per-step products in bfloat16 where the CPU has
AVX512-BF16. The time loop's state and all pointwise math stay float32, and so do the weights
and their gradients' dtype; float64 layers are never lowered (autocast leaves float64 alone).
Where the CPU has no native bfloat16, or autocast asks for float16, every GEMM stays float32:
the same results as outside autocast, and no slower.

``gemm_dtype()`` is the dtype the current call's big GEMMs run in (None: the tensors' own).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import Tensor

from . import autotune
from .gemm import matmul

__all__ = [
    "addmm",
    "gemm_dtype",
    "gemm_of",
    "low",
    "lowered_gemms",
    "lowers_to",
    "mm",
    "traced_lowering",
]

_gemm: ContextVar[torch.dtype | None] = ContextVar("rnnkit_gemm_dtype", default=None)


def lowers_to(device_type: str, autocast_dtype: torch.dtype) -> torch.dtype | None:
    """The dtype a scan's big GEMMs take under autocast to ``autocast_dtype`` on
    ``device_type``: bfloat16 on a CPU with native bfloat16, else None (float32 GEMMs)."""
    if device_type != "cpu" or autocast_dtype != torch.bfloat16:
        return None
    return torch.bfloat16 if autotune.native_bf16() else None


def traced_lowering(device_type: str, autocast_dtype: torch.dtype) -> torch.dtype | None:
    """``lowers_to`` for torch.compile / torch.export: the CPU's answer a constant of the trace,
    read once while tracing (its flags come from a file, which dynamo does not trace)."""
    if device_type != "cpu" or autocast_dtype != torch.bfloat16:
        return None
    return torch.bfloat16 if _native_bf16() else None


@torch.compiler.assume_constant_result
def _native_bf16() -> bool:
    return autotune.native_bf16()


def gemm_dtype() -> torch.dtype | None:
    """The dtype of the current call's big GEMMs, or None for the tensors' own."""
    return _gemm.get()


@contextmanager
def lowered_gemms(dtype: torch.dtype | None) -> Iterator[None]:
    """Run the enclosed calls' big GEMMs in ``dtype`` (None: in the tensors' own dtype)."""
    token = _gemm.set(dtype)
    try:
        yield
    finally:
        _gemm.reset(token)


def gemm_of(bf16: bool) -> torch.dtype | None:
    """The big GEMMs' dtype an operator's ``bf16`` argument names: bfloat16 where it is set
    (autocast's lowering carried on the call), else None (the tensors' own)."""
    return torch.bfloat16 if bf16 else None


def low(t: Tensor, dtype: torch.dtype | None) -> Tensor:
    """``t`` in ``dtype`` (a GEMM operand; cast once where it feeds several), or as it is."""
    return t if dtype is None else t.to(dtype)


def mm(a: Tensor, b: Tensor, dtype: torch.dtype | None, out: torch.dtype) -> Tensor:
    """a @ b with both operands in ``dtype`` where one is given, the result in ``out``; in the
    tensors' own dtype on the library the plan measured faster (gemm.py)."""
    if dtype is None:
        return matmul(a, b).to(out)
    return (low(a, dtype) @ low(b, dtype)).to(out)


def addmm(bias: Tensor, a: Tensor, b: Tensor, dtype: torch.dtype | None) -> Tensor:
    """bias + a @ b, the product's operands in ``dtype`` where one is given, the sum in bias's
    dtype."""
    if dtype is None:
        return matmul(a, b, bias)
    return mm(a, b, dtype, bias.dtype).add_(bias)

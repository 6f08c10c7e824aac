"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): gates from x_t alone.

Both cells reduce to a linear recurrence  h_t = a_t ⊙ h_{t-1} + b_t  whose coefficients depend
on the input projection ``gx = x_t·W_ihᵀ + b_ih`` only, so they can run as a parallel scan
over time (``rnnkit.engine.parallel_scan``) as well as step by step. Positive activation
g(x) = x + 0.5 for x >= 0, σ(x) for x < 0 (the paper's, for its log-space scan): g > 0.

minGRU,  gx = (pre_z, pre_h), G = 2H:
    z = σ(pre_z),  h̃ = g(pre_h),  h_t = (1 - z) ⊙ h_{t-1} + z ⊙ h̃
    a = 1 - z = σ(-pre_z),  b = z ⊙ h̃
minLSTM, gx = (pre_f, pre_i, pre_h), G = 3H:
    f = σ(pre_f),  i = σ(pre_i),  f' = f / (f + i),  i' = i / (f + i) = 1 - f'
    h_t = f' ⊙ h_{t-1} + i' ⊙ h̃,   a = f',  b = i' ⊙ h̃

In log space (for the scan), with log σ(x) = -softplus(-x):
    minGRU:  log a = -softplus(pre_z),  log b = log z + log g(pre_h) = log a + pre_z + log g
    minLSTM: log f' = log f - log(f + i) = -log(1 + i/f) = -softplus(log i - log f)
             with log i - log f = softplus(-pre_f) - softplus(-pre_i) =: d, so
             log a = -softplus(d),  log b = -softplus(-d) + log g = log a + d + log g(pre_h)
    log g(x) = log(x + 0.5) for x >= 0, -softplus(-x) for x < 0.
Every term is finite for finite pre-activations (no log of an underflowed gate).

The step functions follow the cell contract of ``cells/base.py`` (gh is None: there is no
W_hh; the recurrence reaches h_{t-1} only through ``dh_direct`` = dh ⊙ a).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import CellMath

__all__ = [
    "MIN_GRU",
    "MIN_LSTM",
    "MinCell",
    "log_positive",
    "min_gru_log_coefficients",
    "min_gru_step",
    "min_gru_step_backward",
    "min_lstm_log_coefficients",
    "min_lstm_step",
    "min_lstm_step_backward",
    "positive",
]


def positive(x: Tensor) -> Tensor:
    """g(x) = x + 0.5 for x >= 0, σ(x) for x < 0: continuous, increasing, always > 0."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def _positive_and_slope(x: Tensor) -> tuple[Tensor, Tensor]:
    """g(x) and g'(x): 1 for x >= 0, σ(x)(1 - σ(x)) = g(1 - g) for x < 0."""
    s = torch.sigmoid(x)
    pos = x >= 0
    return torch.where(pos, x + 0.5, s), torch.where(pos, torch.ones_like(s), s * (1 - s))


def _softplus(x: Tensor) -> Tensor:
    """log(1 + eˣ) to full precision: F.softplus returns x itself above ``threshold`` (default
    20, an error of e⁻²⁰ ≈ 2e-9, visible in float64); 36 makes that error below float64's eps."""
    return F.softplus(x, threshold=36.0 if x.dtype == torch.float64 else 20.0)


def log_positive(x: Tensor) -> Tensor:
    """log g(x); relu inside the log keeps the unused branch finite (no NaN grads via where)."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -_softplus(-x))


# ---------------------------------------------------------------- minGRU


def min_gru_log_coefficients(gx: Tensor) -> tuple[Tensor, Tensor]:
    """(log a, log b), each (..., H), from gx (..., 2H) = (pre_z, pre_h)."""
    pre_z, pre_h = gx.chunk(2, dim=-1)
    log_a = -_softplus(pre_z)  # log(1 - z) = log σ(-pre_z)
    log_b = log_a + pre_z + log_positive(pre_h)  # log z + log h̃; log σ(x) = log σ(-x) + x
    return log_a, log_b


def min_gru_step(
    gx: Tensor,
    gh: Tensor | None,
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...] = (),
    params: tuple = (),
) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
    """One minGRU step from gx (n, 2H); ``gh`` must be None (no hidden-to-hidden weights)."""
    pre_z, pre_h = gx.chunk(2, dim=1)
    z = torch.sigmoid(pre_z)  # (n, H) update gate
    h_tilde, slope = _positive_and_slope(pre_h)  # (n, H) candidate g(pre_h), g'(pre_h)
    h = h_prev + z * (h_tilde - h_prev)  # = (1 - z)·h_prev + z·h̃
    return h, (), (z, h_tilde, slope)


def min_gru_step_backward(
    dh: Tensor,
    d_extra: tuple[Tensor, ...],
    saved: tuple[Tensor, ...],
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...] = (),
    params: tuple = (),
) -> tuple[Tensor, None, Tensor, tuple, tuple]:
    """Gradients of one minGRU step from its saved (z, h̃, g'(pre_h))."""
    z, h_tilde, slope = saved
    dz_pre = dh * (h_tilde - h_prev) * z * (1 - z)  # dL/d(pre_z): ∂h/∂z = h̃ - h_prev, σ'
    dh_pre = dh * z * slope  # dL/d(pre_h): ∂h/∂h̃ = z, then g'
    dgx = torch.cat((dz_pre, dh_pre), dim=1)  # (n, 2H)
    dh_direct = dh * (1 - z)  # dL/dh_prev: ∂h/∂h_prev = 1 - z
    return dgx, None, dh_direct, (), ()


# ---------------------------------------------------------------- minLSTM


def min_lstm_log_coefficients(gx: Tensor) -> tuple[Tensor, Tensor]:
    """(log a, log b), each (..., H), from gx (..., 3H) = (pre_f, pre_i, pre_h)."""
    pre_f, pre_i, pre_h = gx.chunk(3, dim=-1)
    d = _softplus(-pre_f) - _softplus(-pre_i)  # log i - log f
    log_a = -_softplus(d)  # log f' = -log(1 + i/f)
    log_b = log_a + d + log_positive(pre_h)  # log i' + log h̃; log i' = -softplus(-d) = log f' + d
    return log_a, log_b


def min_lstm_step(
    gx: Tensor,
    gh: Tensor | None,
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...] = (),
    params: tuple = (),
) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
    """One minLSTM step from gx (n, 3H); ``gh`` must be None (no hidden-to-hidden weights)."""
    pre_f, pre_i, pre_h = gx.chunk(3, dim=1)
    f, i = torch.sigmoid(pre_f), torch.sigmoid(pre_i)  # (n, H) each
    f_n = f / (f + i)  # f', normalized forget gate; i' = 1 - f'
    h_tilde, slope = _positive_and_slope(pre_h)
    h = h_tilde + f_n * (h_prev - h_tilde)  # = f'·h_prev + i'·h̃
    return h, (), (f, i, f_n, h_tilde, slope)


def min_lstm_step_backward(
    dh: Tensor,
    d_extra: tuple[Tensor, ...],
    saved: tuple[Tensor, ...],
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...] = (),
    params: tuple = (),
) -> tuple[Tensor, None, Tensor, tuple, tuple]:
    """Gradients of one minLSTM step from its saved (f, i, f', h̃, g'(pre_h)).

    With s = f + i:  ∂f'/∂pre_f = f(1-f)·i/s² = f'·i'·(1 - f),
                     ∂f'/∂pre_i = -f·i(1-i)/s² = -f'·i'·(1 - i),  and i' = 1 - f'.
    """
    f, i, f_n, h_tilde, slope = saved
    i_n = 1 - f_n
    df_n = dh * (h_prev - h_tilde)  # dL/df': h = h̃ + f'·(h_prev - h̃)
    df_pre = df_n * f_n * i_n * (1 - f)  # dL/d(pre_f)
    di_pre = -df_n * f_n * i_n * (1 - i)  # dL/d(pre_i)
    dh_pre = dh * i_n * slope  # dL/d(pre_h): ∂h/∂h̃ = i', then g'
    dgx = torch.cat((df_pre, di_pre, dh_pre), dim=1)  # (n, 3H)
    dh_direct = dh * f_n  # dL/dh_prev: ∂h/∂h_prev = f'
    return dgx, None, dh_direct, (), ()


# ---------------------------------------------------------------- cell descriptions


@dataclass(frozen=True)
class MinCell:
    """A cell with h_t = a_t ⊙ h_{t-1} + b_t, (a_t, b_t) a function of gx_t alone.

    ``math`` is the step / step-backward pair in the engine's cell contract. To run it on the
    generic engine, pass a zero (G, H) ``W_hh``: gx + h_prev·0ᵀ = gx and
    dh_prev = dgx·0 + dh_direct, so the engine's result is exactly this cell's.
    """

    name: str  # "mingru" or "minlstm"
    gates: int  # G / H: 2 (z, h̃) or 3 (f, i, h̃)
    math: CellMath
    log_coefficients: Callable[[Tensor], tuple[Tensor, Tensor]]  # gx -> (log a, log b)

    # the traits a stack layer reads of every cell (CellMath's names): no W_hh, no extra state,
    # no projection, no forget-gate bias option, no parameters of its own
    extra_states: ClassVar[int] = 0
    supports_projection: ClassVar[bool] = False
    diagonal_hidden: ClassVar[bool] = False
    forget_gate: ClassVar[None] = None
    params: ClassVar[tuple] = ()


def _cell(name: str, gates: int, step, step_backward, log_coefficients) -> MinCell:
    math = CellMath(
        name=name,
        gates=gates,
        extra_states=0,
        split_hidden=False,
        step=step,
        step_backward=step_backward,
    )
    return MinCell(name, gates, math, log_coefficients)


MIN_GRU = _cell("mingru", 2, min_gru_step, min_gru_step_backward, min_gru_log_coefficients)
MIN_LSTM = _cell("minlstm", 3, min_lstm_step, min_lstm_step_backward, min_lstm_log_coefficients)

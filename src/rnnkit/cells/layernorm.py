"""Layer-normalized LSTM and GRU (Ba, Kiros & Hinton 2016), on the fused engine.

Layer norm here is over the whole gate vector (G = 4H or 3H), as in haste's LayerNormLSTM:

    LN(v; γ, β) = γ ⊙ (v − mean(v)) / sqrt(var(v) + eps) + β

LayerNormLSTM:  pre = LN(x·W_ihᵀ; γ_ih, β_ih) + LN(h_{t-1}·W_hhᵀ; γ_hh)
                c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g),   h_t = σ(o) ⊙ tanh(LN(c_t; γ_c, β_c))
LayerNormGRU:   a = LN(x·W_ihᵀ; γ_ih, β_ih),  b = LN(h_{t-1}·W_hhᵀ; γ_hh, β_hh), then torch's GRU
                with gx = a and gh = b:  n = tanh(a_n + r ⊙ b_n).

The β's take the place of bias_ih / bias_hh (a bias before a layer norm would be cancelled).
The input-side norm runs over all rows at once, outside the time loop (``prepare_input``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import CellMath, ParamSpec
from .gru import gru_step, gru_step_backward

__all__ = ["LAYERNORM_GRU", "LAYERNORM_LSTM", "layer_norm_backward", "layer_norm_rows"]

EPS = 1e-5


def layer_norm_rows(v: Tensor) -> tuple[Tensor, Tensor]:
    """(v̂, rstd): each row of ``v`` (n, K) normalized to zero mean, unit variance."""
    mu = v.mean(dim=1, keepdim=True)
    centered = v - mu
    rstd = torch.rsqrt((centered * centered).mean(dim=1, keepdim=True) + EPS)  # (n, 1)
    return centered * rstd, rstd


def layer_norm_backward(d_hat: Tensor, v_hat: Tensor, rstd: Tensor) -> Tensor:
    """dL/dv from dL/dv̂ for v̂ = (v − μ)·rstd:  rstd·(dv̂ − mean(dv̂) − v̂·mean(dv̂ ⊙ v̂))."""
    mean_d = d_hat.mean(dim=1, keepdim=True)
    mean_dv = (d_hat * v_hat).mean(dim=1, keepdim=True)
    return rstd * (d_hat - mean_d - v_hat * mean_dv)


def _prepare_input(gx: Tensor, params: tuple) -> Tensor:
    """LN(x·W_ihᵀ; γ_ih, β_ih) over all rows: params start with (γ_ih, β_ih)."""
    return F.layer_norm(gx, (gx.shape[1],), params[0], params[1], EPS)


# -- LayerNormLSTM: params (γ_ih, β_ih, γ_hh, γ_c, β_c) -------------------------------------


def ln_lstm_step(gx, gh, h_prev, extra_prev, params):
    """One step. ``gx`` (n, 4H) is LN(x·W_ihᵀ) already; ``gh`` (n, 4H) raw h·W_hhᵀ."""
    _, _, g_hh, g_c, b_c = params
    (c_prev,) = extra_prev
    H = c_prev.shape[1]
    gh_hat, rstd_h = layer_norm_rows(gh)
    pre = gx + gh_hat * g_hh  # (n, 4H)
    act = torch.cat(
        (
            torch.sigmoid(pre[:, : 2 * H]),  # i, f
            torch.tanh(pre[:, 2 * H : 3 * H]),  # g
            torch.sigmoid(pre[:, 3 * H :]),  # o
        ),
        dim=1,
    )
    i, f, g, o = act.chunk(4, dim=1)
    c = f * c_prev + i * g
    c_hat, rstd_c = layer_norm_rows(c)
    c_ln = c_hat * g_c if b_c is None else torch.addcmul(b_c, c_hat, g_c)
    h = o * torch.tanh(c_ln)
    return h, (c,), (act, gh_hat, rstd_h, c_hat, rstd_c)


def ln_lstm_step_backward(dh, d_extra, saved, h_prev, extra_prev, params):
    """Gradients of one LayerNormLSTM step from its saved gates and normalized values."""
    _, _, g_hh, g_c, b_c = params
    act, gh_hat, rstd_h, c_hat, rstd_c = saved
    (dc_next,) = d_extra
    (c_prev,) = extra_prev
    i, f, g, o = act.chunk(4, dim=1)
    c_ln = c_hat * g_c if b_c is None else torch.addcmul(b_c, c_hat, g_c)
    tc = torch.tanh(c_ln)
    dc_ln = dh * o * (1 - tc * tc)  # dL/d LN(c_t)
    dc = dc_next + layer_norm_backward(dc_ln * g_c, c_hat, rstd_c)  # dL/dc_t
    dpre = torch.cat(
        (
            dc * g * i * (1 - i),  # dL/d(pre_i)
            dc * c_prev * f * (1 - f),  # dL/d(pre_f)
            dc * i * (1 - g * g),  # dL/d(pre_g)
            dh * tc * o * (1 - o),  # dL/d(pre_o)
        ),
        dim=1,
    )
    dgh = layer_norm_backward(dpre * g_hh, gh_hat, rstd_h)  # dL/d(h·W_hhᵀ) through LN_hh
    drows = (None, None, dpre * gh_hat, dc_ln * c_hat, None if b_c is None else dc_ln)
    return dpre, dgh, None, (dc * f,), drows


LAYERNORM_LSTM = CellMath(
    name="layernorm_lstm",
    forget_gate=1,
    gates=4,
    extra_states=1,
    split_hidden=True,
    step=ln_lstm_step,
    step_backward=ln_lstm_step_backward,
    params=(
        ParamSpec("ln_ih_weight", 4),
        ParamSpec("ln_ih_bias", 4, "zeros", is_bias=True),
        ParamSpec("ln_hh_weight", 4),
        ParamSpec("ln_cell_weight", 1),
        ParamSpec("ln_cell_bias", 1, "zeros", is_bias=True),
    ),
    weight_biases=False,
    prepare_input=_prepare_input,
)


# -- LayerNormGRU: params (γ_ih, β_ih, γ_hh, β_hh) ------------------------------------------


def ln_gru_step(gx, gh, h_prev, extra_prev, params):
    """One step: torch's GRU math with gh := LN(h·W_hhᵀ; γ_hh, β_hh)."""
    _, _, g_hh, b_hh = params
    gh_hat, rstd = layer_norm_rows(gh)
    gh_ln = gh_hat * g_hh if b_hh is None else torch.addcmul(b_hh, gh_hat, g_hh)
    h, extra, (act, gh_n) = gru_step(gx, gh_ln, h_prev, extra_prev, ())
    return h, extra, (act, gh_n, gh_hat, rstd)


def ln_gru_step_backward(dh, d_extra, saved, h_prev, extra_prev, params):
    """GRU backward to dL/d LN(gh), then through the layer norm to dL/d(h·W_hhᵀ)."""
    _, _, g_hh, b_hh = params
    act, gh_n, gh_hat, rstd = saved
    dgx, dgh_ln, dh_direct, _, _ = gru_step_backward(dh, (), (act, gh_n), h_prev, (), ())
    dgh = layer_norm_backward(dgh_ln * g_hh, gh_hat, rstd)
    drows = (None, None, dgh_ln * gh_hat, None if b_hh is None else dgh_ln)
    return dgx, dgh, dh_direct, (), drows


LAYERNORM_GRU = CellMath(
    name="layernorm_gru",
    gates=3,
    extra_states=0,
    split_hidden=True,
    step=ln_gru_step,
    step_backward=ln_gru_step_backward,
    params=(
        ParamSpec("ln_ih_weight", 3),
        ParamSpec("ln_ih_bias", 3, "zeros", is_bias=True),
        ParamSpec("ln_hh_weight", 3),
        ParamSpec("ln_hh_bias", 3, "zeros", is_bias=True),
    ),
    weight_biases=False,
    prepare_input=_prepare_input,
)

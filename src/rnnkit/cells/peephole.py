"""Peephole LSTM (Gers & Schmidhuber 2000): the gates also look at the cell state.

    i = σ(pre_i + p_i ⊙ c_{t-1}),  f = σ(pre_f + p_f ⊙ c_{t-1}),  g = tanh(pre_g)
    c_t = f ⊙ c_{t-1} + i ⊙ g
    o = σ(pre_o + p_o ⊙ c_t),      h_t = o ⊙ tanh(c_t)

``p = (p_i, p_f, p_o)`` is one (3H,) parameter, ``peephole_weight``.
"""

from __future__ import annotations

import torch

from .base import CellMath, ParamSpec

__all__ = ["PEEPHOLE_LSTM", "peephole_lstm_step", "peephole_lstm_step_backward"]


def peephole_lstm_step(gx, gh, h_prev, extra_prev, params):
    """One step. ``gx`` (n, 4H) holds x·W_ihᵀ + h·W_hhᵀ + biases; params = (p,)."""
    (p,) = params
    (c_prev,) = extra_prev
    H = c_prev.shape[1]
    p_i, p_f, p_o = p[:H], p[H : 2 * H], p[2 * H :]
    i = torch.sigmoid(torch.addcmul(gx[:, :H], p_i, c_prev))
    f = torch.sigmoid(torch.addcmul(gx[:, H : 2 * H], p_f, c_prev))
    g = torch.tanh(gx[:, 2 * H : 3 * H])
    c = f * c_prev + i * g
    o = torch.sigmoid(torch.addcmul(gx[:, 3 * H :], p_o, c))
    h = o * torch.tanh(c)
    return h, (c,), (torch.cat((i, f, g, o), dim=1),)


def peephole_lstm_step_backward(dh, d_extra, saved, h_prev, extra_prev, params):
    """Gradients of one peephole step; c_t is recomputed from the saved gates."""
    (p,) = params
    (act,) = saved
    (dc_next,) = d_extra
    (c_prev,) = extra_prev
    H = c_prev.shape[1]
    p_i, p_f, p_o = p[:H], p[H : 2 * H], p[2 * H :]
    i, f, g, o = act.chunk(4, dim=1)
    c = f * c_prev + i * g
    tc = torch.tanh(c)
    dpre_o = dh * tc * o * (1 - o)  # dL/d(pre_o)
    dc = dc_next + dh * o * (1 - tc * tc) + dpre_o * p_o  # dL/dc_t, also through o's peephole
    dpre_i = dc * g * i * (1 - i)  # dL/d(pre_i)
    dpre_f = dc * c_prev * f * (1 - f)  # dL/d(pre_f)
    dpre_g = dc * i * (1 - g * g)  # dL/d(pre_g)
    dc_prev = dc * f + dpre_i * p_i + dpre_f * p_f  # dL/dc_{t-1}, also through i, f peepholes
    dgates = torch.cat((dpre_i, dpre_f, dpre_g, dpre_o), dim=1)
    dp_rows = torch.cat((dpre_i * c_prev, dpre_f * c_prev, dpre_o * c), dim=1)  # (n, 3H)
    return dgates, None, None, (dc_prev,), (dp_rows,)


PEEPHOLE_LSTM = CellMath(
    name="peephole_lstm",
    gates=4,
    extra_states=1,
    split_hidden=False,
    step=peephole_lstm_step,
    step_backward=peephole_lstm_step_backward,
    params=(ParamSpec("peephole_weight", 3, "uniform"),),
    forget_gate=1,
)

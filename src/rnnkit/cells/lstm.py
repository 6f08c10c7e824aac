"""LSTM cell (Hochreiter & Schmidhuber 1997, with forget gate), gate order (i, f, g, o) as torch.nn.

i, f, o = σ(pre_i), σ(pre_f), σ(pre_o);   g = tanh(pre_g)
c_t = f ⊙ c_{t-1} + i ⊙ g
h_t = o ⊙ tanh(c_t)              (then h_t · W_hrᵀ when proj_size > 0, done by the engine)
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import CellMath

__all__ = ["LSTM", "lstm_step", "lstm_step_backward"]


def lstm_step(
    gx: Tensor,
    gh: Tensor | None,
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...],
    params: tuple = (),
) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
    """One LSTM step. ``gx`` (n, 4H) holds the full gate pre-activations."""
    (c_prev,) = extra_prev
    H = c_prev.shape[1]
    act = torch.cat(
        (
            torch.sigmoid(gx[:, : 2 * H]),  # i, f
            torch.tanh(gx[:, 2 * H : 3 * H]),  # g
            torch.sigmoid(gx[:, 3 * H :]),  # o
        ),
        dim=1,
    )  # (n, 4H) post-activation gates
    i, f, g, o = act.chunk(4, dim=1)
    c = f * c_prev + i * g  # (n, H)
    h = o * torch.tanh(c)  # (n, H)
    return h, (c,), (act,)


def lstm_step_backward(
    dh: Tensor,
    d_extra: tuple[Tensor, ...],
    saved: tuple[Tensor, ...],
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...],
    params: tuple = (),
) -> tuple[Tensor, None, None, tuple[Tensor, ...], tuple]:
    """Gradients of one LSTM step from its saved post-activation gates and c_{t-1}."""
    (act,) = saved
    (dc_next,) = d_extra
    (c_prev,) = extra_prev
    i, f, g, o = act.chunk(4, dim=1)
    c = f * c_prev + i * g  # c_t recomputed (bitwise as in forward) instead of saved
    tc = torch.tanh(c)
    dc = dc_next + dh * o * (1 - tc * tc)  # dL/dc_t: from c_{t+1} and through h_t = o·tanh(c_t)
    dgates = torch.cat(
        (
            dc * g * i * (1 - i),  # dL/d(pre_i)
            dc * c_prev * f * (1 - f),  # dL/d(pre_f)
            dc * i * (1 - g * g),  # dL/d(pre_g)
            dh * tc * o * (1 - o),  # dL/d(pre_o)
        ),
        dim=1,
    )  # (n, 4H)
    dc_prev = dc * f  # dL/dc_{t-1}
    return dgates, None, None, (dc_prev,), ()


LSTM = CellMath(
    name="lstm",
    gates=4,
    extra_states=1,
    split_hidden=False,
    step=lstm_step,
    step_backward=lstm_step_backward,
    supports_projection=True,
    forget_gate=1,
)

"""Elman RNN cell: ``h_t = act(x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh)``, act = tanh or ReLU."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import CellMath

__all__ = [
    "RNN_RELU",
    "RNN_TANH",
    "rnn_relu_step",
    "rnn_relu_step_backward",
    "rnn_tanh_step",
    "rnn_tanh_step_backward",
]


def rnn_tanh_step(
    gx: Tensor,
    gh: Tensor | None,
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...],
    params: tuple = (),
) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
    """One tanh step. ``gx`` (n, H) already holds the full pre-activation."""
    h = torch.tanh(gx)  # (n, H)
    return h, (), (h,)


def rnn_relu_step(
    gx: Tensor,
    gh: Tensor | None,
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...],
    params: tuple = (),
) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
    """One ReLU step. ``gx`` (n, H) already holds the full pre-activation."""
    h = torch.relu(gx)  # (n, H)
    return h, (), (h,)


def rnn_tanh_step_backward(
    dh: Tensor,
    d_extra: tuple[Tensor, ...],
    saved: tuple[Tensor, ...],
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...],
    params: tuple = (),
) -> tuple[Tensor, None, None, tuple[Tensor, ...], tuple]:
    (h,) = saved
    dpre = dh * (1 - h * h)  # dL/d(pre-activation): tanh' = 1 - tanh²
    return dpre, None, None, (), ()


def rnn_relu_step_backward(
    dh: Tensor,
    d_extra: tuple[Tensor, ...],
    saved: tuple[Tensor, ...],
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...],
    params: tuple = (),
) -> tuple[Tensor, None, None, tuple[Tensor, ...], tuple]:
    (h,) = saved
    dpre = dh * (h > 0)  # dL/d(pre-activation): relu' = [pre > 0] = [h > 0]
    return dpre, None, None, (), ()


RNN_TANH = CellMath(
    name="rnn",
    gates=1,
    extra_states=0,
    split_hidden=False,
    step=rnn_tanh_step,
    step_backward=rnn_tanh_step_backward,
)
RNN_RELU = CellMath(
    name="rnn_relu",
    gates=1,
    extra_states=0,
    split_hidden=False,
    step=rnn_relu_step,
    step_backward=rnn_relu_step_backward,
)

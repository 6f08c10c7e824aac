"""GRU cell (Cho et al. 2014) exactly as torch.nn.GRU computes it, gate order (r, z, n).

r = σ(gx_r + gh_r),  z = σ(gx_z + gh_z)
n = tanh(gx_n + r ⊙ gh_n)           with gh = h_{t-1}·W_hhᵀ + b_hh (b_hn inside r ⊙ ·)
h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import CellMath

__all__ = ["GRU", "gru_step", "gru_step_backward"]


def gru_step(
    gx: Tensor,
    gh: Tensor | None,
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...],
    params: tuple = (),
) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
    """One GRU step from ``gx`` (n, 3H) and ``gh`` (n, 3H)."""
    assert gh is not None, "the GRU needs the hidden projection apart (split_hidden)"
    H = h_prev.shape[1]
    rz = torch.sigmoid(gx[:, : 2 * H] + gh[:, : 2 * H])  # (n, 2H): r, z
    r, z = rz[:, :H], rz[:, H:]
    gh_n = gh[:, 2 * H :]  # (n, H) W_hn·h + b_hn
    n = torch.tanh(gx[:, 2 * H :] + r * gh_n)  # (n, H)
    h = n + z * (h_prev - n)  # = (1 - z)·n + z·h_prev
    return h, (), (torch.cat((rz, n), dim=1), gh_n)


def gru_step_backward(
    dh: Tensor,
    d_extra: tuple[Tensor, ...],
    saved: tuple[Tensor, ...],
    h_prev: Tensor,
    extra_prev: tuple[Tensor, ...],
    params: tuple = (),
) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...], tuple]:
    """Gradients of one GRU step from its saved gates (r, z, n) and ``gh_n``."""
    act, gh_n = saved
    r, z, n = act.chunk(3, dim=1)
    dn_pre = dh * (1 - z) * (1 - n * n)  # dL/d(pre_n) = dL/dn · tanh'
    dz_pre = dh * (h_prev - n) * z * (1 - z)  # dL/d(pre_z)
    dr_pre = dn_pre * gh_n * r * (1 - r)  # dL/d(pre_r): pre_n = gx_n + r·gh_n
    dgx = torch.cat((dr_pre, dz_pre, dn_pre), dim=1)  # (n, 3H) dL/dgx
    dgh = torch.cat((dr_pre, dz_pre, dn_pre * r), dim=1)  # (n, 3H) dL/dgh: gh_n enters as r·gh_n
    dh_direct = dh * z  # dL/dh_prev through h_t = ... + z·h_prev
    return dgx, dgh, dh_direct, (), ()


GRU = CellMath(
    name="gru",
    gates=3,
    extra_states=0,
    split_hidden=True,
    step=gru_step,
    step_backward=gru_step_backward,
)

"""The cells torch.nn lacks, written the way a user would without rnnkit: a Python loop of autograd
ops per time step (``F.linear`` for both projections, ``F.layer_norm``, sigmoid / tanh, the
state update), ``torch.stack`` of the outputs at the end. Zero initial state, input (T, B, I).

Each loop module copies its weights from an rnnkit layer (``from_layer``), so the benchmark in
new_cells.py can check that both compute the same output before timing them. The input is
split with ``x.unbind(0)`` (one autograd node), as a careful user would: per-step indexing
``x[t]`` of a tensor that requires grad would make the loop much slower still (see PERF.md).
The coupled-gate LSTM is the one of docs/custom_cells.md, loaded from that page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import rnnkit

__all__ = ["LOOPS", "cifg_cell"]

DOC = Path(__file__).resolve().parent.parent / "docs" / "custom_cells.md"
EPS = 1e-5  # rnnkit.cells.layernorm.EPS, nn.LayerNorm's default


def cifg_cell() -> rnnkit.CellMath:
    """The CIFG cell (define_cell, with its hand-written step backward) of docs/custom_cells.md."""
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # also runs the page's tiny example
    return namespace["CIFG"]


class _Loop(nn.Module):
    """Parameters named like torch.nn.LSTMCell's; ``from_layer`` copies layer 0 of ``layer``."""

    copies: ClassVar[dict[str, str]] = {}  # own parameter name -> rnnkit layer-0 parameter name

    @classmethod
    def from_layer(cls, layer: nn.Module) -> _Loop:
        loop = cls(layer.input_size, layer.hidden_size)
        with torch.no_grad():
            for mine, theirs in loop.copies.items():
                target = loop.get_parameter(mine)
                target.copy_(layer.get_parameter(theirs))
        return loop.to(layer.weight_ih_l0)

    def _weights(self, G: int, I: int, H: int, diagonal: bool = False) -> None:
        self.weight_ih = nn.Parameter(torch.empty(G, I))
        self.weight_hh = nn.Parameter(torch.empty(G) if diagonal else torch.empty(G, H))


class LayerNormLSTMLoop(_Loop):
    """pre = LN(x·W_ihᵀ) + LN(h·W_hhᵀ);  c = σ(f)c + σ(i)tanh(g);  h = σ(o)·tanh(LN(c))."""

    copies: ClassVar[dict[str, str]] = {
        "weight_ih": "weight_ih_l0",
        "weight_hh": "weight_hh_l0",
        "ln_ih.weight": "ln_ih_weight_l0",
        "ln_ih.bias": "ln_ih_bias_l0",
        "ln_hh.weight": "ln_hh_weight_l0",
        "ln_cell.weight": "ln_cell_weight_l0",
        "ln_cell.bias": "ln_cell_bias_l0",
    }

    def __init__(self, I: int, H: int) -> None:
        super().__init__()
        self._weights(4 * H, I, H)
        self.ln_ih, self.ln_cell = nn.LayerNorm(4 * H, eps=EPS), nn.LayerNorm(H, eps=EPS)
        self.ln_hh = nn.LayerNorm(4 * H, eps=EPS, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        B, H = x.shape[1], self.ln_cell.normalized_shape[0]
        h = c = x.new_zeros(B, H)
        outs = []
        for x_t in x.unbind(0):
            gates = self.ln_ih(F.linear(x_t, self.weight_ih)) + self.ln_hh(
                F.linear(h, self.weight_hh)
            )  # (B, 4H)
            i, f, g, o = gates.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(self.ln_cell(c))
            outs.append(h)
        return torch.stack(outs)


class LayerNormGRULoop(_Loop):
    """a = LN(x·W_ihᵀ), b = LN(h·W_hhᵀ); torch.nn.GRU's update with gx = a, gh = b."""

    copies: ClassVar[dict[str, str]] = {
        "weight_ih": "weight_ih_l0",
        "weight_hh": "weight_hh_l0",
        "ln_ih.weight": "ln_ih_weight_l0",
        "ln_ih.bias": "ln_ih_bias_l0",
        "ln_hh.weight": "ln_hh_weight_l0",
        "ln_hh.bias": "ln_hh_bias_l0",
    }

    def __init__(self, I: int, H: int) -> None:
        super().__init__()
        self._weights(3 * H, I, H)
        self.ln_ih, self.ln_hh = nn.LayerNorm(3 * H, eps=EPS), nn.LayerNorm(3 * H, eps=EPS)

    def forward(self, x: Tensor) -> Tensor:
        B, H = x.shape[1], self.weight_hh.shape[1]
        h, outs = x.new_zeros(B, H), []
        for x_t in x.unbind(0):
            a_r, a_z, a_n = self.ln_ih(F.linear(x_t, self.weight_ih)).chunk(3, dim=1)
            b_r, b_z, b_n = self.ln_hh(F.linear(h, self.weight_hh)).chunk(3, dim=1)
            r, z = torch.sigmoid(a_r + b_r), torch.sigmoid(a_z + b_z)
            n = torch.tanh(a_n + r * b_n)
            h = (1 - z) * n + z * h
            outs.append(h)
        return torch.stack(outs)


class _BiasedLoop(_Loop):
    copies: ClassVar[dict[str, str]] = {
        "weight_ih": "weight_ih_l0",
        "weight_hh": "weight_hh_l0",
        "bias_ih": "bias_ih_l0",
        "bias_hh": "bias_hh_l0",
    }

    def _weights(self, G: int, I: int, H: int, diagonal: bool = False) -> None:
        super()._weights(G, I, H, diagonal)
        self.bias_ih, self.bias_hh = nn.Parameter(torch.empty(G)), nn.Parameter(torch.empty(G))


class PeepholeLSTMLoop(_BiasedLoop):
    """i, f look at c_{t-1}, o at c_t, through the (3H,) peephole weights."""

    copies: ClassVar[dict[str, str]] = _BiasedLoop.copies | {"peephole": "peephole_weight_l0"}

    def __init__(self, I: int, H: int) -> None:
        super().__init__()
        self._weights(4 * H, I, H)
        self.peephole = nn.Parameter(torch.empty(3 * H))

    def forward(self, x: Tensor) -> Tensor:
        B, H = x.shape[1], self.weight_hh.shape[1]
        h = c = x.new_zeros(B, H)
        p_i, p_f, p_o = self.peephole.chunk(3)
        outs = []
        for x_t in x.unbind(0):
            gates = F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(
                h, self.weight_hh, self.bias_hh
            )  # (B, 4H)
            pre_i, pre_f, pre_g, pre_o = gates.chunk(4, dim=1)
            i, f = torch.sigmoid(pre_i + p_i * c), torch.sigmoid(pre_f + p_f * c)
            c = f * c + i * torch.tanh(pre_g)
            h = torch.sigmoid(pre_o + p_o * c) * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs)


class IndRNNLoop(_BiasedLoop):
    """h = relu(x·W_ihᵀ + b_ih + w_hh ⊙ h + b_hh), w_hh a (H,) vector."""

    def __init__(self, I: int, H: int) -> None:
        super().__init__()
        self._weights(H, I, H, diagonal=True)

    def forward(self, x: Tensor) -> Tensor:
        h, outs = x.new_zeros(x.shape[1], self.weight_hh.shape[0]), []
        for x_t in x.unbind(0):
            pre = F.linear(x_t, self.weight_ih, self.bias_ih) + self.weight_hh * h + self.bias_hh
            h = torch.relu(pre)
            outs.append(h)
        return torch.stack(outs)


class CIFGLoop(_BiasedLoop):
    """Coupled input-forget gate LSTM: gates (i, g, o), f = 1 - i."""

    def __init__(self, I: int, H: int) -> None:
        super().__init__()
        self._weights(3 * H, I, H)

    def forward(self, x: Tensor) -> Tensor:
        B, H = x.shape[1], self.weight_hh.shape[1]
        h = c = x.new_zeros(B, H)
        outs = []
        for x_t in x.unbind(0):
            gates = F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(
                h, self.weight_hh, self.bias_hh
            )  # (B, 3H)
            pre_i, pre_g, pre_o = gates.chunk(3, dim=1)
            i = torch.sigmoid(pre_i)
            c = (1 - i) * c + i * torch.tanh(pre_g)
            h = torch.sigmoid(pre_o) * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs)


LOOPS = {
    "layernorm_lstm": LayerNormLSTMLoop,
    "layernorm_gru": LayerNormGRULoop,
    "peephole_lstm": PeepholeLSTMLoop,
    "indrnn": IndRNNLoop,
    "cifg_lstm": CIFGLoop,
}

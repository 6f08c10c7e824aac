"""``RNNCell``, ``LSTMCell``, ``GRUCell``: one step, equal to torch.nn's, on the same engine."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..cells import GRU as GRU_CELL
from ..cells import LSTM as LSTM_CELL
from ..cells import RNN_RELU, RNN_TANH
from ..cells.base import CellMath
from ..engine import (
    LayerWeights,
    check_dtype_device,
    check_shape,
    fmt_shape,
    scan,
    time_layout,
    unpack_hx,
)

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]

_Device = torch.device | str | None


class RNNCellBase(nn.Module):
    """One recurrent step with torch.nn's cell parameters (weight_ih, weight_hh, bias_ih/hh)."""

    cell: CellMath

    def __init__(
        self,
        cell: CellMath,
        input_size: int,
        hidden_size: int,
        bias: bool,
        device: _Device = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if hidden_size < 1 or input_size < 0:
            raise ValueError(
                f"{type(self).__name__} expected input_size >= 0 and hidden_size >= 1, "
                f"got {input_size} and {hidden_size}"
            )
        factory = {"device": device, "dtype": dtype}
        self.cell = cell
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        G = cell.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(G, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(G, **factory))
            self.bias_hh = nn.Parameter(torch.empty(G, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn's init: every parameter uniform in ±1/sqrt(hidden_size)."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"  # as torch.nn prints it
        return s

    def forward(self, input: Tensor, hx: Tensor | tuple[Tensor, Tensor] | None = None):
        """``input`` (B, I) or (I,); ``hx`` (B, H) [or (h, c)]; returns h' [or (h', c')]."""
        owner = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{owner} expected input as a Tensor, got {type(input).__name__}")
        check_dtype_device(owner, "input", input, self.weight_ih)
        if input.dim() not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{owner} expected input of shape (B, {self.input_size}) or "
                f"({self.input_size},), got {fmt_shape(input.shape)}"
            )
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        B, H = x.shape[0], self.hidden_size
        states = unpack_hx(owner, hx, 1 + self.cell.extra_states)
        if states is None:
            states = tuple(x.new_zeros(B, H) for _ in range(1 + self.cell.extra_states))
        else:
            expected = (H,) if unbatched else (B, H)
            for name, s in zip(("hx", "cx"), states):
                check_dtype_device(owner, name, s, self.weight_ih)
                check_shape(owner, name, s, expected, "(H,)" if unbatched else "(B, H)")
            if unbatched:
                states = tuple(s.unsqueeze(0) for s in states)
        w = LayerWeights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        _, h, extra = scan(self.cell, time_layout((B,)), False, x, w, states[0], states[1:])
        out = (h, *extra)
        if unbatched:
            out = tuple(s.squeeze(0) for s in out)
        return out[0] if len(out) == 1 else out


class RNNCell(RNNCellBase):
    """``h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`` (or ReLU), as torch.nn.RNNCell."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: _Device = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        cells = {"tanh": RNN_TANH, "relu": RNN_RELU}
        if nonlinearity not in cells:
            raise ValueError(
                f"RNNCell expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        super().__init__(cells[nonlinearity], input_size, hidden_size, bias, device, dtype)


class LSTMCell(RNNCellBase):
    """One LSTM step, as torch.nn.LSTMCell: returns ``(h', c')``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: _Device = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(LSTM_CELL, input_size, hidden_size, bias, device, dtype)


class GRUCell(RNNCellBase):
    """One GRU step, as torch.nn.GRUCell."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: _Device = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(GRU_CELL, input_size, hidden_size, bias, device, dtype)

"""``RNN``, ``LSTM`` and ``GRU``: drop-in replacements for torch.nn's, on rnnkit's BPTT engine."""

from __future__ import annotations

from typing import Any

import torch

from ..cells import GRU as GRU_CELL
from ..cells import LSTM as LSTM_CELL
from ..cells import RNN_RELU, RNN_TANH
from .base import RNNBase

__all__ = ["GRU", "LSTM", "RNN"]

_Device = torch.device | str | None


class RNN(RNNBase):
    """Elman RNN, ``h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh)`` (or ReLU).

    Same constructor, parameters and returns as ``torch.nn.RNN``; ``forward`` also takes
    ``lengths``. Input (T, B, I) -> output (T, B, D*H), h_n (num_layers*D, B, H).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: _Device = None,
        dtype: torch.dtype | None = None,
        *,
        recurrent_init: str = "uniform",
        **options: Any,  # zoneout, recurrent_dropout, input_dropout: see RNNBase
    ) -> None:
        cells = {"tanh": ("RNN_TANH", RNN_TANH), "relu": ("RNN_RELU", RNN_RELU)}
        if nonlinearity not in cells:
            raise ValueError(f"RNN expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        mode, cell = cells[nonlinearity]
        super().__init__(
            mode,
            cell,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
            recurrent_init=recurrent_init,
            **options,
        )


class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o) as torch.nn.LSTM, optional projection.

    Same constructor, parameters and returns as ``torch.nn.LSTM``; ``forward`` also takes
    ``lengths``. Beyond torch (keyword-only): ``forget_bias`` sets the forget-gate bias at init
    (b_ih's block; b_hh's block is zeroed), ``chrono_init=T_max`` the chrono initialization
    (b_f ~ log U(1, T_max - 1), b_i = -b_f; Tallec & Ollivier 2018), ``recurrent_init`` in
    {"uniform" (torch's),
    "orthogonal", "identity"} re-initializes each gate block of W_hh.
    Input (T, B, I) -> output (T, B, D*P), (h_n (L*D, B, P), c_n (L*D, B, H)), where
    P = proj_size or hidden_size.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: _Device = None,
        dtype: torch.dtype | None = None,
        *,
        forget_bias: float | None = None,
        recurrent_init: str = "uniform",
        **options: Any,  # zoneout, recurrent_dropout, input_dropout: see RNNBase
    ) -> None:
        super().__init__(
            "LSTM",
            LSTM_CELL,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
            forget_bias=forget_bias,
            recurrent_init=recurrent_init,
            **options,
        )


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n) exactly as torch.nn.GRU.

    Same constructor, parameters and returns as ``torch.nn.GRU``; ``forward`` also takes
    ``lengths``. Input (T, B, I) -> output (T, B, D*H), h_n (num_layers*D, B, H).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: _Device = None,
        dtype: torch.dtype | None = None,
        *,
        recurrent_init: str = "uniform",
        **options: Any,  # zoneout, recurrent_dropout, input_dropout: see RNNBase
    ) -> None:
        super().__init__(
            "GRU",
            GRU_CELL,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
            recurrent_init=recurrent_init,
            **options,
        )

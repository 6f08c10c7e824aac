"""``RNN``, ``LSTM`` and ``GRU``: drop-in replacements for torch.nn's, on rnnkit's BPTT engine.

Each names its cell and torch's mode string; the constructor (torch.nn's, plus rnnkit's
keyword-only options) is ``RNNBase``'s.
"""

from __future__ import annotations

from typing import Any

from ..cells import GRU as GRU_CELL
from ..cells import LSTM as LSTM_CELL
from ..cells import RNN_RELU, RNN_TANH
from .base import RNNBase

__all__ = ["GRU", "LSTM", "RNN"]


class RNN(RNNBase):
    """Elman RNN, ``h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh)`` (or ReLU).

    Same constructor, parameters and returns as ``torch.nn.RNN``: ``nonlinearity`` ('tanh' or
    'relu') is the fourth argument; ``forward`` also takes ``lengths``. Input (T, B, I) ->
    output (T, B, D*H), h_n (num_layers*D, B, H).
    """

    cell = RNN_TANH
    torch_mode = "RNN_TANH"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        *args: Any,
        **kwargs: Any,  # the rest of RNNBase's arguments
    ) -> None:
        cells = {"tanh": ("RNN_TANH", RNN_TANH), "relu": ("RNN_RELU", RNN_RELU)}
        if nonlinearity not in cells:
            raise ValueError(f"RNN expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.torch_mode, self.cell = cells[nonlinearity]
        super().__init__(input_size, hidden_size, num_layers, *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o) as torch.nn.LSTM, optional projection.

    Same constructor, parameters and returns as ``torch.nn.LSTM``; ``forward`` also takes
    ``lengths``. Beyond torch (keyword-only): ``forget_bias`` sets the forget-gate bias at init
    (b_ih's block; b_hh's block is zeroed), ``chrono_init=T_max`` the chrono initialization
    (b_f ~ log U(1, T_max - 1), b_i = -b_f; Tallec & Ollivier 2018), ``recurrent_init`` in
    {"uniform" (torch's), "orthogonal", "identity"} re-initializes each gate block of W_hh.
    Input (T, B, I) -> output (T, B, D*P), (h_n (L*D, B, P), c_n (L*D, B, H)), where
    P = proj_size or hidden_size.
    """

    cell = LSTM_CELL
    torch_mode = "LSTM"


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n) exactly as torch.nn.GRU.

    Same constructor, parameters and returns as ``torch.nn.GRU``; ``forward`` also takes
    ``lengths``. Input (T, B, I) -> output (T, B, D*H), h_n (num_layers*D, B, H).
    """

    cell = GRU_CELL
    torch_mode = "GRU"

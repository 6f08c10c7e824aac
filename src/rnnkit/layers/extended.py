"""Layers for cells torch.nn lacks: LayerNormLSTM, LayerNormGRU, PeepholeLSTM, IndRNN.

Each names its cell (and the constructor is ``RNNBase``'s, torch.nn's with rnnkit's options).
All run on the hand-derived BPTT engine (the native C++ loops under the ``auto`` backend,
the fused Python loop otherwise) and take the same layer options and forward contract as
rnnkit.LSTM / GRU: num_layers, bidirectional, batch_first, dropout, initial state, ``lengths``,
PackedSequence.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..cells import INDRNN_RELU, INDRNN_TANH, LAYERNORM_GRU, LAYERNORM_LSTM, PEEPHOLE_LSTM
from ..cells.base import CellMath
from ..engine import LayerWeights
from .base import RNNBase

__all__ = ["IndRNN", "LayerNormGRU", "LayerNormLSTM", "PeepholeLSTM", "Recurrent"]

_Device = torch.device | str | None


class LayerNormLSTM(RNNBase):
    """LSTM with layer norm on both gate projections and on the cell state (Ba et al. 2016).

    Parameters per layer-direction: weight_ih (4H, I), weight_hh (4H, H), ln_ih_weight /
    ln_ih_bias (4H,), ln_hh_weight (4H,), ln_cell_weight / ln_cell_bias (H,). The layer-norm
    biases replace bias_ih / bias_hh (``bias=False`` drops them). The forget-gate block of
    ln_ih_bias starts at ``forget_bias`` (1.0), or as ``chrono_init`` says (see RNNBase).
    Shapes as rnnkit.LSTM without projection.
    """

    cell = LAYERNORM_LSTM
    torch_mode = "LayerNormLSTM"
    default_forget_bias = 1.0


class LayerNormGRU(RNNBase):
    """GRU with layer norm on the input and hidden projections (torch.nn.GRU's gate layout).

    Parameters per layer-direction: weight_ih (3H, I), weight_hh (3H, H), ln_ih_weight /
    ln_ih_bias (3H,), ln_hh_weight / ln_hh_bias (3H,). Shapes as rnnkit.GRU.
    """

    cell = LAYERNORM_GRU
    torch_mode = "LayerNormGRU"


class PeepholeLSTM(RNNBase):
    """LSTM whose gates see the cell state (Gers & Schmidhuber 2000); see rnnkit.cells.peephole.

    Parameters per layer-direction: those of torch.nn.LSTM plus peephole_weight (3H,) for
    (i, f, o). The forget-gate bias starts at ``forget_bias`` (1.0), or as ``chrono_init`` says
    (see RNNBase). Returns as rnnkit.LSTM.
    """

    cell = PEEPHOLE_LSTM
    torch_mode = "PeepholeLSTM"
    default_forget_bias = 1.0


class IndRNN(RNNBase):
    """Independently recurrent network (Li et al. 2018): ``h_t = act(W x_t + w ⊙ h_{t-1} + b)``.

    ``weight_hh_l{k}`` is a (H,) vector, initialized uniform in [0, 1] (``recurrent_init=
    "identity"``: ones). ``recurrent_max`` clips |w_hh| to that value in every forward (the
    paper's constraint against exploding / vanishing gradients over long sequences).
    Shapes and returns as rnnkit.RNN.
    """

    cell = INDRNN_RELU
    torch_mode = "IndRNN"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "relu",
        *args: Any,
        recurrent_max: float | None = None,
        **kwargs: Any,  # the rest of RNNBase's arguments
    ) -> None:
        cells = {"relu": INDRNN_RELU, "tanh": INDRNN_TANH}
        if nonlinearity not in cells:
            raise ValueError(f"IndRNN expected nonlinearity 'relu' or 'tanh', got {nonlinearity!r}")
        if recurrent_max is not None and not recurrent_max > 0:
            raise ValueError(f"IndRNN expected recurrent_max > 0 or None, got {recurrent_max}")
        self.nonlinearity, self.recurrent_max = nonlinearity, recurrent_max
        self.cell = cells[nonlinearity]
        super().__init__(input_size, hidden_size, num_layers, *args, **kwargs)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.recurrent_init == "uniform":
            with torch.no_grad():
                for roles in self._roles:
                    nn.init.uniform_(getattr(self, roles["weight_hh"]), 0.0, 1.0)

    def layer_weights(self, k: int) -> tuple[LayerWeights, tuple[Tensor | None, ...]]:
        w, params = super().layer_weights(k)
        if self.recurrent_max is not None:
            m = self.recurrent_max
            w = w._replace(W_hh=w.W_hh.clamp(-m, m))
        return w, params


class Recurrent(RNNBase):
    """A layer of any cell described by :func:`rnnkit.define_cell` (or a built-in CellMath).

    Same layer options and forward contract as rnnkit.LSTM / GRU: returns ``(output, h_n)``,
    or ``(output, (h_n, *extra_n))`` for cells with extra states.
    """

    def __init__(self, cell: CellMath, *args: Any, **kwargs: Any) -> None:
        if not isinstance(cell, CellMath):
            raise TypeError(
                f"Recurrent expected a CellMath (see rnnkit.define_cell), got {type(cell).__name__}"
            )
        self.cell, self.torch_mode = cell, cell.name
        super().__init__(*args, **kwargs)

"""The recurrent layers by name: what ``--cell`` means in every rnnkit command.

``LAYERS`` maps a cell's one name (``rnnkit.cells.CELLS``) to (layer class, fixed constructor
arguments); every class takes
torch.nn.RNN's constructor (input_size, hidden_size, num_layers, bias, batch_first, dropout,
bidirectional). ``make_layer("gru", 32, 64, batch_first=True)`` builds one; an unknown name is a
``ValueError`` that lists the known ones.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .. import cells
from ..cells import CellMath, MinCell
from .extended import IndRNN, LayerNormGRU, LayerNormLSTM, PeepholeLSTM
from .minimal import MinGRU, MinLSTM
from .recurrent import GRU, LSTM, RNN

__all__ = ["LAYERS", "layer_class", "make_layer", "recurrent_stack"]

# the layer of each cell of rnnkit.cells.CELLS, under the cell's own name
_ROWS: tuple[tuple[CellMath | MinCell, type[nn.Module], dict[str, Any]], ...] = (
    (cells.RNN_TANH, RNN, {"nonlinearity": "tanh"}),
    (cells.RNN_RELU, RNN, {"nonlinearity": "relu"}),
    (cells.LSTM, LSTM, {}),
    (cells.GRU, GRU, {}),
    (cells.LAYERNORM_LSTM, LayerNormLSTM, {}),
    (cells.LAYERNORM_GRU, LayerNormGRU, {}),
    (cells.PEEPHOLE_LSTM, PeepholeLSTM, {}),
    (cells.INDRNN_RELU, IndRNN, {"nonlinearity": "relu"}),
    (cells.INDRNN_TANH, IndRNN, {"nonlinearity": "tanh"}),
    (cells.MIN_GRU, MinGRU, {}),
    (cells.MIN_LSTM, MinLSTM, {}),
)
LAYERS: dict[str, tuple[type[nn.Module], dict[str, Any]]] = {
    cell.name: (cls, fixed) for cell, cls, fixed in _ROWS
}


def layer_class(name: str) -> tuple[type[nn.Module], dict[str, Any]]:
    """(class, fixed arguments) of the layer registered as ``name``."""
    if name not in LAYERS:
        raise ValueError(f"unknown cell {name!r}; expected one of {', '.join(LAYERS)}")
    return LAYERS[name]


def make_layer(name: str, input_size: int, hidden_size: int, **options: Any) -> nn.Module:
    """The layer ``name`` of ``LAYERS`` built with torch.nn.RNN-style ``options``."""
    cls, fixed = layer_class(name)
    return cls(input_size, hidden_size, **fixed, **options)


def recurrent_stack(
    name: str, input_size: int, hidden_size: int, layers: int, dropout: float, **options: Any
) -> nn.Module:
    """A batch-first stack of ``layers`` layers of ``name``, as the recipes build it: dropout
    between layers only (none, and no warning, for one layer)."""
    dropout = dropout if layers > 1 else 0.0
    return make_layer(
        name, input_size, hidden_size, num_layers=layers, dropout=dropout, batch_first=True,
        **options,
    )  # fmt: skip

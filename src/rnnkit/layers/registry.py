"""The recurrent layers by name: what ``--cell`` means in every rnnkit command.

``LAYERS`` maps a name to (layer class, fixed constructor arguments); every class takes
torch.nn.RNN's constructor (input_size, hidden_size, num_layers, bias, batch_first, dropout,
bidirectional). ``make_layer("gru", 32, 64, batch_first=True)`` builds one; an unknown name is a
``ValueError`` that lists the known ones.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .extended import IndRNN, LayerNormGRU, LayerNormLSTM, PeepholeLSTM
from .minimal import MinGRU, MinLSTM
from .recurrent import GRU, LSTM, RNN

__all__ = ["LAYERS", "layer_class", "make_layer"]

LAYERS: dict[str, tuple[type[nn.Module], dict[str, Any]]] = {
    "rnn": (RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, {}),
    "gru": (GRU, {}),
    "layernorm_lstm": (LayerNormLSTM, {}),
    "layernorm_gru": (LayerNormGRU, {}),
    "peephole_lstm": (PeepholeLSTM, {}),
    "indrnn": (IndRNN, {}),
    "mingru": (MinGRU, {}),
    "minlstm": (MinLSTM, {}),
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

"""Pure math of each recurrent cell: one step forward, one step backward from saved activations."""

from .base import CellMath, ParamSpec
from .custom import autograd_step_backward, define_cell
from .gru import GRU
from .indrnn import INDRNN_RELU, INDRNN_TANH
from .layernorm import LAYERNORM_GRU, LAYERNORM_LSTM
from .lstm import LSTM
from .minimal import MIN_GRU, MIN_LSTM, MinCell
from .peephole import PEEPHOLE_LSTM
from .rnn import RNN_RELU, RNN_TANH

__all__ = [
    "GRU",
    "INDRNN_RELU",
    "INDRNN_TANH",
    "LAYERNORM_GRU",
    "LAYERNORM_LSTM",
    "LSTM",
    "MIN_GRU",
    "MIN_LSTM",
    "PEEPHOLE_LSTM",
    "RNN_RELU",
    "RNN_TANH",
    "CellMath",
    "MinCell",
    "ParamSpec",
    "autograd_step_backward",
    "define_cell",
]

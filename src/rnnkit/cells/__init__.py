"""Pure math of each recurrent cell: one step forward, one step backward from saved activations."""

from .base import CellMath, ParamSpec
from .custom import autograd_step_backward, define_cell
from .gru import GRU
from .indrnn import INDRNN_RELU, INDRNN_TANH
from .layernorm import LAYERNORM_GRU, LAYERNORM_LSTM
from .lstm import LSTM
from .peephole import PEEPHOLE_LSTM
from .rnn import RNN_RELU, RNN_TANH

__all__ = [
    "GRU",
    "INDRNN_RELU",
    "INDRNN_TANH",
    "LAYERNORM_GRU",
    "LAYERNORM_LSTM",
    "LSTM",
    "PEEPHOLE_LSTM",
    "RNN_RELU",
    "RNN_TANH",
    "CellMath",
    "ParamSpec",
    "autograd_step_backward",
    "define_cell",
]

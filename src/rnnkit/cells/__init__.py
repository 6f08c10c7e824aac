"""Pure math of each recurrent cell: one step forward, one step backward from saved activations."""

from .base import CellMath
from .gru import GRU
from .lstm import LSTM
from .rnn import RNN_RELU, RNN_TANH

__all__ = ["GRU", "LSTM", "RNN_RELU", "RNN_TANH", "CellMath"]

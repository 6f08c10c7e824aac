"""nn.Modules: RNN / LSTM / GRU layers (stacking, bidirectional, lengths, packing), cells, and
layers for the cells torch.nn lacks."""

from ..engine import engine_path
from .base import RNNBase
from .cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from .extended import IndRNN, LayerNormGRU, LayerNormLSTM, PeepholeLSTM, Recurrent
from .minimal import MinGRU, MinLSTM, MinRNNBase
from .recurrent import GRU, LSTM, RNN

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "GRUCell",
    "IndRNN",
    "LSTMCell",
    "LayerNormGRU",
    "LayerNormLSTM",
    "MinGRU",
    "MinLSTM",
    "MinRNNBase",
    "PeepholeLSTM",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "Recurrent",
    "engine_path",
]

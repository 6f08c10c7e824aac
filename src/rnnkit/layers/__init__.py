"""nn.Modules: RNN / LSTM / GRU layers (stacking, bidirectional, lengths, packing), cells,
layers for the cells torch.nn lacks, and a linear-chain CRF for sequence labelling."""

from ..engine import engine_path
from .base import RNNBase
from .cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from .crf import CRF, allowed_transitions
from .extended import IndRNN, LayerNormGRU, LayerNormLSTM, PeepholeLSTM, Recurrent
from .minimal import MinGRU, MinLSTM, MinRNNBase
from .recurrent import GRU, LSTM, RNN

__all__ = [
    "CRF",
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
    "allowed_transitions",
    "engine_path",
]

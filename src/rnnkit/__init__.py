"""rnnkit: recurrent neural networks on a hand-derived BPTT engine.

``rnnkit.RNN / LSTM / GRU`` (and the cells) are drop-in replacements for torch.nn's: same
constructor, parameter names and returns, plus ``lengths=`` in forward.
"""

from .cells import CellMath, ParamSpec, define_cell
from .engine import BACKENDS, get_backend, set_backend, use_backend
from .layers import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    IndRNN,
    LayerNormGRU,
    LayerNormLSTM,
    LSTMCell,
    MinGRU,
    MinLSTM,
    PeepholeLSTM,
    Recurrent,
    RNNBase,
    RNNCell,
)

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "GRU",
    "LSTM",
    "RNN",
    "CellMath",
    "GRUCell",
    "IndRNN",
    "LSTMCell",
    "LayerNormGRU",
    "LayerNormLSTM",
    "MinGRU",
    "MinLSTM",
    "ParamSpec",
    "PeepholeLSTM",
    "RNNBase",
    "RNNCell",
    "Recurrent",
    "__version__",
    "define_cell",
    "get_backend",
    "set_backend",
    "use_backend",
]

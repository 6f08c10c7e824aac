"""rnnkit: recurrent neural networks on a hand-derived BPTT engine.

``rnnkit.RNN / LSTM / GRU`` (and the cells) are drop-in replacements for torch.nn's: same
constructor, parameter names and returns, plus ``lengths=`` in forward.

The rest is reachable after ``import rnnkit`` alone, imported on first use (so ``import rnnkit``
stays light): ``rnnkit.data.load_dataset(...)``, ``rnnkit.tasks.classify.load_classifier(...)``,
``rnnkit.train.Trainer``, ``rnnkit.diagnostics.gradient_flow(...)``, ``rnnkit.errors``.
"""

import importlib as _importlib

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

# submodules imported on first attribute access (PEP 562), not by ``import rnnkit``
_LAZY = ("cli", "commands", "data", "diagnostics", "errors", "export", "tasks", "train")

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


def __getattr__(name: str):
    if name in _LAZY:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

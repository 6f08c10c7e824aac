"""Pure math of each cell: one step forward, one step backward from saved activations.

``CELLS`` names every built-in cell once: the name is the cell's ``name``, the key of the layer
registry (``rnnkit.layers.registry``), the ``--cell`` choice of every command, and what the
native engine is told. A new cell: one file here, one row in ``CELLS`` (and one in the layer
registry); see docs/new_cell.md.
"""

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
    "CELLS",
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

CELLS: dict[str, CellMath | MinCell] = {
    cell.name: cell
    for cell in (
        RNN_TANH,
        RNN_RELU,
        LSTM,
        GRU,
        LAYERNORM_LSTM,
        LAYERNORM_GRU,
        PEEPHOLE_LSTM,
        INDRNN_RELU,
        INDRNN_TANH,
        MIN_GRU,
        MIN_LSTM,
    )
}

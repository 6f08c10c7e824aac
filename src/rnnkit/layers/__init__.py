"""nn.Modules: RNN / LSTM / GRU layers (stacking, bidirectional, lengths, packing) and cells."""

from .base import RNNBase
from .cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from .recurrent import GRU, LSTM, RNN

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]

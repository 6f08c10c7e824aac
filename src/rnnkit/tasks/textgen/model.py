"""The language model: Embedding -> rnnkit recurrent stack -> Linear over the vocabulary.

``LanguageModel(x, state)`` maps token ids (B, T) to next-token logits (B, T, V) and the final
recurrent state, which the caller carries into the next chunk (training) or the next token
(sampling).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

import rnnkit

__all__ = ["CELLS", "LanguageModel", "recurrent_layer"]


CELLS = {  # --cell name -> (rnnkit layer class, extra constructor arguments)
    "rnn": (rnnkit.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnnkit.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnnkit.LSTM, {}),
    "gru": (rnnkit.GRU, {}),
}
_MORE = {  # further rnnkit layers with the same constructor, where this rnnkit has them
    "layernorm_lstm": "LayerNormLSTM",
    "layernorm_gru": "LayerNormGRU",
    "peephole_lstm": "PeepholeLSTM",
    "indrnn": "IndRNN",
    "mingru": "MinGRU",
    "minlstm": "MinLSTM",
}
CELLS.update({k: (getattr(rnnkit, v), {}) for k, v in _MORE.items() if hasattr(rnnkit, v)})


def recurrent_layer(cell: str, input_size: int, hidden: int, layers: int, dropout: float):
    """A batch-first rnnkit layer stack of ``cell`` (a key of ``CELLS``)."""
    cls, kwargs = CELLS[cell]
    return cls(input_size, hidden, num_layers=layers, dropout=dropout, batch_first=True, **kwargs)


class LanguageModel(nn.Module):
    """Next-token model over a vocabulary of ``vocab_size`` ids (see the module docstring)."""

    def __init__(
        self,
        vocab_size: int,
        embed: int,
        hidden: int,
        layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.rnn = recurrent_layer(cell, embed, hidden, layers, dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """x (B, T) ids, state from the previous chunk or None -> (logits (B, T, V), state)."""
        e = self.drop(self.embed(x))  # (B, T, E)
        out, state = self.rnn(e, state)  # (B, T, H)
        return self.head(self.drop(out)), state

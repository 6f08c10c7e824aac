"""The language model: Embedding -> rnnkit recurrent stack -> Linear over the vocabulary.

``LanguageModel(x, state)`` maps token ids (B, T) to next-token logits (B, T, V) and the final
recurrent state, which the caller carries into the next chunk (training) or the next token
(sampling).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ...layers.registry import LAYERS, recurrent_stack

__all__ = ["CELLS", "LanguageModel"]


CELLS = LAYERS  # --cell name -> (rnnkit layer class, fixed constructor arguments)


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
        self.rnn = recurrent_stack(cell, embed, hidden, layers, dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """x (B, T) ids, state from the previous chunk or None -> (logits (B, T, V), state)."""
        e = self.drop(self.embed(x))  # (B, T, E)
        out, state = self.rnn(e, state)  # (B, T, H)
        return self.head(self.drop(out)), state

"""The text classifier: Embedding -> rnnkit recurrent stack (true lengths) -> pooling -> Linear.

``TextClassifier(x, lengths)`` maps post-padded token ids (B, T) and their lengths (B,) to
logits (B, K): K = 1 for two classes (a sigmoid logit, trained with BCEWithLogits: Keras'
``Dense(1, activation="sigmoid")`` + binary cross-entropy), K = C for C > 2 classes
(softmax, cross-entropy). The recurrent layer gets ``lengths=`` and never steps over padding.

Pooling turns the layer's outputs (B, T, D*H) into one vector (B, D*H) per text:
``last`` the final state of the last layer (forward direction at each text's own last token;
backward direction at its first), ``max`` / ``mean`` over the valid steps only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...layers.registry import recurrent_stack

__all__ = [
    "TextClassifier",
    "class_probabilities",
    "classification_loss",
    "pool_last",
    "pool_max",
    "pool_mean",
    "valid_steps",
]


def valid_steps(lengths: Tensor, T: int) -> Tensor:
    """(B, T) bool mask, True at the steps t < lengths[b] of each sequence."""
    return torch.arange(T, device=lengths.device) < lengths[:, None]


def pool_last(h_n: Tensor, directions: int) -> Tensor:
    """The last layer's final states h_n[-D:] (D, B, H) side by side: (B, D*H)."""
    last = h_n[-directions:]  # (D, B, H)
    return last.transpose(0, 1).reshape(last.shape[1], -1)


def pool_max(out: Tensor, lengths: Tensor) -> Tensor:
    """Largest value of each feature over the valid steps: out (B, T, F) -> (B, F)."""
    mask = valid_steps(lengths.to(out.device), out.shape[1])  # (B, T)
    return out.masked_fill(~mask[:, :, None], float("-inf")).amax(dim=1)


def pool_mean(out: Tensor, lengths: Tensor) -> Tensor:
    """Mean of each feature over the valid steps: out (B, T, F) -> (B, F)."""
    lengths = lengths.to(out.device)
    mask = valid_steps(lengths, out.shape[1])  # (B, T)
    total = (out * mask[:, :, None]).sum(dim=1)  # (B, F)
    return total / lengths[:, None].to(out.dtype)


class TextClassifier(nn.Module):
    """Classifier over ``num_classes`` labels of texts given as ids < ``vocab_size``."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embed: int = 64,
        hidden: int = 64,
        layers: int = 1,
        cell: str = "gru",  # a name of rnnkit.layers.registry.LAYERS
        bidirectional: bool = False,
        pooling: str = "last",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes; got {num_classes}")
        if pooling not in ("last", "max", "mean"):
            raise ValueError(f"pooling must be 'last', 'max' or 'mean'; got {pooling!r}")
        self.pooling, self.directions = pooling, 2 if bidirectional else 1
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.rnn = recurrent_stack(
            cell, embed, hidden, layers, dropout, bidirectional=bidirectional
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(self.directions * hidden, 1 if num_classes == 2 else num_classes)

    def features(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x (B, T) ids, lengths (B,) -> pooled representation (B, D*H)."""
        e = self.drop(self.embed(x))  # (B, T, E)
        out, state = self.rnn(e, lengths=lengths.cpu())  # (B, T, D*H), zero past each length
        if self.pooling == "max":
            return pool_max(out, lengths)
        if self.pooling == "mean":
            return pool_mean(out, lengths)
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n)
        return pool_last(h_n, self.directions)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x (B, T) post-padded ids, lengths (B,) in [1, T] -> logits (B, K)."""
        return self.head(self.drop(self.features(x, lengths)))


def classification_loss(logits: Tensor, labels: Tensor, reduction: str = "mean") -> Tensor:
    """BCEWithLogits for one logit (K = 1), cross-entropy otherwise; labels (B,) class ids."""
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(
            logits[:, 0], labels.to(logits.dtype), reduction=reduction
        )
    return F.cross_entropy(logits, labels, reduction=reduction)


def class_probabilities(logits: Tensor) -> Tensor:
    """(B, C) probabilities of every class from logits (B, K); K = 1 means C = 2."""
    if logits.shape[1] == 1:
        p = torch.sigmoid(logits)  # (B, 1) probability of class 1
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)

"""The acoustic model: features -> normalization -> (SpecAugment) -> stacked rnnkit recurrent
layers with frame subsampling between them -> linear -> log-probabilities of blank + symbols.

``SpeechModel(feats, lengths)`` maps raw features (B, T, F) with true frame counts (B,) to
CTC log-probabilities (B, T', C) (C = symbols + 1, id 0 the blank) and output lengths (B,).
Every recurrent layer gets ``lengths=`` and never steps over padding.

Normalization is part of the model: ``"utterance"`` (each utterance's features to zero mean and
unit variance, ``features.normalize_utterance``), or ``"global"`` (the training set's per
feature mean and deviation, kept in the buffers ``mean``/``std`` and so in every checkpoint):
only the global one is causal, which streaming needs.

Subsampling ``2**k`` keeps every other frame after each of the first k layers (the layer's
recurrence has seen the dropped frames): a layer above runs 2x, 4x fewer steps. ``T'`` is
``ceil(T / 2**k)``. ``stream`` runs a unidirectional model on a chunk of frames with the state
the previous chunk left (hidden states, and how many frames each subsampling point has seen),
giving exactly the rows the whole utterance gives. ``blank_bias`` is the blank logit's initial
bias (``SpeechConfig.initial_blank_bias`` says why a unidirectional model needs one).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...layers.registry import recurrent_stack
from .augment import spec_augment
from .features import normalize_utterance

__all__ = ["NORMALIZATIONS", "SUBSAMPLING", "SpeechModel", "ctc_loss", "layer_groups"]

NORMALIZATIONS = ("utterance", "global")
SUBSAMPLING = (1, 2, 4)


def layer_groups(layers: int, subsample: int) -> list[int]:
    """Layers per group between subsampling points: factor 2**k splits off the first k layers
    one by one (``layers=3, subsample=4`` -> [1, 1, 1]; ``subsample=1`` -> [layers])."""
    k = subsample.bit_length() - 1
    if subsample not in SUBSAMPLING or layers <= k:
        raise ValueError(
            f"--subsample {subsample} needs at least {k + 1} --layers and one of "
            f"{', '.join(map(str, SUBSAMPLING))}; got {layers} layers"
        )
    return [1] * k + [layers - k]


class SpeechModel(nn.Module):
    """CTC acoustic model (see the module docstring)."""

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        cell: str = "gru",
        hidden: int = 128,
        layers: int = 3,
        bidirectional: bool = True,
        subsample: int = 2,
        dropout: float = 0.0,
        normalize: str = "utterance",
        augment: tuple[int, int, int] = (0, 0, 0),
        blank_bias: float = 0.0,
    ) -> None:
        super().__init__()
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}; got {normalize!r}")
        self.normalize, self.augment = normalize, augment  # (masks, freq width, time width)
        self.directions = 2 if bidirectional else 1
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        groups, width = [], n_features
        for n in layer_groups(layers, subsample):
            groups.append(
                recurrent_stack(cell, width, hidden, n, dropout, bidirectional=bidirectional)
            )
            width = self.directions * hidden
        self.groups = nn.ModuleList(groups)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, n_outputs)
        with torch.no_grad():
            self.head.bias[0] = blank_bias  # the blank's initial logit (id 0)

    def set_statistics(self, mean: Tensor, std: Tensor) -> None:
        """The global normalization's per-feature mean and deviation (F,)."""
        self.mean.copy_(mean)
        self.std.copy_(std.clamp(min=1e-3))

    def _normalized(self, x: Tensor, lengths: Tensor) -> Tensor:
        if self.normalize == "utterance":
            return normalize_utterance(x, lengths)
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None].to(x.device)
        return (x - self.mean) / self.std * mask[..., None]

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """feats (B, T, F) raw, lengths (B,) -> (log-probabilities (B, T', C), lengths (B,))."""
        lengths = lengths.cpu()
        x = self._normalized(feats, lengths)
        if self.training and self.augment[0] > 0:
            x = spec_augment(x, lengths, *self.augment)
        for k, group in enumerate(self.groups):
            if k:
                x, lengths = x[:, ::2], (lengths + 1) // 2  # keep frames 0, 2, 4, ...
            x, _ = group(self.drop(x) if k else x, lengths=lengths)  # (B, T_k, D*H)
        return F.log_softmax(self.head(self.drop(x)), dim=-1), lengths

    def stream(self, feats: Tensor, state: dict[str, Any] | None) -> tuple[Tensor, dict]:
        """Unidirectional models: raw frames (1, t, F) of an utterance's next chunk and the
        state after the previous one (None at the start) -> (log-probabilities (1, t', C),
        the state after this chunk)."""
        if self.directions != 1 or self.normalize != "global":
            raise ValueError("streaming needs a unidirectional model with global normalization")
        state = state or {"hx": [None] * len(self.groups), "seen": [0] * len(self.groups)}
        x = (feats - self.mean) / self.std
        for k, group in enumerate(self.groups):
            if k:
                start = (-state["seen"][k]) % 2  # the first frame of the chunk with even index
                state["seen"][k] += x.shape[1]
                x = x[:, start::2]
            if x.shape[1] == 0:
                return self.head.weight.new_zeros(1, 0, self.head.out_features), state
            x, state["hx"][k] = group(x, state["hx"][k])
        return F.log_softmax(self.head(x), dim=-1), state


def ctc_loss(log_probs: Tensor, lengths: Tensor, targets: list[tuple[int, ...]]) -> Tensor:
    """Mean CTC loss per target symbol (``F.ctc_loss``, blank 0) of log_probs (B, T', C)."""
    flat = torch.tensor([s for t in targets for s in t], dtype=torch.int64)
    target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.int64)
    return F.ctc_loss(
        log_probs.transpose(0, 1), flat, lengths, target_lengths, blank=0, zero_infinity=True
    )

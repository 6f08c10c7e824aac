"""SpecAugment's masking (Park et al. 2019), applied in training only.

``spec_augment(x, lengths, masks, freq_width, time_width)`` sets, in every utterance of
normalized features x (B, T, F), ``masks`` bands of 0..``freq_width`` adjacent features and
``masks`` spans of 0..``time_width`` frames (inside the utterance's valid frames) to 0, the
normalized mean. The draws use torch's RNG, which checkpoints hold: resume stays exact.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["spec_augment"]


def _spans(sizes: Tensor, count: int, width: int, n: int) -> Tensor:
    """(B, n) bool: ``count`` spans per row of width 0..``width`` starting in [0, sizes - w]."""
    B = sizes.shape[0]
    w = torch.randint(0, width + 1, (B, count))
    w = torch.minimum(w, sizes[:, None])  # a span never exceeds the row's size
    start = (torch.rand(B, count) * (sizes[:, None] - w + 1)).long()
    pos = torch.arange(n)[None, None, :]  # (1, 1, n)
    inside = (pos >= start[..., None]) & (pos < (start + w)[..., None])  # (B, count, n)
    return inside.any(dim=1)


def spec_augment(
    x: Tensor, lengths: Tensor, masks: int, freq_width: int, time_width: int
) -> Tensor:
    """x (B, T, F) with masked feature bands and frame spans set to 0 (see the docstring)."""
    B, T, F = x.shape
    freq = _spans(torch.full((B,), F), masks, freq_width, F)  # (B, F)
    time = _spans(lengths.cpu(), masks, time_width, T)  # (B, T)
    keep = ~(freq[:, None, :] | time[:, :, None])  # (B, T, F)
    return x * keep.to(x.device, x.dtype)

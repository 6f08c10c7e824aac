"""Randomness inside the recurrence: recurrent (variational) dropout and zoneout.

``StackNoise`` is what a layer asks of one call (rates, training mode); ``step_noise`` draws the
masks of one layer-direction from it.

``StepNoise(rec_mask, zone_h, zone_extra)`` for one layer-direction, in packed row order:

- ``rec_mask`` (B, P) or None: Gal & Ghahramani's (2016) dropout on h_{t-1} where it enters
  the hidden projection, one mask per sequence for all steps (already scaled by 1 / (1 - p)).
- ``zone_h`` (N, P), a float, or None: zoneout (Krueger et al. 2016), the weight of the previous
  value, ``h_t = lerp(h_cell, h_{t-1}, z)``: a {0, 1} mask per row in training, the rate p
  itself in evaluation (the expectation). ``zone_extra``: the same for each extra state (c).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "NO_NOISE",
    "NO_STACK_NOISE",
    "StackNoise",
    "StepNoise",
    "at_rows",
    "sequence_mask",
    "step_noise",
]


class StepNoise(NamedTuple):
    rec_mask: Tensor | None = None
    zone_h: Tensor | float | None = None
    zone_extra: tuple[Tensor | float, ...] = ()


NO_NOISE = StepNoise()


def at_rows(z: Tensor | float, rows: slice) -> Tensor | float:
    """The rows of a zoneout mask, or the rate itself when it is a constant."""
    return z if isinstance(z, float) else z[rows]


class StackNoise(NamedTuple):
    """The randomness a layer asks of one call: dropout between layers and inside the recurrence.

    The random ones act in training mode only; zoneout in evaluation mode uses its expectation.
    """

    training: bool = False
    dropout: float = 0.0  # on each layer's output but the last (torch.nn's dropout)
    zoneout: tuple[float, float] = (0.0, 0.0)  # rates for h and for the extra states (c)
    recurrent_dropout: float = 0.0  # one mask per sequence on h_{t-1} in the hidden projection
    input_dropout: float = 0.0  # one mask per sequence on each layer's input

    def per_sequence(self) -> bool:
        """Zoneout (any mode), or recurrent / input dropout in training mode."""
        zh, zc = self.zoneout
        rec, inp = self.recurrent_dropout, self.input_dropout
        return bool(zh or zc or (self.training and (rec or inp)))

    def between_layers(self, num_layers: int) -> bool:
        """Whether dropout acts between the layers of this call."""
        return bool(self.training and self.dropout and num_layers > 1)


NO_STACK_NOISE = StackNoise()  # evaluation mode without zoneout: nothing random, nothing to draw


def sequence_mask(x: Tensor, batch_index: Tensor, B: int, p: float) -> Tensor:
    """(N, F) rows of a dropout mask drawn once per sequence (B, F), scaled by 1 / (1 - p);
    ``batch_index`` (N,) is each packed row's sequence."""
    mask = torch.bernoulli(x.new_full((B, x.shape[1]), 1 - p)) / (1 - p)
    return mask[batch_index]


def step_noise(noise: StackNoise, N: int, states0: tuple[Tensor, ...]) -> StepNoise:
    """Recurrent-dropout and zoneout masks for one layer-direction (none if unused); ``states0``
    the (L*D, B, .) initial states, N the packed rows."""
    (zh, zc), p = noise.zoneout, noise.recurrent_dropout
    if not (zh or zc or p):
        return NO_NOISE
    h0 = states0[0][0]
    rec_mask = None
    if p and noise.training:
        rec_mask = torch.bernoulli(h0.new_full(h0.shape, 1 - p)) / (1 - p)
    if not (zh or zc):
        return StepNoise(rec_mask)
    if not noise.training:  # the expectation of zoneout: a constant weight on the old value
        return StepNoise(rec_mask, zh, tuple(zc for _ in states0[1:]))

    def zone(rate: float, like: Tensor) -> Tensor:
        return torch.bernoulli(like.new_full((N, like.shape[-1]), rate))

    return StepNoise(rec_mask, zone(zh, h0), tuple(zone(zc, s[0]) for s in states0[1:]))

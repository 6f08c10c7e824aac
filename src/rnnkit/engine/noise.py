"""Randomness inside the recurrence: recurrent (variational) dropout and zoneout.

``StepNoise(rec_mask, zone_h, zone_extra)`` for one layer-direction, in packed row order:

- ``rec_mask`` (B, P) or None: Gal & Ghahramani's (2016) dropout on h_{t-1} where it enters
  the hidden projection, one mask per sequence for all steps (already scaled by 1 / (1 - p)).
- ``zone_h`` (N, P), a float, or None: zoneout (Krueger et al. 2016), the weight of the previous
  value, ``h_t = lerp(h_cell, h_{t-1}, z)``: a {0, 1} mask per row in training, the rate p
  itself in evaluation (the expectation). ``zone_extra``: the same for each extra state (c).
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

__all__ = ["NO_NOISE", "StepNoise", "at_rows"]


class StepNoise(NamedTuple):
    rec_mask: Tensor | None = None
    zone_h: Tensor | float | None = None
    zone_extra: tuple[Tensor | float, ...] = ()


NO_NOISE = StepNoise()


def at_rows(z: Tensor | float, rows: slice) -> Tensor | float:
    """The rows of a zoneout mask, or the rate itself when it is a constant."""
    return z if isinstance(z, float) else z[rows]

"""The weights of one layer-direction, as the engine takes them."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

__all__ = ["LayerWeights"]


class LayerWeights(NamedTuple):
    """``W_ih`` (G, I), ``W_hh`` (G, P), biases (G,) or None, ``W_hr`` (P, H) or None."""

    W_ih: Tensor
    W_hh: Tensor
    b_ih: Tensor | None = None
    b_hh: Tensor | None = None
    W_hr: Tensor | None = None

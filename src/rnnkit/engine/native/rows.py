"""The packed rows of a padded batch, as the operators take them: a padded batch with lengths
keeps all N = T·B rows (a size a traced graph can hold), the packed rows first, n = Σ
batch_sizes of them, then the padding's rows; ``batch_sizes`` may end in zeros (steps no
sequence reaches). The sweeps run the n packed rows; their per-row outputs get zero rows for
the padding (ops.py, cell_ops.py)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["packed_steps", "pad_rows"]


def packed_steps(batch_sizes: Tensor, B: int) -> tuple[list[int], int]:
    """The steps that have rows (trailing zeros dropped) and their row count n."""
    sizes = [s for s in batch_sizes.tolist() if s > 0]
    if not sizes or sizes[0] != B:
        raise ValueError(
            f"rnnkit sweep: expected {B} rows at the first step (one per sequence: lengths must "
            f"be at least 1), got batch_sizes starting {batch_sizes[:3].tolist()}"
        )
    return sizes, sum(sizes)


def pad_rows(t: Tensor, N: int) -> Tensor:
    """A per-row output of the packed rows with zero rows up to N (the padding's rows)."""
    if t.numel() == 0 or t.shape[0] == N:
        return t
    return torch.cat([t, t.new_zeros(N - t.shape[0], *t.shape[1:])])

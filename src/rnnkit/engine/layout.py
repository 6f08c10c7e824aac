"""Where each time step's rows live in the packed (time-major, batch-shrinking) layout.

Every scan runs on packed data: a 2-D tensor (N, F) holding step 0's rows, then step 1's, ...
Step t holds ``batch_sizes[t]`` rows, the sequences (sorted longest first) still running at t,
so ``batch_sizes`` never grows. A padded batch without lengths is the special case
``batch_sizes = (B,) * T``, and its (T, B, F) tensor is already that layout (``reshape(T*B, F)``).
This is torch's PackedSequence layout; lengths and reversal are handled here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, pairwise

__all__ = ["TimeLayout", "time_layout"]


@dataclass(frozen=True)
class TimeLayout:
    """Row bookkeeping for packed data with per-step batch sizes ``batch_sizes`` (length T)."""

    batch_sizes: tuple[int, ...]  # rows per step, non-increasing
    offsets: tuple[int, ...]  # first row of each step

    @property
    def T(self) -> int:
        return len(self.batch_sizes)

    @property
    def B(self) -> int:
        return self.batch_sizes[0]

    @property
    def N(self) -> int:
        return self.offsets[-1] + self.batch_sizes[-1]

    @property
    def uniform(self) -> bool:
        """True when every step holds the whole batch (no lengths)."""
        return self.batch_sizes[-1] == self.batch_sizes[0]

    def rows(self, t: int) -> slice:
        """The rows of step ``t`` in the packed data."""
        return slice(self.offsets[t], self.offsets[t] + self.batch_sizes[t])

    def batch_index(self) -> list[int]:
        """For each packed row, its position in the (sorted) batch: 0..batch_sizes[t]-1 per step."""
        return [b for n in self.batch_sizes for b in range(n)]

    def order(self, reverse: bool) -> range:
        """The steps in processing order: forward in time, or backward for a reverse direction."""
        return range(self.T - 1, -1, -1) if reverse else range(self.T)


@lru_cache(maxsize=256)
def time_layout(batch_sizes: tuple[int, ...]) -> TimeLayout:
    """The (cached) layout of ``batch_sizes``; it must be non-empty and non-increasing."""
    if not batch_sizes:
        raise ValueError("expected at least one time step, got T = 0")
    if any(b1 < b2 for b1, b2 in pairwise(batch_sizes)):
        raise ValueError(f"batch_sizes must be non-increasing, got {list(batch_sizes)}")
    offsets = (0, *accumulate(batch_sizes[:-1]))
    return TimeLayout(batch_sizes=tuple(batch_sizes), offsets=tuple(offsets))

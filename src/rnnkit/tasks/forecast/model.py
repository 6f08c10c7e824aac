"""The forecaster: an rnnkit recurrent stack over the lookback window, then one Linear layer
that emits all H future steps at once (direct multi-output forecasting, no recursion).

``Forecaster(x)`` maps anchored, encoded windows (B, L, I) to forecasts (B, H) of the same
encoding (``windows.py``): the value at each future step minus the window's last value.
"""

from __future__ import annotations

from torch import Tensor, nn

from ...layers.registry import recurrent_stack

__all__ = ["Forecaster"]


class Forecaster(nn.Module):
    """Direct multi-step forecaster (see the module docstring)."""

    def __init__(
        self,
        horizon: int,
        hidden: int,
        layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        input_size: int = 1,
    ) -> None:
        super().__init__()
        self.rnn = recurrent_stack(cell, input_size, hidden, layers, dropout)
        self.head = nn.Linear(hidden, horizon)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, I) -> forecasts (B, H), read from the last step's top-layer output."""
        out, _ = self.rnn(x)  # (B, L, hidden)
        return self.head(out[:, -1])

"""``ForecastTask``: the training loss on window batches, and validation in original units.

Training: step ``s`` takes the windows ``WindowBatches.batch(s)`` and the mean absolute (or
squared) error of the H anchored forecasts. Validation forecasts every validation window and
reports ``loss`` (the training loss there) and ``mae``, ``mase`` in the series' own units.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ...train import StepResult
from .metrics import mae, mase
from .windows import Scaler, WindowBatches

__all__ = ["ForecastTask", "forecast_windows"]


@torch.no_grad()
def forecast_windows(model: nn.Module, x: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Encoded forecasts (N, H) of anchored windows x (N, L) with their anchors (N,)."""
    model.eval()
    device = next(model.parameters()).device
    inputs = torch.from_numpy(x).float().unsqueeze(-1).to(device)  # (N, L, 1)
    offsets = model(inputs).double().cpu().numpy()  # (N, H)
    return offsets + anchors[:, None]


class ForecastTask:
    """The ``Task`` of direct multi-step forecasting (see the module docstring)."""

    def __init__(
        self,
        train: WindowBatches,
        val: tuple[np.ndarray, np.ndarray, np.ndarray],
        actual: np.ndarray,
        scaler: Scaler,
        scale: float,
        loss: str = "mae",
        device: torch.device | None = None,
    ) -> None:
        self.train, self.scaler, self.scale, self.loss = train, scaler, scale, loss
        self.val_x, self.val_y, self.val_anchors = val  # (N, L), (N, H), (N,)
        self.actual = actual  # (N, H) validation targets in original units
        self.device = device or torch.device("cpu")
        self.labels = {  # the axes of curves.png
            "loss": f"{loss.upper()} of the scaled series (training loss)",
            "mae": "MAE (units of the series)",
            "mase": "MASE (MAE / in-sample seasonal-naive MAE)",
        }

    def steps_per_epoch(self) -> int:
        return self.train.per_epoch

    def _loss(self, forecast: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = forecast - target  # (B, H)
        return error.abs().mean() if self.loss == "mae" else error.pow(2).mean()

    def train_step(self, model: nn.Module, step: int, carry: Any) -> StepResult:
        x, y = self.train.batch(step)
        x, y = x.to(self.device), y.to(self.device)  # (B, L, 1), (B, H)
        return StepResult(self._loss(model(x), y), None, y.numel())

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        encoded = forecast_windows(model, self.val_x, self.val_anchors)  # (N, H)
        offsets = torch.from_numpy(encoded - self.val_anchors[:, None])
        forecast = self.scaler.decode(encoded)
        return {
            "loss": self._loss(offsets, torch.from_numpy(self.val_y)).item(),
            "mae": mae(forecast, self.actual),
            "mase": mase(forecast, self.actual, self.scale),
        }

"""curves.png: every axis says what it shows, the validation loss beside the training loss."""

from __future__ import annotations

import pytest
import torch

from rnnkit.tasks.classify import ClassifyTask
from rnnkit.tasks.forecast import ForecastTask
from rnnkit.train import plot_curves
from rnnkit.train.history import curve_figure

pytest.importorskip("matplotlib")

RECORDS = [
    {"step": 1, "loss": 0.9},
    {"step": 2, "loss": 0.7},
    {"step": 2, "val_loss": 0.8, "val_error": 0.4, "val_mase": 1.3},
    {"step": 4, "loss": 0.5},
    {"step": 4, "val_loss": 0.6, "val_error": 0.3, "val_mase": 0.9},
]


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_forecast_curves_show_losses_and_mase_on_their_own_axes():
    task = ForecastTask(None, (None, None, None), None, None, 1.0, "mae")
    fig = curve_figure(RECORDS, "mase", task.labels)
    left, right = fig.axes
    assert left.get_ylabel() == "MAE of the scaled series (training loss)"
    assert _legend(left) == ["training loss", "validation loss"]
    assert right.get_ylabel() == "MASE (MAE / in-sample seasonal-naive MAE)"
    assert _legend(right) == ["validation mase"] and right.get_xlabel() == "step"


def test_classify_curves_label_the_error_rate_and_the_loss_unit():
    task = ClassifyTask(None, None, None, torch.device("cpu"))
    left, right = curve_figure(RECORDS, "error", task.labels).axes
    assert left.get_ylabel() == "cross-entropy (nats per example)"
    assert right.get_ylabel() == "error rate (1 - accuracy)"
    assert "nats" not in right.get_ylabel()


def test_monitoring_the_loss_draws_one_panel_with_both_losses(tmp_path):
    fig = curve_figure(RECORDS, "loss", {"loss": "cross-entropy (nats per token)"})
    (ax,) = fig.axes
    assert ax.get_ylabel() == "cross-entropy (nats per token)"
    assert _legend(ax) == ["training loss", "validation loss"]
    assert curve_figure([], "loss") is None
    assert plot_curves(RECORDS, tmp_path / "c.png", "error") and (tmp_path / "c.png").stat().st_size
    assert curve_figure(RECORDS, "error").axes[1].get_ylabel() == "error"  # no labels: the name

"""What a run reports: metrics.jsonl (one JSON object per logged step or evaluation) and a plot.

Records carry ``step`` and either training values (``loss``, ``lr``, ``tokens_per_s``) or
validation values (``val_*``); ``curve_figure`` draws them, each axis labelled with what it
shows (a task's ``labels``: metric name -> axis label with its unit). On resume,
``MetricsLog`` drops the records written after the checkpoint it resumes from, so the file
reads as one uninterrupted run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..atomic import atomic_write

__all__ = ["MetricsLog", "curve_figure", "plot_curves"]


class MetricsLog:
    """Appends JSON lines to ``path``; ``truncate_after(step)`` forgets later records."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def records(self) -> list[dict[str, Any]]:
        """Every complete record in the file (a torn last line from a kill is skipped)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def truncate_after(self, step: int) -> None:
        """Keep only the records of steps <= ``step``."""
        kept = [r for r in self.records() if r.get("step", 0) <= step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


def _pairs(records: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    return [(r["step"], r[key]) for r in records if key in r and math.isfinite(r[key])]


def curve_figure(
    records: list[dict[str, Any]], monitor: str = "loss", labels: dict[str, str] | None = None
):
    """The figure of curves.png, or None when there is nothing to draw.

    Left panel: training and validation loss against step, the y axis in the loss's unit
    (``labels["loss"]``, e.g. "cross-entropy (nats per token)"). Right panel, when the
    monitored metric is not the loss: validation ``monitor``, its axis labelled
    ``labels[monitor]`` (e.g. "MASE (MAE / in-sample seasonal-naive MAE)").
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = {"loss": "loss", **(labels or {})}
    train, val = _pairs(records, "loss"), _pairs(records, "val_loss")
    metric = _pairs(records, f"val_{monitor}") if monitor != "loss" else []
    if not (train or val or metric):
        return None
    fig, axes = plt.subplots(1, 2 if metric else 1, figsize=(11 if metric else 7, 4), dpi=100)
    ax = axes[0] if metric else axes
    if train:
        ax.plot(*zip(*train), label="training loss", linewidth=1, alpha=0.8)
    if val:
        ax.plot(*zip(*val), "o-", label="validation loss", linewidth=2)
    ax.set(xlabel="step", ylabel=names["loss"], title="loss")
    ax.grid(alpha=0.3)
    ax.legend()
    if metric:
        right = axes[1]
        right.plot(*zip(*metric), "o-", color="tab:green", label=f"validation {monitor}")
        right.set(xlabel="step", ylabel=names.get(monitor, monitor))
        right.set_title(f"validation {monitor} (--monitor, lower is better)")
        right.grid(alpha=0.3)
        right.legend()
    fig.tight_layout()
    return fig


def plot_curves(
    records: list[dict[str, Any]],
    path: str | Path,
    monitor: str = "loss",
    labels: dict[str, str] | None = None,
) -> bool:
    """Draw ``curve_figure(records, monitor, labels)`` into ``path`` (PNG).

    Returns False (and draws nothing) when matplotlib is missing or there is nothing to draw.
    """
    try:
        import matplotlib.pyplot as plt

        fig = curve_figure(records, monitor, labels)
    except ImportError:
        return False
    if fig is None:
        return False
    atomic_write(path, lambda f: fig.savefig(f, format="png"), binary=True)
    plt.close(fig)
    return True

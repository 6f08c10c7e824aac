"""``forecast.png``: the series, the split, the RNN's test forecasts with their interval, and
its forecast past the end."""

from __future__ import annotations

import math
import os

import numpy as np

from ...atomic import atomic_write
from .windows import Split

__all__ = ["plot_forecast"]


def plot_forecast(
    path: str | os.PathLike,
    times: list[str],
    values: np.ndarray,
    split: Split,
    origins: list[int],
    test: np.ndarray,
    future: np.ndarray,
    level: float,
    season: int = 1,
) -> bool:
    """Draw ``values`` (T,), the forecasts ``test`` (3, N, H) (point, lower, upper) made at
    ``origins`` (every H-th drawn, so they tile the test tail) and ``future`` (3, H) from the
    end; time labels every few seasons. Returns False (draws nothing) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    T, H = len(values), future.shape[1]
    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    ax.plot(np.arange(T), values, color="black", linewidth=1, label="series")
    ax.axvspan(split.train - 0.5, split.fit_end - 0.5, color="tab:orange", alpha=0.08)
    ax.axvspan(split.fit_end - 0.5, T - 0.5, color="tab:red", alpha=0.08)
    for k, i in enumerate(range(0, len(origins), H)):
        steps = origins[i] + np.arange(H)
        label = {"label": "test forecasts (RNN)"} if k == 0 else {}
        ax.plot(steps, test[0, i], color="tab:blue", linewidth=1.5, **label)
        ax.fill_between(steps, test[1, i], test[2, i], color="tab:blue", alpha=0.2)
    ahead = T + np.arange(H)
    ax.plot(ahead, future[0], "--", color="tab:green", linewidth=1.5, label="forecast")
    ax.fill_between(
        ahead, future[1], future[2], color="tab:green", alpha=0.2, label=f"{level:.0%} interval"
    )
    season = max(1, season)
    ticks = np.arange(0, T, season * math.ceil(T / (season * 10)))  # season starts, <= 10
    ax.set_xticks(ticks, [times[t] for t in ticks], rotation=30, fontsize=8)
    ax.set_title("validation (orange) and test (red) parts shaded", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"), binary=True)
    plt.close(fig)
    return True

"""Series and argv builders shared by the forecast tests (a module: conftest names collide)."""

from __future__ import annotations

import numpy as np

# L=6 -> H=3, season 4; 48 values split 36 / 6 / 6: 28 training windows, 4 validation and
# 4 test origins. The reference backend: plain autograd, no C++ build to wait for.
TINY = ("--lookback", "6", "--horizon", "3", "--season", "4", "--val", "6", "--test", "6")
TINY = (*TINY, "--hidden", "8", "--batch-size", "4", "--eval-every", "3", "--save-every", "3")
QUIET = ("--no-plot", "--no-progress", "--threads", "1", "--backend", "reference")


def series_values(n: int = 48, seed: int = 0) -> np.ndarray:
    """A positive series (n,) with trend, a season of 4 and noise."""
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 1, n)
    return 50 + 0.8 * t + 6 * np.sin(2 * np.pi * t / 4) + noise


def write_csv(path, values, header: str = "week,value") -> None:
    """A two-column CSV: integer weeks 1.. and the values."""
    rows = [header] + [f"{i + 1},{float(v)!r}" for i, v in enumerate(values)]
    path.write_text("\n".join(rows) + "\n")


def train_args(data, out, *extra) -> list[str]:
    """argv of a tiny, quick ``forecast train`` run on the CSV ``data``."""
    cols = ("--column", "value", "--time-column", "week")
    head = ["forecast", "train", "--data", str(data), *cols]
    return [*head, *TINY, *QUIET, "--out", str(out), *extra]


def predict_args(checkpoint, *extra) -> list[str]:
    """argv of ``forecast predict`` from ``checkpoint`` on the reference backend."""
    return [
        "forecast",
        "predict",
        "--checkpoint",
        str(checkpoint),
        "--backend",
        "reference",
        *extra,
    ]

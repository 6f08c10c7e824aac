"""Forecast errors (MAE, RMSE, sMAPE, MASE) and split-conformal prediction intervals.

All errors pool every (origin, horizon step) pair of an evaluation, in original units:

    MAE   = mean |F - A|
    RMSE  = sqrt(mean (F - A)^2)
    sMAPE = mean 200 |F - A| / (|F| + |A|)        (percent; a 0/0 term counts 0)
    MASE  = MAE / mean_{t=m..T_train-1} |y_t - y_{t-m}|

MASE divides by the in-sample MAE of the seasonal-naive one-step forecast (season ``m``) on
the training part, so MASE < 1 is better than that forecast was in sample.

Intervals: for each horizon step h, the width ``w_h`` is the ceil((N+1) level)-th smallest of
the N validation residuals |s - ŝ| (encoded units) at that step (split conformal prediction,
Vovk et al. 2005); a forecast ŝ gets [decode(ŝ - w_h), decode(ŝ + w_h)]. With N + 1 < 1/(1 -
level) validation windows the largest residual is the best that can be done, and is used.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "conformal_widths",
    "coverage",
    "mae",
    "mase",
    "mase_scale",
    "rmse",
    "score",
    "smape",
]


def mae(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error over all entries of (N, H) arrays."""
    return float(np.mean(np.abs(forecast - actual)))


def rmse(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error over all entries."""
    return float(np.sqrt(np.mean((forecast - actual) ** 2)))


def smape(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Symmetric MAPE in percent, 0..200; a term with F = A = 0 counts 0."""
    den = np.abs(forecast) + np.abs(actual)
    terms = np.divide(2 * np.abs(forecast - actual), den, out=np.zeros_like(den), where=den > 0)
    return float(100 * np.mean(terms))


def mase_scale(train: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal-naive forecast y_{t-m} on the training part (T_train,)."""
    return float(np.mean(np.abs(train[season:] - train[:-season])))


def mase(forecast: np.ndarray, actual: np.ndarray, scale: float) -> float:
    """MAE divided by ``scale`` (see :func:`mase_scale`)."""
    return mae(forecast, actual) / scale


def conformal_widths(residuals: np.ndarray, level: float) -> np.ndarray:
    """Half-widths (H,) from validation residuals (N, H): per step, the ceil((N+1) level)-th
    smallest |residual| (the largest when N is too small for ``level``)."""
    n = residuals.shape[0]
    k = min(n, math.ceil((n + 1) * level))  # 1-based rank
    return np.sort(np.abs(residuals), axis=0)[k - 1]


def coverage(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray) -> float:
    """Fraction of actual values inside [lower, upper]."""
    return float(np.mean((lower <= actual) & (actual <= upper)))


def score(
    forecast: np.ndarray,
    actual: np.ndarray,
    scale: float,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> dict[str, float]:
    """Every error of (N, H) forecasts against actuals, plus interval coverage when given."""
    out = {
        "mae": mae(forecast, actual),
        "rmse": rmse(forecast, actual),
        "smape": smape(forecast, actual),
        "mase": mase(forecast, actual, scale),
    }
    if lower is not None and upper is not None:
        out["coverage"] = coverage(lower, upper, actual)
    return out

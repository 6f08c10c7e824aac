"""The test report: the RNN and the baselines on the same origins, intervals, the table, JSON.

Every method forecasts the validation and the test origins in encoded units; its interval
half-widths come from its own validation residuals (``metrics.conformal_widths``), so the
intervals of all methods are built the same way and their test coverage compares.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from torch import nn

from ...atomic import write_text_atomic
from . import baselines
from .metrics import conformal_widths, score
from .task import forecast_windows
from .windows import Scaler, Split, windows

__all__ = [
    "METHODS",
    "compare",
    "format_table",
    "interval",
    "rnn_widths",
    "scale_line",
    "write_atomic",
]

METHODS = ("rnn", "naive", "seasonal_naive", "ets", "arima")  # rows of the table, in order


def interval(
    encoded: np.ndarray, widths: np.ndarray, scaler: Scaler
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point, lower, upper), each (N, H) in original units, of encoded forecasts (N, H)."""
    return (
        scaler.decode(encoded),
        scaler.decode(encoded - widths),
        scaler.decode(encoded + widths),
    )


def _targets(s: np.ndarray, origins: range, H: int) -> np.ndarray:
    return s[np.asarray(origins)[:, None] + np.arange(H)]  # (N, H)


def rnn_widths(
    model: nn.Module, s: np.ndarray, split: Split, L: int, H: int, level: float
) -> np.ndarray:
    """Interval half-widths (H,) of ``model`` from its residuals on the validation windows."""
    origins = split.val_origins(H)
    x, _, anchors = windows(s, origins, L)
    return conformal_widths(_targets(s, origins, H) - forecast_windows(model, x, anchors), level)


def _forecast(
    name: str,
    model: nn.Module,
    s: np.ndarray,
    split: Split,
    L: int,
    H: int,
    season: int,
    origins: range,
) -> tuple[np.ndarray, str]:
    """(encoded forecasts (N, H) at ``origins``, description) of the method ``name``."""
    if name == "rnn":
        x, _, anchors = windows(s, origins, L)
        return forecast_windows(model, x, anchors), f"{type(model.rnn).__name__}, direct"
    if name == "naive":
        return baselines.naive(s, origins, H), "last value"
    if name == "seasonal_naive":
        return baselines.seasonal_naive(s, origins, H, season), f"value {season} steps earlier"
    classical = {"ets": baselines.ets, "arima": baselines.arima}[name]
    return classical(s, split.train, origins, H, season)


def compare(
    model: nn.Module,
    values: np.ndarray,
    scaler: Scaler,
    split: Split,
    L: int,
    H: int,
    season: int,
    level: float,
    scale: float,
    classical: str = "both",
    log=print,
) -> dict[str, Any]:
    """Test metrics and coverage of every method in ``METHODS`` (ETS and ARIMA as
    ``classical`` says: both, ets, arima or none) on the same walk-forward test origins; a
    classical model that fails to fit is reported as such, not fatal."""
    s = scaler.encode(values)  # (T,)
    val_o, test_o = split.val_origins(H), split.test_origins(H)
    both = range(val_o.start, test_o.stop)  # a superset: one pass per method
    pick_val = [both.index(t) for t in val_o]
    pick_test = [both.index(t) for t in test_o]
    actual = values[np.asarray(test_o)[:, None] + np.arange(H)]  # (N, H)
    results: dict[str, Any] = {}
    forecasts: dict[str, np.ndarray] = {}
    skip = {"both": (), "ets": ("arima",), "arima": ("ets",), "none": ("ets", "arima")}[classical]
    for name in (m for m in METHODS if m not in skip):
        try:
            encoded, spec = _forecast(name, model, s, split, L, H, season, both)
        except Exception as exc:  # statsmodels on an odd series: say so, keep the others
            if name not in ("ets", "arima"):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
            log(f"forecast: {name} could not be fitted: {first}")
            results[name] = {"model": f"failed: {first}"}
            continue
        widths = conformal_widths(_targets(s, val_o, H) - encoded[pick_val], level)
        point, lower, upper = interval(encoded[pick_test], widths, scaler)
        results[name] = {"model": spec, **score(point, actual, scale, lower, upper)}
        forecasts[name] = np.stack([point, lower, upper])  # (3, N, H)
    return {"metrics": results, "forecasts": forecasts, "origins": list(test_o)}


def scale_line(scale: float, season: int) -> str:
    """The line that names MASE's denominator for what it is: the in-sample MAE of the
    (seasonal-)naive one-step forecast on the training part; not a MASE itself."""
    naive = f"seasonal-naive (lag {season})" if season > 1 else "naive (lag 1)"
    return (
        f"MASE = MAE / {scale:.4g}, the in-sample MAE of the {naive} forecast on the training part"
    )


def format_table(metrics: dict[str, dict[str, Any]], level: float) -> str:
    """The metrics of every method as a Markdown table."""
    head = f"| method | model | MAE | RMSE | sMAPE % | MASE | {level:.0%} interval coverage |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|"]
    for name, m in metrics.items():
        if "mae" not in m:
            lines.append(f"| {name} | {m['model']} | | | | | |")
            continue
        cells = [m[k] for k in ("mae", "rmse", "smape", "mase")]
        shown = " | ".join(f"{v:.2f}" if math.isfinite(v) else "nan" for v in cells)
        lines.append(f"| {name} | {m['model']} | {shown} | {m['coverage']:.0%} |")
    return "\n".join(lines)


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, then ``os.replace``."""
    write_text_atomic(path, text)

"""Time-series forecasting: a direct multi-step recurrent forecaster, baselines, intervals.

``train(ForecastConfig(...), TrainConfig(...))`` and ``predict(checkpoint, ...)`` are what
``rnnkit forecast train`` and ``rnnkit forecast predict`` run; the pieces (CSV reading, the
split, scaling and windows, the baselines, the metrics, the model, the training ``Task``) are
importable on their own. Method and measured results: docs/forecast.md.
"""

from .baselines import arima, ets, naive, seasonal_naive
from .config import TRAIN_DEFAULTS, ForecastConfig
from .metrics import conformal_widths, coverage, mae, mase, mase_scale, rmse, score, smape
from .model import Forecaster
from .report import compare, format_table
from .run import load_model, predict, train
from .series import Series, bundled_series, next_times, read_csv_series
from .task import ForecastTask, forecast_windows
from .windows import Scaler, Split, WindowBatches, fit_scaler, plan_split, windows

__all__ = [
    "TRAIN_DEFAULTS",
    "ForecastConfig",
    "ForecastTask",
    "Forecaster",
    "Scaler",
    "Series",
    "Split",
    "WindowBatches",
    "arima",
    "bundled_series",
    "compare",
    "conformal_widths",
    "coverage",
    "ets",
    "fit_scaler",
    "forecast_windows",
    "format_table",
    "load_model",
    "mae",
    "mase",
    "mase_scale",
    "naive",
    "next_times",
    "plan_split",
    "predict",
    "read_csv_series",
    "rmse",
    "score",
    "seasonal_naive",
    "smape",
    "train",
    "windows",
]

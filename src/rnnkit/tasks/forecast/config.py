"""``ForecastConfig`` (data, split and model options of ``rnnkit forecast train``) and its
training defaults.

``TRAIN_DEFAULTS`` is the generic ``TrainConfig`` with the values chosen for the default
command: a one-layer LSTM on the bundled airline passengers, chosen by validation MASE
(hidden 32 / 64, lookback 24 / 36, 1000 / 2000 steps, MAE / MSE loss, over seeds), that beats
the seasonal-naive forecast on test MASE for every seed measured, in well under a minute of
CPU time (docs/forecast.md has the measured numbers).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...layers.registry import LAYERS
from ...train import TrainConfig, opt

__all__ = ["TRAIN_DEFAULTS", "ForecastConfig"]


@dataclass
class ForecastConfig:
    """What to forecast, how to split it, and the model's shape."""

    data: str | None = opt(None, "CSV file with a header row; default: bundled airline passengers")
    column: str | None = opt(None, "the CSV column to forecast (required with --data)")
    time_column: str | None = opt(None, "CSV column of time stamps, to label the forecast")
    lookback: int = opt(24, "past values the model reads for one forecast (L)")
    horizon: int = opt(12, "future values forecast at once, direct multi-output (H)")
    season: int = opt(12, "season length in steps (12: monthly data); 1 = no seasonality")
    val: int = opt(0, "validation part before the test tail, in steps; 0 = 2 x --horizon")
    test: int = opt(0, "held-out test tail, in steps; 0 = 2 x --horizon")
    transform: str = opt(
        "auto",
        "log or none; auto = log when every training value is > 0",
        choices=("auto", "log", "none"),
    )
    classical: str = opt(
        "both",
        "classical baselines to fit besides the naive ones (statsmodels)",
        choices=("both", "ets", "arima", "none"),
    )
    interval: float = opt(0.8, "level of the prediction interval (from validation residuals)")
    cell: str = opt("lstm", "recurrent cell", choices=tuple(LAYERS))
    layers: int = opt(1, "stacked recurrent layers")
    hidden: int = opt(64, "hidden units per layer")
    dropout: float = opt(
        0.0, "dropout between recurrent layers (so none with the default single --layers 1)"
    )
    loss: str = opt("mae", "training loss on the scaled values", choices=("mae", "mse"))
    batch_size: int = opt(16, "training windows per step (global, over all processes)")


TRAIN_DEFAULTS = dataclasses.replace(
    TrainConfig(),
    steps=1000,  # 333 passes over the 61 training windows of the airline series (3 steps each)
    lr=3e-3,  # Adam; warm-up, then cosine decay to 3e-4
    warmup=50,
    eval_every=50,
    save_every=250,
    monitor="mase",  # validation MASE picks best.pt, the model that forecasts
    out=None,  # a fresh folder per run: runs/forecast, runs/forecast-2, ... (train.runs)
    threads=1,  # a model this small only waits on more threads: 2 threads took 80 s of CPU
    # for the default run where 1 took 14 s (loaded 2-core machine); --threads 0 = all cores
)

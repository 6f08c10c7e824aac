"""``rnnkit forecast train|predict``: the command-line face of the time-series forecasting recipe.

The flags of ``train`` are generated from ``ForecastConfig`` and ``TrainConfig`` (defaults from
the recipe's ``TRAIN_DEFAULTS``), so every flag is a config field and a typo is an argparse
error.

    rnnkit forecast train                     # LSTM on the bundled airline passengers
    rnnkit forecast train --data sales.csv --column units --time-column week --season 52
    rnnkit forecast predict --checkpoint runs/forecast --output next.csv
"""

from __future__ import annotations

import argparse

from ..tasks import forecast as forecast_recipe
from ..tasks.forecast import TRAIN_DEFAULTS, ForecastConfig
from .flags import HelpFormatter, add_backend, add_train_parser, select_backend

__all__ = ["add_parser"]

_TRAIN_HELP = (
    "train a direct multi-step RNN forecaster; report it against last-value, seasonal-naive, "
    "ETS and ARIMA forecasts on a held-out test tail (MAE, RMSE, sMAPE, MASE, interval coverage)"
)
_PREDICT_HELP = (
    "forecast the next --horizon values (direct multi-output) with a prediction interval "
    "(split conformal on validation residuals) as CSV: step,time,forecast,lower,upper"
)


def add_parser(subparsers) -> None:
    """Add ``forecast`` with its ``train`` and ``predict`` subcommands to ``subparsers``."""
    about = "train a time-series forecaster and forecast with it"
    forecast = subparsers.add_parser("forecast", help=about, description=about)
    commands = forecast.add_subparsers(dest="forecast_command", required=True, metavar="COMMAND")
    add_train_parser(commands, _TRAIN_HELP, ForecastConfig, TRAIN_DEFAULTS, forecast_recipe)
    predict = commands.add_parser(
        "predict", help=_PREDICT_HELP, description=_PREDICT_HELP, formatter_class=HelpFormatter
    )
    predict.add_argument("--checkpoint", required=True, help="run directory or .pt file")
    predict.add_argument(
        "--data", default=None, help="CSV to forecast past the end of; default: the training series"
    )
    predict.add_argument("--column", default=None, help="column of --data; default: as trained")
    predict.add_argument(
        "--time-column", default=None, help="time-stamp column of --data; default: as trained"
    )
    predict.add_argument("--output", default=None, help="CSV file to write; default: stdout")
    add_backend(predict)
    predict.set_defaults(func=_predict)


def _predict(args: argparse.Namespace) -> int:
    select_backend(args.backend)
    from ..tasks.forecast import predict

    predict(args.checkpoint, args.data, args.column, args.time_column, args.output)
    return 0

"""``train(cfg, train_cfg)`` and ``predict(...)``: what ``rnnkit forecast train|predict`` do.

``ForecastRecipe`` is the recipe (``train.recipe.run_recipe`` runs it). Every check of the
user's input (options, the CSV file, the series' length, the output directory, the checkpoint
to resume) runs before anything is written, and fails with ``RnnkitError``: nothing is
overwritten. The series, its split and its scaling travel in every checkpoint (``series``), so
``predict`` needs nothing but the run directory.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import CheckpointError, RnnkitError
from ...train import BEST, TrainConfig
from ...train.checkpoint import load_checkpoint
from ...train.recipe import Recipe, Run, load_task_checkpoint, run_recipe
from .config import ForecastConfig
from .metrics import mase_scale
from .model import Forecaster
from .report import compare, format_table, interval, rnn_widths, scale_line, write_atomic
from .series import Series, bundled_series, next_times, read_csv_series
from .task import ForecastTask, forecast_windows
from .windows import (
    Scaler,
    Split,
    WindowBatches,
    choose_transform,
    fit_scaler,
    plan_split,
    windows,
)

__all__ = ["RECIPE", "ForecastData", "ForecastRecipe", "load_model", "predict", "train"]

METRICS_FILE, PLOT_FILE = "test_metrics.json", "forecast.png"


def _check_options(cfg: ForecastConfig, tcfg: TrainConfig) -> None:
    for name in ("lookback", "horizon", "season", "layers", "hidden", "batch_size"):
        if getattr(cfg, name) < 1:
            raise RnnkitError(f"--{name.replace('_', '-')} must be >= 1; got {getattr(cfg, name)}")
    for name in ("val", "test"):
        if getattr(cfg, name) < 0:
            raise RnnkitError(
                f"--{name} must be >= 0 (0 = 2 x --horizon); got {getattr(cfg, name)}"
            )
    if not 0 < cfg.interval < 1:
        raise RnnkitError(f"--interval must be between 0 and 1; got {cfg.interval}")
    if not 0 <= cfg.dropout < 1:
        raise RnnkitError(f"--dropout must be in [0, 1); got {cfg.dropout}")
    if cfg.data is None and (cfg.column or cfg.time_column):
        raise RnnkitError("--column and --time-column choose columns of --data; give --data too")
    if tcfg.seed < 0:
        raise RnnkitError(f"--seed must be >= 0; got {tcfg.seed}")


def _series_meta(series: Series, split: Split, scaler: Scaler, scale: float) -> dict[str, Any]:
    """What ``predict`` needs besides the weights (plain values and tensors only)."""
    return {
        "name": series.name,
        "column": series.column,
        "time_column": series.time_column,
        "times": list(series.times),
        "values": torch.from_numpy(series.values.copy()),  # (T,) float64
        "split": [split.train, split.val, split.test],
        "transform": scaler.transform,
        "scale": scaler.scale,
        "mase_scale": scale,  # the in-sample seasonal-naive MAE that MASE divides by
    }


@dataclass
class ForecastData:
    """The series as the model sees it: split, scaling, training windows, validation ones."""

    series: Series
    split: Split
    scaler: Scaler  # the transform and scale fitted on the training part
    scale: float  # MASE's denominator: the in-sample seasonal-naive MAE of the training part
    windows: int  # training windows
    batches: WindowBatches  # this rank's share of them
    val: tuple[np.ndarray, np.ndarray, np.ndarray]  # validation windows (x, y, anchors)
    actual: np.ndarray  # (N_val, H) validation targets in original units


class ForecastRecipe(Recipe):
    """Direct multi-step forecasting of one series, reported against the baselines."""

    name = "forecast"

    def check(self, cfg: ForecastConfig, tcfg: TrainConfig) -> None:
        _check_options(cfg, tcfg)

    def load(self, cfg: ForecastConfig) -> tuple[Series, str]:
        if cfg.data is None:
            series = bundled_series()
        else:
            series = read_csv_series(cfg.data, cfg.column, cfg.time_column)
        return series, series.sha256()

    def build_data(self, cfg: ForecastConfig, tcfg, series: Series, env, resume) -> ForecastData:
        values, L, H = series.values, cfg.lookback, cfg.horizon
        split = plan_split(len(values), L, H, cfg.val, cfg.test, cfg.season)
        transform = choose_transform(values[: split.train], cfg.transform)
        Scaler(transform, 1.0).check(values, series.lines, f"--data {series.name}")  # every line
        scaler = fit_scaler(values[: split.train], transform)
        scale = mase_scale(values[: split.train], cfg.season)
        if not scale > 0:
            raise RnnkitError("MASE is undefined: the training part repeats itself every --season")
        s = scaler.encode(values)  # (T,)
        x, y, _ = windows(s, split.train_origins(L, H), L, H)
        batches = WindowBatches(x, y, cfg.batch_size, tcfg.seed).shard(env.rank, env.world_size)
        val_o = split.val_origins(H)
        actual = values[np.asarray(val_o)[:, None] + np.arange(H)]  # (N_val, H)
        val = windows(s, val_o, L, H)
        return ForecastData(series, split, scaler, scale, len(x), batches, val, actual)

    def build_model(self, cfg: ForecastConfig, data: ForecastData) -> Forecaster:
        return Forecaster(cfg.horizon, cfg.hidden, cfg.layers, cfg.cell, cfg.dropout)

    def task(self, cfg: ForecastConfig, tcfg, data: ForecastData, env) -> ForecastTask:
        d = data
        return ForecastTask(d.batches, d.val, d.actual, d.scaler, d.scale, cfg.loss, env.device)

    def extra(self, data: ForecastData) -> dict[str, Any]:
        return {"series": _series_meta(data.series, data.split, data.scaler, data.scale)}

    def describe(self, cfg: ForecastConfig, data: ForecastData, model, env) -> str:
        series, split = data.series, data.split
        return (
            f"forecast: {series.name} column {series.column!r}, {len(series.values)} values "
            f"(train {split.train}, validation {split.val}, test {split.test}), "
            f"{data.windows} training windows of {cfg.lookback} -> {cfg.horizon}, "
            f"transform {data.scaler.transform}, "
            f"{sum(p.numel() for p in model.parameters()):,} parameters, "
            f"{env.world_size} process(es) x {torch.get_num_threads()} threads"
        )

    def report(self, run: Run) -> dict[str, Any]:
        return _report(run.model, run.data, run.cfg, run.tcfg, run.log)


RECIPE = ForecastRecipe()


def train(cfg: ForecastConfig, tcfg: TrainConfig, log: Callable[[str], None] = print) -> dict:
    """Train a forecaster, then report it against the baselines on the test tail; returns
    the report (also written to the run folder's test_metrics.json)."""
    return run_recipe(RECIPE, cfg, tcfg, log)


def _report(model, data: ForecastData, cfg: ForecastConfig, tcfg: TrainConfig, say):
    """Test metrics of best.pt's model and the baselines: printed, JSON, plot."""
    series, split, scaler, scale = data.series, data.split, data.scaler, data.scale
    best = Path(tcfg.out) / BEST
    if best.exists():
        model.load_state_dict(load_checkpoint(best)["model"])
    model.cpu()
    L, H = cfg.lookback, cfg.horizon
    args = (series.values, scaler, split, L, H, cfg.season, cfg.interval, scale, cfg.classical)
    result = compare(model, *args, log=say)
    widths = rnn_widths(model, scaler.encode(series.values), split, L, H, cfg.interval)
    future = _future(model, widths, series, scaler, L, H)
    say(
        f"test: {len(result['origins'])} forecasts of {H} steps (origins every step of the "
        f"last {split.test} values)\n{scale_line(scale, cfg.season)}\n"
        + format_table(result["metrics"], cfg.interval)
    )
    report = {
        "series": series.name,
        "column": series.column,
        "values": len(series.values),
        "split": {"train": split.train, "val": split.val, "test": split.test},
        "lookback": L,
        "horizon": H,
        "season": cfg.season,
        "transform": scaler.transform,
        "interval": cfg.interval,
        "test_origins": len(result["origins"]),
        "in_sample_naive_mae": scale,  # MASE = MAE / this (seasonal naive at lag --season)
        "mase_scale": scale,  # the same number under its earlier name, for scripts that read it
        "metrics": result["metrics"],
        "forecast": future,
    }
    write_atomic(Path(tcfg.out) / METRICS_FILE, json.dumps(report, indent=2) + "\n")
    if tcfg.plot and "rnn" in result["forecasts"]:
        from .plot import plot_forecast

        bands = np.array([future["forecast"], future["lower"], future["upper"]])
        plot_forecast(
            Path(tcfg.out) / PLOT_FILE,
            series.times,
            series.values,
            split,
            result["origins"],
            result["forecasts"]["rnn"],
            bands,
            cfg.interval,
            cfg.season,
        )
    return report


def _future(model, widths: np.ndarray, series: Series, scaler: Scaler, L: int, H: int):
    """The next H values after ``series`` with their interval (half-widths (H,) in encoded
    units), as lists with one entry per step."""
    x, _, anchors = windows(scaler.encode(series.values), [len(series.values)], L)
    point, lower, upper = interval(forecast_windows(model, x, anchors)[0], widths, scaler)
    return {
        "time": next_times(series.times, H),
        "forecast": point.tolist(),
        "lower": lower.tolist(),
        "upper": upper.tolist(),
    }


def load_model(path: str | os.PathLike) -> tuple[Forecaster, ForecastConfig, dict[str, Any]]:
    """(model, config, checkpoint) from a run directory (best.pt, else last.pt) or a file."""
    ckpt, p = load_task_checkpoint(path, "forecast")
    try:
        cfg = ForecastConfig(**ckpt["config"]["forecast"])
        model = Forecaster(cfg.horizon, cfg.hidden, cfg.layers, cfg.cell, cfg.dropout)
        model.load_state_dict(ckpt["model"])
        _stored(ckpt["series"])
    except (KeyError, TypeError, RuntimeError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"{p} is not a forecast checkpoint: {first}") from None
    return model, cfg, ckpt


def _stored(meta: dict[str, Any]) -> tuple[Series, Split, Scaler]:
    """The training series, its split and its scaler, from a checkpoint's ``series``."""
    values = meta["values"].numpy().astype(np.float64)
    lines = list(range(2, len(values) + 2))
    series = Series(meta["name"], meta["column"], meta["time_column"], meta["times"], values, lines)
    return series, Split(*meta["split"]), Scaler(meta["transform"], float(meta["scale"]))


def _check_output(output: str | None) -> None:
    if output is not None and not Path(output).resolve().parent.is_dir():
        raise RnnkitError(f"--output {output}: the directory {Path(output).parent} does not exist")


def predict(
    checkpoint: str | os.PathLike,
    data: str | None = None,
    column: str | None = None,
    time_column: str | None = None,
    output: str | None = None,
    out=None,
) -> dict[str, list]:
    """Forecast the H values after the end of ``data`` (default: the series trained on) with
    the checkpoint's model and interval; CSV ``step,time,forecast,lower,upper`` to ``output``
    (written atomically) or ``out`` (default stdout). Returns the columns."""
    _check_output(output)
    model, cfg, ckpt = load_model(checkpoint)
    meta = ckpt["series"]
    stored, split, scaler = _stored(meta)
    L, H = cfg.lookback, cfg.horizon
    if data is None:
        if column is not None or time_column is not None:
            raise RnnkitError("--column and --time-column choose columns of --data; give --data")
        series = stored
    else:
        column = column or meta["column"]
        time_column = time_column or meta["time_column"]
        series = read_csv_series(data, column, time_column)
        if len(series.values) < L:
            raise RnnkitError(
                f"--data {data} has {len(series.values)} values; the model reads the last "
                f"--lookback {L}"
            )
        scaler.check(series.values[-L:], series.lines[-L:], f"--data {data}")
    widths = rnn_widths(model, scaler.encode(stored.values), split, L, H, cfg.interval)
    columns = {"step": list(range(1, H + 1)), **_future(model, widths, series, scaler, L, H)}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["step", "time", "forecast", "lower", "upper"])
    for k, stamp, *vals in zip(*columns.values()):
        writer.writerow([k, stamp, *(f"{v:.10g}" for v in vals)])
    if output is None:
        (out or sys.stdout).write(buffer.getvalue())
    else:
        write_atomic(output, buffer.getvalue())
    return columns

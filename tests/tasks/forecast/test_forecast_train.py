"""``forecast train`` and ``predict`` end to end: outputs, the CSV, resume, no leakage."""

from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
import pytest
import torch
from forecast_helpers import predict_args, series_values, train_args, write_csv

from rnnkit.cli import main
from rnnkit.tasks.forecast import load_model
from rnnkit.tasks.forecast.report import METHODS
from rnnkit.train import BEST, LAST, load_checkpoint


def test_a_run_writes_checkpoints_metrics_and_the_report(trained):
    assert {p.name for p in trained.iterdir()} >= {LAST, BEST, "metrics.jsonl", "test_metrics.json"}
    report = json.loads((trained / "test_metrics.json").read_text())
    assert report["split"] == {"train": 36, "val": 6, "test": 6} and report["test_origins"] == 4
    assert list(report["metrics"]) == list(METHODS)
    for name, m in report["metrics"].items():
        assert set(m) == {"model", "mae", "rmse", "smape", "mase", "coverage"}, name
        assert m["mase"] == pytest.approx(m["mae"] / report["mase_scale"])
    assert report["forecast"]["time"] == ["49", "50", "51"]
    _, cfg, ckpt = load_model(trained)
    assert cfg.horizon == 3 and ckpt["series"]["split"] == [36, 6, 6]
    assert ckpt["series"]["transform"] == "log"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_predict_writes_the_next_values_with_an_interval(trained, tmp_path, capsys):
    assert main(predict_args(trained)) == 0
    rows = _rows(capsys.readouterr().out)
    assert [r["step"] for r in rows] == ["1", "2", "3"]
    assert [r["time"] for r in rows] == ["49", "50", "51"]
    for r in rows:
        assert float(r["lower"]) <= float(r["forecast"]) <= float(r["upper"])
    report = json.loads((trained / "test_metrics.json").read_text())
    assert [float(r["forecast"]) for r in rows] == pytest.approx(report["forecast"]["forecast"])
    out = tmp_path / "next.csv"
    argv = predict_args(trained, "--output", str(out))
    assert main(argv) == 0 and _rows(out.read_text()) == rows


def test_predict_on_new_data_forecasts_past_its_end(trained, tmp_path, capsys):
    path = tmp_path / "more.csv"
    write_csv(path, series_values(60)[-10:] * 2)  # weeks 1..10, twice the level
    argv = predict_args(trained, "--data", str(path))
    assert main(argv) == 0
    rows = _rows(capsys.readouterr().out)
    assert [r["time"] for r in rows] == ["11", "12", "13"]
    assert float(rows[0]["forecast"]) > 1.5 * series_values()[-1]  # it follows the new level


def test_resume_continues_exactly(series_csv, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    fast = ("--classical", "none")  # the RNN is what resumes; skip statsmodels
    assert main(train_args(series_csv, straight, "--steps", "6", *fast)) == 0
    assert main(train_args(series_csv, split, "--steps", "3", *fast)) == 0
    assert main(train_args(series_csv, split, "--steps", "6", "--resume", *fast)) == 0
    a, b = load_checkpoint(straight / LAST), load_checkpoint(split / LAST)
    assert b["step"] == 6
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def test_the_test_tail_does_not_touch_training(tmp_path):
    values = series_values()
    changed = values.copy()
    changed[-6:] = changed[-6:] * 3 + 100  # only the test tail
    runs = []
    for k, v in enumerate((values, changed)):
        write_csv(tmp_path / f"{k}.csv", v)
        out = tmp_path / f"run{k}"
        argv = train_args(tmp_path / f"{k}.csv", out, "--steps", "6", "--classical", "none")
        assert main(argv) == 0
        runs.append(out)
    a, b = (load_checkpoint(r / BEST) for r in runs)
    assert a["step"] == b["step"] and a["series"]["scale"] == b["series"]["scale"]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    ma, mb = (json.loads((r / "test_metrics.json").read_text())["metrics"] for r in runs)
    assert ma["rnn"]["mae"] != mb["rnn"]["mae"]  # the test tail is what is scored
    assert list(ma) == ["rnn", "naive", "seasonal_naive"]  # --classical none


def test_a_copied_run_predicts_the_same(trained, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    assert main(predict_args(trained)) == 0
    first = capsys.readouterr().out
    assert main(predict_args(copy / BEST)) == 0
    assert capsys.readouterr().out == first
    assert np.isfinite([float(r["upper"]) for r in _rows(first)]).all()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_rnn_beats_seasonal_naive_on_a_trending_series(series_csv, tmp_path, seed):
    out = tmp_path / "learn"
    extra = ("--steps", "200", "--eval-every", "50", "--lr", "0.01", "--classical", "none")
    assert main(train_args(series_csv, out, *extra, "--seed", str(seed))) == 0
    metrics = json.loads((out / "test_metrics.json").read_text())["metrics"]
    rnn, snaive = metrics["rnn"]["mase"], metrics["seasonal_naive"]["mase"]
    assert rnn < snaive, f"test MASE {rnn:.3f} vs seasonal naive {snaive:.3f}"


def _without_out(argv: list[str]) -> list[str]:
    i = argv.index("--out")
    return argv[:i] + argv[i + 2 :]


def test_default_runs_get_a_fresh_folder_each(series_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = _without_out(train_args(series_csv, "x", "--steps", "2", "--classical", "none"))
    assert main(argv) == 0 and main(argv) == 0
    firsts = [line for line in capsys.readouterr().out.splitlines() if "new run in" in line]
    assert firsts == [
        "forecast: new run in runs/forecast (a fresh folder; --out names one)",
        "forecast: new run in runs/forecast-2 (a fresh folder; --out names one)",
    ]
    for run in ("forecast", "forecast-2"):
        assert (tmp_path / "runs" / run / LAST).is_file()
    assert main([*argv, "--steps", "3", "--resume"]) == 0  # the latest: runs/forecast-2
    assert load_checkpoint(tmp_path / "runs" / "forecast-2" / LAST)["step"] == 3
    assert load_checkpoint(tmp_path / "runs" / "forecast" / LAST)["step"] == 2


def test_an_explicit_out_holding_another_run_is_refused(trained, series_csv, capsys):
    capsys.readouterr()
    assert main(train_args(series_csv, trained, "--steps", "2")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds a run (last.pt); pass --resume" in err


def test_a_default_run_that_fails_leaves_no_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "short.csv", series_values(20))
    argv = _without_out(train_args(tmp_path / "short.csv", "x", "--steps", "2"))
    assert main(argv) == 2 and "values" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "forecast").exists()


def test_a_run_with_no_step_to_take_leaves_no_folder(series_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = _without_out(train_args(series_csv, "x", "--steps", "0", "--classical", "none"))
    assert main(argv) == 2 and "at least one step" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "forecast").exists()


def test_the_output_names_the_scale_of_mase(trained, series_csv, tmp_path, capsys):
    report = json.loads((trained / "test_metrics.json").read_text())
    assert report["in_sample_naive_mae"] == report["mase_scale"] > 0
    argv = train_args(series_csv, tmp_path / "s", "--steps", "1", "--classical", "none")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "MASE scale" not in out
    assert "the in-sample MAE of the seasonal-naive (lag 4) forecast on the training part" in out

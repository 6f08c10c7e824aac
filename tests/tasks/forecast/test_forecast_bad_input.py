"""Bad input to ``rnnkit forecast``: one line on stderr, exit status 2, nothing overwritten."""

from __future__ import annotations

import pytest
import torch
from forecast_helpers import predict_args, series_values, train_args, write_csv

from helpers import cli_fails
from rnnkit.train import save_checkpoint


def _csv(tmp_path, text: str):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


def _rows(n: int = 48) -> list[str]:
    return ["week,value"] + [f"{i + 1},{v!r}" for i, v in enumerate(series_values(n).tolist())]


def test_missing_file(tmp_path, capsys):
    cli_fails(capsys, train_args(tmp_path / "nope.csv", tmp_path / "out"), "no such file")
    assert not (tmp_path / "out").exists()


def test_unknown_column_lists_the_columns(tmp_path, capsys):
    argv = train_args(_csv(tmp_path, "\n".join(_rows())), tmp_path / "out")
    argv[argv.index("--column") + 1] = "sales"
    line = cli_fails(capsys, argv, "--column 'sales' is not a column of")
    assert line.endswith("its columns are: week, value")
    assert not (tmp_path / "out").exists()


def test_unknown_time_column_lists_the_columns(tmp_path, capsys):
    argv = train_args(_csv(tmp_path, "\n".join(_rows())), tmp_path / "out")
    argv[argv.index("--time-column") + 1] = "date"
    cli_fails(capsys, argv, "its columns are: week, value")


def test_data_without_column_lists_the_columns(tmp_path, capsys):
    path = _csv(tmp_path, "\n".join(_rows()))
    argv = ["forecast", "train", "--data", str(path), "--out", str(tmp_path / "out")]
    cli_fails(
        capsys, argv, "--data needs --column NAME; " + str(path) + " has columns: week, value"
    )


def test_empty_row_names_its_line(tmp_path, capsys):
    rows = _rows()
    rows.insert(5, "")  # line 6 of the file
    cli_fails(
        capsys, train_args(_csv(tmp_path, "\n".join(rows)), tmp_path / "out"), "line 6: empty row"
    )


def test_empty_cell_names_its_line_and_column(tmp_path, capsys):
    rows = _rows()
    rows[7] = "8,"
    argv = train_args(_csv(tmp_path, "\n".join(rows)), tmp_path / "out")
    cli_fails(capsys, argv, "line 8: empty cell in column 'value'")


@pytest.mark.parametrize("cell", ["12,5", "n/a", "1e"])
def test_non_numeric_value_names_its_line_and_value(tmp_path, capsys, cell):
    rows = _rows()
    rows[9] = f'10,"{cell}"'
    argv = train_args(_csv(tmp_path, "\n".join(rows)), tmp_path / "out")
    cli_fails(capsys, argv, f"line 10: {cell!r} in column 'value' is not a number")


def test_infinite_value_is_refused(tmp_path, capsys):
    rows = _rows()
    rows[3] = "4,inf"
    argv = train_args(_csv(tmp_path, "\n".join(rows)), tmp_path / "out")
    cli_fails(capsys, argv, "line 4: 'inf' in column 'value' is not a finite number")


def test_empty_file_and_header_only(tmp_path, capsys):
    cli_fails(capsys, train_args(_csv(tmp_path, ""), tmp_path / "out"), "the file is empty")
    cli_fails(capsys, train_args(_csv(tmp_path, "week,value\n"), tmp_path / "out"), "no rows")


def test_series_shorter_than_lookback_horizon_and_tails(tmp_path, capsys):
    argv = train_args(_csv(tmp_path, "\n".join(_rows(20))), tmp_path / "out")
    cli_fails(capsys, argv, "the series has 20 values; --lookback 6 + --horizon 3 need")
    assert not (tmp_path / "out").exists()


def test_non_positive_value_after_training_under_log(tmp_path, capsys):
    values = series_values()
    values[45] = 0.0  # in the test tail; the training part decided on log
    write_csv(tmp_path / "zero.csv", values)
    argv = train_args(tmp_path / "zero.csv", tmp_path / "out", "--transform", "log")
    cli_fails(capsys, argv, "line 47: value 0 is not > 0")


def test_batch_larger_than_the_training_windows(tmp_path, capsys):
    argv = train_args(_csv(tmp_path, "\n".join(_rows())), tmp_path / "out", "--batch-size", "64")
    cli_fails(capsys, argv, "the training part has 28 windows; --batch-size 64")


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [("--interval", "1.5", "--interval must be between 0 and 1"), ("--lookback", "0", ">= 1")],
)
def test_bad_options(tmp_path, capsys, series_csv, flag, value, says):
    cli_fails(capsys, train_args(series_csv, tmp_path / "out", flag, value), says)


def test_column_without_data(tmp_path, capsys):
    argv = ["forecast", "train", "--column", "x", "--out", str(tmp_path / "o")]
    cli_fails(capsys, argv, "give --data too")


def test_resume_of_another_configuration_overwrites_nothing(trained, series_csv, capsys):
    before = {p.name: p.read_bytes() for p in trained.iterdir()}
    argv = train_args(series_csv, trained, "--steps", "9", "--resume")
    argv[argv.index("--hidden") + 1] = "16"
    cli_fails(capsys, argv, "--hidden 8 (now 16)")
    assert {p.name: p.read_bytes() for p in trained.iterdir()} == before


def test_resume_on_other_data_is_refused(trained, tmp_path, capsys):
    write_csv(tmp_path / "other.csv", series_values(seed=1))
    argv = train_args(tmp_path / "other.csv", trained, "--steps", "9", "--resume")
    cli_fails(capsys, argv, "other data")


def test_resume_with_nothing_to_resume(tmp_path, series_csv, capsys):
    cli_fails(capsys, train_args(series_csv, tmp_path / "empty", "--resume"), "no last.pt")


def test_new_run_into_a_used_directory_is_refused(trained, series_csv, capsys):
    before = (trained / "last.pt").read_bytes()
    cli_fails(capsys, train_args(series_csv, trained, "--steps", "2"), "--resume to continue")
    assert (trained / "last.pt").read_bytes() == before


def test_predict_from_a_checkpoint_of_another_task(tmp_path, capsys):
    config = {"task": "textgen", "textgen": {"level": "char"}}
    save_checkpoint(tmp_path / "last.pt", {"step": 1, "model": {}, "config": config})
    argv = predict_args(tmp_path)
    cli_fails(capsys, argv, "is not a forecast checkpoint (it has a textgen checkpoint)")


def test_predict_from_a_foreign_file(tmp_path, capsys):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "model.pt")
    argv = predict_args(tmp_path / "model.pt")
    cli_fails(capsys, argv, "not an rnnkit checkpoint")


def test_predict_on_data_with_another_column(trained, tmp_path, capsys):
    path = _csv(tmp_path, "week,units\n1,3\n2,4\n")
    argv = predict_args(trained, "--data", str(path))
    cli_fails(capsys, argv, "--column 'value' is not a column of")


def test_predict_on_data_shorter_than_the_lookback(trained, tmp_path, capsys):
    path = _csv(tmp_path, "week,value\n1,3\n2,4\n")
    argv = predict_args(trained, "--data", str(path))
    cli_fails(capsys, argv, "has 2 values; the model reads the last --lookback 6")


def test_predict_into_a_missing_directory_writes_nothing(trained, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "next.csv"
    argv = predict_args(trained, "--output", str(out))
    cli_fails(capsys, argv, "does not exist")
    assert not (tmp_path / "no").exists()


def test_log_transform_of_a_non_positive_training_value_names_its_line(tmp_path, capsys):
    values = series_values()
    values[4] = -1.0  # line 6, in the training part
    write_csv(tmp_path / "neg.csv", values)
    argv = train_args(tmp_path / "neg.csv", tmp_path / "out", "--transform", "log")
    cli_fails(capsys, argv, "line 6: value -1 is not > 0")

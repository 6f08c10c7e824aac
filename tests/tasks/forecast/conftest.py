"""Fixtures for forecast tests: a tiny CSV series, a tiny trained run, clean global state."""

from __future__ import annotations

import pytest
import torch
from forecast_helpers import series_values, train_args, write_csv

import rnnkit
from rnnkit.cli import main


@pytest.fixture(scope="session")
def series_csv(tmp_path_factory):
    """48 weekly values with trend and a season of 4, as week,value CSV."""
    path = tmp_path_factory.mktemp("series") / "series.csv"
    write_csv(path, series_values())
    return path


@pytest.fixture(scope="session")
def trained(series_csv, tmp_path_factory):
    """A run directory after 6 steps of training."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    threads, backend = torch.get_num_threads(), rnnkit.get_backend()
    assert main(train_args(series_csv, out, "--steps", "6")) == 0
    torch.set_num_threads(threads)
    rnnkit.set_backend(backend)
    return out

"""Fixtures for classify tests: tiny labelled files, one tiny trained run, clean global state."""

from __future__ import annotations

import pytest
import torch
from classify_helpers import reviews, train_args, write_csv

import rnnkit
from rnnkit.cli import main


@pytest.fixture(autouse=True)
def _reference_backend():
    """Models called directly run on the reference backend (no C++ build to wait for; the
    engine tests hold the backends equal); tests/tasks/conftest.py restores the backend."""
    rnnkit.set_backend("reference")


@pytest.fixture(scope="session")
def reviews_csv(tmp_path_factory):
    """60 two-class reviews as a CSV file with columns text,label."""
    return write_csv(tmp_path_factory.mktemp("data") / "reviews.csv", reviews())


@pytest.fixture(scope="session")
def trained(reviews_csv, tmp_path_factory):
    """A run directory after 6 steps of training on ``reviews_csv``."""
    out = tmp_path_factory.mktemp("runs") / "run"
    threads, backend = torch.get_num_threads(), rnnkit.get_backend()
    assert main(train_args(reviews_csv, out, "--steps", "6")) == 0
    torch.set_num_threads(threads)
    rnnkit.set_backend(backend)
    return out

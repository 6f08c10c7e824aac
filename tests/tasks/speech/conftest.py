"""Fixtures for the speech tests: generated chirp recordings, tiny trained runs."""

from __future__ import annotations

import pytest
import torch
from speech_helpers import train_args, write_digits

import rnnkit
from rnnkit.cli import main


@pytest.fixture(autouse=True)
def _reference_backend():
    """Models called directly run on the reference backend (no C++ build to wait for)."""
    rnnkit.set_backend("reference")


def _train(argv) -> None:
    threads, backend = torch.get_num_threads(), rnnkit.get_backend()
    assert main(argv) == 0
    torch.set_num_threads(threads)
    rnnkit.set_backend(backend)


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """3 speakers x 3 digits x 8 takes of chirps, FSDD-named (takes 0-4 are the test set)."""
    return write_digits(tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="session")
def trained(digits, tmp_path_factory):
    """A bidirectional run directory after 8 steps."""
    out = tmp_path_factory.mktemp("runs") / "bi"
    _train(train_args(digits, out, "--steps", "8", "--join", "3"))
    return out


@pytest.fixture(scope="session")
def streaming(digits, tmp_path_factory):
    """A unidirectional, globally normalized run with subsampling 4 (streams), 6 steps."""
    out = tmp_path_factory.mktemp("runs") / "uni"
    extra = ("--no-bidirectional", "--normalize", "global", "--subsample", "4", "--layers", "3")
    _train(train_args(digits, out, "--steps", "6", "--join", "3", *extra))
    return out

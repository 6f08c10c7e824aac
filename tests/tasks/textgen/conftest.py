"""Fixtures for textgen tests: a tiny corpus, a tiny trained run, and a clean global state."""

from __future__ import annotations

import pytest
import torch
from textgen_helpers import train_args

import rnnkit
from rnnkit.cli import main
from rnnkit.data import load_shakespeare


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """The first 20,000 characters of the bundled plays, as a UTF-8 file."""
    path = tmp_path_factory.mktemp("corpus") / "plays.txt"
    path.write_text(load_shakespeare()[:20000], encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained(corpus, tmp_path_factory):
    """A run directory after 4 steps of char-level training."""
    out = tmp_path_factory.mktemp("runs") / "char"
    threads, backend = torch.get_num_threads(), rnnkit.get_backend()
    assert main(train_args(corpus, out, "--steps", "4", "--eval-every", "2")) == 0
    torch.set_num_threads(threads)
    rnnkit.set_backend(backend)
    return out

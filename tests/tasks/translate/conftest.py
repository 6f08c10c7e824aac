"""Fixtures for translate tests: a tiny pairs file, one tiny trained run, the reference backend."""

from __future__ import annotations

import pytest
import torch
from translate_helpers import reversals, train_args, write_tsv

import rnnkit
from rnnkit.cli import main


@pytest.fixture(autouse=True)
def _reference_backend():
    """Models called directly run on the reference backend (no C++ build to wait for; the
    engine tests hold the backends equal); tests/tasks/conftest.py restores the backend."""
    rnnkit.set_backend("reference")


@pytest.fixture(scope="session")
def pairs_tsv(tmp_path_factory):
    """200 (word, reversed letters) pairs as a .tsv file with columns source, target."""
    return write_tsv(tmp_path_factory.mktemp("data") / "pairs.tsv", reversals())


@pytest.fixture(scope="session")
def trained(pairs_tsv, tmp_path_factory):
    """A run directory after 6 steps of training on ``pairs_tsv``."""
    out = tmp_path_factory.mktemp("runs") / "run"
    threads, backend = torch.get_num_threads(), rnnkit.get_backend()
    assert main(train_args(pairs_tsv, out, "--steps", "6")) == 0
    torch.set_num_threads(threads)
    rnnkit.set_backend(backend)
    return out

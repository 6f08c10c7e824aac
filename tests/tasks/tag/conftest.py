"""Fixtures for tag tests: tiny tagged files, one tiny trained run, the reference backend."""

from __future__ import annotations

import pytest
import torch
from tag_helpers import ner_sentences, train_args, write_conll

import rnnkit
from rnnkit.cli import main


@pytest.fixture(autouse=True)
def _reference_backend():
    """Models called directly run on the reference backend (no C++ build to wait for);
    tests/tasks/conftest.py restores the backend."""
    rnnkit.set_backend("reference")


@pytest.fixture(scope="session")
def ner_conll(tmp_path_factory):
    """60 NER sentences as a CoNLL file (word, tag columns)."""
    return write_conll(tmp_path_factory.mktemp("data") / "ner.conll", ner_sentences(60))


@pytest.fixture(scope="session")
def trained(ner_conll, tmp_path_factory):
    """A run directory after 6 steps of training on ``ner_conll``."""
    out = tmp_path_factory.mktemp("runs") / "run"
    threads, backend = torch.get_num_threads(), rnnkit.get_backend()
    assert main(train_args(ner_conll, out, "--steps", "6")) == 0
    torch.set_num_threads(threads)
    rnnkit.set_backend(backend)
    return out

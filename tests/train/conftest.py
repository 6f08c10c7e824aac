"""Fixtures for training tests that run ``rnnkit textgen train`` as a real program."""

from __future__ import annotations

import pytest

from rnnkit.data import load_shakespeare


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """The first 20,000 characters of the bundled plays, as a UTF-8 file."""
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(load_shakespeare()[:20000], encoding="utf-8")
    return path

"""Fixtures of the engine tests."""

from __future__ import annotations

import pytest
import torch

from rnnkit.engine import autotune
from rnnkit.engine.native import build


@pytest.fixture
def plan(monkeypatch, tmp_path):
    """Measuring on, the plan file in a fresh directory, this process's plan empty, the
    machine not busy (the suite itself may load it)."""
    monkeypatch.setenv(autotune.ENV, "1")
    monkeypatch.setattr(autotune, "_busy", lambda: False)
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(autotune, "_table", {})
    monkeypatch.setattr(autotune, "_loaded", False)
    return tmp_path


@pytest.fixture
def forced_team():
    """forced_team(threads, split): every sweep a team can run is shared among `threads`
    threads, as a units team (split 1) or a row team (split 2); undone after the test."""
    ext, threads = build.load(), torch.get_num_threads()

    def force(n: int, split: int) -> None:
        torch.set_num_threads(n)
        ext.use_team(True)
        ext.set_team_split(split)

    yield force
    ext.use_team(False)
    ext.set_team_split(0)
    torch.set_num_threads(threads)
